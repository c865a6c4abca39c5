// Kernel objects a VPS shares with the host, attacked from inside (root): inotify instances must
// count against the VPS's own host id, not host root's; ptys and processes are bounded per VPS
// even when nobody set a limit (a plain `create`, or a hand-written config); `create` says that
// there is no disk quota. See docs/security/limits.md.
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class LimitsTest : public BerthTest {
 protected:
  static bool is_v2() { return fs::exists("/sys/fs/cgroup/cgroup.controllers"); }
  std::string cg(const std::string& id, const std::string& controller, const std::string& v1,
                 const std::string& v2) const {
    std::string path =
        is_v2() ? "/sys/fs/cgroup/" + instance() + "/" + id + "/" + v2
                : "/sys/fs/cgroup/" + controller + "/" + instance() + "/" + id + "/" + v1;
    std::string text = read_text(path);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  static long read_number(const std::string& path) {
    std::string t = read_text(path);
    return t.empty() ? -1 : std::stol(t);
  }
  std::string conf_value(const std::string& id, const std::string& key) {
    for (const auto& l : split_lines(read_text(conf_path(id))))
      if (l.rfind(key + "=\"", 0) == 0) return l.substr(key.size() + 2, l.size() - key.size() - 3);
    return "<unset>";
  }
  // The probe's one-line JSON answer of `berth_probe args...` run inside the CT.
  nlohmann::json probe_line(const std::string& id, const std::vector<std::string>& args) {
    std::vector<std::string> a{"exec3", id, install_probe(id)};
    a.insert(a.end(), args.begin(), args.end());
    RunResult r = berth(a, {.timeout = std::chrono::seconds(60)});
    EXPECT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "probe said: " << r.out << r.err;
    return j.is_object() ? j : nlohmann::json{{"opened", -1}, {"error", "no answer"}};
  }
  // Ptys the CT can open from its /dev/ptmx, up to `max`.
  nlohmann::json fill_ptys(const std::string& id, int max) {
    return probe_line(id, {"--pty-fill", std::to_string(max)});
  }
};

// The attack: root inside a VPS first lifts its own user namespace's inotify limit (it has
// CAP_SYS_RESOURCE there), then opens inotify instances until the kernel refuses, and keeps them.
// Meanwhile host root (this test) must still be able to make an inotify instance: systemd, udev
// and every host daemon running as root need one. Before the fix the VPS's user namespace was
// owned by host root, so its instances were charged to uid 0 at the host level and host root's
// inotify_init1() failed with EMFILE while the VPS held them.
TEST_F(LimitsTest, VpsInotifyInstancesDoNotUseUpHostRoot) {
  long host_max = read_number("/proc/sys/fs/inotify/max_user_instances");
  if (host_max <= 0)
    GTEST_SKIP() << "no /proc/sys/fs/inotify/max_user_instances (kernel without inotify?)";
  if (host_max > 4096)
    GTEST_SKIP() << "fs.inotify.max_user_instances is " << host_max
                 << ": too many to exhaust in a test";
  std::string id = create_running_ct();
  std::string probe = install_probe(id);
  long bound = host_max + 64;  // more than the host allows any one user: the loop must be refused
  // Its /proc/sys is a read-only bind in its own mount namespace: it takes that away first.
  RunResult r = berth({"exec", id,
                       "umount -l /proc/.real/sys 2>/dev/null; umount -l /proc/sys 2>/dev/null; "
                       "echo 1048576 > /proc/sys/user/max_inotify_instances; cat "
                       "/proc/sys/user/max_inotify_instances; " +
                           probe + " --inotify-hold " + std::to_string(bound) +
                           " 20 > /tmp/inotify.json 2>&1 < /dev/null &"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("[ inotify  ] the VPS's own user.max_inotify_instances after its root raised it: %s",
              r.out.c_str());
  nlohmann::json held;
  for (int i = 0; i < 100 && !held.is_object(); ++i) {
    sleep_ms(100);
    RunResult c = berth({"exec", id, "cat /tmp/inotify.json"});
    if (c.code == 0 && !c.out.empty()) held = nlohmann::json::parse(c.out, nullptr, false);
  }
  ASSERT_TRUE(held.is_object()) << "the VPS's inotify holder did not report";
  // While the VPS holds every instance it could get, the host's root makes one.
  int fd = ::inotify_init1(IN_CLOEXEC);
  int err = errno;
  if (fd >= 0) ::close(fd);
  std::printf(
      "[ inotify  ] host max_user_instances %ld; the VPS opened %d (stopped by %s); host root's "
      "inotify_init1 then: %s\n",
      host_max, held["opened"].get<int>(), held["error"].get<std::string>().c_str(),
      fd >= 0 ? "ok" : std::strerror(err));
  // Stop the VPS now: its instances go with its processes, whatever the outcome.
  RunResult s = berth({"stop", id, "--fast"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_GE(fd, 0)
      << "host root could not make an inotify instance while the VPS held its instances: "
      << std::strerror(err);
  EXPECT_LE(held["opened"].get<long>(), host_max)
      << "the VPS got more instances than any host user may have";
  EXPECT_NE(held["error"], "none") << "nothing refused the VPS's " << bound << " instances";
  // And afterwards root is unaffected too.
  fd = ::inotify_init1(IN_CLOEXEC);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  if (fd >= 0) ::close(fd);
}

// INOTIFY_INSTANCES bounds each user inside the VPS (its user namespace's
// user.max_inotify_instances), at start and live with `set`.
TEST_F(LimitsTest, InotifyInstancesKeyBoundsTheVps) {
  std::string id = create_running_ct({"--inotify_instances", "16"});
  EXPECT_EQ(conf_value(id, "INOTIFY_INSTANCES"), "16");
  RunResult r = berth({"exec", id, "cat /proc/sys/user/max_inotify_instances"});
  EXPECT_EQ(r.out, "16\n") << r.err;
  auto j = probe_line(id, {"--inotify-hold", "100", "0"});
  EXPECT_EQ(j["opened"], 16) << j.dump();
  EXPECT_EQ(j["error"], "EMFILE") << j.dump();
  r = berth({"set", id, "--inotify_instances", "24", "--inotify_watches", "1000", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(berth({"exec", id, "cat /proc/sys/user/max_inotify_watches"}).out, "1000\n");
  j = probe_line(id, {"--inotify-hold", "100", "0"});
  EXPECT_EQ(j["opened"], 24) << j.dump();
  EXPECT_EQ(conf_value(id, "INOTIFY_WATCHES"), "1000");
  EXPECT_EQ(berth({"set", id, "--inotify_instances", "0"}).code, 21)
      << "0 instances is not a limit";
}

// The attack: a VPS made by a plain `create` (no --config, no --numpty) opens ptys until the
// kernel refuses. Before the fix nothing bounded it but the host-wide pool (kernel.pty.max): the
// loop ran to its end. Now the default NUMPTY of the sample (the devpts instance's max=) stops it.
TEST_F(LimitsTest, PlainVpsPtysAreBounded) {
  std::string id = create_running_ct();
  std::string numpty = conf_value(id, "NUMPTY");
  auto j = fill_ptys(id, 300);
  std::printf("[ ptys     ] NUMPTY %s: the VPS opened %d ptys (stopped by %s)\n", numpty.c_str(),
              j["opened"].get<int>(), j["error"].get<std::string>().c_str());
  EXPECT_LT(j["opened"].get<int>(), 300) << "nothing bounded the VPS's ptys";
  EXPECT_EQ(j["error"], "ENOSPC") << j.dump();
  ASSERT_NE(numpty, "<unset>") << "plain create gave no NUMPTY";
  EXPECT_LE(j["opened"].get<long>(), std::stol(numpty.substr(numpty.find(':') + 1)));
}

// A plain `create` takes the default sample (CONFIGFILE, vswap-256m when berth.conf names none):
// RAM, swap, processes and ptys are limited. The attack: start more processes than NUMPROC.
TEST_F(LimitsTest, PlainCreateGetsTheDefaultSample) {
  std::string id = new_ctid();
  RunResult r = berth({"create", id, "--ostemplate", "busybox"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(conf_value(id, "ORIGIN_SAMPLE"), "vswap-256m");
  EXPECT_EQ(conf_value(id, "PHYSPAGES"), "0:65536");
  EXPECT_EQ(conf_value(id, "SWAPPAGES"), "0:131072");
  std::string numproc = conf_value(id, "NUMPROC");
  ASSERT_NE(numproc, "<unset>");
  EXPECT_NE(conf_value(id, "NUMPTY"), "<unset>");
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(cg(id, "pids", "pids.max", "pids.max"), numproc);
  EXPECT_EQ(cg(id, "memory", "memory.limit_in_bytes", "memory.max"), std::to_string(256 << 20));
  long limit = std::stol(numproc);
  r = berth({"exec", id,
             "i=0; while [ $i -lt " + std::to_string(limit + 100) +
                 " ]; do sleep 300 < /dev/null > /dev/null 2>&1 & i=$((i+1)); done 2>/dev/null; "
                 "echo started"},
            {.timeout = std::chrono::seconds(60)});
  size_t procs = ct_processes(id).size();
  std::printf("[ numproc  ] NUMPROC %ld: %zu processes in the VPS after trying to start %ld\n",
              limit, procs, limit + 100);
  EXPECT_LE(static_cast<long>(procs), limit);
  EXPECT_GT(static_cast<long>(procs), limit / 2) << "the loop did not run: " << r.err;
}

// An old or hand-written config without the limit keys still gets safe values at start; an
// explicit "unlimited" is the admin's choice and is kept.
TEST_F(LimitsTest, ConfigWithoutLimitsGetsSafeDefaultsAtStart) {
  std::string id = create_ct();
  std::string text;
  for (const auto& l : split_lines(read_text(conf_path(id)))) {
    bool drop = false;
    for (const char* k :
         {"PHYSPAGES=", "SWAPPAGES=", "NUMPROC=", "NUMPTY=", "ORIGIN_SAMPLE=", "INOTIFY_"})
      drop |= l.rfind(k, 0) == 0;
    if (!drop) text += l + "\n";
  }
  {
    std::FILE* f = std::fopen(conf_path(id).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(cg(id, "pids", "pids.max", "pids.max"), "512");
  EXPECT_EQ(cg(id, "memory", "memory.limit_in_bytes", "memory.max"), std::to_string(256 << 20));
  auto j = fill_ptys(id, 300);
  EXPECT_LE(j["opened"].get<int>(), 64) << j.dump();
  EXPECT_EQ(berth({"exec", id, "cat /proc/sys/user/max_inotify_instances"}).out, "128\n");
  ASSERT_EQ(berth({"stop", id}).code, 0);
  // Explicitly unlimited: the admin asked for it.
  ASSERT_EQ(berth({"set", id, "--numproc", "unlimited", "--save"}).code, 0);
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(cg(id, "pids", "pids.max", "pids.max"), "max");
}

// Nothing stops a VPS from filling the host's file system yet: `create` says so, in one line.
// A CT made without a disk (DISKSPACE unlimited) is told once; one with a disk (the samples'
// DISKSPACE) is not, and DISKSPACE/DISKINODES are not "not enforced" for it.
TEST_F(LimitsTest, CreateWarnsThatThereIsNoDiskQuota) {
  std::string id = new_ctid();
  RunResult r = berth({"create", id, "--ostemplate", "busybox", "--diskspace", "unlimited"});
  ASSERT_EQ(r.code, 0) << r.err;
  int lines = 0;
  for (const auto& l : split_lines(r.err))
    if (l.find("no disk quota") != std::string::npos) ++lines;
  EXPECT_EQ(lines, 1) << r.err;
  std::string disk = new_ctid();
  r = berth(
      {"create", disk, "--ostemplate", "busybox", "--diskspace", "1G", "--diskinodes", "50000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("no disk quota"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("DISKSPACE"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace berth::itest
