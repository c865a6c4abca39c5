// The cgroup walls against a hostile tenant (root, real CTs). Each test is an attack made from
// inside a VPS by its root (`berth exec`), and checks that the host's limits and the host's
// commands still hold: an I/O limit a sub-group cannot step around, nested groups bounded per VPS,
// `stop`/`start`/`destroy` that succeed whatever the VPS did to its own cgroups, mounts and
// limits, `exec` after init's NOFILE was lowered, a cgroup2 mount that shows nothing of the
// host, and (v1) hierarchies that hold the VPS's own group and nothing above it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool host_is_v2() { return fs::exists("/sys/fs/cgroup/cgroup.controllers"); }

// Thaw every v1 freezer group below fd's dir and remove every dir depth-first with dir fds (the
// test's own safety net when a test fails: paths may be longer than PATH_MAX, groups frozen).
void force_remove_tree(int dfd) {
  int fz = ::openat(dfd, "freezer.state", O_WRONLY | O_CLOEXEC);
  if (fz >= 0) {
    (void)!::write(fz, "THAWED", 6);
    ::close(fz);
  }
  int fz2 = ::openat(dfd, "cgroup.freeze", O_WRONLY | O_CLOEXEC);
  if (fz2 >= 0) {
    (void)!::write(fz2, "0", 1);
    ::close(fz2);
  }
  int dup = ::dup(dfd);
  DIR* d = ::fdopendir(dup);
  if (!d) return;
  std::vector<std::string> subs;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
      subs.push_back(e->d_name);
  ::closedir(d);
  for (const auto& s : subs) {
    int c = ::openat(dfd, s.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c < 0) continue;
    force_remove_tree(c);
    ::close(c);
    ::unlinkat(dfd, s.c_str(), AT_REMOVEDIR);
  }
}

class CgroupWallsTest : public BerthTest {
 protected:
  void TearDown() override {
    // Only when a test failed and left the instance's groups in a state the harness cannot undo.
    if (HasFailure()) {
      for (const char* h : {"freezer", "pids", "systemd", "cpu", "cpuacct", "cpuset", "memory",
                            "devices", "blkio", "unified", ""}) {
        std::string dir = std::string("/sys/fs/cgroup/") + h + "/" + instance();
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) continue;
        force_remove_tree(fd);
        ::close(fd);
      }
    }
    BerthTest::TearDown();
  }
  // The CT's writable hierarchy dir for controller inside the CT (v2: the one root).
  static std::string inside_dir(const std::string& controller) {
    return host_is_v2() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/" + controller;
  }
  // stop, start, exec, stop, destroy: each must succeed; afterwards nothing of the CT is left.
  void expect_lifecycle_survives(const std::string& id) {
    RunResult r = berth({"stop", id, "--fast"}, {.timeout = std::chrono::seconds(60)});
    EXPECT_EQ(r.code, 0) << "stop after the attack: " << r.err;
    r = berth({"start", id, "--wait"}, {.timeout = std::chrono::seconds(60)});
    EXPECT_EQ(r.code, 0) << "start after the attack: " << r.err;
    r = berth({"exec", id, "echo alive"});
    EXPECT_EQ(r.out, "alive\n") << r.err;
    r = berth({"stop", id}, {.timeout = std::chrono::seconds(60)});
    EXPECT_EQ(r.code, 0) << "second stop: " << r.err;
    r = berth({"destroy", id});
    EXPECT_EQ(r.code, 0) << "destroy: " << r.err;
    auto found = leaks();
    EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
  }
};

// Item 8: the VPS makes its own blkio (v2: io) child group, moves the writer into it and writes
// with O_DIRECT. The rate must stay at --iolimit (or the mkdir must be refused).
TEST_F(CgroupWallsTest, IolimitHoldsForAWriterInItsOwnSubGroup) {
  std::string id = create_running_ct({"--iolimit", "5M"});
  struct stat st;
  ASSERT_EQ(::stat(ve_private(id).c_str(), &st), 0);
  if (::major(st.st_dev) == 0) GTEST_SKIP() << "the private area is not on a block device";
  std::string dir = inside_dir("blkio");
  // The shell moves itself (so dd, its child) into the sub-group when it can make one.
  std::string attack = "if mkdir " + dir + "/escape 2>/dev/null; then echo made; echo $$ > " + dir +
                       "/escape/cgroup.procs && echo moved; " +
                       (host_is_v2() ? "" : "cat /proc/self/cgroup | grep blkio; ") +
                       "else echo refused; fi; dd if=/dev/zero of=/root/io.bin bs=1M count=15 "
                       "oflag=direct 2>/dev/null; echo rc=$?";
  auto t0 = Clock::now();
  RunResult r = berth({"exec", id, attack}, {.timeout = std::chrono::seconds(60)});
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "[cgroup-walls] iolimit 5 MiB/s, writer in its own sub-group: 15 MiB took %.2f s = %.2f "
      "MiB/s; inside said: %s\n",
      secs, 15 / secs, r.out.c_str());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, r.out, "rc=0");
  EXPECT_GE(secs, 15 / (5 * 1.25)) << "15 MiB went faster than the limit allows: " << r.out;
  EXPECT_EQ(
      berth({"exec", id, "rm -f /root/io.bin; rmdir " + dir + "/escape 2>/dev/null; true"}).code,
      0);
}

// Item 9: the VPS makes sub-groups in a loop in every hierarchy it can write; memory groups use
// host-wide ids (65535), so their number is bounded (v2: NUMCGROUP via cgroup.max.descendants;
// v1: the memory hierarchy is not writable inside).
TEST_F(CgroupWallsTest, NestedGroupsStopAtTheLimit) {
  bool v2 = host_is_v2();
  std::string id = create_running_ct({});
  if (v2) {
    std::ofstream(conf_path(id), std::ios::app) << "NUMCGROUP=\"20\"\n";
    ASSERT_EQ(berth({"restart", id}).code, 0);
  }
  std::string dir = inside_dir("memory");
  RunResult r = berth(
      {"exec", id,
       "cd " + dir +
           " && n=0; while [ $n -lt 300 ] && mkdir g$n 2>/dev/null; do n=$((n+1)); done; echo $n"},
      {.timeout = std::chrono::seconds(60)});
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("[cgroup-walls] memory sub-groups a VPS could make: %s", r.out.c_str());
  EXPECT_EQ(r.out, v2 ? "20\n" : "0\n");
  // The limit is the host's: the VPS cannot raise it.
  if (v2) {
    EXPECT_NE(berth({"exec", id, "echo max > /sys/fs/cgroup/cgroup.max.descendants"}).code, 0);
    EXPECT_NE(berth({"exec", id, "echo max > /sys/fs/cgroup/cgroup.max.depth"}).code, 0);
  }
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_TRUE(leaks().empty());
}

// Item 10: groups nested past PATH_MAX (20 levels of 250-character names) in every hierarchy the
// VPS can write, with a process in the deepest; `stop` must still remove them all.
TEST_F(CgroupWallsTest, StopRemovesGroupsNestedPastPathMax) {
  std::string id = create_running_ct();
  install_probe(id);
  // 20 levels of 250 characters: 5000+ characters below the CT's group, in every hierarchy.
  std::string attack =
      "sleep 1000 </dev/null >/dev/null 2>&1 & s=$!; deepest=0; "
      "for h in /sys/fs/cgroup /sys/fs/cgroup/*; do [ -f $h/cgroup.procs ] || continue; "
      "i=$(/sbin/berth_probe --mkdeep $h 20 250 $s); [ $i -gt $deepest ] && deepest=$i; done; echo "
      "$deepest";
  RunResult r = berth({"exec", id, attack}, {.timeout = std::chrono::seconds(60)});
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("[cgroup-walls] levels of 250-character groups made inside: %s", r.out.c_str());
  EXPECT_EQ(r.out, "20\n") << "the VPS could not make its own sub-groups at all";
  expect_lifecycle_survives(id);
}

// Item 10: the VPS freezes a sub-group holding one of its processes (v1 freezer.state, v2
// cgroup.freeze), if it can. A frozen task cannot die, so init's PID namespace would never end.
TEST_F(CgroupWallsTest, StopSucceedsWithAFrozenSubGroup) {
  std::string id = create_running_ct();
  bool v2 = host_is_v2();
  std::string dir = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/freezer";
  std::string freeze =
      v2 ? "echo 1 > " + dir + "/ice/cgroup.freeze" : "echo FROZEN > " + dir + "/ice/freezer.state";
  std::string attack = "mkdir " + dir +
                       "/ice && { sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > " + dir +
                       "/ice/cgroup.procs; } && " + freeze + " && echo frozen || echo refused";
  RunResult r = berth({"exec", id, attack});
  std::printf("[cgroup-walls] freezing a sub-group inside: %s", r.out.c_str());
  expect_lifecycle_survives(id);
}

// Item 10: the VPS moves its init and other processes into sub-groups (as systemd does with
// init.scope), lowers pids.max in a sub-group, leaves a zombie in one, mounts over its own
// /sys/fs/cgroup and /tmp. `status` must still see it running; stop/start/destroy must succeed.
TEST_F(CgroupWallsTest, StopSucceedsAfterSubGroupAndMountTricks) {
  std::string id = create_running_ct();
  std::string pids = inside_dir("pids");
  std::string attack =
      "cd " + pids +
      " && mkdir a z initscope && echo 1 > initscope/cgroup.procs && "
      "{ sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > a/cgroup.procs; } && echo 1 > "
      "a/pids.max && "
      "{ sh -c 'sleep 0 & exec sleep 1000' </dev/null >/dev/null 2>&1 & echo $! > z/cgroup.procs; "
      "} && "
      "mount -t tmpfs none /tmp && mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo done";
  RunResult r = berth({"exec", id, attack});
  EXPECT_PRED2(contains, r.out, "done") << r.err;
  EXPECT_PRED2(contains, status_line(id), "running");
  expect_lifecycle_survives(id);
}

// Item 10: the VPS lowers its init's NOFILE to 3 (prlimit on PID 1); `exec` and `enter` copy
// init's limits for the command, but must not be broken by them.
TEST_F(CgroupWallsTest, ExecAndEnterWorkAfterInitsNofileIsLowered) {
  std::string id = create_running_ct();
  install_probe(id);
  RunResult r = berth(
      {"exec", id, "/sbin/berth_probe --setnofile 1 3 3 && grep 'open files' /proc/1/limits"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(matches, split_lines(r.out).at(0), "Max open files +3 +3 +files *") << r.out;
  r = berth({"exec", id, "echo alive; cat /etc/hostname >/dev/null && echo read"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "alive\nread\n") << r.err;
  r = berth({"enter", id, "--exec", "echo entered"}, {.input = "exit\n"});
  EXPECT_PRED2(contains, r.out, "entered") << r.err;
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
}

// Also: a cgroup2 mount made inside shows the VPS's own cgroup namespace root, not the host's
// unified hierarchy with other instances and test groups in it.
TEST_F(CgroupWallsTest, Cgroup2MountInsideShowsNoHostGroups) {
  // A group of the host's, at the unified root, that nothing inside may see.
  std::string unified = host_is_v2() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  if (!fs::exists(unified + "/cgroup.procs"))
    GTEST_SKIP() << "no unified (cgroup2) hierarchy on this host";
  std::string mark = unified + "/" + instance() + "-hostmark";
  ASSERT_EQ(::mkdir(mark.c_str(), 0755), 0) << mark;
  struct Rm {
    std::string d;
    ~Rm() { ::rmdir(d.c_str()); }
  } rm{mark};
  std::string id = create_running_ct();
  RunResult r = berth(
      {"exec", id,
       "mkdir -p /mnt/cg2 && mount -t cgroup2 none /mnt/cg2 && ls /mnt/cg2; umount /mnt/cg2"});
  std::printf("[cgroup-walls] cgroup2 mounted inside lists: %s\n", r.out.c_str());
  EXPECT_PRED2(contains, r.out, "cgroup.procs") << r.err;
  EXPECT_FALSE(contains(r.out, instance())) << r.out;
  EXPECT_FALSE(contains(r.out, "berth")) << r.out;
  EXPECT_FALSE(contains(r.out, ".slice")) << r.out;
  EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_TRUE(leaks().empty());
}

// v1 (hybrid) host: each hierarchy inside is the host's bind of the VPS's own group
// (isolation::bind_ct_groups). The VPS's root tries to climb out of it (`..`, a remount of a
// hierarchy it was not given, a raise of its own memory limit), to see its neighbour's or the
// instance's groups, and mounts below a group it owns to see whether the mount shows on the host.
TEST_F(CgroupWallsTest, V1HierarchiesInsideHoldOnlyTheVpsOwnGroup) {
  if (host_is_v2()) GTEST_SKIP() << "a v2 host: the VPS mounts cgroup2 itself";
  std::string id = create_running_ct();
  std::string neighbour = create_running_ct();
  std::string limit_file =
      "/sys/fs/cgroup/memory/" + instance() + "/" + id + "/memory.limit_in_bytes";
  std::string limit_before;
  {
    std::ifstream in(limit_file);
    std::getline(in, limit_before);
  }
  ASSERT_FALSE(limit_before.empty()) << limit_file;
  RunResult r = berth(
      {"exec", id,
       "cat /proc/self/mountinfo | grep ' cgroup cgroup ' | cut -d' ' -f4 | sort -u; "
       "echo ==; ls /sys/fs/cgroup/pids/.. /sys/fs/cgroup/memory/../..; "
       "echo ==; ls -a /sys/fs/cgroup/*/ | grep -c '^" +
           neighbour +
           "$'; "
           "echo ==; mount -o remount,rw /sys/fs/cgroup/memory 2>/dev/null && echo remounted; "
           "echo 4096 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null && echo raised; "
           "echo ==; mkdir -p /sys/fs/cgroup/pids/probe && mount -t tmpfs none "
           "/sys/fs/cgroup/pids/probe"
           " && echo mounted"});
  std::vector<std::string> parts;
  {
    std::string part;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (line == "==") {
        parts.push_back(part);
        part.clear();
      } else {
        part += line + "\n";
      }
    }
    parts.push_back(part);
  }
  ASSERT_EQ(parts.size(), 5u) << r.out << r.err;
  // Every hierarchy's root inside is the VPS's group, shown as "/" as a mount in its cgroup
  // namespace would be (systemd reads it so).
  EXPECT_EQ(parts[0], "/\n") << r.out;
  // `..` of a hierarchy's root is the VPS's own tmpfs of hierarchy directories.
  EXPECT_PRED2(contains, parts[1], "pids") << parts[1];
  EXPECT_FALSE(contains(parts[1], instance())) << parts[1];
  EXPECT_FALSE(contains(parts[1], "tasks")) << parts[1];
  EXPECT_EQ(parts[2], "0\n") << "the neighbour's group is visible: " << r.out;
  EXPECT_FALSE(contains(parts[3], "remounted")) << parts[3];
  EXPECT_FALSE(contains(parts[3], "raised")) << parts[3];
  {
    std::ifstream in(limit_file);
    std::string limit_after;
    std::getline(in, limit_after);
    EXPECT_EQ(limit_after, limit_before);
  }
  // The mount below its own group is the VPS's alone (the bind is private): nothing on the host.
  std::string host_probe = "/sys/fs/cgroup/pids/" + instance() + "/" + id + "/probe";
  if (contains(parts[4], "mounted")) {
    struct stat dir {
    }, parent{};
    ASSERT_EQ(::stat(host_probe.c_str(), &dir), 0) << host_probe;
    ASSERT_EQ(::stat((host_probe + "/..").c_str(), &parent), 0);
    EXPECT_EQ(dir.st_dev, parent.st_dev) << "the VPS's mount shows on the host at " << host_probe;
  }
  EXPECT_EQ(berth({"stop", neighbour, "--fast"}).code, 0);
  EXPECT_EQ(berth({"destroy", neighbour}).code, 0);
  expect_lifecycle_survives(id);
}

}  // namespace
}  // namespace berth::itest
