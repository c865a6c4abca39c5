// The exec wall: nothing of the caller's terminal or files reaches a command run by `berth exec`
// (a new pty or pipes relayed by berth, a new session), and what a hostile tenant does with what
// it does get. Also init's stdio (no host path) and io_uring (refused inside).
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "harness.h"

extern char** environ;

namespace berth::itest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class ExecWallTest : public BerthTest {
 protected:
  std::vector<std::string> berth_env() const {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "BERTH_ROOT=", 11) != 0 && std::strncmp(*e, "TERM=", 5) != 0)
        env.emplace_back(*e);
    env.push_back("BERTH_ROOT=" + root());
    env.push_back("TERM=dumb");
    return env;
  }

  // Fork `berth args` with the given fds as 0-2. With ctty >= 0 the child is a session leader
  // whose controlling terminal is ctty (an admin's login shell would be).
  pid_t spawn(const std::vector<std::string>& args, int in, int out, int err, int ctty = -1) {
    std::vector<std::string> argv{BERTH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    auto env = berth_env();
    for (auto& s : env) e.push_back(s.data());
    e.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::signal(SIGPIPE, SIG_DFL);  // as a shell starts it (the harness ignores SIGPIPE)
      ::setsid();
      if (ctty >= 0 && ::ioctl(ctty, TIOCSCTTY, 0) != 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::execve(a[0], a.data(), e.data());
      ::_exit(127);
    }
    return pid;
  }

  // waitpid with a deadline; -1 when it had to be killed.
  static int wait_for(pid_t pid, std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    int status = 0;
    while (Clock::now() < deadline) {
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      sleep_ms(20);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }

  static nlohmann::json parse(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << text;
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
};

struct PtyPair {
  int master = -1, slave = -1;
  PtyPair() {
    struct winsize ws {
      30, 100, 0, 0
    };
    if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) master = slave = -1;
  }
  ~PtyPair() {
    if (master >= 0) ::close(master);
    if (slave >= 0) ::close(slave);
  }
  // Read what the terminal shows until pred(seen) or the deadline.
  std::string read_until(const std::function<bool(const std::string&)>& done,
                         std::chrono::milliseconds limit) const {
    std::string seen;
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline && !done(seen)) {
      struct pollfd p {
        master, POLLIN, 0
      };
      if (::poll(&p, 1, 50) > 0) {
        char buf[4096];
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n > 0) seen.append(buf, static_cast<size_t>(n));
      }
    }
    return seen;
  }
  // Input waiting on the caller's side (what the admin's shell would read next).
  std::string pending_input() const {
    struct termios t;
    ::tcgetattr(slave, &t);
    ::cfmakeraw(&t);  // non-canonical: a partial line is readable too
    ::tcsetattr(slave, TCSANOW, &t);
    int fl = ::fcntl(slave, F_GETFL);
    ::fcntl(slave, F_SETFL, fl | O_NONBLOCK);
    std::string in;
    char buf[4096];
    for (ssize_t n; (n = ::read(slave, buf, sizeof buf)) > 0;)
      in.append(buf, static_cast<size_t>(n));
    ::fcntl(slave, F_SETFL, fl);
    return in;
  }
};

bool tiocsti_enabled() {
  std::string v = read_text("/proc/sys/dev/tty/legacy_tiocsti");
  return v.empty() || v[0] != '0';  // absent before 6.2: always enabled
}

// (a) The admin runs `berth exec` from a terminal. A tenant's command types into every terminal
// it can reach (its fds, /dev/tty, reopened /proc/self/fd/*), at once and again from a
// background child after `berth exec` has returned. Nothing may arrive as input on the admin's
// terminal, and the command's fds must not be that terminal.
TEST_F(ExecWallTest, TiocstiNeverReachesTheCallersTerminal) {
  for (bool privileged : {false, true}) {
    SCOPED_TRACE(privileged ? "privileged CT" : "CT in a user namespace");
    std::string id =
        privileged
            ? create_running_ct({"--local_uid", "0", "--local_gid", "0", "--i-trust-this-vps"})
            : create_running_ct();
    std::string probe = install_probe(id);
    std::string marker = "echo PWNED-" + id + " > /tmp/pwned";
    PtyPair tty;
    ASSERT_GE(tty.master, 0);
    struct stat caller;
    ASSERT_EQ(::fstat(tty.slave, &caller), 0);
    // The late injection comes after exec's wait for the command's output (2 s) is over.
    pid_t pid = spawn({"exec3", id, probe, "exec-tty", marker, "2600", "/tmp/tty.json"}, tty.slave,
                      tty.slave, tty.slave, tty.slave);
    bool exited = false;
    int code = -1;
    std::string shown = tty.read_until(
        [&](const std::string&) {
          int st;
          if (!exited && ::waitpid(pid, &st, WNOHANG) == pid) {
            exited = true;
            code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          }
          return exited;
        },
        std::chrono::seconds(20));
    if (!exited) code = wait_for(pid, std::chrono::milliseconds(1));
    EXPECT_EQ(code, 0) << shown;
    // Wait for the background child's second attempt.
    std::string later = ve_root(id) + "/tmp/tty.json.later";
    for (int i = 0; i < 100 && !fs::exists(later); ++i) sleep_ms(50);
    EXPECT_TRUE(fs::exists(later)) << "the late injection did not run";
    sleep_ms(200);
    shown +=
        tty.read_until([](const std::string&) { return false; }, std::chrono::milliseconds(200));

    std::string pending = tty.pending_input();
    EXPECT_EQ(pending.find("PWNED-" + id), std::string::npos)
        << "text typed by the CT waits as input on the admin's terminal: " << pending;

    auto j = parse(read_text(ve_root(id) + "/tmp/tty.json"));
    ASSERT_TRUE(j.contains("fds")) << j.dump();
    for (const auto& f : j["fds"]) {
      // Even with TIOCSTI disabled (dev.tty.legacy_tiocsti=0): the fds are not the caller's tty.
      bool same = f.value("dev", 0ull) == caller.st_dev && f.value("ino", 0ull) == caller.st_ino;
      EXPECT_FALSE(same) << "fd " << f["fd"] << " inside is the caller's terminal: " << f.dump();
      EXPECT_TRUE(f.value("isatty", false)) << "a caller on a terminal gets a pty: " << f.dump();
      EXPECT_EQ(f.value("link", "").find(root()), std::string::npos) << f.dump();
    }
    // A new session whose leader is inside the CT (a leader outside shows as sid 0).
    EXPECT_GT(j.value("sid", 0), 0) << j.dump();
    EXPECT_EQ(j.value("sid", 0), j.value("pid", -1)) << j.dump();
    if (!tiocsti_enabled())
      std::printf("note: dev.tty.legacy_tiocsti=0, TIOCSTI itself is refused here\n");
  }
}

// (b) Without a terminal: the caller's stdin/stdout/stderr are host files. Inside, fds 0-2 are
// pipes (not those files, and naming no host path), and no other fd of the host is open.
TEST_F(ExecWallTest, NoHostFilesWithoutTerminal) {
  std::string id = create_running_ct();
  std::string probe = install_probe(id);
  std::string in_path = root() + "/caller-in", out_path = root() + "/caller-out",
              err_path = root() + "/caller-err";
  { std::ofstream(in_path) << "input\n"; }
  int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_TRUE(in >= 0 && out >= 0 && err >= 0);
  struct stat host[3];
  ::fstat(in, &host[0]);
  ::fstat(out, &host[1]);
  ::fstat(err, &host[2]);
  pid_t pid = spawn({"exec3", id, probe, "exec-fds"}, in, out, err);
  int code = wait_for(pid, std::chrono::seconds(20));
  ::close(in);
  ::close(out);
  ::close(err);
  EXPECT_EQ(code, 0) << read_text(err_path);
  auto j = parse(read_text(out_path));
  ASSERT_TRUE(j.contains("fds")) << j.dump();
  std::vector<int> seen;
  for (const auto& f : j["fds"]) {
    int fd = f.value("fd", -1);
    seen.push_back(fd);
    std::string link = f.value("link", "");
    EXPECT_EQ(link.find(root()), std::string::npos)
        << "fd " << fd << " names a host path: " << link;
    if (fd < 0 || fd > 2) continue;
    EXPECT_EQ(f.value("type", ""), "fifo") << f.dump();
    EXPECT_EQ(link.rfind("pipe:[", 0), 0u) << f.dump();
    bool same = f.value("dev", 0ull) == host[fd].st_dev && f.value("ino", 0ull) == host[fd].st_ino;
    EXPECT_FALSE(same) << "fd " << fd << " inside is the caller's file";
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}))
      << "only the relayed pipes may be open: " << j.dump();
}

// (c) The command is the leader of a new session inside the CT (not the caller's session, whose
// leader a CT process cannot see: getsid() says 0 then), for exec3 and for the shell of exec.
TEST_F(ExecWallTest, CommandRunsInANewSession) {
  std::string id = create_running_ct();
  std::string probe = install_probe(id);
  RunResult r = berth({"exec3", id, probe, "exec-fds"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = parse(r.out);
  EXPECT_GT(j.value("sid", 0), 0) << j.dump();
  EXPECT_EQ(j.value("sid", 0), j.value("pid", -1)) << j.dump();
  r = berth({"exec", id, probe, "exec-fds"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = parse(r.out);
  EXPECT_GT(j.value("sid", 0), 0) << "the shell of exec leads the session: " << j.dump();
  // The session is not the host's: an in-CT pid, and the caller's session id is a host pid.
  EXPECT_NE(j.value("sid", 0), ::getsid(0)) << j.dump();
}

// (d) vzctl exec's behaviour for scripts is kept: commands from stdin (`-`), exit codes and
// 128+signal, stdout and stderr apart, stdin EOF, large data both ways at once.
TEST_F(ExecWallTest, ScriptBehaviourKept) {
  std::string id = create_running_ct();
  RunOptions in;
  in.input = "echo one\necho two >&2\nexit 3\n";
  RunResult r = berth({"exec2", id, "-"}, in);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "one\n");
  EXPECT_EQ(r.err, "two\n");
  in.input = "hello\n";
  r = berth({"exec2", id, "read x; echo \"got:$x\""}, in);
  EXPECT_EQ(r.out, "got:hello\n");
  EXPECT_EQ(berth({"exec", id, "exit 3"}).code, 8);
  EXPECT_EQ(berth({"exec2", id, "kill -TERM $$"}).code, 143);
  EXPECT_EQ(berth({"exec3", id, "/bin/sh", "-c", "kill -KILL $$"}).code, 137);
  // stdin at EOF at once: cat ends.
  r = berth({"exec2", id, "cat; echo done"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "done\n");
  // 24 MiB out, on stdout and stderr apart.
  r = berth({"exec2", id, "head -c 25165824 /dev/zero; head -c 1000 /dev/zero >&2"});
  EXPECT_EQ(r.code, 0) << r.err.substr(0, 200);
  EXPECT_EQ(r.out.size(), 25165824u);
  EXPECT_EQ(r.err.size(), 1000u);
  // 16 MiB in and out at the same time (a relay that writes before it reads would deadlock).
  in.input.assign(16u << 20, 'x');
  for (size_t i = 0; i < in.input.size(); i += 4099) in.input[i] = '\n';
  r = berth({"exec2", id, "cat"}, in);
  EXPECT_EQ(r.code, 0) << r.err.substr(0, 200);
  EXPECT_TRUE(r.out == in.input) << "cat gave back " << r.out.size() << " bytes of "
                                 << in.input.size();
}

// exec and exec2 run their line through /bin/bash when the CT has one (a Debian VPS), else
// /bin/sh; the command's environment carries the caller's TERM, short or long. (The busybox CT
// has no bash: one is made here, a script that notes its use and runs sh.)
TEST_F(ExecWallTest, ShellIsTheCtsBashWhenThereIsOne) {
  std::string id = create_running_ct();
  // berth with exactly this TERM (the harness's environment may carry one of its own).
  auto with_term = [&](const std::string& term, const std::vector<std::string>& args) {
    std::vector<std::string> e;
    for (const auto& v : berth_env())
      if (v.rfind("TERM=", 0) != 0) e.push_back(v);
    e.push_back(term);
    std::vector<std::string> argv{BERTH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, e, RunOptions{});
  };
  RunResult r = with_term("TERM=vt100", {"exec2", id, "echo $((40+2)) \"$TERM\" $0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "42 vt100 /bin/sh\n");
  r = berth({"exec3", id, "/bin/sh", "-c",
             "printf '#!/bin/sh\\necho bash >>/tmp/shells\\nexec /bin/sh \"$@\"\\n' >/bin/bash && "
             "chmod 755 /bin/bash"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string term : {"TERM=vt100", "TERM=xterm-256color-italic"}) {
    r = with_term(term, {"exec2", id, "echo $((40+2)) \"$TERM\""});
    EXPECT_EQ(r.code, 0) << term << ": " << r.err;
    EXPECT_EQ(r.out, "42 " + term.substr(5) + "\n");
  }
  // A line the shell would only split at spaces runs its program directly, no shell at all.
  r = berth({"exec", id, "echo direct"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "direct\n");
  r = berth({"exec3", id, "/bin/cat", "/tmp/shells"});
  EXPECT_EQ(r.out, "bash\nbash\n") << "the two lines with $((...)) went through /bin/bash";
}

// A tenant that holds every pty it may have (NUMPTY) cannot lock the admin out: exec from a
// terminal still runs the command, on pipes.
TEST_F(ExecWallTest, NoPtyLeftFallsBackToPipes) {
  std::string id = create_running_ct({"--numpty", "2"});
  RunResult r = berth(
      {"exec", id, "(exec 3<>/dev/ptmx 4<>/dev/ptmx; exec sleep 60) </dev/null >/dev/null 2>&1 &"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = berth({"exec2", id, "sleep 0.5; exec 5<>/dev/ptmx && echo got-a-pty"});
  ASSERT_EQ(r.out, "") << "the CT still has a pty: the test cannot hold them all";
  PtyPair tty;
  ASSERT_GE(tty.master, 0);
  pid_t pid = spawn({"exec2", id, "[ -t 1 ] && echo on-a-tty || echo on-pipes"}, tty.slave,
                    tty.slave, tty.slave, tty.slave);
  std::string shown = tty.read_until([](const std::string& s) { return contains(s, "on-"); },
                                     std::chrono::seconds(15));
  EXPECT_EQ(wait_for(pid, std::chrono::seconds(10)), 0) << shown;
  EXPECT_PRED2(contains, shown, "on-pipes");
}

// runscript: a host script file runs inside on stdin, with its output and exit code.
TEST_F(ExecWallTest, RunscriptKept) {
  std::string id = create_running_ct();
  std::string script = root() + "/script.sh";
  { std::ofstream(script) << "echo from-script\nhostname\necho err >&2\nexit 4\n"; }
  RunResult r = berth({"runscript", id, script});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(r.out, "from-script\nct" + id + "\n");
  EXPECT_EQ(r.err, "err\n");
}

// A closed stdout (`berth exec CT yes | head -1`): the command gets EPIPE/SIGPIPE, berth ends.
TEST_F(ExecWallTest, ClosedStdoutEndsTheCommand) {
  std::string id = create_running_ct();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = spawn({"exec2", id, "yes"}, null, p[1], null);
  ::close(p[1]);
  char buf[16];
  EXPECT_GT(::read(p[0], buf, sizeof buf), 0);
  ::close(p[0]);
  int code = wait_for(pid, std::chrono::seconds(15));
  ::close(null);
  EXPECT_EQ(code, 128 + SIGPIPE);
  EXPECT_EQ(berth({"exec", id, "pidof yes"}).out, "") << "yes still runs in the CT";
}

// Background jobs that keep the output open do not hang exec for long; output they write soon
// (before the pipes close) is still shown, as vzctl exec shows it.
TEST_F(ExecWallTest, BackgroundJobsDoNotHangExec) {
  std::string id = create_running_ct();
  auto t0 = Clock::now();
  RunResult r = berth({"exec2", id, "(sleep 0.3; echo late) & echo early"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "early\nlate\n");
  r = berth({"exec2", id, "sleep 60 & echo started"});
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_LT(took.count(), 8000) << "exec waited for a background job";
}

// Ctrl-C on the admin's terminal reaches the command through its pty; signals sent to berth
// itself (no terminal) are passed on to the command.
TEST_F(ExecWallTest, InterruptReachesTheCommand) {
  std::string id = create_running_ct();
  const std::string script =
      "trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 0.1; done";
  {
    PtyPair tty;
    ASSERT_GE(tty.master, 0);
    pid_t pid = spawn({"exec2", id, script}, tty.slave, tty.slave, tty.slave, tty.slave);
    std::string shown = tty.read_until([](const std::string& s) { return contains(s, "ready"); },
                                       std::chrono::seconds(15));
    ASSERT_PRED2(contains, shown, "ready");
    ASSERT_EQ(::write(tty.master, "\x03", 1), 1);
    shown += tty.read_until([](const std::string& s) { return contains(s, "got-int"); },
                            std::chrono::seconds(10));
    EXPECT_PRED2(contains, shown, "got-int");
    EXPECT_EQ(wait_for(pid, std::chrono::seconds(10)), 7) << shown;
  }
  for (int sig : {SIGINT, SIGTERM}) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid =
        spawn({"exec2", id,
               "trap 'echo got-sig; exit 7' INT TERM; echo ready; while :; do sleep 0.1; done"},
              null, p[1], null);
    ::close(p[1]);
    std::string out;
    auto deadline = Clock::now() + std::chrono::seconds(15);
    char buf[256];
    while (!contains(out, "ready") && Clock::now() < deadline) {
      ssize_t n = ::read(p[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ASSERT_PRED2(contains, out, "ready");
    ::kill(pid, sig);
    int code = wait_for(pid, std::chrono::seconds(10));
    // Non-blocking: a command left running (the signal never reached it) still holds the pipe.
    ::fcntl(p[0], F_SETFL, O_NONBLOCK);
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    ::close(null);
    EXPECT_EQ(code, 7) << "signal " << sig << ": " << out;
    EXPECT_PRED2(contains, out, "got-sig");
  }
  EXPECT_EQ(berth({"exec", id, "pidof sleep"}).out, "");
}

// Init's stdio (its console) names no host path: /proc/1/fd/{0,1,2} inside do not show
// BERTH_ROOT, and the console log on the host still gets what the boot scripts print.
TEST_F(ExecWallTest, InitStdioNamesNoHostPath) {
  std::string id = create_running_ct();
  RunResult r = berth({"exec", id, "for f in 0 1 2; do readlink /proc/1/fd/$f; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(r.out).size(), 3u) << r.out;
  EXPECT_EQ(r.out.find(root()), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("/var/log/berth"), std::string::npos) << r.out;
  // A boot hook's output still lands in the console log.
  r = berth(
      {"exec", id,
       "mkdir -p /etc/berth/start.d && printf '#!/bin/sh\\necho console-hook-" + id +
           "\\n' > /etc/berth/start.d/zz-echo.sh && chmod 755 /etc/berth/start.d/zz-echo.sh"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(berth({"stop", id}).code, 0);
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  std::string log = root() + "/var/log/berth/" + id + ".console.log";
  EXPECT_PRED2(contains, read_text(log), "console-hook-" + id);
  r = berth({"exec", id, "readlink /proc/1/fd/1"});
  EXPECT_EQ(r.out.find(root()), std::string::npos) << r.out;
}

// io_uring is refused inside (ENOSYS, so programs fall back to ordinary I/O), where the host has
// it.
TEST_F(ExecWallTest, IoUringRefusedInside) {
  RunResult host = run_process({BERTH_PROBE, "exec-iouring"}, {}, {});
  if (host.out != "ok\n") GTEST_SKIP() << "io_uring is not available on this host: " << host.out;
  for (bool privileged : {false, true}) {
    std::string id =
        privileged
            ? create_running_ct({"--local_uid", "0", "--local_gid", "0", "--i-trust-this-vps"})
            : create_running_ct();
    std::string probe = install_probe(id);
    RunResult r = berth({"exec3", id, probe, "exec-iouring"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "ENOSYS\n") << (privileged ? "privileged CT" : "CT in a user namespace");
  }
}

// The attack on the way exec starts its command: the clone that becomes the command shares the
// host berth's memory until it execs, and the CT's root can see it in its PID namespace from its
// first instant. A hunter inside tries to ptrace each new pid as it appears while the host runs
// execs: it must never hold a process that has not exec'd yet (its comm is still berth's). (A
// privileged CT's root is host root and could: that CT gets the joiner, docs/security.md.)
TEST_F(ExecWallTest, ACommandCannotBeCaughtBeforeItsExec) {
  std::string id = create_running_ct();
  std::string probe = install_probe(id);
  RunResult h =
      berth({"exec2", id, probe + " exec-hunt 4 /tmp/hunt.out </dev/null >/dev/null 2>&1 &"});
  ASSERT_EQ(h.code, 0) << h.err;
  int ran = 0;
  auto until = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < until) {
    RunResult r = berth({"exec3", id, "/bin/true"});
    EXPECT_EQ(r.code, 0) << r.err;
    ++ran;
  }
  RunResult out;
  for (int i = 0; i < 100; ++i) {
    out = berth({"exec2", id, "cat /tmp/hunt.out 2>/dev/null"});
    if (!out.out.empty()) break;
    ::usleep(100 * 1000);
  }
  long cmd = -1, other = -1, refused = -1;
  ASSERT_EQ(std::sscanf(out.out.c_str(), "attached_cmd %ld attached_other %ld refused %ld", &cmd,
                        &other, &refused),
            3)
      << out.out << out.err;
  EXPECT_EQ(other, 0) << "a process was caught before its exec: " << out.out;
  // Exec's processes were met while being made (refused) or once they ran (the command): the
  // hunter was at work (how many depends on how often a busy host let it run).
  EXPECT_GT(cmd + refused, 0) << "the hunter met none of the " << ran << " execs";
  std::printf("%d execs, hunter: %s", ran, out.out.c_str());
}

}  // namespace
}  // namespace berth::itest
