// clone: from a running CT and from a snapshot; the clone has its own ids, hostname, machine-id
// and MACs, and starts; the source keeps running; a hostile source tree cannot make the clone's
// fix-ups write outside the clone or block; a clone killed mid-way (SRC frozen, or DST copied and
// not yet renamed) leaves SRC running and what the next clone of DST redoes.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class CloneTest : public BerthTest {
 protected:
  std::string conf_value(const std::string& id, const std::string& key) {
    std::regex re("^" + key + "=\"([^\"]*)\"$");
    for (const auto& line : split_lines(read_text(conf_path(id)))) {
      std::smatch m;
      if (std::regex_match(line, m, re)) return m[1];
    }
    return "";
  }
};

TEST_F(CloneTest, RunningSourceCloneHasItsOwnIdentityAndStarts) {
  std::string src = create_running_ct({"--diskspace", "unlimited"});
  ASSERT_EQ(berth({"exec", src,
                   "mkdir -p /etc && echo 0123456789abcdef0123456789abcdef > "
                   "/etc/machine-id && echo data > /owned && chown 1000:1000 /owned"})
                .code,
            0);
  std::string dst = new_ctid();
  RunResult r = berth({"clone", src, dst}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_PRED2(contains, r.out, "Cloned CT " + src + " to " + dst);
  EXPECT_NE(status_line(src).find("running"), std::string::npos) << "the source keeps running";
  uint32_t src_uid = std::stoul(conf_value(src, "LOCAL_UID"));
  uint32_t dst_uid = std::stoul(conf_value(dst, "LOCAL_UID"));
  EXPECT_NE(src_uid, dst_uid);
  struct stat st;
  ASSERT_EQ(::lstat((ve_private(dst) + "/upper/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, dst_uid + 1000);
  EXPECT_EQ(st.st_gid, dst_uid + 1000);
  EXPECT_NE(conf_value(dst, "HOSTNAME"), conf_value(src, "HOSTNAME"));
  std::string mid = read_text(ve_private(dst) + "/upper/etc/machine-id");
  EXPECT_EQ(mid.size(), 33u);
  EXPECT_NE(mid, "0123456789abcdef0123456789abcdef\n");
  ASSERT_EQ(berth({"start", dst, "--wait"}, {.timeout = std::chrono::seconds(60)}).code, 0);
  EXPECT_EQ(berth({"exec", dst, "cat /owned"}).out, "data\n");
  EXPECT_EQ(berth({"clone", src, dst}).code, 44) << "DST exists";
}

TEST_F(CloneTest, FromSnapshotWithNewMacs) {
  std::string src = create_ct({"--netif_add", "eth0"});
  RunResult s = berth({"snapshot", src});
  ASSERT_EQ(s.code, 0) << s.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s.out, m, std::regex("Snapshot ([0-9a-f-]{36})")));
  std::string uuid = m[1];
  std::string dst = new_ctid();
  RunResult r = berth({"clone", src, dst, "--snapshot", uuid, "--hostname", "copy.example"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(conf_value(dst, "HOSTNAME"), "copy.example");
  EXPECT_NE(conf_value(dst, "NETIF"), conf_value(src, "NETIF"));
  EXPECT_PRED2(contains, conf_value(dst, "NETIF"), "host_ifname=veth" + dst);
  EXPECT_PRED2(contains, conf_value(src, "NETIF"), "host_ifname=veth" + src);
}

TEST_F(CloneTest, HostileTreeNeverWritesOutsideNorBlocks) {
  std::string src = create_ct({"--diskspace", "unlimited"});
  std::string outside = root() + "/outside-machine-id";
  { std::ofstream(outside) << "host secret\n"; }
  std::string upper = ve_private(src) + "/upper";
  fs::create_directories(upper + "/etc/ssh");
  // A hard link of a host file as the tenant's machine-id (same file system as the root).
  ASSERT_EQ(::link(outside.c_str(), (upper + "/etc/machine-id").c_str()), 0);
  ASSERT_EQ(::mkfifo((upper + "/etc/ssh/ssh_host_rsa_key").c_str(), 0600), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (upper + "/etc/ssh/ssh_host_ed25519_key").c_str()), 0);
  std::string dst = new_ctid();
  RunResult r = berth({"clone", src, dst}, {.timeout = std::chrono::seconds(60)});
  ASSERT_FALSE(r.timed_out) << "a fifo must never be opened";
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_text(outside), "host secret\n");
  EXPECT_TRUE(fs::exists(outside));
  EXPECT_FALSE(fs::exists(fs::symlink_status(ve_private(dst) + "/upper/etc/ssh/ssh_host_rsa_key")));
  EXPECT_FALSE(
      fs::exists(fs::symlink_status(ve_private(dst) + "/upper/etc/ssh/ssh_host_ed25519_key")));
  // A symlinked /etc: nothing below it is touched.
  std::string src2 = create_ct({"--diskspace", "unlimited"});
  std::string upper2 = ve_private(src2) + "/upper";
  fs::create_directories(root() + "/hostetc");
  { std::ofstream(root() + "/hostetc/machine-id") << "keep me\n"; }
  fs::remove_all(upper2 + "/etc");
  fs::create_directory_symlink(root() + "/hostetc", upper2 + "/etc");
  std::string dst2 = new_ctid();
  RunResult r2 = berth({"clone", src2, dst2}, {.timeout = std::chrono::seconds(60)});
  EXPECT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(read_text(root() + "/hostetc/machine-id"), "keep me\n");
}

TEST_F(CloneTest, DiskCtCloneGetsItsOwnIdsInItsImage) {
  std::string src = create_running_ct({"--diskspace", "200M"});
  ASSERT_EQ(berth({"exec", src, "echo data > /owned && chown 1000:1000 /owned"}).code, 0);
  std::string dst = new_ctid();
  RunResult r = berth({"clone", src, dst}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(ve_private(dst) + "/disk.img"));
  ASSERT_EQ(berth({"start", dst, "--wait"}, {.timeout = std::chrono::seconds(60)}).code, 0);
  uint32_t dst_uid = std::stoul(conf_value(dst, "LOCAL_UID"));
  struct stat st;
  ASSERT_EQ(::lstat((ve_root(dst) + "/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, dst_uid + 1000);
  EXPECT_EQ(berth({"exec", dst, "cat /owned"}).out, "data\n");
  EXPECT_NE(status_line(src).find("running"), std::string::npos);
}

TEST_F(CloneTest, KilledMidwayLeavesSrcRunningAndTheNextCloneRedoesIt) {
  std::string src = create_running_ct({"--diskspace", "200M"});
  ASSERT_EQ(berth({"exec", src, "echo data > /owned && chown 1000:1000 /owned"}).code, 0);
  std::string dst = new_ctid();
  std::string tmp = ve_private(dst) + ".tmp";
  auto loops = [&] {
    size_t n = 0;
    for (const auto& l : leaks()) n += l.rfind("loop ", 0) == 0;
    return n;
  };
  ASSERT_EQ(loops(), 1u) << "SRC's disk";
  // Killed after the copy, DST's disk mounted in its .tmp: SRC was thawed already and runs on.
  RunResult k = berth({"clone", src, dst}, {.timeout = std::chrono::seconds(120),
                                            .env = {"BERTH_KILL_AT=clone_copied"}});
  ASSERT_EQ(k.code, 128 + SIGKILL) << k.out << k.err;
  EXPECT_TRUE(fs::exists(tmp + "/disk.img"));
  EXPECT_FALSE(fs::exists(conf_path(dst)));
  EXPECT_EQ(loops(), 2u) << "the killed clone's disk is still mounted in the .tmp";
  EXPECT_FALSE(fs::exists(root() + "/run/berth/snapshot/" + src + ".frozen"));
  RunResult alive = berth({"exec", src, "echo alive"}, {.timeout = std::chrono::seconds(10)});
  EXPECT_EQ(alive.out, "alive\n") << alive.err;
  EXPECT_EQ(alive.err.find("thawed"), std::string::npos) << "SRC was never left frozen";
  // Killed while SRC is frozen (it waits there until the harness kills it: the time is for a slow
  // test VM to get that far): the next command on SRC thaws it.
  RunResult f = berth({"clone", src, dst}, {.timeout = std::chrono::seconds(8),
                                            .env = {"BERTH_FAIL_POINT=snapshot-frozen"}});
  EXPECT_TRUE(f.timed_out) << f.err;
  EXPECT_TRUE(fs::exists(root() + "/run/berth/snapshot/" + src + ".frozen"));
  RunResult st = berth({"status", src});
  EXPECT_PRED2(contains, st.err, "thawed");
  alive = berth({"exec", src, "echo alive"}, {.timeout = std::chrono::seconds(10)});
  EXPECT_EQ(alive.out, "alive\n") << alive.err;
  // The next clone of DST removes what the killed ones left (their disk and its loop) and works.
  RunResult r = berth({"clone", src, dst}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ(loops(), 1u) << "only SRC's disk: DST's is unmounted until it starts";
  ASSERT_EQ(berth({"start", dst, "--wait"}, {.timeout = std::chrono::seconds(60)}).code, 0);
  EXPECT_EQ(berth({"exec", dst, "cat /owned"}).out, "data\n");
  EXPECT_NE(status_line(src).find("running"), std::string::npos);
  ASSERT_EQ(berth({"stop", dst}).code, 0);
  ASSERT_EQ(berth({"destroy", dst}).code, 0);
  EXPECT_EQ(loops(), 1u);
}

}  // namespace
}  // namespace berth::itest
