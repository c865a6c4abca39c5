// The watcher (server.h): an event loop over its socket, a signalfd (SIGCHLD, SIGTERM) and the
// pidfds of adopted inits. Single-threaded, so it may fork its workers directly.
#include "monitor/server.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "isolation/seccomp.h"
#include "isolation/staging.h"
#include "monitor/client.h"
#include "monitor/internal.h"
#include "monitor/report.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "state/status.h"
#include "storage/disk.h"
#include "sys/pidfd.h"
#include "sys/process.h"
#include "sys/kernel.h"
#include "sys/poll_set.h"

extern char** environ;

namespace berth::monitor {
namespace {

using Clock = std::chrono::steady_clock;

void log(const char* fmt, const std::string& a, const std::string& b = "") {
  char when[32];
  std::time_t now = std::time(nullptr);
  struct tm tm;
  ::localtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  std::fprintf(stderr, "%s berth-monitor[%d]: ", when, static_cast<int>(::getpid()));
  std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

// A request as received: argv, env, fds 0-2 and the client's executable.
struct Request {
  std::string verb, arg;  // "run" | "release" CTID | "idle"
  std::vector<std::string> argv, env;
  UniqueFd fds[3];
  UniqueFd exe;
};

ssize_t recv_fd(int sock, char* buf, size_t len, UniqueFd& fd) {
  struct iovec iov {
    buf, len
  };
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  bool first = true;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (first)
        fd.reset(got);
      else
        ::close(got);  // more than one fd: not ours to keep
      first = false;
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    errno = EMSGSIZE;
    return -1;
  }
  return n;
}

Result<Request> read_request(int sock) {
  std::string buf(kMaxRequest, '\0');
  Request r;
  ssize_t n = recv_fd(sock, buf.data(), buf.size(), r.fds[0]);
  if (n <= 0) return Error::from_errno(n < 0 ? errno : EPROTO, "read request");
  buf.resize(static_cast<size_t>(n));
  std::vector<std::string> parts;
  size_t at = 0;
  while (at < buf.size()) {
    size_t end = buf.find('\0', at);
    if (end == std::string::npos) return Error::from_errno(EPROTO, "request not terminated");
    parts.emplace_back(buf, at, end - at);
    at = end + 1;
  }
  if (parts.size() < 3 || parts[0] != kMagic) return Error::from_errno(EPROTO, "bad request");
  r.verb = parts[1];
  if (r.verb != "run") {
    r.arg = parts[2];
    if (r.verb != "console") r.fds[0].reset();
    return r;
  }
  char* e = nullptr;
  unsigned long argc = std::strtoul(parts[2].c_str(), &e, 10);
  if (*e != 0 || argc == 0 || argc > parts.size() - 3) return Error::from_errno(EPROTO, "argc");
  r.argv.assign(parts.begin() + 3, parts.begin() + 3 + static_cast<long>(argc));
  r.env.assign(parts.begin() + 3 + static_cast<long>(argc), parts.end());
  const char tags[] = {'1', '2', 'e'};
  for (int i = 0; i < 3; ++i) {
    char tag = 0;
    UniqueFd& dst = i < 2 ? r.fds[i + 1] : r.exe;
    if (recv_fd(sock, &tag, 1, dst) != 1 || tag != tags[i] || !dst)
      return Error::from_errno(EPROTO, "request fds");
  }
  if (!r.fds[0]) return Error::from_errno(EPROTO, "request fd 0");
  return r;
}

// Set by serve(): the command line's entry point of this program, for workers run in the fork.
RunInline g_run_inline = nullptr;

// The watcher holds four fds per running CT (its console's master, slave and log, its network
// namespace) and its soft RLIMIT_NOFILE is the spawning command's: 1024 in a stock root shell,
// where the 252nd start failed (EMFILE). It raises its soft limit to the hard one; its workers
// get the one it had back, so the CTs' processes keep the usual limit.
struct rlimit g_nofile_at_start {};

// Where the watcher keeps the fds it holds per running CT: above every fd a worker needs, so a
// worker takes a copy of the few below and none of these (fork_worker).
constexpr int kPerCtFds = 512;

UniqueFd per_ct(UniqueFd fd) {
  if (!fd) return fd;
  UniqueFd high(::fcntl(fd.get(), F_DUPFD_CLOEXEC, kPerCtFds));
  return high ? std::move(high) : std::move(fd);  // above the limit: kept where it is
}

void raise_nofile() {
  if (::getrlimit(RLIMIT_NOFILE, &g_nofile_at_start) != 0) return;
  struct rlimit raised = g_nofile_at_start;
  raised.rlim_cur = raised.rlim_max;
  if (raised.rlim_cur != g_nofile_at_start.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) != 0)
    log("open file limit stays at %s: %s", std::to_string(g_nofile_at_start.rlim_cur),
        std::string(std::strerror(errno)));
}

// Whether exe (an O_PATH fd of the client's executable; -1: ours) is the program this watcher
// runs. A client from another binary (berthd, or berth after an upgrade) gets an exec of its own.
bool same_program(int exe) {
  if (exe < 0) return true;
  struct stat theirs, ours;
  return ::fstat(exe, &theirs) == 0 && ::stat("/proc/self/exe", &ours) == 0 &&
         theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

// A worker that cannot be set up says why on err_fd (the command's stderr) and ends.
[[noreturn]] void worker_failed(int err_fd, const char* what) {
  (void)!::dprintf(err_fd, "berth: the VPS watcher could not run the command (%s: %s)\n", what,
                   std::strerror(errno));
  ::_exit(exitcode::kSystem);
}

// The worker's side of fork_worker: argv and env as av and ev (NULL-terminated), fds 0-2 stdio,
// the report pipe as fd 3; runs the command in this fork or execs it. Never returns.
[[noreturn]] void worker_main(std::vector<char*>& av, std::vector<char*>& ev, const int (&stdio)[3],
                              int exe, int report) {
  // A failure here is the command's to see (its stderr), not the watcher's log's alone.
  int err_fd = stdio[2];
  auto fail = [&err_fd](const char* what) { worker_failed(err_fd, what); };
  // Child: fds to higher numbers first (so the dup2s below cannot overwrite each other, nor the
  // staging namespace's, whatever its number): above every target (0-3, then 4 and up for the
  // staging namespace and the anchors), low enough for a low open-file limit.
  constexpr int kAboveTargets = 16;
  int hi[4];
  const int src[4] = {stdio[0], stdio[1], stdio[2], report};
  for (int i = 0; i < 4; ++i)
    if ((hi[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, kAboveTargets)) < 0) fail("move its fds");
  int staging = isolation::staging_namespace();
  int hi_ns = staging >= 0 ? ::fcntl(staging, F_DUPFD_CLOEXEC, kAboveTargets) : -1;
  if (staging >= 0 && hi_ns < 0) fail("move its fds");
  std::vector<int> hi_anchors = sys::clone_anchor_fds();
  for (int& a : hi_anchors)
    if ((a = ::fcntl(a, F_DUPFD_CLOEXEC, kAboveTargets)) < 0) fail("move its fds");
  for (int i = 0; i < 4; ++i)
    if (::dup2(hi[i], i) < 0) fail("move its fds");
  err_fd = 2;
  (void)sys::close_range(4U, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  if (g_nofile_at_start.rlim_max != 0) (void)::setrlimit(RLIMIT_NOFILE, &g_nofile_at_start);
  // The same binary as ours: run the command in this fork, as the exec would (its argv and env,
  // fds 0-2 and 3, signals unblocked, SIGPIPE/SIGHUP ignored as the watcher has them), without
  // loading the program again: that is ~10 ms of every start.
  if (g_run_inline && same_program(exe)) {
    // What an exec would close: the watcher's socket, lock, pidfds and consoles. The staging
    // namespace (isolation/staging.h) stays, as fd 4, and the clone anchors (sys/kernel.h) after
    // it, close-on-exec.
    int next = 4;
    if (hi_ns >= 0) {
      if (::dup3(hi_ns, next, O_CLOEXEC) < 0) fail("move its fds");
      isolation::set_staging_namespace(next++);
    }
    for (int& a : hi_anchors) {
      if (::dup3(a, next, O_CLOEXEC) < 0) fail("move its fds");
      a = next++;
    }
    sys::set_clone_anchor_fds(hi_anchors);
    if (!sys::close_range(static_cast<unsigned>(next), ~0U, 0).ok())
      fail("close the watcher's fds");
    environ = ev.data();
    // stdout's buffering follows its new file, as at a program's start.
    (void)std::setvbuf(stdout, nullptr, ::isatty(1) ? _IOLBF : _IOFBF, BUFSIZ);
    int rc = g_run_inline(static_cast<int>(av.size() - 1), av.data());
    std::fflush(stdout);
    std::fflush(stderr);
    // Done. Every fd but the report pipe goes (the CT's lock and any other flock with them), then
    // the status goes on the pipe ("=<status>"): the watcher can answer the command now, not
    // after this process's teardown (a fork of the watcher's memory) and its reaping, ~2 ms.
    for (int fd : {0, 1, 2}) ::close(fd);
    (void)sys::close_range(4U, ~0U, 0);
    const std::string done = "=" + std::to_string(rc) + "\n";
    (void)!::write(3, done.data(), done.size());
    ::_exit(rc);
  }
  if (exe >= 0) ::execveat(exe, "", av.data(), ev.data(), AT_EMPTY_PATH);
  ::execve("/proc/self/exe", av.data(), ev.data());
  worker_failed(err_fd, "exec berth");
}

struct WorkerSpawn {
  std::vector<char*>* av;
  std::vector<char*>* ev;
  const int (*stdio)[3];
  int exe;
  int report;
  unsigned below;  // the fds the worker may need are all below this one
  pid_t pid;       // the worker (-1: the fork failed)
};

// Runs in a clone sharing the watcher's memory and file table while the watcher waits
// (sys::clone_vfork_files): it takes a file table of its own with the fds below `below` only
// (the watcher's per-CT fds are above, kPerCtFds: a fork copied them all and the worker closed
// them one by one, 0.8 ms of every start with 1000 CTs running), forks the worker from there and
// ends. The worker is then the watcher's child (its subreaper).
int spawn_worker(void* arg) {
  auto* w = static_cast<WorkerSpawn*>(arg);
  if (!sys::close_range(w->below, ~0U, CLOSE_RANGE_UNSHARE).ok()) return exitcode::kSystem;
  pid_t pid = ::fork();
  if (pid == 0) worker_main(*w->av, *w->ev, *w->stdio, w->exe, w->report);
  w->pid = pid;
  return exitcode::kOk;
}

// Fork and exec a worker: argv with env, fds 0-2, the report pipe as fd 3 (kReportFdEnv), the
// executable exe (an O_PATH fd) or our own.
pid_t fork_worker(const std::vector<std::string>& argv, std::vector<std::string> env,
                  const int (&stdio)[3], int exe, int report) {
  env.push_back(std::string(kReportFdEnv) + "=3");
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (auto& v : env) ev.push_back(const_cast<char*>(v.c_str()));
  ev.push_back(nullptr);
  std::fflush(nullptr);  // nothing of ours buffered may reach the worker's files
  int top = std::max({stdio[0], stdio[1], stdio[2], exe, report, isolation::staging_namespace()});
  for (int a : sys::clone_anchor_fds()) top = std::max(top, a);
  WorkerSpawn w{&av, &ev, &stdio, exe, report, static_cast<unsigned>(top + 1), -1};
  if (pid_t helper = sys::clone_vfork_files(spawn_worker, &w); helper > 0) {
    int st = 0;
    while (::waitpid(helper, &st, __WALL) < 0 && errno == EINTR) {}
    if (w.pid > 0) return w.pid;
  }
  // No such clone here (not x86-64), or its unshare or fork failed (a kernel before 5.9 has no
  // close_range): a plain fork.
  pid_t pid = ::fork();
  if (pid == 0) worker_main(av, ev, stdio, exe, report);
  return pid;
}

// Names the file a descriptor of the watcher's poll set holds (sys/poll_set.h): each object that
// owns one gets its own when it is made (a console's client when it attaches).
uint64_t fresh_serial() {
  static uint64_t last = 2;  // 1 and 2: the listener and the signalfd
  return ++last;
}

struct Worker {
  uint64_t serial = fresh_serial();  // of report
  std::string ctid;                  // teardown workers: their CT; start workers: from the report
  UniqueFd client;     // the command waiting for the exit status (none for the watcher's own)
  UniqueFd report;     // read end of the report pipe
  std::string text;    // what it reported so far ("<ctid> <pid>" lines, "=<status>" at its end)
  size_t parsed = 0;   // the lines of text handled already
  bool ended = false;  // its pipe said "=<status>" or reached its end: no more polling of it
  UniqueFd netns;      // teardown: the dead CT's netns, held until its counters are banked
  bool teardown = false;
  bool restart = false;
  int tries = 0;
};

struct Watched {
  uint64_t serial = fresh_serial();  // of pidfd
  pid_t pid = 0;
  UniqueFd pidfd;  // adopted inits only (not our children)
  UniqueFd netns;
};

// A CT's console: the master of its pty, a slave held open (so the master never hangs up while
// init reopens its console), the log, and the attached `berth console`, if any.
struct Console {
  uint64_t serial = fresh_serial(), client_serial = 0;  // of master, of client
  UniqueFd master, slave, log, client;
  pid_t released = 0;  // a command is ending this CT (stop): dropped once this init is gone
};

constexpr size_t kConsoleChunk = 4096;         // read from the CT per wake-up
constexpr off_t kConsoleLogMax = 1024 * 1024;  // then the log moves to .1 and starts again

struct Retry {
  std::string ctid;
  bool restart;
  int tries;
  UniqueFd netns;
  Clock::time_point at;
};

class Monitor {
 public:
  explicit Monitor(const HostConfig& host) : host_(host) {}
  int run(UniqueFd listener, UniqueFd sigfd);

 private:
  void adopt_running();
  bool accept_client();
  void drain_requests();
  void serve_client(UniqueFd c);
  void reap();
  void worker_exited(pid_t pid, int status);
  void worker_reported(pid_t pid);
  void take_report(Worker& w);
  void answer(Worker& w, int code);
  void init_exited(const std::string& ctid, Watched w, bool known_status, int status);
  void teardown(const std::string& ctid, bool restart, int tries, UniqueFd netns);
  bool idle() const;
  void console_output(const std::string& ctid);
  void console_input(const std::string& ctid);
  UniqueFd open_console_log(const std::string& ctid, bool rotate);
  bool try_exit();
  void want_sweep();
  void start_sweep();
  int leave(int rc, bool sweep);

  const HostConfig& host_;
  UniqueFd listener_, sigfd_;
  std::map<pid_t, Worker> workers_;
  std::map<std::string, Watched> watched_;
  std::vector<Retry> retries_;
  std::map<std::string, std::deque<Clock::time_point>> reboots_;
  Clock::time_point last_adopt_{};
  Clock::time_point last_full_reap_{};  // reap(): the last look at every child
  bool any_adopted_ = false;  // adopt_running() gave an init a pidfd since run() last saw none
  std::vector<struct pollfd> fds_;  // run(): what a wake-up waits for (kept: no allocation)
  std::vector<uint64_t> serials_;
  std::map<std::string, Console> consoles_;
  std::map<pid_t, int> orphans_;           // reaped children nobody claimed yet: pid -> wait status
  std::map<std::string, pid_t> released_;  // inits a command ends itself (stop, restart)
  std::set<std::string> released_consoles_;  // CTs whose console has a released init
  bool exiting_ = false;                     // an "idle" request found nothing to do: exit now
  // The sweep of idle loop devices (storage::remove_idle_loop_devices): due once a CT stopped, a
  // teardown ran or a command failed, run in a child 2 s later when no worker runs, and once more
  // on the way out.
  bool sweep_due_ = false;
  Clock::time_point sweep_at_{};
  pid_t sweeper_ = -1;
  sys::PollSet poll_set_;
};

void Monitor::adopt_running() {
  last_adopt_ = Clock::now();
  auto ids = state::list_ctids(host_);
  if (!ids.ok()) return;
  for (const auto& id : *ids) {
    if (watched_.count(id)) continue;
    auto ct = CtConfig::load(host_, id);
    if (!ct.ok()) continue;
    auto s = state::query_status(*ct);
    if (!s.ok() || !s->running || s->init_pid <= 0) continue;
    // A command is ending this init itself (release): not ours to adopt.
    if (auto r = released_.find(id); r != released_.end()) {
      if (r->second == s->init_pid) continue;
      released_.erase(r);
    }
    auto fd = sys::pidfd_open(s->init_pid);
    if (!fd.ok()) continue;
    Watched w;
    w.pid = s->init_pid;
    w.pidfd = per_ct(std::move(fd).value());
    w.netns = per_ct(UniqueFd(
        ::open(("/proc/" + std::to_string(w.pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC)));
    log("CT %s: adopted (init %s started before this watcher: its reboot looks like a halt)", id,
        std::to_string(w.pid));
    watched_[id] = std::move(w);
    any_adopted_ = true;
  }
}

// One queued connection (the listener does not block): false when there was none.
bool Monitor::accept_client() {
  UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) return false;
  serve_client(std::move(c));
  return true;
}

// Every request queued now, before an init's end is looked at: a command sends its "release"
// before it ends the init itself and does not wait for the answer (client.cc), so a release
// sent before that end is in the queue by the time the end is seen, and the end is no poweroff
// inside. Bounded: a flood of connections cannot hold the watcher here. Not past an "idle" that
// made the watcher decide to exit (as one accept per wake-up before): what came after is not
// taken.
void Monitor::drain_requests() {
  for (int i = 0; i < 256 && !exiting_ && accept_client(); ++i) {}
}

void Monitor::serve_client(UniqueFd c) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
    log("refused a connection from uid %s", std::to_string(cred.uid));
    return;
  }
  // A client sends its request at once; one that does not is dropped after 2 s.
  struct timeval tv {
    2, 0
  };
  ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto req = read_request(c.get());
  if (!req.ok()) {
    log("bad request: %s", req.error().message());
    return;
  }
  if (req->verb == "release") {
    // A command ends this init itself: its end is no poweroff inside.
    auto it = watched_.find(req->arg);
    log("CT %s: released%s", req->arg, it != watched_.end() ? "" : " (was not watched)");
    if (it != watched_.end()) {
      released_[req->arg] = it->second.pid;
      watched_.erase(it);
    }
    // Its console is read (shutdown messages) until its init is gone. The slave stays open
    // meanwhile: without one the master hangs up when a getty closes the console, and systemd
    // then retries opening /dev/console for a second per status line (EIO).
    if (auto con = consoles_.find(req->arg); con != consoles_.end()) {
      auto r = released_.find(req->arg);
      if (r != released_.end()) {
        con->second.released = r->second;
        released_consoles_.insert(req->arg);
      } else
        con->second.slave.reset();  // init unknown: read until the last slave closes
    }
    reboots_.erase(req->arg);
    want_sweep();  // its disk's loop device, once the command has unmounted it
    (void)::send(c.get(), "R", 1, MSG_NOSIGNAL);
    return;
  }
  if (req->verb == "idle") {
    exiting_ = idle() && try_exit();
    if (!exiting_)
      log("asked to exit when idle: %s", std::string(!idle() ? "busy" : "a CT still runs"));
    (void)::send(c.get(), exiting_ ? "E" : "N", 1, MSG_NOSIGNAL);
    return;
  }
  if (req->verb == "console") {
    struct stat st;
    if (!req->fds[0] || ::fstat(req->fds[0].get(), &st) != 0 || !S_ISCHR(st.st_mode)) return;
    Console con;
    con.master = per_ct(std::move(req->fds[0]));
    ::fcntl(con.master.get(), F_SETFL, O_NONBLOCK);
    con.slave =
        per_ct(UniqueFd(::ioctl(con.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)));
    con.log = open_console_log(req->arg, false);
    consoles_[req->arg] = std::move(con);  // a console of an earlier run ends here
    (void)::send(c.get(), "C", 1, MSG_NOSIGNAL);
    return;
  }
  if (req->verb == "attach") {
    auto con = consoles_.find(req->arg);
    char answer = con == consoles_.end() ? 'N' : con->second.client ? 'B' : 'A';
    (void)::send(c.get(), &answer, 1, MSG_NOSIGNAL);
    if (answer != 'A') return;
    ::fcntl(c.get(), F_SETFL, O_NONBLOCK);
    con->second.client = std::move(c);
    con->second.client_serial = fresh_serial();
    return;
  }
  if (req->verb != "run") return;
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return;
  UniqueFd rd(p[0]), wr(p[1]);
  const int stdio[3] = {req->fds[0].get(), req->fds[1].get(), req->fds[2].get()};
  pid_t pid = fork_worker(req->argv, req->env, stdio, req->exe.get(), wr.get());
  if (pid < 0) return;  // the client sees no "A" and runs the command itself
  if (::send(c.get(), "A", 1, MSG_NOSIGNAL) != 1) {
    // The client is gone; the worker runs on and its init is watched all the same.
  }
  Worker w;
  w.client = std::move(c);
  w.report = std::move(rd);
  workers_[pid] = std::move(w);
}

UniqueFd Monitor::open_console_log(const std::string& ctid, bool rotate) {
  // The host's log directory, never a path of the CT.
  std::string path = host_.paths().log_dir + "/" + ctid + ".console.log";
  if (rotate) ::rename(path.c_str(), (path + ".1").c_str());
  return per_ct(
      UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)));
}

// What the CT wrote: one bounded read per wake-up, to the log (bounded) and the attached client
// (never waited for: what it cannot take now is not sent). A full pty never blocks the CT.
void Monitor::console_output(const std::string& ctid) {
  Console& con = consoles_[ctid];
  char buf[kConsoleChunk];
  ssize_t n = ::read(con.master.get(), buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {  // EIO: every slave is closed, the CT is gone
    consoles_.erase(ctid);
    return;
  }
  if (con.log) {
    (void)!::write(con.log.get(), buf, static_cast<size_t>(n));
    if (::lseek(con.log.get(), 0, SEEK_END) > kConsoleLogMax)
      con.log = open_console_log(ctid, true);
  }
  if (con.client && ::send(con.client.get(), buf, static_cast<size_t>(n), MSG_NOSIGNAL) < 0 &&
      errno != EAGAIN)
    con.client.reset();
}

// What the attached client typed, to the console's input (dropped when the pty is full).
void Monitor::console_input(const std::string& ctid) {
  Console& con = consoles_[ctid];
  char buf[kConsoleChunk];
  ssize_t n = ::recv(con.client.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    con.client.reset();  // detached
    return;
  }
  (void)!::write(con.master.get(), buf, static_cast<size_t>(n));
}

void Monitor::teardown(const std::string& ctid, bool restart, int tries, UniqueFd netns) {
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int stdio[3] = {null, 2, 2};
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(null);
    return;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<std::string> argv{"berth", "--quiet", "_teardown", ctid};
  if (restart) argv.emplace_back("--restart");
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, kReportFdEnv, std::strlen(kReportFdEnv)) != 0) env.emplace_back(*e);
  pid_t pid = fork_worker(argv, env, stdio, -1, wr.get());
  ::close(null);
  if (pid < 0) {
    log("CT %s: cannot fork the teardown: %s", ctid, std::strerror(errno));
    return;
  }
  Worker w;
  w.ctid = ctid;
  w.report = std::move(rd);
  w.netns = std::move(netns);
  w.teardown = true;
  w.restart = restart;
  w.tries = tries;
  workers_[pid] = std::move(w);
}

void Monitor::init_exited(const std::string& ctid, Watched w, bool known_status, int status) {
  bool reboot = known_status && WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP;
  std::string how = !known_status ? "exited (adopted: reboot or halt unknown)"
                    : reboot      ? "rebooted"
                    : WIFSIGNALED(status)
                        ? "halted (signal " + std::to_string(WTERMSIG(status)) + ")"
                        : "exited with status " + std::to_string(WEXITSTATUS(status));
  log("CT %s: init %s", ctid, how);
  consoles_.erase(ctid);
  if (reboot) {
    auto& times = reboots_[ctid];
    auto now = Clock::now();
    times.push_back(now);
    while (!times.empty() && now - times.front() > std::chrono::seconds(kRebootWindowSeconds))
      times.pop_front();
    if (times.size() > static_cast<size_t>(kMaxReboots)) {
      log("CT %s: more than %s reboots within a minute: stopped, not started again", ctid,
          std::to_string(kMaxReboots));
      reboot = false;
      reboots_.erase(ctid);
    }
  }
  teardown(ctid, reboot, 0, std::move(w.netns));
}

// Reads what the worker wrote on its pipe since the last time and handles its new lines: an
// init it started ("<ctid> <pid>") is watched from now on (our child once the worker is gone).
void Monitor::take_report(Worker& w) {
  char buf[4096];
  ssize_t n;
  while ((n = ::read(w.report.get(), buf, sizeof buf)) > 0)
    w.text.append(buf, static_cast<size_t>(n));
  if (n == 0) w.ended = true;
  for (;;) {
    size_t end = w.text.find('\n', w.parsed);
    if (end == std::string::npos) break;
    std::string line = w.text.substr(w.parsed, end - w.parsed);
    w.parsed = end + 1;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;  // "=<status>": the worker's end
    Watched nw;
    nw.pid = static_cast<pid_t>(std::atol(line.c_str() + sp + 1));
    if (nw.pid <= 0) continue;
    nw.netns = per_ct(UniqueFd(
        ::open(("/proc/" + std::to_string(nw.pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC)));
    std::string ctid = line.substr(0, sp);
    log("CT %s: watching init %s", ctid, std::to_string(nw.pid));
    // Reaped already: its end was collected before the worker's own (the worker reparents its
    // children to us a moment before it becomes a zombie itself).
    if (auto o = orphans_.find(nw.pid); o != orphans_.end()) {
      int st = o->second;
      orphans_.erase(o);
      init_exited(ctid, std::move(nw), true, st);
      continue;
    }
    watched_[ctid] = std::move(nw);
  }
}

// The command's answer: the worker's status, and whether we exit now (then the command waits for
// that, so nothing of the instance outlives it).
void Monitor::answer(Worker& w, int code) {
  if (!w.client) return;
  struct {
    int32_t status;
    char exiting;
  } reply{code, exiting_ ? 'E' : 'N'};
  (void)::send(w.client.get(), &reply, sizeof reply, MSG_NOSIGNAL);
  w.client.reset();
}

// A worker wrote on its pipe. Once it wrote its status (fork_worker: every fd of its own closed
// before), the command is answered at once, unless the instance may then be left idle: that
// answer waits for the worker's end, when the watcher may exit.
void Monitor::worker_reported(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  take_report(w);
  size_t eq = w.text.rfind('=');
  if (!w.client || eq == std::string::npos || (eq != 0 && w.text[eq - 1] != '\n')) return;
  if (w.text.find('\n', eq) == std::string::npos) return;
  w.ended = true;
  bool stays = !watched_.empty() || !retries_.empty() || workers_.size() > 1;
  if (stays) answer(w, std::atoi(w.text.c_str() + eq + 1));
}

void Monitor::worker_exited(pid_t pid, int status) {
  auto it = workers_.find(pid);
  Worker w = std::move(it->second);
  workers_.erase(it);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  take_report(w);
  // A teardown unmounted a disk; a command that failed may have. A start that ran frees none.
  if (w.teardown || code != exitcode::kOk) want_sweep();
  if (w.client) {
    // Nothing left to do (a start that failed, the last CT): exit now, and say so, so that the
    // command waits for it and nothing of the instance outlives the command.
    exiting_ = idle() && try_exit();
    answer(w, code);
  }
  if (w.teardown && code == exitcode::kLocked && w.tries < 120) {
    // Another command holds the CT's lock (it may be stopping or restarting it itself): again
    // in a second; _teardown does nothing if the CT runs by then.
    retries_.push_back({w.ctid, w.restart, w.tries + 1, std::move(w.netns),
                        Clock::now() + std::chrono::seconds(1)});
  } else if (w.teardown) {
    log("CT %s: %s", w.ctid,
        std::string(w.restart ? "teardown and start" : "teardown") + " finished with status " +
            std::to_string(code));
  }
}

void Monitor::reap() {
  std::vector<std::pair<pid_t, int>> done;
  // The children a SIGCHLD is expected from, each asked for by its pid: the kernel finds that one
  // child at once, where waitpid(-1) looks at every child, and with 1000 VPSs this watcher has
  // 1000 inits (it did that two or more times per SIGCHLD, a worker's end and a stopped init's
  // each, 0.2-0.3 ms apiece).
  for (const auto& [pid, w] : workers_) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) > 0) done.emplace_back(pid, status);
  }
  if (int status = 0; sweeper_ > 0 && ::waitpid(sweeper_, &status, WNOHANG) == sweeper_)
    sweeper_ = -1;
  for (auto it = released_.begin(); it != released_.end();) {
    int status = 0;
    pid_t got = ::waitpid(it->second, &status, WNOHANG);
    if (got > 0) done.emplace_back(got, status);
    // Not our child: an adopted init, or one whose start's worker has not ended yet. Kept (so
    // adopt_running() leaves it alone) until it is gone.
    bool gone =
        got > 0 || (got < 0 && errno == ECHILD && ::kill(it->second, 0) != 0 && errno == ESRCH);
    it = gone ? released_.erase(it) : std::next(it);
  }
  // Any other child (an init that ended by itself: a reboot or poweroff inside; a /proc server
  // reparented to us), or one whose SIGCHLD came with another's: every child is looked at when
  // the above found none, and at least once a second (also when the wait times out).
  const auto now = Clock::now();
  if (done.empty() || now - last_full_reap_ >= std::chrono::seconds(1)) {
    last_full_reap_ = now;
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      done.emplace_back(pid, status);
    }
  }
  // Workers first: their reports name the inits that may be in the same batch.
  std::vector<bool> handled(done.size(), false);
  for (size_t i = 0; i < done.size(); ++i)
    if (workers_.count(done[i].first)) {
      worker_exited(done[i].first, done[i].second);
      handled[i] = true;
    }
  for (size_t i = 0; i < done.size(); ++i) {
    if (handled[i]) continue;
    if (done[i].first == sweeper_) {
      sweeper_ = -1;
      continue;
    }
    for (auto it = watched_.begin(); it != watched_.end(); ++it)
      if (!it->second.pidfd && it->second.pid == done[i].first) {
        std::string ctid = it->first;
        Watched w = std::move(it->second);
        watched_.erase(it);
        init_exited(ctid, std::move(w), true, done[i].second);
        handled[i] = true;
        break;
      }
    // Anything else: a /proc server reparented to us, or an init reaped before its worker
    // (whose report names it when the worker's own exit is collected): kept a while.
    if (!handled[i]) orphans_[done[i].first] = done[i].second;
  }
  while (orphans_.size() > 64) orphans_.erase(orphans_.begin());
}

// 2 s after the first event since the last sweep, not the last event: during a long run of stops
// the devices go a few seconds' worth at a time, so the last stop, which waits for the last
// sweep, finds few left.
void Monitor::want_sweep() {
  if (!sweep_due_) sweep_at_ = Clock::now() + std::chrono::seconds(2);
  sweep_due_ = true;
}

// In a child: the sweep reads sysfs once per loop device and each removal waits for the kernel
// (tens of ms, sys::remove_loops), none of which may hold up a command or a console.
void Monitor::start_sweep() {
  sweep_due_ = false;
  pid_t pid = ::fork();
  if (pid == 0) {
    (void)sys::close_range(3, ~0U, 0);  // no CT's console, netns or pidfd, no client
    if (size_t n = storage::remove_idle_loop_devices(); n > 0)
      log("removed %s idle loop device(s)", std::to_string(n));
    ::_exit(exitcode::kOk);
  }
  if (pid > 0) sweeper_ = pid;
}

// The watcher's end: a sweep in progress is waited for (nothing outlives the watcher); when it
// exits because the instance is idle, a last sweep gives the host back the loop devices its CTs
// made (the command waiting for this exit, the last stop, took 92-125 ms at the end of 200 or
// 1000 stops in a row, bench/README.md; a watcher with none left above the boot-time devices
// only lists /sys/block).
int Monitor::leave(int rc, bool sweep) {
  if (sweeper_ > 0) {
    int status = 0;
    while (::waitpid(sweeper_, &status, 0) < 0 && errno == EINTR) {}
    sweeper_ = -1;
  }
  if (sweep)
    if (size_t n = storage::remove_idle_loop_devices(); n > 0)
      log("removed %s idle loop device(s)", std::to_string(n));
  return rc;
}

bool Monitor::idle() const { return workers_.empty() && watched_.empty() && retries_.empty(); }

bool Monitor::try_exit() {
  auto lk = lock_run_file(host_, kSpawnLock, false);
  if (!lk.ok()) return false;
  struct pollfd p {
    listener_.get(), POLLIN, 0
  };
  if (::poll(&p, 1, 0) > 0) return false;
  if (state::any_ct_alive(host_)) return false;
  ::unlink(socket_path(host_).c_str());
  return true;
}

int Monitor::run(UniqueFd listener, UniqueFd sigfd) {
  listener_ = std::move(listener);
  sigfd_ = std::move(sigfd);
  // CTs running without a watcher are adopted first, unless a command waits already (the one
  // that spawned us): it is served first and they are adopted once no worker runs (adoption
  // never overlaps a worker, whose CT it could take for an unwatched one). Until then they are
  // as unwatched as they were, and try_exit() sees them running.
  struct pollfd waiting {
    listener_.get(), POLLIN, 0
  };
  bool adopt_pending = ::poll(&waiting, 1, 0) > 0;
  if (!adopt_pending) adopt_running();
  for (;;) {
    if (adopt_pending && workers_.empty()) {
      adopt_running();
      adopt_pending = false;
    }
    // Built at every wake-up (a few µs per hundred CTs; PollSet registers only what changed).
    fds_.assign({{listener_.get(), POLLIN, 0}, {sigfd_.get(), POLLIN, 0}});
    serials_.assign({1, 2});
    auto& fds = fds_;
    auto& serials = serials_;
    std::vector<std::string> adopted;
    // Only adopt_running() gives an init a pidfd: until it adopts, no init has one to look for.
    if (any_adopted_) {
      for (auto& [id, w] : watched_)
        if (w.pidfd) {
          fds.push_back({w.pidfd.get(), POLLIN, 0});
          serials.push_back(w.serial);
          adopted.push_back(id);
        }
      any_adopted_ = !adopted.empty();
    }
    size_t first_console = fds.size();
    std::vector<std::pair<std::string, bool>> console_of;  // CTID, client (else master)
    console_of.reserve(consoles_.size());
    for (auto& [id, con] : consoles_) {
      fds.push_back({con.master.get(), POLLIN, 0});
      serials.push_back(con.serial);
      console_of.emplace_back(id, false);
      if (con.client) {
        fds.push_back({con.client.get(), POLLIN, 0});
        serials.push_back(con.client_serial);
        console_of.emplace_back(id, true);
      }
    }
    // The pipes of workers a command waits for: their "=<status>" answers it (worker_reported).
    size_t first_report = fds.size();
    std::vector<pid_t> report_of;
    for (auto& [pid, w] : workers_)
      if (w.client && w.report && !w.ended) {
        fds.push_back({w.report.get(), POLLIN, 0});
        serials.push_back(w.serial);
        report_of.push_back(pid);
      }
    // Registered with epoll as they change, not at every wake-up (sys/poll_set.h).
    int r = poll_set_.wait(fds, serials, retries_.empty() ? 2000 : 250);
    if (r < 0 && errno != EINTR) return leave(exitcode::kSystem, false);
    if (r > 0 && (fds[1].revents & POLLIN)) {
      struct signalfd_siginfo si;
      bool term = false;
      while (::read(sigfd_.get(), &si, sizeof si) == sizeof si)
        term |= si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
      drain_requests();
      reap();
      if (exiting_) return leave(exitcode::kOk, true);
      if (term) {
        log("%s", "SIGTERM: running CTs are adopted by the next watcher");
        ::unlink(socket_path(host_).c_str());
        return leave(exitcode::kOk, false);
      }
    }
    if (r > 0 && (fds[0].revents & POLLIN)) accept_client();
    if (exiting_) return leave(exitcode::kOk, true);
    for (size_t i = first_report; r > 0 && i < fds.size(); ++i)
      if (fds[i].revents) worker_reported(report_of[i - first_report]);
    for (size_t i = first_console; r > 0 && i < first_report; ++i) {
      if (!fds[i].revents) continue;
      auto& [id, client] = console_of[i - first_console];
      auto con = consoles_.find(id);
      if (con == consoles_.end()) continue;
      if (!client && fds[i].fd == con->second.master.get())
        console_output(id);
      else if (client && fds[i].fd == con->second.client.get())
        console_input(id);
    }
    bool drained = false;
    for (size_t i = 2; r > 0 && i < first_console; ++i)
      if (fds[i].revents & POLLIN) {
        if (!drained) drain_requests();
        drained = true;
        auto it = watched_.find(adopted[i - 2]);
        if (it == watched_.end()) continue;
        Watched w = std::move(it->second);
        watched_.erase(it);
        init_exited(adopted[i - 2], std::move(w), false, 0);
      }
    // Consoles of released inits (few), not every console: dropped once their init is gone.
    for (auto id = released_consoles_.begin(); id != released_consoles_.end();) {
      auto con = consoles_.find(*id);
      pid_t p = con != consoles_.end() ? con->second.released : 0;
      if (p > 0 && !(::kill(p, 0) != 0 && errno == ESRCH)) {
        ++id;
        continue;
      }
      if (p > 0) consoles_.erase(con);
      id = released_consoles_.erase(id);
    }
    auto now = Clock::now();
    for (size_t i = 0; i < retries_.size();) {
      if (retries_[i].at <= now) {
        Retry t = std::move(retries_[i]);
        retries_.erase(retries_.begin() + static_cast<long>(i));
        teardown(t.ctid, t.restart, t.tries, std::move(t.netns));
      } else {
        ++i;
      }
    }
    // A child whose SIGCHLD came together with an expected one's (reap()).
    if (r == 0 && now - last_full_reap_ >= std::chrono::seconds(1)) {
      reap();
      if (exiting_) return leave(exitcode::kOk, true);
    }
    if (sweep_due_ && sweeper_ < 0 && workers_.empty() && now >= sweep_at_) start_sweep();
    if (r == 0 && idle()) {
      if (try_exit()) return leave(exitcode::kOk, true);
      // CTs run that nobody watches (started while no watcher ran): adopt them.
      if (now - last_adopt_ > std::chrono::seconds(10)) adopt_running();
    }
  }
}

}  // namespace

int serve(const HostConfig& host, RunInline run_inline) {
  g_run_inline = run_inline;
  int ready = -1;
  if (const char* r = std::getenv(kReadyFdEnv)) ready = std::atoi(r);
  ::unsetenv(kReadyFdEnv);
  auto tell = [&ready](char c) {
    if (ready < 0) return;
    (void)!::write(ready, &c, 1);
    ::close(ready);
    ready = -1;
  };
  auto fail = [&](const Error& e) {
    log("cannot start: %s", e.message());
    tell('0');
    return exitcode::kSystem;
  };
  auto server_lock = lock_run_file(host, kServerLock, false);
  if (!server_lock.ok()) {
    // Another watcher runs (a race of two spawners ended here): it serves.
    tell('1');
    return exitcode::kOk;
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return fail(Error::from_errno(errno, "PR_SET_CHILD_SUBREAPER"));
  raise_nofile();
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return fail(Error::from_errno(errno, "signalfd"));

  std::string path = socket_path(host);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return fail(Error::from_errno(ENAMETOOLONG, "socket `" + path + "`"));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener) return fail(Error::from_errno(errno, "socket"));
  ::unlink(path.c_str());
  mode_t old = ::umask(077);  // the socket is born 0600: no window where others may connect
  int b = ::bind(listener.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (b != 0) return fail(Error::from_errno(errno, "bind `" + path + "`"));
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(listener.get(), 64) != 0)
    return fail(Error::from_errno(errno, "listen on `" + path + "`"));
  // The host's cgroup layout, detected once here: every start runs in a fork of this process and
  // finds it (detection reads the host's whole mountinfo, two lines per running CT).
  (void)state::cgroup_backend();
  // The CTs' seccomp programs, built once here: a start's child loads a ready one.
  if (auto st = isolation::prepare_seccomp_filters(host.paths().run); !st.ok())
    log("seccomp filters not prepared (each start builds its own): %s", st.error().message());
  log("%s", "started (socket " + path + ")");
  tell('1');
  // The mount namespace the starts run in this fork clone their CTs from (a CT's start then
  // copies four mounts, not two per running CT, and attaches the root at /ct there, so the CT's
  // root id need not pass the directories above var/lib/berth). Made before the first request
  // is taken: the first start needs it as much as any (ConfigTest.
  // RootUnderAClosedDirectoryStarts). Without it the starts clone from ours.
  UniqueFd staging;
  if (run_inline) {
    auto made = isolation::make_staging_namespace(path.substr(0, path.rfind('/')));
    if (made.ok())
      staging = std::move(made).value();
    else
      log("no staging mount namespace: %s", made.error().message());
  }
  isolation::set_staging_namespace(staging.get());
  // The directories a start clones below (its template, its console log): see sys/kernel.h.
  if (run_inline) {
    sys::add_clone_anchor(host.paths().template_dir);
    sys::add_clone_anchor(host.paths().log_dir);
  }
  Monitor m(host);
  int rc = m.run(std::move(listener), std::move(sigfd));
  log("%s", "exiting");
  return rc;
}

}  // namespace berth::monitor
