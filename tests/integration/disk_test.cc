// A VPS's own disk (storage/disk.h): an ext4 image on a loop device, for layout image (the whole
// tree) and for overlay with a finite DISKSPACE (the upper layer). Inside, df shows the disk's size
// and inode count and this VPS's use alone; a full disk is the VPS's problem only; the disk grows
// online and shrinks offline; simfs refuses a quota it cannot enforce; vzlist shows the use;
// IOLIMIT throttles the loop device; the loop devices disks made go once idle; a command killed
// between the disk and VE_ROOT leaves what the next command repairs; root inside cannot reach the
// image or the loop device.
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1024 * 1024;

struct FsStat {
  uint64_t total = 0, used = 0, inodes = 0, inodes_used = 0;  // bytes, bytes, counts
};

class DiskTest : public BerthTest {
 protected:
  // The file system of / inside, as df computes it (busybox stat -f: block size, blocks, free
  // blocks, inodes, free inodes).
  FsStat inside(const std::string& id) {
    RunResult r = berth({"exec", id, "sync; stat -f -c '%S %b %f %c %d' /"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::istringstream in(r.out);
    uint64_t bs = 0, blocks = 0, bfree = 0, files = 0, ffree = 0;
    in >> bs >> blocks >> bfree >> files >> ffree;
    return {bs * blocks, bs * (blocks - bfree), files, files - ffree};
  }
  std::string image(const std::string& id) { return ve_private(id) + "/disk.img"; }
  bool disk_mounted(const std::string& id) {
    std::string want = " " + ve_private(id) + "/disk ";
    for (const auto& l : split_lines(read_text("/proc/self/mountinfo")))
      if (l.find(want) != std::string::npos) return true;
    return false;
  }
  uint64_t file_size(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<uint64_t>(st.st_size);
  }
  uint64_t allocated(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }
  // The one loop device per disk, and none of the test's root once a CT is unmounted, are checked
  // by leaks() ("loop /dev/loopN").
  std::vector<std::string> loops() {
    std::vector<std::string> out;
    for (const auto& l : leaks())
      if (l.rfind("loop ", 0) == 0) out.push_back(l);
    return out;
  }
};

void expect_df(const FsStat& s) {
  // 200M given: ext4's own metadata (journal, inode tables) comes off, the host's 100s of GB do
  // not appear.
  EXPECT_GE(s.total, 170 * kMiB);
  EXPECT_LE(s.total, 200 * kMiB);
  // mke2fs rounds the inode count up to fill its inode table blocks.
  EXPECT_GE(s.inodes, 20000u);
  EXPECT_LE(s.inodes, 20000u * 105 / 100);
}

TEST_F(DiskTest, DfInsideShowsTheDiskAndThisVpsUseAlone) {
  for (const char* layout : {"overlay", "image"}) {
    SCOPED_TRACE(layout);
    std::string id =
        create_running_ct({"--layout", layout, "--diskspace", "200M", "--diskinodes", "20000"});
    EXPECT_TRUE(fs::is_regular_file(image(id)));
    RunResult df = berth({"exec", id, "df -h /; df -i /"});
    ASSERT_EQ(df.code, 0) << df.err;
    std::printf("[disk] %s: df -h / and df -i / inside:\n%s", layout, df.out.c_str());
    FsStat before = inside(id);
    expect_df(before);
    ASSERT_EQ(berth({"exec", id, "dd if=/dev/zero of=/root/f20 bs=1M count=20 2>/dev/null"}).code,
              0);
    FsStat after = inside(id);
    EXPECT_GE(after.used - before.used, 19 * kMiB);
    EXPECT_LE(after.used - before.used, 22 * kMiB);
    EXPECT_EQ(after.total, before.total);
    // The host's own file system is far bigger: what df shows is not it.
    struct statvfs host {};
    ASSERT_EQ(::statvfs(root().c_str(), &host), 0);
    EXPECT_NE(uint64_t(host.f_blocks) * host.f_frsize, after.total);
    ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
    EXPECT_FALSE(disk_mounted(id));
    EXPECT_TRUE(loops().empty()) << ::testing::PrintToString(loops());
  }
}

TEST_F(DiskTest, AFullDiskIsTheVpsProblemOnly) {
  // Few inodes: the samples' 131072 inode tables alone would take 32M of a 64M disk.
  std::string full =
      create_running_ct({"--layout", "image", "--diskspace", "64M", "--diskinodes", "10000"});
  std::string nb = create_running_ct({"--diskspace", "100M"});
  RunResult dd = berth({"exec", full, "dd if=/dev/zero of=/big bs=1M count=200; echo rc=$?; sync"},
                       {.timeout = std::chrono::seconds(60)});
  EXPECT_EQ(dd.out.find("rc=0"), std::string::npos) << dd.out;
  EXPECT_PRED2(contains, dd.err + dd.out, "No space left on device");
  RunResult sz = berth({"exec", full, "stat -c %s /big"});
  uint64_t big = std::stoull(sz.out.empty() ? "0" : sz.out);
  std::printf("[disk] 64M disk: dd stopped at %.1f MiB\n", double(big) / kMiB);
  EXPECT_GE(big, 45 * kMiB);  // less the journal, the inode tables and the busybox tree
  EXPECT_LE(big, 64 * kMiB);
  // Meanwhile the neighbour and the host write.
  EXPECT_EQ(berth({"exec", nb, "dd if=/dev/zero of=/root/n bs=1M count=10 2>/dev/null"}).code, 0);
  std::string host_file = root() + ".hostfile";
  {
    int fd = ::open(host_file.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    std::string mb(kMiB, 'h');
    for (int i = 0; i < 10; ++i) EXPECT_EQ(::write(fd, mb.data(), mb.size()), ssize_t(mb.size()));
    ::close(fd);
    ::unlink(host_file.c_str());
  }
  // The full CT stops and starts, and frees space by removing files.
  RunResult stop = berth({"stop", full});
  ASSERT_EQ(stop.code, 0) << stop.err;
  RunResult start = berth({"start", full, "--wait"});
  ASSERT_EQ(start.code, 0) << start.err;
  EXPECT_EQ(berth({"exec", full, "rm /big"}).code, 0);
  EXPECT_EQ(berth({"exec", full, "dd if=/dev/zero of=/again bs=1M count=10 2>/dev/null"}).code, 0);
}

// Whether this process has CAP_SYS_RESOURCE (ext4 grows a mounted file system only for it; some
// sandboxes take it from root).
bool has_cap_sys_resource() {
  for (const auto& line : split_lines(read_text("/proc/self/status")))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 24) & 1;
  return false;
}

TEST_F(DiskTest, GrowsOnlineShrinksOnlyStoppedAndNeverBelowItsData) {
  std::string id =
      create_running_ct({"--layout", "image", "--diskspace", "100M", "--diskinodes", "10000"});
  FsStat small = inside(id);
  if (has_cap_sys_resource()) {
    // Grown while running: df shows it at once, and dd goes further.
    RunResult g = berth({"set", id, "--diskspace", "200M", "--save"});
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(g.err.find("not enforced"), std::string::npos) << g.err;
  } else {
    // Without it the grow is refused in one line naming --setmode restart, and nothing changes;
    // with --setmode restart the CT is stopped, its disk grown offline, and started again.
    std::printf("[disk] no CAP_SYS_RESOURCE here: online grow refused, --setmode restart\n");
    std::string conf = read_text(conf_path(id));
    RunResult g = berth({"set", id, "--diskspace", "200M", "--save"});
    EXPECT_EQ(g.code, 12) << g.err;
    EXPECT_PRED2(contains, g.err, "CAP_SYS_RESOURCE");
    EXPECT_PRED2(contains, g.err, "--setmode restart");
    EXPECT_EQ(split_lines(g.err).size(), 1u) << g.err;
    EXPECT_EQ(read_text(conf_path(id)), conf);
    EXPECT_EQ(file_size(image(id)), 100 * kMiB);
    EXPECT_EQ(inside(id).total, small.total);
    // init's start time (field 22 of its stat): a restart makes a new one.
    const char* started = "cut -d' ' -f22 /proc/1/stat";
    std::string before = berth({"exec", id, started}).out;
    auto t0 = Clock::now();
    g = berth({"set", id, "--diskspace", "200M", "--save", "--setmode", "restart"});
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("[disk] grow 100M -> 200M by restart: %.2f s\n", secs);
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(g.err.find("not enforced"), std::string::npos) << g.err;
    size_t says = 0;
    for (const auto& l : split_lines(g.out)) says += contains(l, "Restarting CT " + id);
    EXPECT_EQ(says, 1u) << g.out;
    EXPECT_EQ(file_size(image(id)), 200 * kMiB);
    EXPECT_PRED2(contains, read_text(conf_path(id)), "DISKSPACE=");
    EXPECT_EQ(loops().size(), 1u);
    // A new init: the CT was really restarted, and it runs.
    ASSERT_PRED2(contains, berth({"status", id}).out, "running");
    EXPECT_NE(berth({"exec", id, started}).out, before);
  }
  FsStat grown = inside(id);
  // ext4 adds block groups, each with its inode table: the inode count grows with the size.
  EXPECT_GE(grown.total, small.total + 90 * kMiB);
  EXPECT_EQ(berth({"exec", id, "dd if=/dev/zero of=/f bs=1M count=120 2>/dev/null"}).code, 0);
  // Shrinking a running CT: refused, nothing changed.
  std::string conf = read_text(conf_path(id));
  RunResult s = berth({"set", id, "--diskspace", "180M", "--save"});
  EXPECT_EQ(s.code, 21);
  EXPECT_PRED2(contains, s.err, "stop");
  EXPECT_EQ(split_lines(s.err).size(), 1u) << s.err;
  EXPECT_EQ(read_text(conf_path(id)), conf);
  ASSERT_EQ(berth({"stop", id}).code, 0);
  // Below the data it holds: one line, nothing changed.
  uint64_t size = file_size(image(id));
  RunResult below = berth({"set", id, "--diskspace", "100M", "--save"});
  EXPECT_EQ(below.code, 21) << below.err;
  EXPECT_EQ(split_lines(below.err).size(), 1u) << below.err;
  EXPECT_EQ(file_size(image(id)), size);
  EXPECT_EQ(read_text(conf_path(id)), conf);
  // Stopped, above its data: done offline.
  auto t0 = Clock::now();
  RunResult ok = berth({"set", id, "--diskspace", "170M", "--save"});
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("[disk] offline shrink 200M -> 170M with 120M of data: %.2f s\n", secs);
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(file_size(image(id)), 170 * kMiB);
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  FsStat shrunk = inside(id);
  EXPECT_LE(shrunk.total, 170 * kMiB);
  EXPECT_GE(shrunk.total, 150 * kMiB);
  EXPECT_EQ(berth({"exec", id, "stat -c %s /f"}).out, std::to_string(120 * kMiB) + "\n");
  // The inode count is fixed at create.
  RunResult in = berth({"set", id, "--diskinodes", "5000", "--save"});
  EXPECT_EQ(in.code, 21) << in.err;
  EXPECT_PRED2(contains, in.err, "fixed");
}

TEST_F(DiskTest, SimfsRefusesAQuotaItCannotEnforce) {
  std::string id = new_ctid();
  RunResult r = berth({"create", id, "--ostemplate", "busybox", "--layout", "simfs"});
  EXPECT_EQ(r.code, 21) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_PRED2(contains, r.err, "--layout image");
  EXPECT_PRED2(contains, r.err, "--diskspace unlimited");
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_FALSE(fs::exists(ve_private(id)));
  r = berth({"create", id, "--ostemplate", "busybox", "--layout", "simfs", "--diskspace",
             "unlimited", "--diskinodes", "unlimited"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(image(id)));
  RunResult s = berth({"set", id, "--diskspace", "1G", "--save"});
  EXPECT_EQ(s.code, 21) << s.err;
  EXPECT_PRED2(contains, s.err, "--layout image");
  // Layout image without a size: refused, nothing made.
  std::string img = new_ctid();
  r = berth(
      {"create", img, "--ostemplate", "busybox", "--layout", "image", "--diskspace", "unlimited"});
  EXPECT_EQ(r.code, 21) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_FALSE(fs::exists(ve_private(img)));
}

TEST_F(DiskTest, VzlistShowsTheDiskUseRunningAndStopped) {
  std::string run =
      create_running_ct({"--layout", "image", "--diskspace", "200M:220M", "--diskinodes", "20000"});
  std::string stopped = create_ct({"--diskspace", "100M", "--diskinodes", "10000"});
  // -j carries usage, soft and hard limits in one object per key.
  RunResult l = berth_as("vzlist", {"-a", "-j", "-o", "ctid,diskspace,diskinodes"});
  ASSERT_EQ(l.code, 0) << l.err;
  auto j = nlohmann::json::parse(l.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << l.out;
  std::map<std::string, nlohmann::json> by;
  for (const auto& row : j) by[std::to_string(row["ctid"].get<int>())] = row;
  ASSERT_TRUE(by.count(run) && by.count(stopped)) << l.out;
  const auto& r = by[run];
  EXPECT_EQ(r["diskspace"]["softlimit"], 200 * 1024);
  EXPECT_EQ(r["diskspace"]["hardlimit"], 220 * 1024);
  ASSERT_TRUE(r["diskspace"]["usage"].is_number()) << r.dump();
  EXPECT_GT(r["diskspace"]["usage"].get<uint64_t>(), 100u);  // the busybox tree, in KB
  EXPECT_LT(r["diskspace"]["usage"].get<uint64_t>(), 200u * 1024);
  ASSERT_TRUE(r["diskinodes"]["usage"].is_number()) << r.dump();
  EXPECT_GT(r["diskinodes"]["usage"].get<uint64_t>(), 10u);
  // Stopped: read from the image's superblock, the same use as while it ran; its inodes agree
  // with dumpe2fs.
  uint64_t running_use = r["diskspace"]["usage"].get<uint64_t>();
  ASSERT_EQ(berth({"stop", run}).code, 0);
  RunResult after = berth_as("vzlist", {"-a", "-j", "-o", "ctid,diskspace", run});
  auto aj = nlohmann::json::parse(after.out, nullptr, false);
  ASSERT_TRUE(aj.is_array() && aj.size() == 1) << after.out << after.err;
  uint64_t stopped_use = aj[0]["diskspace"]["usage"].get<uint64_t>();
  std::printf("[disk] vzlist diskspace use running %llu K, stopped %llu K\n",
              static_cast<unsigned long long>(running_use),
              static_cast<unsigned long long>(stopped_use));
  EXPECT_LE(stopped_use, running_use + 256);
  EXPECT_GE(stopped_use + 256, running_use);
  const auto& s = by[stopped];
  ASSERT_TRUE(s["diskspace"]["usage"].is_number()) << s.dump();
  ASSERT_TRUE(s["diskinodes"]["usage"].is_number()) << s.dump();
  RunResult d = run_process({"/usr/sbin/dumpe2fs", "-h", image(stopped)},
                            {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, {});
  ASSERT_EQ(d.code, 0) << d.err;
  auto field = [&](const std::string& name) -> uint64_t {
    for (const auto& line : split_lines(d.out))
      if (line.rfind(name + ":", 0) == 0) return std::stoull(line.substr(name.size() + 1));
    ADD_FAILURE() << "no " << name << " in dumpe2fs";
    return 0;
  };
  EXPECT_EQ(s["diskinodes"]["usage"].get<uint64_t>(), field("Inode count") - field("Free inodes"));
  EXPECT_LT(s["diskspace"]["usage"].get<uint64_t>(),
            (field("Block count") - field("Free blocks")) * field("Block size") / 1024);
  // The table form too.
  RunResult t = berth_as("vzlist", {"-a", "-H", "-o",
                                    "ctid,diskspace,diskspace.s,diskspace.h,diskinodes,"
                                    "diskinodes.s,diskinodes.h"});
  ASSERT_EQ(t.code, 0) << t.err;
  for (const auto& line : split_lines(t.out))
    EXPECT_EQ(line.find(" - "), std::string::npos) << "no usage shown: " << line;
}

TEST_F(DiskTest, IolimitThrottlesAnImageCt) {
  std::string id =
      create_running_ct({"--layout", "image", "--diskspace", "200M", "--iolimit", "5M"});
  auto t0 = Clock::now();
  RunResult r = berth({"exec", id, "dd if=/dev/zero of=/f bs=1M count=30 oflag=direct 2>&1"},
                      {.timeout = std::chrono::seconds(60)});
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("[disk] iolimit 5M, image CT: 30 MiB direct in %.2f s = %.2f MiB/s\n", secs,
              30 / secs);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_GE(secs, 30 / (5 * 1.25)) << "30 MiB went faster than the limit allows: " << r.out;
}

TEST_F(DiskTest, CreateKilledAfterMkfsIsUndoneByTheNextCreate) {
  std::string id = new_ctid();
  std::vector<std::string> args{"create",   id,      "--ostemplate", "busybox",
                                "--layout", "image", "--diskspace",  "100M"};
  RunResult k = berth(args, {.env = {"BERTH_KILL_AT=disk_made"}});
  EXPECT_EQ(k.code, 128 + SIGKILL) << k.err;
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_FALSE(fs::exists(ve_private(id)));
  EXPECT_FALSE(leaks().empty()) << "the kill left the new disk mounted in the .tmp";
  RunResult again = berth(args);
  ASSERT_EQ(again.code, 0) << again.err;
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(berth({"exec", id, "echo ok"}).out, "ok\n");
  ASSERT_EQ(berth({"stop", id}).code, 0);
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
}

// A create killed before it wrote the config, and no retry: `destroy` of that CTID says there is
// no such CT (14) and removes what the create left (the disk mounted in the .tmp, its loop
// device, the id range). A private area without a config that is no create's stays untouched.
TEST_F(DiskTest, DestroyRemovesWhatAKilledCreateLeft) {
  std::string id = new_ctid();
  RunResult k = berth({"create", id, "--ostemplate", "busybox", "--diskspace", "100M"},
                      {.env = {"BERTH_KILL_AT=disk_made"}});
  EXPECT_EQ(k.code, 128 + SIGKILL) << k.err;
  EXPECT_FALSE(leaks().empty()) << "the kill left the new disk mounted in the .tmp";
  RunResult d = berth({"destroy", id});
  EXPECT_EQ(d.code, 14) << d.err;
  EXPECT_PRED2(contains, d.err, "what an unfinished create of it had left");
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
  d = berth({"destroy", id});
  EXPECT_EQ(d.code, 14);
  EXPECT_FALSE(contains(d.err, "unfinished")) << d.err;

  // A finished CT whose config is away: its files and ids are someone's, never removed so.
  std::string other = create_ct({"--diskspace", "100M"});
  std::string conf = conf_path(other);
  fs::rename(conf, conf + ".away");
  d = berth({"destroy", other});
  EXPECT_EQ(d.code, 14);
  EXPECT_FALSE(contains(d.err, "unfinished")) << d.err;
  EXPECT_TRUE(fs::exists(ve_private(other)));
  fs::rename(conf + ".away", conf);
  EXPECT_EQ(berth({"destroy", other}).code, 0);
}

TEST_F(DiskTest, MountKilledBetweenDiskAndRootIsRepaired) {
  std::string id = create_ct({"--diskspace", "100M"});
  for (const char* next : {"start", "umount", "mount", "destroy"}) {
    SCOPED_TRACE(next);
    RunResult k = berth({"mount", id}, {.env = {"BERTH_KILL_AT=disk_mounted"}});
    EXPECT_EQ(k.code, 128 + SIGKILL) << k.err;
    EXPECT_TRUE(disk_mounted(id));
    EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
    if (std::string(next) == "start") {
      ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
      EXPECT_EQ(berth({"exec", id, "echo ok"}).out, "ok\n");
      ASSERT_EQ(berth({"stop", id}).code, 0);
    } else if (std::string(next) == "umount") {
      EXPECT_EQ(berth({"umount", id}).code, 40);  // VE_ROOT was not mounted; the disk goes
    } else if (std::string(next) == "mount") {
      ASSERT_EQ(berth({"mount", id}).code, 0);
      ASSERT_EQ(berth({"umount", id}).code, 0);
    } else {
      ASSERT_EQ(berth({"destroy", id}).code, 0);
      EXPECT_FALSE(fs::exists(ve_private(id)));
    }
    EXPECT_FALSE(disk_mounted(id));
    EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
  }
}

// Root inside goes for the disk under it: the loop device (not in its /dev; a node it makes
// cannot be opened), the host paths of the image (not in its mountinfo), a huge sparse file (the
// disk's size holds, the image on the host does not grow past it).
TEST_F(DiskTest, RootInsideCannotReachTheImageOrTheLoopDevice) {
  std::string id = create_running_ct({"--layout", "image", "--diskspace", "100M"});
  RunResult devs = berth({"exec", id, "ls /dev"});
  ASSERT_EQ(devs.code, 0) << devs.err;
  EXPECT_EQ(devs.out.find("loop"), std::string::npos) << devs.out;
  RunResult mk = berth({"exec", id,
                        "mknod /tmp/l b 7 0 2>&1 && echo made; "
                        "for n in 0 1 2 3 4 5 6 7; do mknod /tmp/l$n b 7 $n 2>/dev/null; "
                        "head -c 512 /tmp/l$n >/dev/null 2>&1 && echo read$n; done; true"});
  EXPECT_EQ(mk.out.find("made"), std::string::npos) << mk.out;
  EXPECT_EQ(mk.out.find("read"), std::string::npos) << mk.out;
  RunResult mi = berth({"exec", id, "cat /proc/self/mountinfo"});
  ASSERT_EQ(mi.code, 0);
  EXPECT_EQ(mi.out.find(root()), std::string::npos) << mi.out;
  EXPECT_EQ(mi.out.find("disk.img"), std::string::npos) << mi.out;
  // A 1 TB sparse file, written at its end until the disk is full.
  RunResult sp = berth({"exec", id,
                        "truncate -s 1T /sparse && echo truncated; "
                        "dd if=/dev/zero of=/sparse bs=1M seek=1048000 count=300 conv=notrunc "
                        "2>&1; sync; true"},
                       {.timeout = std::chrono::seconds(60)});
  EXPECT_PRED2(contains, sp.out, "No space left on device");
  EXPECT_LE(file_size(image(id)), 100 * kMiB);
  EXPECT_LE(allocated(image(id)), 100 * kMiB + kMiB);
  FsStat s = inside(id);
  EXPECT_LE(s.total, 100 * kMiB);
  EXPECT_EQ(berth({"exec", id, "rm /sparse && echo gone"}).out, "gone\n");
}

}  // namespace
// A process that copied the host's mounts (a CT's start before it drops the host's tree, a host
// service with private mounts) holds the disk's file system after the host's umount. While it
// lives, the image is never attached a second time on another loop device (two ext4 instances on
// one image lose writes, as a CI run once showed): stop and start say who holds it, and once it
// is gone the next start finds everything written before.
TEST_F(DiskTest, ACopyInAnotherMountNamespaceNeverGetsTheImageMountedTwice) {
  std::string id = create_running_ct({"--diskspace", "100M"});
  // A private copy, as unshare(1) makes by default. The copy would hold every test's mounts:
  // the other tests' (ctest runs two at a time) are dropped from it first, so that only this
  // test's disk is held there.
  const std::string script =
      "awk '{print $5}' /proc/self/mountinfo | grep '^/tmp/berth-it-' | sort -r | "
      "while read m; do case $m in " +
      root() + "|" + root() +
      "/*) ;; *) umount -l \"$m\" 2>/dev/null ;; esac; done; "
      "exec sleep 600";
  pid_t holder = ::fork();
  if (holder == 0) {
    ::execl("/usr/bin/unshare", "unshare", "-m", "sh", "-c", script.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(holder, 0);
  auto end = [&] {
    if (holder > 0) ::kill(holder, SIGKILL), ::waitpid(holder, nullptr, 0);
    holder = -1;
  };
  struct Ender {
    std::function<void()> f;
    ~Ender() { f(); }
  } ender{end};
  ASSERT_EQ(berth({"exec", id, "echo one > /root/one; sync"}).code, 0);
  sleep_ms(1000);  // the copy is made (and the other tests' mounts dropped from it)
  ASSERT_EQ(berth({"exec", id, "echo two > /root/two"}).code, 0);
  RunResult st = berth({"stop", id});
  EXPECT_NE(st.code, 0);
  EXPECT_PRED2(contains, st.err, "another mount namespace");
  RunResult again = berth({"start", id, "--wait"});
  EXPECT_NE(again.code, 0) << "started on a second loop device while the first one lives";
  EXPECT_PRED2(contains, again.err, "nothing was mounted twice");
  end();
  RunResult ok = berth({"start", id, "--wait"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(berth({"exec", id, "cat /root/one /root/two"}).out, "one\ntwo\n");
  ASSERT_EQ(berth({"stop", id}).code, 0);
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
}

// Loop devices made for attachers stay in the kernel after autoclear detached them (~210 KiB
// each): the watcher removes the idle ones above the boot-time devices once CTs stopped, and on
// its way out after the last. Two devices stand for what earlier disks left: one idle (removed),
// one a process holds open (the kernel refuses it: kept); a running CT's bound device is never
// touched.
TEST_F(DiskTest, TheLoopDevicesDisksLeftAreRemovedOnceIdle) {
  auto exists = [](int n) { return fs::exists("/sys/block/loop" + std::to_string(n)); };
  // Another test's disk may take one of these devices (an attach takes the lowest unbound
  // device, open or not): bound, it is in use, not idle, and nothing is said about it.
  auto bound = [](int n) { return fs::exists("/sys/block/loop" + std::to_string(n) + "/loop"); };
  int ctl = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  ASSERT_GE(ctl, 0);
  std::vector<int> added;
  auto add = [&](int from) {
    for (int n = from; n < from + 1000; ++n)
      if (!exists(n) && ::ioctl(ctl, LOOP_CTL_ADD, n) == n) {
        added.push_back(n);
        return n;
      }
    return -1;
  };
  int held_fd = -1;
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() { fn(); }
  } cleanup{[&] {
    if (held_fd >= 0) ::close(held_fd);
    for (int n : added) (void)::ioctl(ctl, LOOP_CTL_REMOVE, n);
    ::close(ctl);
  }};
  std::vector<int> boot_time;  // the kernel's default count is 8
  for (int n = 0; n < 8; ++n)
    if (exists(n)) boot_time.push_back(n);
  const int base = 4000 + static_cast<int>(::getpid() % 1000) * 8;
  const int idle = add(base), held = add(base + 4);
  ASSERT_GT(idle, 0);
  ASSERT_GT(held, 0);
  std::string held_dev = "/dev/loop" + std::to_string(held);
  for (int i = 0; i < 100 && held_fd < 0; ++i, sleep_ms(10))
    held_fd = ::open(held_dev.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held_fd, 0) << held_dev << ": " << std::strerror(errno);

  std::string a = create_running_ct({"--diskspace", "100M"});
  std::string b = create_running_ct({"--diskspace", "100M"});
  ASSERT_EQ(berth({"stop", a, "--fast"}).code, 0);
  // 2 s after a CT stopped, the watcher sweeps in a child.
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (exists(idle) && !bound(idle) && Clock::now() < deadline) sleep_ms(100);
  EXPECT_TRUE(!exists(idle) || bound(idle)) << "loop" << idle << " still there 15 s after a stop";
  EXPECT_TRUE(exists(held)) << "loop" << held << " was open, and went";
  // The running CT's disk is bound: still there, and its file system works.
  EXPECT_TRUE(disk_mounted(b));
  EXPECT_EQ(berth({"exec", b, "echo x > /root/f && sync && cat /root/f"}).out, "x\n");
  // The last stop: the watcher's last sweep before it exits, which the stop waits for.
  ::close(held_fd);
  held_fd = -1;
  ASSERT_EQ(berth({"stop", b, "--fast"}).code, 0);
  EXPECT_TRUE(!exists(held) || bound(held))
      << "loop" << held << " still there after the last CT stopped";
  EXPECT_TRUE(loops().empty()) << ::testing::PrintToString(loops());
  // The boot-time devices are kept.
  for (int n : boot_time) EXPECT_TRUE(exists(n)) << "loop" << n;
}

}  // namespace berth::itest
