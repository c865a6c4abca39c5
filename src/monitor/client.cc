// The watcher's client side: connect (spawning it if needed), send a command with its fds, relay
// the worker's exit status (client.h).
#include "monitor/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "monitor/internal.h"
#include "monitor/report.h"
#include "state/inventory.h"
#include "sys/fd_passing.h"
#include "sys/fs.h"
#include "sys/lock.h"
#include "sys/pidfd.h"
#include "sys/service_fork.h"

extern char** environ;

namespace berth::monitor {

std::string socket_path(const HostConfig& host) { return host.paths().run + "/monitor.sock"; }
std::string log_path(const HostConfig& host) { return host.paths().log_dir + "/monitor.log"; }

Result<sys::FileLock> lock_run_file(const HostConfig& host, const char* name, bool wait) {
  return sys::FileLock::acquire(host.paths().run + "/" + name, wait, "the watcher");
}

namespace {

Result<UniqueFd> connect_to(const std::string& path) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error::from_errno(ENAMETOOLONG, "watcher socket `" + path + "`");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno(errno, "socket");
  if (::connect(s.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0)
    return Error::from_errno(errno, "connect to the watcher");
  return s;
}

WatcherEntry g_watcher_entry = nullptr;

// The command line a watcher shows (ps, /proc/PID/cmdline), exec'd or forked: its last NUL
// included.
constexpr char kWatcherArgs[] = "berth\0_monitor";
constexpr std::string_view kWatcherArgv(kWatcherArgs, sizeof kWatcherArgs);

// Double fork (the watcher is nobody's child but init's or a subreaper's), with its output to the
// monitor log, and wait (bounded) for its ready byte. The grandchild becomes the watcher in place
// (g_watcher_entry) when this process allows it (sys/service_fork.h), else it execs `berth
// _monitor`: the program load, ~1-2 ms of an instance's first start, is saved.
Status spawn_watcher(const HostConfig& host) {
  BERTH_RETURN_IF_ERROR(make_dirs(host.paths().log_dir, 0755));
  std::string log = log_path(host);
  std::optional<sys::ArgArea> area;
  if (g_watcher_entry) area = sys::service_fork_area(kWatcherArgv);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  std::fflush(nullptr);  // nothing of ours buffered may reach the watcher's log
  pid_t mid = ::fork();
  if (mid < 0) return Error::from_errno(errno, "fork the watcher");
  if (mid == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(exitcode::kOk);
    int null = ::open("/dev/null", O_RDONLY);  // NOLINT(android-cloexec-open)
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);  // NOLINT
    if (null < 0 || out < 0) ::_exit(exitcode::kSystem);
    int ready = ::fcntl(wr.get(), F_DUPFD, 10);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (ready < 0 || ::dup2(ready, 3) < 0) ::_exit(exitcode::kSystem);
    (void)sys::close_range(4U, ~0U, 0);
    if (::chdir("/") != 0) ::_exit(exitcode::kSystem);
    ::setenv(kReadyFdEnv, "3", 1);
    ::unsetenv(kReportFdEnv);
    if (area) {
      sys::become_service(*area, kWatcherArgv);
      int rc = g_watcher_entry(host);
      std::fflush(nullptr);
      ::_exit(rc);
    }
    ::execl("/proc/self/exe", kWatcherArgs, kWatcherArgs + sizeof "berth",
            static_cast<char*>(nullptr));
    ::_exit(exitcode::kSystem);
  }
  wr.reset();
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {}
  struct pollfd pfd {
    rd.get(), POLLIN, 0
  };
  char c = 0;
  if (::poll(&pfd, 1, 5000) <= 0 || ::read(rd.get(), &c, 1) != 1 || c != '1')
    return Error::from_errno(EIO, "start the watcher (see `" + log + "`)");
  return {};
}

Result<UniqueFd> connect_or_spawn(const HostConfig& host) {
  std::string path = socket_path(host);
  auto s = connect_to(path);
  if (s.ok()) return s;
  BERTH_RETURN_IF_ERROR(spawn_watcher(host));
  return connect_to(path);
}

Status send_request(int sock, const std::vector<std::string>& argv, const int (&stdio)[3]) {
  std::string req(kMagic);
  req.append("\0run\0", 5);
  req += std::to_string(argv.size());
  req.push_back('\0');
  for (const auto& a : argv) req.append(a.c_str(), a.size() + 1);
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, kReportFdEnv, std::strlen(kReportFdEnv)) != 0)
      req.append(*e, std::strlen(*e) + 1);
  if (req.size() > kMaxRequest) return Error::from_errno(E2BIG, "request to the watcher");
  UniqueFd exe(::open("/proc/self/exe", O_PATH | O_CLOEXEC));
  if (!exe) return Error::from_errno(errno, "open /proc/self/exe");
  if (sys::send_with_fd(sock, req.data(), req.size(), stdio[0]) < 0 ||
      sys::send_with_fd(sock, "1", 1, stdio[1]) < 0 ||
      sys::send_with_fd(sock, "2", 1, stdio[2]) < 0 ||
      sys::send_with_fd(sock, "e", 1, exe.get()) < 0)
    return Error::from_errno(errno, "send the request to the watcher");
  return {};
}

// The watcher said it exits: wait (bounded) until it has, so nothing of the instance outlives
// the command.
void wait_exit_of(pid_t pid) {
  auto fd = sys::pidfd_open(pid);
  if (!fd.ok()) return;
  struct pollfd p {
    fd->get(), POLLIN, 0
  };
  while (::poll(&p, 1, 3000) < 0 && errno == EINTR) {}
}

void wait_exit_of_peer(int sock) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) wait_exit_of(cred.pid);
}

// A one-message request to a running watcher, sent: the connection (none runs: nothing).
// fd: sent with the request (SCM_RIGHTS) when >= 0.
std::optional<UniqueFd> send_one(const HostConfig& host, const std::string& verb,
                                 const std::string& arg, int fd = -1) {
  auto s = connect_to(socket_path(host));
  if (!s.ok()) return std::nullopt;
  std::string req(kMagic);
  req.push_back('\0');
  req += verb;
  req.push_back('\0');
  req += arg;
  req.push_back('\0');
  ssize_t sent = fd >= 0 ? sys::send_with_fd(s->get(), req.data(), req.size(), fd)
                         : ::send(s->get(), req.data(), req.size(), MSG_NOSIGNAL);
  if (sent < 0) return std::nullopt;
  return std::move(s).value();
}

// A one-message request ("idle", "console CTID", "attach CTID") and its answer: the answer byte
// and the watcher's pid. keep: the connection, for an attach.
std::optional<std::pair<char, pid_t>> ask(const HostConfig& host, const std::string& verb,
                                          const std::string& arg, int fd = -1,
                                          UniqueFd* keep = nullptr) {
  auto s = send_one(host, verb, arg, fd);
  if (!s) return std::nullopt;
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(s->get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  struct timeval tv {
    5, 0
  };
  ::setsockopt(s->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char answer = 0;
  ssize_t n;
  do n = ::recv(s->get(), &answer, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n != 1) return std::nullopt;
  if (keep) {
    struct timeval none {
      0, 0
    };
    ::setsockopt(s->get(), SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    *keep = std::move(s).value();
  }
  return std::make_pair(answer, cred.pid);
}

}  // namespace

void set_watcher_entry(WatcherEntry entry) { g_watcher_entry = entry; }

// Not waited for: the request is in the watcher's queue once sent, and the watcher takes every
// queued request before it looks at an init's end (server.cc, Monitor::drain_requests). A stop
// kills init only after this returns, so its release is seen first; the round trip (0.3-1.7 ms
// of a stop, the watcher's wake-up) is not paid.
void release(const HostConfig& host, const std::string& ctid) {
  (void)send_one(host, "release", ctid);
}

void hand_console(const HostConfig& host, const std::string& ctid, int master) {
  (void)ask(host, "console", ctid, master);
}

Result<UniqueFd> attach_console(const HostConfig& host, const std::string& ctid) {
  UniqueFd conn;
  auto a = ask(host, "attach", ctid, -1, &conn);
  if (!a)
    return Error::with_status(exitcode::kSystem,
                              "no console: the VPS watcher does not run (it was stopped or "
                              "killed); the console comes back when the CT is restarted");
  if (a->first == 'B')
    return Error::with_status(exitcode::kLocked, "the console is attached elsewhere");
  if (a->first != 'A')
    return Error::with_status(exitcode::kSystem,
                              "no console: the CT was started while no watcher held its console "
                              "(restart the CT to get one)");
  return conn;
}

void stop_if_idle(const HostConfig& host) {
  // A CT of the instance still runs: the watcher's answer would be "not idle" (its try_exit asks
  // the same), so it is not woken for it. Of stops racing for the last CTs, the one that looks
  // last sees the others gone (each looks after removing its own group) and asks.
  if (state::any_ct_alive(host)) return;
  auto a = ask(host, "idle", "");
  if (a && a->first == 'E') wait_exit_of(a->second);
}

std::optional<int> run_in_worker(const HostConfig& host, const std::vector<std::string>& argv,
                                 const int (&stdio)[3]) {
  if (in_worker()) return std::nullopt;
  auto warn = [](const Error& e) {
    std::fprintf(stderr,
                 "Warning: the VPS watcher cannot run (%s): a reboot or poweroff inside this CT "
                 "will not be seen until a command repairs its state\n",
                 e.message().c_str());
    return std::nullopt;
  };
  UniqueFd sock;
  {
    auto spawn = lock_run_file(host, kSpawnLock, true);
    if (!spawn.ok()) return warn(spawn.error());
    auto s = connect_or_spawn(host);
    if (!s.ok()) return warn(s.error());
    sock = std::move(s).value();
    if (auto st = send_request(sock.get(), argv, stdio); !st.ok()) return warn(st.error());
    char ack = 0;
    ssize_t n;
    do n = ::recv(sock.get(), &ack, 1, 0);
    while (n < 0 && errno == EINTR);
    // Nothing ran yet: run here.
    if (n != 1 || ack != 'A') return warn(Error::from_errno(EPROTO, "no answer from the watcher"));
  }
  struct {
    int32_t status;
    char exiting;
  } answer{};
  ssize_t n;
  do n = ::recv(sock.get(), &answer, sizeof answer, 0);
  while (n < 0 && errno == EINTR);
  if (n != sizeof answer) {
    std::fprintf(stderr, "%s: the VPS watcher ended while the command ran; see `berth status`\n",
                 argv.empty() ? "berth" : argv[0].c_str());
    return exitcode::kSystem;
  }
  if (answer.exiting == 'E') wait_exit_of_peer(sock.get());
  return answer.status;
}

}  // namespace berth::monitor
