// Robustness: `berth create` and `berth start` killed with SIGKILL at random points, followed by a
// retry that must succeed; two commands on the same CT at once; no resident berth process once
// `berth start` returned. The fixture's leak check runs after each test.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class RobustnessTest : public BerthTest {
 protected:
  std::mt19937 rng{static_cast<unsigned>(::getpid())};
  long delay_ms(long max) { return std::uniform_int_distribution<long>(0, max)(rng); }

  // The CT works: it runs, exec works, and it stops cleanly (leaving no cgroup behind).
  void expect_usable(const std::string& id) {
    RunResult r = berth({"start", id, "--wait"});
    ASSERT_TRUE(r.code == 0 || r.code == 32) << r.code << " " << r.err;
    EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
    r = berth({"exec", id, "hostname"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "ct" + id + "\n");
    r = berth({"stop", id, "--fast"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(ct_processes(id).empty());
  }

  // Number of host processes that are a CT's init (PID 1 of a nested PID namespace) in id's cgroup.
  int inits_of(const std::string& id) {
    int n = 0;
    for (pid_t p : ct_processes(id)) {
      std::string st = read_text("/proc/" + std::to_string(p) + "/status");
      for (const auto& l : split_lines(st))
        if (l.rfind("NSpid:", 0) == 0) {
          std::istringstream in(l.substr(6));
          std::vector<long> ids;
          long v;
          while (in >> v) ids.push_back(v);
          if (ids.size() > 1 && ids.back() == 1) ++n;
        }
    }
    return n;
  }
};

TEST_F(RobustnessTest, KilledCreateThenRetry) {
  for (int i = 0; i < 6; ++i) {
    std::string id = new_ctid();
    std::vector<std::string> args{"create", id, "--ostemplate", "busybox", "--hostname", "ct" + id};
    // The first iteration also kills the one-time template unpack.
    pid_t pid = spawn_berth(args);
    sleep_ms(delay_ms(i == 0 ? 120 : 50));
    ::kill(pid, SIGKILL);
    wait_berth(pid);
    // A CT exists exactly when its config exists: the retry either creates it or says 44.
    bool existed = fs::exists(conf_path(id));
    RunResult r = berth(args);
    if (existed) {
      EXPECT_EQ(r.code, 44) << "iteration " << i << ": " << r.err;
    } else {
      EXPECT_EQ(r.code, 0) << "iteration " << i << ": " << r.err;
    }
    EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
    expect_usable(id);
    RunResult d = berth({"destroy", id});
    EXPECT_EQ(d.code, 0) << d.err;
    EXPECT_FALSE(fs::exists(ve_private(id))) << "iteration " << i;
    EXPECT_TRUE(leaks().empty()) << "iteration " << i << ": " << ::testing::PrintToString(leaks());
  }
}

TEST_F(RobustnessTest, KilledStartThenRetry) {
  std::string id = create_ct();
  int transient_locks = 0;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = spawn_berth({"start", id});
    sleep_ms(delay_ms(40));
    ::kill(pid, SIGKILL);
    wait_berth(pid);
    // Whatever the killed start left, the next start finishes or undoes it. The killed start's
    // child (not yet the CT's init) dies with it and holds the CT's lock until it is gone, so a
    // start right after may briefly get 9; it must clear within a second.
    RunResult r = berth({"start", id, "--wait"});
    for (int tries = 0; r.code == 9 && tries < 10; ++tries) {
      ++transient_locks;
      sleep_ms(100);
      r = berth({"start", id, "--wait"});
    }
    EXPECT_TRUE(r.code == 0 || r.code == 32) << "iteration " << i << ": " << r.code << " " << r.err;
    EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running") << "iteration " << i;
    EXPECT_EQ(inits_of(id), 1) << "iteration " << i;
    r = berth({"exec", id, "hostname"});
    EXPECT_EQ(r.out, "ct" + id + "\n") << "iteration " << i << ": " << r.err;
    r = berth({"stop", id, "--fast"});
    EXPECT_EQ(r.code, 0) << "iteration " << i << ": " << r.err;
    EXPECT_TRUE(leaks().empty()) << "iteration " << i << ": " << ::testing::PrintToString(leaks());
  }
  RecordProperty("transient_locks", transient_locks);
}

TEST_F(RobustnessTest, KilledStopAndDestroyThenRetry) {
  std::string id = create_ct();
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
    pid_t pid = spawn_berth({"stop", id});
    sleep_ms(delay_ms(30));
    ::kill(pid, SIGKILL);
    wait_berth(pid);
    RunResult r = berth({"stop", id, "--fast"});
    EXPECT_TRUE(r.code == 0 || r.code == 31) << "iteration " << i << ": " << r.code << " " << r.err;
    EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down") << "iteration " << i;
    EXPECT_TRUE(leaks().empty()) << "iteration " << i << ": " << ::testing::PrintToString(leaks());
  }
  pid_t pid = spawn_berth({"destroy", id});
  sleep_ms(delay_ms(20));
  ::kill(pid, SIGKILL);
  wait_berth(pid);
  RunResult r = berth({"destroy", id});
  EXPECT_TRUE(r.code == 0 || r.code == 14) << r.code << " " << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " deleted unmounted down");
  EXPECT_FALSE(fs::exists(ve_private(id)));
}

TEST_F(RobustnessTest, ConcurrentStartsRunTheCtOnce) {
  std::string id = create_ct();
  for (int i = 0; i < 3; ++i) {
    pid_t a = spawn_berth({"start", id});
    pid_t b = spawn_berth({"start", id});
    int ca = wait_berth(a), cb = wait_berth(b);
    EXPECT_TRUE((ca == 0 && (cb == 9 || cb == 32)) || (cb == 0 && (ca == 9 || ca == 32)))
        << "iteration " << i << ": exit codes " << ca << " and " << cb;
    EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
    EXPECT_EQ(inits_of(id), 1) << "iteration " << i;
    ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  }
}

TEST_F(RobustnessTest, ConcurrentCreatesOfOneCtid) {
  for (int i = 0; i < 3; ++i) {
    std::string id = new_ctid();
    std::vector<std::string> args{"create", id, "--ostemplate", "busybox", "--hostname", "ct" + id};
    pid_t a = spawn_berth(args);
    pid_t b = spawn_berth(args);
    int ca = wait_berth(a), cb = wait_berth(b);
    EXPECT_TRUE((ca == 0 && (cb == 9 || cb == 44)) || (cb == 0 && (ca == 9 || ca == 44)))
        << "iteration " << i << ": exit codes " << ca << " and " << cb;
    expect_usable(id);
  }
}

TEST_F(RobustnessTest, ConcurrentStopAndDestroy) {
  std::string id = create_ct();
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  // stop and destroy racing: one may find the CT locked (9); destroy must never remove a
  // running CT's files.
  pid_t s = spawn_berth({"stop", id, "--fast"});
  pid_t d = spawn_berth({"destroy", id});
  int cs = wait_berth(s), cd = wait_berth(d);
  std::string st = status_line(id);
  if (cs == 9) {
    EXPECT_EQ(cd, 32) << "destroy of a running CT";
    EXPECT_EQ(st, "CTID " + id + " exist mounted running");
    EXPECT_TRUE(fs::exists(ve_private(id)));
  } else {
    EXPECT_EQ(cs, 0);
    EXPECT_TRUE(cd == 0 || cd == 9 || cd == 32) << cd;
    EXPECT_EQ(st, cd == 0 ? "CTID " + id + " deleted unmounted down"
                          : "CTID " + id + " exist unmounted down");
    EXPECT_EQ(fs::exists(ve_private(id)), cd != 0);
  }
}

// Two Berth roots under one CGROUP_PARENT (state/instance_owner.h): the second root's commands
// took the first root's VPS of the same CTID for their own (its `stop` killed it). Now the first
// root's running VPS claims the instance, and every command of the other root is refused (exit
// 9, naming CGROUP_PARENT) until that VPS is gone.
TEST_F(RobustnessTest, AnotherRootUnderTheSameCgroupParentCannotTouchItsVps) {
  std::string id = create_running_ct();
  // The other root: the same berth.conf (CGROUP_PARENT) and a config for the same CTID. Removed
  // whatever the test's outcome.
  struct Dir {
    std::string path;
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } other{root() + "-other"};
  fs::create_directories(other.path + "/etc/berth/conf");
  fs::copy_file(root() + "/etc/berth/berth.conf", other.path + "/etc/berth/berth.conf");
  fs::copy_file(conf_path(id), other.path + "/etc/berth/conf/" + id + ".conf");
  auto in_other = [&](std::vector<std::string> args) {
    args.insert(args.begin(), BERTH_BINARY);
    return run_process(args, root_env(other.path), {});
  };
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"status", id}, {"stop", id, "--fast"}, {"destroy", id}, {"list", "-a"}}) {
    RunResult r = in_other(args);
    EXPECT_EQ(r.code, 9) << args[0] << ": " << r.out << r.err;
    EXPECT_PRED2(contains, r.err, "CGROUP_PARENT");
  }
  EXPECT_PRED2(contains, status_line(id), "running");
  // Its VPS stopped (the instance's groups gone), the name is free for the other root.
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  RunResult l = in_other({"list", "-a"});
  EXPECT_EQ(l.code, 0) << l.err;
}

// The race the claim alone left open: two roots under one CGROUP_PARENT start the same CTID at
// the same moment, on an instance nobody has claimed yet. One start wins; the other is refused
// (exit 9) and leaves the winner's group alone. Before the host-wide gate, one root's repair took
// the other's new group for a leftover (and removed it), or both inits ended up in one group.
TEST_F(RobustnessTest, TwoRootsStartingOneCtidAtOnceNeverShareAGroup) {
  std::string id = create_ct();
  struct Other {
    std::string path;
    std::string id;
    ~Other() {
      (void)run_process({BERTH_BINARY, "stop", id, "--fast"}, root_env(path), {});
      (void)run_process({BERTH_BINARY, "destroy", id}, root_env(path), {});
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } other{root() + "-other", id};
  fs::create_directories(other.path + "/etc/berth");
  // The busybox cache only (the unpacked tree beside it is made again on first use).
  const std::string cache = "/var/lib/berth/template/cache";
  fs::create_directories(other.path + cache);
  for (const auto& e : fs::directory_iterator(root() + cache))
    if (e.is_regular_file())
      fs::copy_file(e.path(), other.path + cache + "/" + e.path().filename().string());
  for (std::string p = other.path + "/var/lib/berth/template/cache"; p.size() > 4;
       p = fs::path(p).parent_path())
    ::chmod(p.c_str(), 0755);
  fs::copy_file(root() + "/etc/berth/berth.conf", other.path + "/etc/berth/berth.conf");
  auto in_other = [&](std::vector<std::string> args) {
    args.insert(args.begin(), BERTH_BINARY);
    return run_process(args, root_env(other.path), {});
  };
  RunResult made = in_other({"create", id, "--ostemplate", "busybox"});
  ASSERT_EQ(made.code, 0) << made.err;
  for (int round = 0; round < 6; ++round) {
    RunResult here, there;
    std::thread t([&] { there = in_other({"start", id}); });
    here = berth({"start", id});
    t.join();
    SCOPED_TRACE("round " + std::to_string(round) + ": this root " + std::to_string(here.code) +
                 " " + here.err + ", the other " + std::to_string(there.code) + " " + there.err);
    EXPECT_TRUE((here.code == 0) != (there.code == 0)) << "exactly one start wins";
    // Refused: the other root's group or claim (9), or its VPS found running (32).
    for (const RunResult* lost : {&here, &there}) {
      if (lost->code != 0) {
        EXPECT_TRUE(lost->code == 9 || lost->code == 32) << lost->code;
      }
    }
    // The winner's VPS runs, alone in its group.
    EXPECT_EQ(inits_of(id), 1);
    (void)berth({"stop", id, "--fast"});
    (void)in_other({"stop", id, "--fast"});
    EXPECT_TRUE(ct_processes(id).empty());
  }
}

// The gate of the fix above is a flock on the instance's group in the first hierarchy: a host
// user who could open that directory could hold the lock and stall every start. It is 0711, and
// an unprivileged user cannot open it.
TEST_F(RobustnessTest, AHostUserCannotHoldTheInstanceGate) {
  std::string id = create_running_ct();
  std::vector<std::string> gates;
  for (const auto& h : cgroup_mounts()) {
    struct stat st {};
    std::string dir = h + "/" + instance();
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 0777) == 0711) gates.push_back(dir);
  }
  ASSERT_FALSE(gates.empty()) << "no instance group of mode 0711";
  for (const auto& dir : gates) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
          ::setresuid(65534, 65534, 65534) != 0)
        ::_exit(2);
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      ::_exit(fd < 0 && errno == EACCES ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << dir << ": " << status;
  }
  EXPECT_PRED2(contains, status_line(id), "running");
}

TEST_F(RobustnessTest, NoResidentBerthProcess) {
  std::string id = create_ct();
  RunResult r = berth({"start", id});
  ASSERT_EQ(r.code, 0) << r.err;
  // Nothing stays per VPS; the instance's one beancounter server (`berth ubc --serve`,
  // procsrv/client.h) and its one watcher (`berth _monitor`, monitor/server.h) are not per VPS
  // and end with the last CT.
  auto resident = [&] {
    std::vector<pid_t> out;
    for (pid_t p : berth_processes()) {
      std::string cmd = args_of(p);
      if (cmd != std::string("berth\0ubc\0--serve", 17) &&
          cmd != std::string("berth\0_monitor", 14))
        out.push_back(p);
    }
    return out;
  };
  EXPECT_TRUE(resident().empty()) << ::testing::PrintToString(resident());
  // No process in the CT's cgroup runs the berth binary either (the CT's init exec'ed its own).
  std::string bin = fs::canonical(BERTH_BINARY).string();
  for (pid_t p : ct_processes(id)) {
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/" + std::to_string(p) + "/exe", ec);
    EXPECT_NE(exe.string(), bin) << "pid " << p;
  }
  // The CT's init was handed over: its parent on the host is the instance's watcher (which sees
  // a reboot or poweroff inside), not a per-VPS process.
  ASSERT_EQ(inits_of(id), 1);
  r = berth({"exec", id, "true"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(resident().empty());
  ASSERT_EQ(berth({"start", id}).code, 32);
  EXPECT_TRUE(resident().empty());
}

}  // namespace
}  // namespace berth::itest
