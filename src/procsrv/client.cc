// The /proc server's client side: spawn it, keep it while a start needs it, stop it when idle
// (see client.h). The server itself is server.cc.
#include "procsrv/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/conf_file.h"
#include "state/inventory.h"
#include "state/status.h"
#include "sys/fs.h"
#include "sys/pidfd.h"
#include "procsrv/internal.h"
#include "ubc/loadavg.h"
#include "ubc/proc_view.h"

namespace berth::procsrv {
namespace {

std::string pid_file(const HostConfig& host) { return host.paths().run + "/ubcfs.pid"; }

Result<UniqueFd> lock_file(const HostConfig& host, const char* name, int op) {
  BERTH_RETURN_IF_ERROR(make_dirs(host.paths().run, 0755));
  std::string path = host.paths().run + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open lock `" + path + "`");
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    return Error::from_errno(errno, "lock `" + path + "`");
  }
  return fd;
}

pid_t server_pid(const HostConfig& host) {
  auto t = sys::read_file(pid_file(host));
  return t.ok() ? static_cast<pid_t>(std::atol(t->c_str())) : 0;
}

// The server's starter when it cannot exec it (the spawner reads the ready pipe, not this status).
constexpr int kExecFailed = 127;

struct Spawned {
  UniqueFd ready;  // the read end of the server's ready pipe (wait_ready)
  pid_t starter;   // the middle process, to reap (it exits at once)
};

// Fork twice (the server is nobody's child), exec `berth ubc --serve`.
Result<Spawned> fork_server() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe for beancounter server");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t mid = ::fork();
  if (mid < 0) return Error::from_errno(errno, "fork beancounter server");
  if (mid == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(exitcode::kOk);
    // Not close-on-exec: it may itself be fd 0, 1 or 2 of the exec'd server.
    int null = ::open("/dev/null", O_RDWR);  // NOLINT(android-cloexec-open)
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    // The ready pipe becomes fd 3 without O_CLOEXEC (inherited by the exec); all others close.
    if (wr.get() != 3)
      ::dup2(wr.get(), 3);
    else
      ::fcntl(3, F_SETFD, 0);
    (void)sys::close_range(4U, ~0U, 0);
    int ready = 3;
    if (::chdir("/") != 0) ::_exit(kExecFailed);
    std::string env = std::to_string(ready);
    ::setenv(kReadyFdEnv, env.c_str(), 1);
    ::execl("/proc/self/exe", "berth", "ubc", "--serve", static_cast<char*>(nullptr));
    ::_exit(kExecFailed);
  }
  wr.reset();
  return Spawned{std::move(rd), mid};
}

void reap_starter(pid_t& mid) {
  if (mid <= 0) return;
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {}
  mid = -1;
}

// The server's "ready" byte on its pipe.
Status wait_ready(int rd) {
  struct pollfd pfd {
    rd, POLLIN, 0
  };
  char c = 0;
  if (::poll(&pfd, 1, 5000) <= 0 || ::read(rd, &c, 1) != 1 || c != '1')
    return Error::from_errno(EIO, "start beancounter server");
  return {};
}

// With the spawn lock held and no live server: unmount what a dead one left, begin the spawn.
// revived: a dead server's mounts were there.
Result<Spawned> begin_spawn(const HostConfig& host, bool& revived) {
  std::string dir = mount_dir(host);
  if (!server_exists(host))  // mounts of a server that died
    while (sys::is_mount_point(dir) && ::umount2(dir.c_str(), MNT_DETACH) == 0) revived = true;
  BERTH_RETURN_IF_ERROR(make_dirs(dir, 0755));
  // A server still coming up (spawned by a start that was killed) makes the new one wait for
  // it and report ready: there is never more than one.
  return fork_server();
}

}  // namespace

std::string mount_dir(const HostConfig& host) { return host.paths().run + "/ubcfs"; }

std::string served_path(const HostConfig& host, const std::string& ctid) {
  return mount_dir(host) + "/" + ctid;
}

std::string served_proc_path(const HostConfig& host, const std::string& ctid) {
  return ubc::proc_view_dir(mount_dir(host), ctid);
}

void limits_changed(const HostConfig& host, const std::string& ctid) {
  if (!make_dirs(host.paths().run + "/ubc", 0700).ok()) return;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  std::string stamp = std::to_string(now.tv_sec) + "." + std::to_string(now.tv_nsec) + "\n";
  static_cast<void>(write_run_file(ubc::limits_stamp_path(host, ctid), stamp, 0600));
}

bool server_alive(const HostConfig& host) {
  std::string dir = mount_dir(host);
  if (!sys::is_mount_point(dir)) return false;
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 && server_exists(host);
}

bool server_exists(const HostConfig& host) {
  std::string path = host.paths().run + "/" + kServerLock;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

dev_t live_server_dev(const HostConfig& host) {
  // The server holds its lock before it mounts; a dead server's mount is taken away before a
  // new server is spawned (begin_spawn), so the mount found with the lock held is the live one.
  std::string dir = mount_dir(host);
  if (!server_exists(host) || !sys::is_mount_point(dir)) return 0;
  struct statx sx {};
  // Without a sync FUSE answers from the inode it has: no request to the server.
  if (::statx(AT_FDCWD, dir.c_str(), AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0, &sx) != 0)
    return 0;
  return makedev(sx.stx_dev_major, sx.stx_dev_minor);
}

bool any_ct_running(const HostConfig& host) { return state::any_ct_alive(host); }

bool try_idle_lock(const HostConfig& host, UniqueFd& out) {
  auto fd = lock_file(host, kUsersLock, LOCK_EX | LOCK_NB);
  if (!fd.ok()) return false;
  out = std::move(*fd);
  return true;
}

PendingServer begin_server(const HostConfig& host) {
  if (server_alive(host)) return {};
  auto use = lock_file(host, kUsersLock, LOCK_SH);
  if (!use.ok()) return {};
  auto spawn = lock_file(host, kSpawnLock, LOCK_EX);
  if (!spawn.ok() || server_alive(host)) return {};  // another start spawned it meanwhile
  bool revived = false;
  auto sp = begin_spawn(host, revived);
  if (!sp.ok()) return {};
  return PendingServer(std::move(*use), std::move(*spawn), std::move(sp->ready), sp->starter,
                       revived);
}

void PendingServer::reap() { reap_starter(starter_); }

PendingServer& PendingServer::operator=(PendingServer&& o) noexcept {
  if (this != &o) {
    reap();
    use_ = std::move(o.use_);
    spawn_lock_ = std::move(o.spawn_lock_);
    ready_ = std::move(o.ready_);
    starter_ = std::exchange(o.starter_, -1);
    revived_ = o.revived_;
  }
  return *this;
}

Result<ServerUse> ensure_server(const HostConfig& host, PendingServer pending) {
  if (!pending.empty()) {
    pending.reap();
    BERTH_RETURN_IF_ERROR(wait_ready(pending.ready_.get()));
    ServerUse out(&host, std::move(pending.use_));
    if (pending.revived_) out.set_revived();
    return out;
  }
  BERTH_ASSIGN_OR_RETURN(UniqueFd use, lock_file(host, kUsersLock, LOCK_SH));
  BERTH_ASSIGN_OR_RETURN(UniqueFd spawn, lock_file(host, kSpawnLock, LOCK_EX));
  bool revived = false;
  if (!server_alive(host)) {
    BERTH_ASSIGN_OR_RETURN(Spawned sp, begin_spawn(host, revived));
    reap_starter(sp.starter);
    BERTH_RETURN_IF_ERROR(wait_ready(sp.ready.get()));
  }
  ServerUse out(&host, std::move(use));
  if (revived) out.set_revived();
  return out;
}

ServerUse::~ServerUse() {
  fd_.reset();
  if (host_) stop_server_if_idle(*host_);
}

void stop_server_if_idle(const HostConfig& host) {
  if (!sys::path_exists(pid_file(host))) return;
  // A server that died (killed) left its mount: gone with the last CT.
  if (!server_exists(host) && !any_ct_running(host)) {
    auto lk = lock_file(host, kSpawnLock, LOCK_EX | LOCK_NB);
    std::string dir = mount_dir(host);
    if (lk.ok() && !server_exists(host))
      while (sys::is_mount_point(dir) && ::umount2(dir.c_str(), MNT_DETACH) == 0) {}
    return;
  }
  UniqueFd idle;
  if (!try_idle_lock(host, idle) || any_ct_running(host)) return;
  pid_t pid = server_pid(host);
  if (pid <= 0) return;
  auto pidfd = sys::pidfd_open(pid);
  if (!pidfd.ok()) return;
  (void)sys::pidfd_send_signal(pidfd->get(), SIGTERM);
  struct pollfd p {
    pidfd->get(), POLLIN, 0
  };
  while (::poll(&p, 1, 3000) < 0 && errno == EINTR) {}
}

}  // namespace berth::procsrv
