// Isolation seen from inside a CT, with the probe: PID 1, hostname, no host paths in the mount
// table, an unprivileged uid_map, and what must fail (block mknod, module loading, sysrq-trigger,
// host files). Also the privileged (--local_uid 0) and simfs variants of start + exec.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class IsolationTest : public BerthTest {
 protected:
  // A file on the host, outside every CT, that no CT may reach.
  std::string host_secret() {
    std::string p = root() + "/host-secret.txt";
    std::ofstream(p) << "host only\n";
    return p;
  }
};

// The map's lines as {inside, outside, count}.
std::vector<std::array<unsigned long, 3>> parse_map(const nlohmann::json& lines) {
  std::vector<std::array<unsigned long, 3>> out;
  for (const auto& l : lines) {
    std::istringstream in(l.get<std::string>());
    std::array<unsigned long, 3> e{};
    if (in >> e[0] >> e[1] >> e[2]) out.push_back(e);
  }
  return out;
}

bool cap_bit(const std::string& hex, int bit) { return (std::stoull(hex, nullptr, 16) >> bit) & 1; }

constexpr int kCapSysModule = 16, kCapSysRawio = 17, kCapSysTime = 25;

// Checks shared by every kind of CT: what a CT must never be able to do.
void expect_confined(const nlohmann::json& j) {
  EXPECT_NE(j["mknod_block"], "ok") << "mknod of a block device worked";
  EXPECT_EQ(j["init_module"], "EPERM");
  EXPECT_EQ(j["finit_module"], "EPERM");
  EXPECT_NE(j["sysrq_trigger"], "ok") << "/proc/sysrq-trigger is writable";
  EXPECT_NE(j["settime"], "ok") << "the CT can set the host clock";
  EXPECT_NE(j["ioperm"], "ok") << "the CT has raw port I/O";
  for (const char* set : {"CapEff", "CapBnd"}) {
    std::string caps = j[set].get<std::string>();
    EXPECT_FALSE(cap_bit(caps, kCapSysModule)) << set << " " << caps;
    EXPECT_FALSE(cap_bit(caps, kCapSysRawio)) << set << " " << caps;
    EXPECT_FALSE(cap_bit(caps, kCapSysTime)) << set << " " << caps;
  }
  EXPECT_EQ(j["seccomp"], 2) << "no seccomp filter";
  // The filter's own answers (the kernel would say otherwise): it is loaded, not only present.
  EXPECT_EQ(j["keyctl"], "ENOSYS");
  EXPECT_EQ(j["io_uring_setup"], "ENOSYS");
  ASSERT_TRUE(j["paths"].is_array());
  for (const auto& p : j["paths"]) {
    EXPECT_NE(p["stat"], "ok") << p;
    EXPECT_NE(p["open"], "ok") << p;
  }
}

// No mount source or mount point in the CT names a host path under the test's root or the
// build tree, and / is the CT's own root.
void expect_no_host_paths(const nlohmann::json& j, const std::string& root) {
  std::string build = fs::path(BERTH_BINARY).parent_path().string();
  bool has_root = false;
  for (const auto& m : j["mounts"]) {
    std::string point = m["mountpoint"], source = m["source"];
    if (point == "/") has_root = true;
    for (const std::string& s : {point, source})
      EXPECT_TRUE(s.find(root) == std::string::npos && s.find(build) == std::string::npos)
          << "host path in the CT's mount table: " << m;
    EXPECT_TRUE(point.rfind("/tmp/", 0) != 0 || point == "/tmp") << m;
  }
  EXPECT_TRUE(has_root);
}

TEST_F(IsolationTest, UnprivilegedCtFromInside) {
  std::string id = create_running_ct();
  std::string secret = host_secret();
  auto j = probe(id, {"--path", secret, "--path", BERTH_BINARY, "--path", root()});
  ASSERT_TRUE(j.contains("pid")) << j;

  // PID namespace: the CT's init is PID 1 and our probe's parent chain stays inside.
  RunResult ps = berth({"exec3", id, "/bin/cat", "/proc/1/comm"});
  EXPECT_EQ(ps.out, "init\n");
  EXPECT_GT(j["pid"].get<int>(), 1);
  EXPECT_LT(j["pid"].get<int>(), 1000);
  for (const auto& p : j["processes"])
    EXPECT_NE(p["comm"], "berth") << "host process visible in the CT";
  EXPECT_LE(j["processes"].size(), ct_processes(id).size() + 1);

  EXPECT_EQ(j["hostname"], "ct" + id);
  EXPECT_EQ(j["uid"], 0);

  // User namespace: root inside maps to LOCAL_UID, a 65536-id range that is not host root.
  auto uid_map = parse_map(j["uid_map"]);
  auto gid_map = parse_map(j["gid_map"]);
  ASSERT_EQ(uid_map.size(), 1u) << j["uid_map"];
  EXPECT_EQ(uid_map[0][0], 0u);
  EXPECT_GE(uid_map[0][1], 100000u);
  EXPECT_EQ(uid_map[0][2], 65536u);
  ASSERT_EQ(gid_map.size(), 1u);
  EXPECT_GE(gid_map[0][1], 100000u);
  std::string conf = read_text(conf_path(id));
  EXPECT_PRED2(contains, conf, "LOCAL_UID=\"" + std::to_string(uid_map[0][1]) + "\"");

  expect_confined(j);
  expect_no_host_paths(j, root());

  // The CT's own cgroup namespace / path does not expose the host's hierarchy above it.
  for (const auto& l : j["cgroup"])
    EXPECT_EQ(l.get<std::string>().find("process_api"), std::string::npos) << l;

  // Two CTs get disjoint id ranges.
  std::string id2 = create_running_ct();
  auto j2 = probe(id2);
  auto map2 = parse_map(j2["uid_map"]);
  ASSERT_EQ(map2.size(), 1u);
  EXPECT_TRUE(map2[0][1] >= uid_map[0][1] + 65536 || map2[0][1] + 65536 <= uid_map[0][1])
      << uid_map[0][1] << " vs " << map2[0][1];
  EXPECT_EQ(j2["hostname"], "ct" + id2);
}

TEST_F(IsolationTest, DevAndProcFromInside) {
  std::string id = create_running_ct();
  // Standard nodes exist and work; /proc/kcore is masked; /sys is read-only.
  RunResult r = berth({"exec", id, "echo x > /dev/null && head -c 4 /dev/zero | wc -c"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, r.out, "4");
  EXPECT_NE(berth({"exec3", id, "/bin/sh", "-c", "head -c 1 /proc/kcore >/dev/null"}).code, 0);
  EXPECT_NE(berth({"exec3", id, "/bin/sh", "-c", "echo 1 > /sys/kernel/profiling"}).code, 0);
  EXPECT_NE(berth({"exec3", id, "/bin/sh", "-c", "echo 1 > /proc/sys/kernel/sysrq"}).code, 0);
  // The host's firmware tables, ACPI and SCSI controls: each masked directory that exists is
  // empty and read-only, and all are one tmpfs (a superblock per CT, not one per directory).
  std::set<std::string> devs;
  int masked = 0;
  for (const char* d : {"/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware",
                        "/sys/devices/virtual/powercap"}) {
    if (!fs::exists(d)) continue;  // not on this host: not masked in the CT either
    ++masked;
    RunResult m = berth({"exec", id,
                         std::string("ls -A ") + d + "/ | wc -l; stat -L -c %d " + d +
                             "; if touch " + d + "/x 2>/dev/null; then echo written; fi"});
    ASSERT_EQ(m.code, 0) << d << ": " << m.err;
    auto lines = split_lines(m.out);
    ASSERT_EQ(lines.size(), 2u) << d << ": " << m.out;
    EXPECT_EQ(lines[0], "0") << d << " is not empty";
    devs.insert(lines[1]);
  }
  if (masked > 0) {
    EXPECT_EQ(devs.size(), 1u) << masked << " masked directories on " << devs.size()
                               << " file systems";
  }
  // No host disk device is visible.
  r = berth({"exec3", id, "/bin/ls", "/dev"});
  for (const char* dev : {"sda", "vda", "nvme0n1", "mem", "kmsg"})
    EXPECT_TRUE(r.out.find(std::string(dev) + "\n") == std::string::npos) << dev;
  // Hostname change inside stays inside.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(berth({"exec", id, "hostname inner-name && hostname"}).out, "inner-name\n");
  char after[256] = {};
  ::gethostname(after, sizeof after - 1);
  EXPECT_STREQ(host, after);
}

// The CT sees its own cgroup as the root, mounted where systemd looks for it, and may manage the
// subtree below it (delegated) but not its own limits.
TEST_F(IsolationTest, OwnCgroupTreeInside) {
  std::string id = create_running_ct({"--numproc", "77"});
  RunResult r = berth({"exec", id, "cat /proc/self/cgroup"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& line : split_lines(r.out))
    EXPECT_PRED2(matches, line, "[0-9]+:[^:]*:/") << r.out;
  bool v2 = std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers");
  std::string pids_dir = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids";
  r = berth({"exec", id, "cat " + pids_dir + "/pids.max"});
  EXPECT_EQ(r.out, "77\n") << r.err;
  // The CT's own limit is the host's to set.
  EXPECT_NE(berth({"exec", id, "echo 1000 > " + pids_dir + "/pids.max"}).code, 0);
  EXPECT_EQ(berth({"exec", id, "cat " + pids_dir + "/pids.max"}).out, "77\n");
  // A sub-group made inside, with a process moved into it; stop removes it with the CT's group.
  r = berth({"exec", id,
             "mkdir " + pids_dir + "/inner && (sleep 100 </dev/null >/dev/null 2>&1 & echo $! > " +
                 pids_dir + "/inner/cgroup.procs) && cat " + pids_dir +
                 "/inner/cgroup.procs | wc -l"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n") << r.err;
  // v1: the list of hierarchies itself is fixed.
  if (!v2) {
    EXPECT_NE(berth({"exec", id, "mkdir /sys/fs/cgroup/extra"}).code, 0);
  }
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_TRUE(leaks().empty());
}

// The template's `nft` manages the CT's own firewall (its own network namespace): rules made
// inside show there and nowhere on the host.
TEST_F(IsolationTest, OwnFirewallInside) {
  std::string id = create_running_ct();
  RunResult r = berth({"exec", id,
                       "nft add table inet berthfw && nft add chain inet berthfw in "
                       "'{ type filter hook input priority 0; }' && nft add rule inet berthfw in "
                       "tcp dport 2222 drop "
                       "&& nft list ruleset"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, r.out, "tcp dport 2222 drop");
  RunResult host = run_process({"/usr/sbin/nft", "list", "tables"}, {}, {});
  EXPECT_EQ(host.code, 0) << host.err;
  EXPECT_FALSE(contains(host.out, "berthfw")) << host.out;
}

TEST_F(IsolationTest, PrivilegedCt) {
  std::string id =
      create_running_ct({"--local_uid", "0", "--local_gid", "0", "--i-trust-this-vps"});
  std::string secret = host_secret();
  auto j = probe(id, {"--path", secret});
  auto uid_map = parse_map(j["uid_map"]);
  ASSERT_EQ(uid_map.size(), 1u);
  EXPECT_EQ(uid_map[0][1], 0u) << "privileged CT should share the host's ids";
  EXPECT_EQ(j["hostname"], "ct" + id);
  RunResult ps = berth({"exec", id, "ps", "ax"});
  EXPECT_EQ(ps.code, 0);
  auto lines = split_lines(ps.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_PRED2(matches, lines[1], " *1 .*init.*");
  expect_confined(j);
  expect_no_host_paths(j, root());
}

// The host's console (c 5:1) is not in a CT's device allow list: its /dev/console is a bind of
// /dev/null, so a 5:1 node that reaches the CT (an archive, a privileged CT's mknod) opens nothing.
// Read from the v1 devices hierarchy; a v2 host's device filter is an eBPF program (not readable).
TEST_F(IsolationTest, DeviceAllowListHasNoHostConsole) {
  std::string id = create_running_ct();
  std::string list = "/sys/fs/cgroup/devices/" + instance() + "/" + id + "/devices.list";
  if (::access(list.c_str(), R_OK) != 0) GTEST_SKIP() << "no v1 devices hierarchy here";
  std::string rules = read_text(list);
  EXPECT_PRED2(contains, rules, "c 136:* rwm");
  EXPECT_FALSE(contains(rules, "c 5:1 ")) << rules;
  EXPECT_FALSE(contains(rules, "a *:* ")) << rules;
}

// Its own time namespace: uptime (/proc/uptime and sysinfo, which busybox uptime reads) counts
// from the CT's start, also for what exec starts, in an unprivileged and a privileged CT; init's
// start time is not before the CT's boot.
TEST_F(IsolationTest, UptimeCountsFromTheCtsStart) {
  for (bool privileged : {false, true}) {
    std::string id =
        privileged
            ? create_running_ct({"--local_uid", "0", "--local_gid", "0", "--i-trust-this-vps"})
            : create_running_ct();
    RunResult r =
        berth({"exec", id, "cut -d' ' -f1 /proc/uptime; uptime; cut -d' ' -f22 /proc/1/stat"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto lines = split_lines(r.out);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    double ct_up = std::stod(lines[0]);
    double host_up = std::stod(read_text("/proc/uptime"));
    EXPECT_LT(ct_up, 60.0) << r.out;
    EXPECT_LT(ct_up + 1, host_up) << "CT uptime " << ct_up << ", host " << host_up;
    EXPECT_PRED2(matches, lines[1], ".* up 0 min,.*");
    EXPECT_LT(std::stol(lines[2]), 2 * ::sysconf(_SC_CLK_TCK))
        << lines[2];  // ticks after the CT's boot
    ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  }
}

TEST_F(IsolationTest, SimfsLayout) {
  std::string id =
      create_ct({"--layout", "simfs", "--diskspace", "unlimited", "--diskinodes", "unlimited"});
  EXPECT_PRED2(contains, read_text(conf_path(id)), "VE_LAYOUT=\"simfs\"");
  // simfs copies the template into the private area.
  EXPECT_TRUE(fs::exists(ve_private(id) + "/sbin/init") ||
              fs::is_symlink(ve_private(id) + "/sbin/init"));
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  RunResult r = berth({"exec", id, "ps", "ax"});
  EXPECT_EQ(r.code, 0);
  EXPECT_PRED2(contains, r.out, "init");
  // Writes inside land in the private area.
  ASSERT_EQ(berth({"exec", id, "echo simfs-data > /root/f"}).code, 0);
  EXPECT_EQ(read_text(ve_private(id) + "/root/f"), "simfs-data\n");
  auto j = probe(id, {"--path", host_secret()});
  EXPECT_EQ(j["hostname"], "ct" + id);
  expect_confined(j);
  expect_no_host_paths(j, root());
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
}

// The attack: a simfs area is the tenant's own tree. Its root plants what a Berth private area
// holds beside the root: a `disk.img` (a file system the host would mount, with its own kernel)
// and a `disk` link to a host directory to mount it on, an `upper/` and a `lower` link to a
// host directory (an overlay whose lower layer would be the host's). Neither the next start nor
// the layout guess of a config without VE_LAYOUT (an OpenVZ CTID.conf) may take them.
TEST_F(IsolationTest, SimfsTenantCannotPlantADiskOrAnOverlay) {
  std::string id =
      create_ct({"--layout", "simfs", "--diskspace", "unlimited", "--diskinodes", "unlimited"});
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  std::string target = root() + "/host-target";
  fs::create_directories(target);
  std::string img = root() + "/planted.img";
  ASSERT_EQ(run_process({"/sbin/mkfs.ext4", "-q", "-F", img, "8M"}, {}, {}).code, 0);
  // The image's bytes reach the VPS as any file would (the tenant could write them itself).
  std::string inside = ve_private(id) + "/planted.img";
  fs::copy_file(img, inside);
  struct stat owner {};  // the VPS's root on the host (its /root is its own)
  ASSERT_EQ(::stat((ve_private(id) + "/root").c_str(), &owner), 0);
  ASSERT_EQ(::chown(inside.c_str(), owner.st_uid, owner.st_gid), 0);
  RunResult r = berth({"exec", id,
                       "mv /planted.img /disk.img && ln -s " + target +
                           " /disk && mkdir /upper && "
                           "ln -s /etc /lower && ls -ld /disk.img /disk /upper /lower"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  auto check = [&](const std::string& when) {
    RunResult s = berth({"start", id, "--wait"});
    ASSERT_EQ(s.code, 0) << when << ": " << s.err;
    std::string mounts = read_text("/proc/self/mountinfo");
    EXPECT_FALSE(contains(mounts, " " + target + " ")) << when << ": the host mounted on the link";
    EXPECT_FALSE(contains(mounts, ve_private(id) + "/disk ")) << when;
    RunResult loops = run_process({"/sbin/losetup", "-j", ve_private(id) + "/disk.img"}, {}, {});
    EXPECT_EQ(loops.out, "") << when << ": the planted image is on a loop device";
    // Still the VPS's own tree, the planted names as it left them.
    RunResult l = berth({"exec", id, "ls /disk.img /upper && readlink /lower"});
    EXPECT_EQ(l.code, 0) << when << ": " << l.err;
    EXPECT_PRED2(contains, l.out, "/etc");
    ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  };
  check("start with VE_LAYOUT=simfs");
  // An OpenVZ CTID.conf has no VE_LAYOUT: the layout is guessed from the private area.
  std::string conf = read_text(conf_path(id));
  size_t at = conf.find("VE_LAYOUT=");
  ASSERT_NE(at, std::string::npos);
  conf.erase(at, conf.find('\n', at) - at + 1);
  std::ofstream(conf_path(id)) << conf;
  check("start with the layout guessed");
  EXPECT_TRUE(fs::is_empty(target));
}

TEST_F(IsolationTest, OverlayCopiesNothingAndKeepsWritesInUpper) {
  // Without a disk the upper layer is VE_PRIVATE/upper (with one it is in the disk, disk_test.cc).
  std::string id = create_ct({"--diskspace", "unlimited"});
  EXPECT_FALSE(fs::exists(ve_private(id) + "/upper/sbin/init"));
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  ASSERT_EQ(berth({"exec", id, "echo overlay-data > /root/f"}).code, 0);
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  ASSERT_EQ(berth({"start", id}).code, 0);
  EXPECT_EQ(berth({"exec", id, "cat", "/root/f"}).out, "overlay-data\n");
}

}  // namespace
}  // namespace berth::itest
