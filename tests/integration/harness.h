// Integration test harness: runs the real `berth` binary as root against a throwaway BERTH_ROOT.
//
// BerthTest is the fixture base: it skips when not root, gives every test a fresh BERTH_ROOT under
// /tmp (mode 0755) whose berth.conf names the instance berth-test-<pid> (so parallel runs never
// share cgroups), with the busybox template cache built once per test program and copied in.
// Commands run through fork/exec with a timeout (never a shell). TearDown stops and destroys the
// test's CTs, then LeakCheck asserts that nothing of the instance is left on the host (mounts
// under the root, cgroup dirs, processes, berth processes), removes the root, and, if something
// leaked, cleans it up by force so the next test starts clean.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace berth::itest {

struct RunResult {
  int code = -1;           // exit status; 128+signal when killed by a signal
  std::string out, err;    // captured stdout and stderr
  bool timed_out = false;  // killed by the harness after the timeout
};

struct RunOptions {
  std::string input;  // fed to stdin (then closed)
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::string argv0;             // program path; default BERTH_BINARY
  std::vector<std::string> env;  // "KEY=value" added for berth() calls
};

// The test program's environment for a berth command of the instance at root: BERTH_ROOT=root,
// and none of the caller's BERTH_FAIL_STEP or BERTH_TRACE (a test passes those itself).
std::vector<std::string> root_env(const std::string& root);

// Run argv (argv[0] is a path) with env as its environment; captures output; kills the process
// group after the timeout.
RunResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      const RunOptions& opts);

// Every cgroup hierarchy mount point of the host (v1 controllers, named ones, and v2).
std::vector<std::string> cgroup_mounts();

// Lines of s, without the newlines.
std::vector<std::string> split_lines(const std::string& s);
std::string read_text(const std::string& path);
// A process's arguments, NUL-separated, without the NULs that may pad them (a watcher forked from
// a start wrote its own over that command's, monitor/client.h): "berth\0_monitor" ("" when gone).
std::string args_of(pid_t pid);
// Sleep for ms milliseconds.
void sleep_ms(long ms);
// Predicates for EXPECT_PRED2 (gtest prints both arguments on failure).
bool contains(const std::string& haystack, const std::string& needle);
bool matches(const std::string& text, const std::string& ecma_regex);  // whole text

class BerthTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // `berth args...` with BERTH_ROOT set to this test's root.
  RunResult berth(const std::vector<std::string>& args, RunOptions opts = {});
  // The same binary under one of its other names (vzctl, vzlist), from the build directory.
  RunResult berth_as(const std::string& name, const std::vector<std::string>& args,
                     RunOptions opts = {});
  // Start `berth args...` without waiting (stdio to /dev/null); returns its pid for kill tests.
  pid_t spawn_berth(const std::vector<std::string>& args);
  // waitpid for a spawned berth; returns its exit code (128+signal when killed).
  int wait_berth(pid_t pid);

  // A CTID unique in this test program; registered so TearDown stops and destroys it.
  std::string new_ctid();
  // new_ctid + `berth create CTID --ostemplate busybox --hostname ct<CTID> extra...`; asserts rc 0.
  std::string create_ct(const std::vector<std::string>& extra = {});
  // create_ct + `berth start --wait`; asserts rc 0.
  std::string create_running_ct(const std::vector<std::string>& extra = {});

  std::string ve_root(const std::string& ctid) const;
  std::string ve_private(const std::string& ctid) const;
  std::string conf_path(const std::string& ctid) const;
  std::string status_line(const std::string& ctid);  // `berth status CTID` without the newline

  // Copy the probe into the running CT and run it there (exec3); returns its JSON.
  nlohmann::json probe(const std::string& ctid, const std::vector<std::string>& args = {});
  // Copy the probe into the CT (its /sbin/berth_probe) without running it; returns that path.
  std::string install_probe(const std::string& ctid);

  // Host processes in the CT's cgroup (pids from cgroup.procs of the first v1 hierarchy or v2).
  std::vector<pid_t> ct_processes(const std::string& ctid) const;
  // ct_processes once the set has stayed the same for 300 ms (at most 5 s): `start --wait`
  // returns when rcS touches /run/berth-ready, and rcS exits right after.
  std::vector<pid_t> settled_ct_processes(const std::string& ctid) const;
  // Processes running the berth binary for this root (the resident-process check).
  std::vector<pid_t> berth_processes() const;
  // Everything LeakCheck found, one line each (empty: clean). Works while the root exists.
  std::vector<std::string> leaks() const;

  const std::string& root() const { return root_; }
  const std::string& instance() const { return instance_; }

 private:
  void force_cleanup();
  std::vector<std::string> env() const;

  std::string root_;
  std::string instance_;
  std::vector<std::string> ctids_;
  std::vector<pid_t> spawned_;
};

}  // namespace berth::itest
