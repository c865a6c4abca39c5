// The watcher (monitor/server.h): reboot and poweroff inside a busybox CT, the watcher killed
// and a later command repairing, a CT rebooting in a loop, the watcher's socket.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class MonitorTest : public BerthTest {
 protected:
  // Host PID of the CT's init (the last field of its NSpid is 1), 0 when none.
  pid_t init_pid(const std::string& ctid) const {
    for (pid_t p : ct_processes(ctid)) {
      std::istringstream in(read_text("/proc/" + std::to_string(p) + "/status"));
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("NSpid:", 0) != 0) continue;
        std::istringstream f(line.substr(6));
        std::string last, x;
        while (f >> x) last = x;
        if (last == "1") return p;
      }
    }
    return 0;
  }
  // The parent of pid (/proc/PID/stat's fourth field).
  static pid_t parent_of(pid_t pid) {
    std::string st = read_text("/proc/" + std::to_string(pid) + "/stat");
    size_t close = st.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream f(st.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    f >> state >> ppid;
    return ppid;
  }
  // The watcher of this test's instance (a berth process running `_monitor`), 0 when none.
  pid_t watcher() const {
    for (pid_t p : berth_processes()) {
      std::string cmd = read_text("/proc/" + std::to_string(p) + "/cmdline");
      if (cmd.find("_monitor") != std::string::npos) return p;
    }
    return 0;
  }
  bool wait_for(const std::function<bool()>& cond, int seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (cond()) return true;
      sleep_ms(100);
    }
    return cond();
  }
  bool has_route(const std::string& addr) {
    RunResult r = run_process({"/sbin/ip", "-4", "route", "show", addr}, {}, {});
    return contains(r.out, addr);
  }
  // Until the CT runs a new init (not `before`).
  bool wait_new_init(const std::string& id, pid_t before, int seconds) {
    return wait_for(
        [&] {
          pid_t now = init_pid(id);
          return now > 0 && now != before;
        },
        seconds);
  }
  // `exec reboot` until init is no longer `init` (gone or replaced). busybox's reboot is a signal
  // to init, lost when it arrives before init's handlers are in place (a fast exec right after a
  // start): asked again, five seconds apart, while the same init runs.
  bool reboot_inside(const std::string& id, pid_t init) {
    for (int tries = 0; tries < 6; ++tries) {
      berth({"exec", id, "reboot"});
      if (wait_for([&] { return init_pid(id) != init; }, 5)) return true;
    }
    return false;
  }
  std::string monitor_log() const { return read_text(root() + "/var/log/berth/monitor.log"); }
};

TEST_F(MonitorTest, RebootInsideComesBackByItself) {
  std::string id = create_running_ct({"--ipadd", "198.18.45.10"});
  pid_t before = init_pid(id);
  ASSERT_GT(before, 0);
  ASSERT_GT(watcher(), 0) << "start spawned no watcher";
  // The start ran in a worker the watcher forked, which answers the command before it exits; init
  // is the watcher's child (a subreaper) once the worker is gone: a moment later, on a busy host.
  pid_t w = watcher();
  EXPECT_TRUE(wait_for([&] { return parent_of(before) == w; }, 5))
      << "the CT's init is not the watcher's child: its parent is " << parent_of(before)
      << ", the watcher " << w;
  ASSERT_TRUE(reboot_inside(id, before)) << monitor_log();
  ASSERT_TRUE(wait_new_init(id, before, 30)) << monitor_log();
  EXPECT_PRED2(contains, status_line(id), "running");
  EXPECT_TRUE(has_route("198.18.45.10"));
  EXPECT_PRED2(contains, monitor_log(), "CT " + id + ": init rebooted");
  // The new init is watched too: a second reboot comes back as well.
  pid_t second = init_pid(id);
  ASSERT_TRUE(wait_for([&] { return status_line(id).find("running") != std::string::npos; }, 5));
  ASSERT_TRUE(reboot_inside(id, second)) << monitor_log();
  ASSERT_TRUE(wait_new_init(id, second, 30)) << monitor_log();
}

TEST_F(MonitorTest, PoweroffInsideStopsAndCleansUp) {
  std::string id = create_running_ct({"--ipadd", "198.18.45.11"});
  berth({"exec", id, "poweroff"});
  ASSERT_TRUE(
      wait_for([&] { return status_line(id).find("unmounted down") != std::string::npos; }, 30))
      << status_line(id) << "\n"
      << monitor_log();
  EXPECT_FALSE(has_route("198.18.45.11"));
  // Nothing of the instance is left, the watcher included (it exits when no CT runs).
  EXPECT_TRUE(wait_for([&] { return leaks().empty(); }, 10)) << ::testing::PrintToString(leaks());
  // It starts again normally.
  EXPECT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(berth({"stop", id}).code, 0);
  EXPECT_EQ(watcher(), 0) << "the watcher outlived the last CT";
}

TEST_F(MonitorTest, KilledWatcherIsRepairedByTheNextCommand) {
  std::string id = create_running_ct({"--ipadd", "198.18.45.12"});
  pid_t w = watcher();
  ASSERT_GT(w, 0);
  ASSERT_EQ(::kill(w, SIGKILL), 0);
  ASSERT_TRUE(wait_for([&] { return watcher() == 0; }, 5));
  berth({"exec", id, "poweroff"});
  // Nobody sees it: the CT's init ends, what start made on the host stays (its cgroup, mount).
  ASSERT_TRUE(wait_for([&] { return init_pid(id) == 0; }, 30));
  EXPECT_FALSE(leaks().empty());
  // The next command (status) finds the CT down and tears it down as stop would.
  EXPECT_PRED2(contains, status_line(id), "unmounted down");
  EXPECT_FALSE(has_route("198.18.45.12"));
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
}

TEST_F(MonitorTest, RestartedWatcherAdoptsRunningCts) {
  std::string a = create_running_ct({"--ipadd", "198.18.45.13"});
  ASSERT_EQ(::kill(watcher(), SIGKILL), 0);
  ASSERT_TRUE(wait_for([&] { return watcher() == 0; }, 5));
  // A start of another CT spawns a new watcher, which adopts the first one.
  std::string b = create_running_ct();
  ASSERT_GT(watcher(), 0);
  ASSERT_TRUE(wait_for([&] { return contains(monitor_log(), "CT " + a + ": adopted"); }, 5));
  berth({"exec", a, "poweroff"});
  ASSERT_TRUE(
      wait_for([&] { return status_line(a).find("unmounted down") != std::string::npos; }, 30))
      << monitor_log();
  EXPECT_FALSE(has_route("198.18.45.13"));
  EXPECT_PRED2(contains, status_line(b), "running");
  EXPECT_EQ(berth({"stop", b}).code, 0);
  EXPECT_EQ(watcher(), 0) << monitor_log();
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks()) << monitor_log();
}

// A stop tells the watcher that it ends the CT's init itself and does not wait for the answer
// (monitor/client.h, release): the watcher must still take that word before the init's end, or a
// stop would look like a poweroff inside (and a teardown of its own would run beside the stop's).
// Both kinds of init: the watcher's child (started through it) and one it adopted.
TEST_F(MonitorTest, StopsAreNeverTakenForAPoweroffInside) {
  std::string adopted = create_running_ct();
  ASSERT_EQ(::kill(watcher(), SIGKILL), 0);
  ASSERT_TRUE(wait_for([&] { return watcher() == 0; }, 5));
  std::string child = create_running_ct();  // spawns a new watcher, which adopts the first
  ASSERT_TRUE(wait_for([&] { return contains(monitor_log(), "CT " + adopted + ": adopted"); }, 5));
  // Half the stops run while the watcher is stopped (SIGSTOP): it then finds the release and the
  // init's end both waiting when it runs again, the order the word must win.
  struct Held {
    pid_t pid = 0;
    void hold(pid_t p) { ::kill(pid = p, SIGSTOP); }
    void go() {
      if (pid > 0) ::kill(pid, SIGCONT);
      pid = 0;
    }
    ~Held() { go(); }
  } held;
  constexpr int kRounds = 6;
  for (int i = 0; i < kRounds; ++i) {
    std::vector<std::string> stop{"stop", child};
    if (i % 2 == 0) stop.emplace_back("--fast");
    if (i >= kRounds / 2) held.hold(watcher());
    ASSERT_EQ(berth(stop).code, 0) << monitor_log();
    held.go();
    ASSERT_EQ(berth({"start", child}).code, 0) << monitor_log();
  }
  held.hold(watcher());
  ASSERT_EQ(berth({"stop", adopted, "--fast"}).code, 0);
  held.go();
  ASSERT_EQ(berth({"stop", child, "--fast"}).code, 0);
  std::string log = monitor_log();
  for (const auto& id : {adopted, child}) {
    EXPECT_FALSE(contains(log, "CT " + id + ": init halted")) << log;
    EXPECT_FALSE(contains(log, "CT " + id + ": init exited")) << log;
    EXPECT_FALSE(contains(log, "CT " + id + ": teardown")) << log;
  }
  size_t released = 0;
  for (size_t at = log.find("CT " + child + ": released"); at != std::string::npos;
       at = log.find("CT " + child + ": released", at + 1))
    ++released;
  EXPECT_EQ(released, static_cast<size_t>(kRounds + 1)) << log;
  EXPECT_TRUE(wait_for([&] { return watcher() == 0; }, 5)) << log;
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks()) << log;
}

// Two first starts of an instance at once: the spawn lock lets one spawn the watcher, the other
// finds it. Both are served, by one watcher, `berth _monitor`, the parent of both inits.
TEST_F(MonitorTest, TwoFirstStartsAtOnceShareTheWatcherSpawnedForOne) {
  ASSERT_EQ(watcher(), 0);
  std::string a = create_ct();
  std::string b = create_ct();
  pid_t pa = spawn_berth({"start", a});
  pid_t pb = spawn_berth({"start", b});
  EXPECT_EQ(wait_berth(pa), 0) << monitor_log();
  EXPECT_EQ(wait_berth(pb), 0) << monitor_log();
  // One watcher (the watcher's own workers, forks of it, show its command line too until they
  // are gone: a moment after they answered).
  auto watchers = [&] {
    int n = 0;
    for (pid_t p : berth_processes())
      if (contains(read_text("/proc/" + std::to_string(p) + "/cmdline"), "_monitor")) ++n;
    return n;
  };
  EXPECT_TRUE(wait_for([&] { return watchers() == 1; }, 5)) << watchers() << " watchers";
  pid_t w = watcher();
  ASSERT_GT(w, 0) << monitor_log();
  EXPECT_EQ(args_of(w), std::string("berth\0_monitor", 14));
  // Nothing of the command it may be a fork of stays open in it: no lock of a CT or of the
  // spawn, only its own files.
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(w) + "/fd")) {
    std::error_code ec;
    std::string target = fs::read_symlink(e.path(), ec).string();
    EXPECT_FALSE(contains(target, "/lock/") || contains(target, "monitor.lock")) << target;
  }
  for (const auto& id : {a, b}) {
    ASSERT_TRUE(wait_for([&] { return init_pid(id) > 0; }, 5)) << id;
    pid_t init = init_pid(id);
    EXPECT_TRUE(wait_for([&] { return parent_of(init) == w; }, 5))
        << "CT " << id << ": init's parent is " << parent_of(init) << ", the watcher " << w;
    EXPECT_PRED2(contains, monitor_log(), "CT " + id + ": watching init " + std::to_string(init));
  }
  // The first start's worker is the watcher's as any other: a poweroff inside is seen.
  berth({"exec", a, "poweroff"});
  EXPECT_TRUE(
      wait_for([&] { return status_line(a).find("unmounted down") != std::string::npos; }, 30))
      << monitor_log();
  EXPECT_EQ(berth({"stop", b}).code, 0);
  EXPECT_TRUE(wait_for([&] { return watcher() == 0; }, 5)) << monitor_log();
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks()) << monitor_log();
}

TEST_F(MonitorTest, RebootLoopIsStopped) {
  std::string id = create_running_ct();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(wait_for([&] { return init_pid(id) > 0; }, 30)) << "reboot " << i;
    pid_t init = init_pid(id);
    ASSERT_TRUE(reboot_inside(id, init)) << "reboot " << i;
  }
  ASSERT_TRUE(
      wait_for([&] { return status_line(id).find("unmounted down") != std::string::npos; }, 30))
      << monitor_log();
  EXPECT_PRED2(contains, monitor_log(), "reboots within a minute: stopped");
}

// `berth console` on a pty: what the CT writes to /dev/console shows, what is typed reaches the
// console's readers, Esc . detaches (exit 0); a second attach works; what is written while
// nobody is attached is in the console log.
class Attached {
 public:
  Attached(const std::string& root, const std::string& ctid) {
    std::string env_root = "BERTH_ROOT=" + root;
    char* envp[] = {env_root.data(), const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
                    const_cast<char*>("TERM=dumb"), nullptr};
    std::string bin = BERTH_BINARY, cmd = "console";
    std::string id = ctid;
    char* argv[] = {bin.data(), cmd.data(), id.data(), nullptr};
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      ::execve(argv[0], argv, envp);
      ::_exit(127);
    }
  }
  ~Attached() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  // Read what the terminal shows until `want` appears (or the timeout).
  bool wait_for(const std::string& want, int ms = 10000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (seen_.find(want) == std::string::npos && std::chrono::steady_clock::now() < end) {
      struct pollfd p {
        master_, POLLIN, 0
      };
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n <= 0) break;
        seen_.append(buf, static_cast<size_t>(n));
      }
    }
    return seen_.find(want) != std::string::npos;
  }
  void type(const std::string& keys) {
    ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  int wait_exit() {
    wait_for("\x01never", 2000);  // drain what is left
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  const std::string& seen() const { return seen_; }

 private:
  pid_t pid_ = 0;
  int master_ = -1;
  std::string seen_;
};

TEST_F(MonitorTest, ConsoleAttachDetachAndLog) {
  std::string id = create_running_ct();
  RunResult r = berth({"exec", id, "ls -l /dev/console; readlink /proc/1/fd/1"});
  EXPECT_PRED2(contains, r.out, "136,") << "/dev/console is no pty: " << r.out;
  {
    Attached a(root(), id);
    ASSERT_TRUE(a.wait_for("Esc then .")) << a.seen();
    berth({"exec", id, "echo out-one > /dev/console"});
    EXPECT_TRUE(a.wait_for("out-one")) << a.seen();
    // Input: a reader of the console in the CT gets what is typed.
    pid_t reader = spawn_berth({"exec", id, "read x < /dev/console; echo got-$x > /dev/console"});
    sleep_ms(500);
    a.type("typed\r");
    EXPECT_TRUE(a.wait_for("got-typed")) << a.seen();
    wait_berth(reader);
    // A second attach while this one lasts is refused.
    RunResult second = berth({"console", id});
    EXPECT_EQ(second.code, 9) << second.err;
    a.type("\x1b.");
    EXPECT_EQ(a.wait_exit(), 0) << a.seen();
    EXPECT_PRED2(contains, a.seen(), "Detached");
  }
  berth({"exec", id, "echo while-detached > /dev/console"});
  {
    Attached a(root(), id);
    ASSERT_TRUE(a.wait_for("Esc then .")) << a.seen();
    berth({"exec", id, "echo out-two > /dev/console"});
    EXPECT_TRUE(a.wait_for("out-two")) << a.seen();
    EXPECT_FALSE(contains(a.seen(), "out-one"));
    a.type("\x1b.");
    EXPECT_EQ(a.wait_exit(), 0);
  }
  std::string log = read_text(root() + "/var/log/berth/" + id + ".console.log");
  EXPECT_PRED2(contains, log, "while-detached");
  EXPECT_PRED2(contains, log, "out-one");
  // Not running: 31; no such CT: 14.
  ASSERT_EQ(berth({"stop", id}).code, 0);
  EXPECT_EQ(berth({"console", id}).code, 31);
  EXPECT_EQ(berth({"console", "1599"}).code, 14);
}

// A CT that writes to its console without end, with nobody attached: the watcher keeps reading
// (the CT is never blocked) and the log stays bounded (moved to .1 past 1 MiB).
TEST_F(MonitorTest, ConsoleFloodIsBounded) {
  std::string id = create_running_ct();
  RunResult r = berth({"exec", id,
                       "i=0; while [ $i -lt 3000 ]; do "
                       "echo 0123456789012345678901234567890123456789012345678901234567890123456789"
                       "0123456789012345678901234567890123456789012345678901234567890123456789"
                       "0123456789012345678901234567890123456789012345678901234567890123456789"
                       "0123456789012345678901234567890123456789012345678901234567890123456789"
                       "0123456789012345678901234567890123456789012345678901234567890123456789"
                       "01234567890123456789012345678901234567890123456789 > /dev/console; "
                       "i=$((i+1)); done; echo flood-done"},
                      {.timeout = std::chrono::seconds(60)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, r.out, "flood-done");
  std::string log = root() + "/var/log/berth/" + id + ".console.log";
  struct stat st;
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_LE(st.st_size, 1024 * 1024 + 4096);
  EXPECT_EQ(::stat((log + ".1").c_str(), &st), 0) << "the log was not rotated";
}

TEST_F(MonitorTest, SocketIsRootOnly) {
  create_running_ct();
  struct stat st;
  ASSERT_EQ(::stat((root() + "/run/berth/monitor.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
}

}  // namespace
}  // namespace berth::itest

namespace berth::itest {
namespace {

// The same with systemd as PID 1 (a Debian template; common contract: BERTH_TEST_DEBIAN_TEMPLATE
// names the cache, else the test skips): its console shows a getty's login prompt, `reboot`
// inside brings it back by itself, `poweroff` stops it with nothing left behind.
TEST_F(MonitorTest, SystemdRebootAndPoweroff) {
  const char* tmpl = std::getenv("BERTH_TEST_DEBIAN_TEMPLATE");
  if (!tmpl || !*tmpl) GTEST_SKIP() << "SKIPPED: no Debian template (BERTH_TEST_DEBIAN_TEMPLATE)";
  RunResult r = berth({"template", "import", tmpl, "--name", "debian-12-x86_64-minimal"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = new_ctid();
  r = berth({"create", id, "--ostemplate", "debian-12-x86_64-minimal", "--hostname", "deb" + id,
             "--ipadd", "198.18.45.30"},
            {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(berth({"start", id}).code, 0);
  auto booted = [&] {
    RunResult s = berth({"exec", id, "systemctl is-system-running"});
    return contains(s.out, "running") || contains(s.out, "degraded");
  };
  ASSERT_TRUE(wait_for(booted, 120));
  std::string log = root() + "/var/log/berth/" + id + ".console.log";
  EXPECT_TRUE(wait_for([&] { return contains(read_text(log), "login:"); }, 30)) << read_text(log);
  pid_t before = init_pid(id);
  berth({"exec", id, "reboot"});
  ASSERT_TRUE(wait_new_init(id, before, 90)) << monitor_log();
  EXPECT_PRED2(contains, monitor_log(), "CT " + id + ": init rebooted");
  ASSERT_TRUE(wait_for(booted, 120));
  EXPECT_TRUE(has_route("198.18.45.30"));
  berth({"exec", id, "poweroff"});
  ASSERT_TRUE(
      wait_for([&] { return status_line(id).find("unmounted down") != std::string::npos; }, 90))
      << monitor_log();
  EXPECT_FALSE(has_route("198.18.45.30"));
  EXPECT_TRUE(wait_for([&] { return leaks().empty(); }, 10)) << ::testing::PrintToString(leaks());
}

// A watcher spawned by a command whose soft open-file limit is low (1024 in a stock root shell)
// holds four fds per running CT: it raises its own limit, so starts past that many fds work
// (before, the 252nd start from such a shell failed with no message). Its workers get back the
// limit it started with, so the CTs' processes keep the usual one.
TEST_F(MonitorTest, AWatcherStartedUnderALowOpenFileLimitHoldsMoreCtsThanThat) {
  constexpr int kCts = 12;  // 4 fds each, past the 40 the starts are made with
  std::vector<std::string> ids;
  for (int i = 0; i < kCts; ++i) ids.push_back(create_ct());
  RunOptions sh;
  sh.argv0 = "/bin/sh";
  sh.timeout = std::chrono::seconds(60);
  for (const auto& id : ids) {
    RunResult r =
        berth({"-c", "ulimit -Sn 40 && exec " + std::string(BERTH_BINARY) + " start " + id}, sh);
    ASSERT_EQ(r.code, 0) << "start of CT " << id << ": " << r.err;
  }
  for (const auto& id : ids) EXPECT_PRED2(contains, status_line(id), "running") << id;
  pid_t w = watcher();
  ASSERT_GT(w, 0);
  std::string limits = read_text("/proc/" + std::to_string(w) + "/limits");
  EXPECT_FALSE(matches(limits, "[\\s\\S]*Max open files +40 [\\s\\S]*")) << limits;
  for (const auto& id : ids) EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
}

}  // namespace
}  // namespace berth::itest
