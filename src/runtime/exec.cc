// exec/enter pipeline. Host side: pidfd of init -> fork A -> put A in the CT's cgroup ->
// A: setns into all the CT's namespaces, becomes the CT's root -> A forks B (B is in the CT's
// PID namespace) -> B: caps, seccomp, exec the command. A waits for B and passes its status up.
#include "runtime/exec.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "core/exit_codes.h"
#include "isolation/caps.h"
#include "isolation/rootfs.h"
#include "isolation/seccomp.h"
#include "isolation/timens.h"
#include "runtime/ct_cgroup.h"
#include "runtime/ct_limits.h"
#include "runtime/proc_repair.h"
#include "runtime/status.h"
#include "storage/root.h"
#include "runtime/sync.h"
#include "sys/fs.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

constexpr int kSetupFailed = 126;

std::string join_args(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Child B: the command itself, inside the CT.
[[noreturn]] void run_command(const CtConfig& ct, const ExecRequest& req, bool userns, int sync_fd,
                              int pty_slave) {
  auto fail = [&](const Error& e) {
    sync_report_error(sync_fd, e);
    ::_exit(kSetupFailed);
  };
  if (pty_slave >= 0) {
    ::setsid();
    if (::ioctl(pty_slave, TIOCSCTTY, 0) != 0) fail(Error::from_errno(errno, "set controlling terminal"));
    ::dup2(pty_slave, 0);
    ::dup2(pty_slave, 1);
    ::dup2(pty_slave, 2);
  }
  if (userns) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
      fail(Error::from_errno(errno, "become root of the CT"));
  }
  if (::chdir("/root") != 0 && ::chdir("/") != 0) fail(Error::from_errno(errno, "chdir /"));
  auto caps = isolation::ct_capabilities(ct);
  if (!caps.ok()) fail(caps.error());
  auto sc = isolation::load_seccomp_filter(!userns);
  if (!sc.ok()) fail(sc.error());
  auto dc = isolation::drop_caps(*caps);
  if (!dc.ok()) fail(dc.error());

  std::vector<std::string> args;
  if (req.via_shell) {
    std::string shell = ::access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    if (req.pty && req.argv.empty()) {
      args = {shell, "-l"};
    } else if (req.script_on_stdin) {
      args = {shell, "-s"};
    } else {
      args = {shell, "-c", join_args(req.argv)};
    }
  } else {
    args = req.argv;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string term = std::string("TERM=") + (std::getenv("TERM") ? std::getenv("TERM") : "xterm");
  const char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
                        "USER=root", "LOGNAME=root", "SHELL=/bin/sh", "container=berth", term.c_str(), nullptr};
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execvpe(argv[0], argv.data(), const_cast<char* const*>(envp));
  int err = errno;
  sync_report_error(sync_fd, Error::from_errno(err, "exec `" + args[0] + "`").status(err == ENOENT ? 127 : 126));
  ::_exit(err == ENOENT ? 127 : 126);
}

// Child A: joins the CT, then runs and waits for B.
int joiner(const CtConfig& ct, const ExecRequest& req, int init_pidfd, bool userns, bool join_time, int sync_fd,
           const ProcLimits& rlimits) {
  auto fail = [&](const Error& e) {
    sync_report_error(sync_fd, e);
    return kSetupFailed;
  };
  // The CT's NUMFILE/LOCKEDPAGES, as its init has them now (a live `set` changes init's too).
  if (auto st = apply_proc_limits_self(rlimits); !st.ok()) return fail(st.error());
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Not dumpable: processes of the CT must not ptrace or open /proc/<A> (it runs the host's berth).
  ::prctl(PR_SET_DUMPABLE, 0);
  auto st = sync_expect(sync_fd, SyncMsg::kCgroupDone);
  if (!st.ok()) return fail(st.error());
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (userns) flags |= CLONE_NEWUSER;
  if (join_time) flags |= CLONE_NEWTIME;
  if (::setns(init_pidfd, flags) != 0) return fail(Error::from_errno(errno, "join the CT's namespaces"));
  int slave = -1;
  if (req.pty) {
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return fail(Error::from_errno(errno, "open the CT's /dev/ptmx"));
    if (::unlockpt(master) != 0) return fail(Error::from_errno(errno, "unlock pty"));
    slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return fail(Error::from_errno(errno, "open pty peer"));
    auto sent = sync_send_fd(sync_fd, master);
    ::close(master);
    if (!sent.ok()) return fail(sent.error());
  }
  pid_t b = ::fork();
  if (b < 0) return fail(Error::from_errno(errno, "fork in CT"));
  if (b == 0) run_command(ct, req, userns, sync_fd, slave);
  if (slave >= 0) ::close(slave);
  ::close(sync_fd);
  int status = 0;
  while (::waitpid(b, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

struct TermGuard {
  int fd = -1;
  struct termios saved{};
  bool active = false;
  void make_raw(int f) {
    if (!::isatty(f) || ::tcgetattr(f, &saved) != 0) return;
    fd = f;
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd, TCSANOW, &raw) == 0) active = true;
  }
  ~TermGuard() {
    if (active) ::tcsetattr(fd, TCSANOW, &saved);
  }
};

void copy_winsize(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Relay host terminal <-> pty master until the shell side closes.
void relay(int master, int sigfd) {
  char buf[8192];
  bool in_open = true;
  for (;;) {
    struct pollfd p[3] = {{master, POLLIN, 0}, {0, in_open ? (short)POLLIN : (short)0, 0}, {sigfd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[2].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == sizeof si) {
      }
      copy_winsize(0, master);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(1, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) {
          if (errno == EINTR) continue;
          return;
        }
        off += w;
      }
    }
    if (in_open && (p[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        in_open = false;
        const char eot = 4;
        (void)!::write(master, &eot, 1);
        continue;
      }
      (void)!::write(master, buf, static_cast<size_t>(n));
    }
  }
}

}  // namespace

Result<int> exec(const CtConfig& ct, const ExecRequest& req) {
  BERTH_ASSIGN_OR_RETURN(CtStatus s, query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (!s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
  repair_proc_view_if_dead(ct, s.init_pid);
  UniqueFd init_fd(static_cast<int>(::syscall(SYS_pidfd_open, s.init_pid, 0)));
  if (!init_fd) return Error::from_errno(errno, "open pidfd of the CT's init");
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, cgroup_backend());
  std::string group = ct_group_of(ct);
  BERTH_ASSIGN_OR_RETURN(UniqueFd cgfd, cg->open_for_clone(group));
  BERTH_ASSIGN_OR_RETURN(SyncPair sync, make_sync_pair());
  bool userns = !ct.is_privileged();
  int child_sock = sync.child.get(), pidfd = init_fd.get();
  ProcLimits rlimits = rlimits_of(s.init_pid);
  bool join_time = isolation::other_time_namespace(s.init_pid);  // CTs started before 5.6 kernels have none
  BERTH_ASSIGN_OR_RETURN(sys::ChildProcess a, sys::clone_child(0, cgfd.get(), [&] {
                           return joiner(ct, req, pidfd, userns, join_time, child_sock, rlimits);
                         }));
  sync.child.reset();
  if (!cgfd.valid()) BERTH_RETURN_IF_ERROR(cg->attach(group, a.pid()).context("join the CT's cgroup"));
  BERTH_RETURN_IF_ERROR(sync_send(sync.parent.get(), SyncMsg::kCgroupDone));

  // Like a shell waiting for its job: the terminal's signals go to the command, not to us.
  struct sigaction ign{}, old_int{}, old_quit{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ign, &old_int);
  ::sigaction(SIGQUIT, &ign, &old_quit);
  ScopeExit restore([&] {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
  });

  if (req.pty) {
    BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(sync.parent.get()));
    if (r.eof || r.type != SyncMsg::kFd || !r.fd) return r.eof ? Error::with_status(3, "enter failed") : error_from(r);
    UniqueFd master = std::move(r.fd);
    copy_winsize(0, master.get());
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGWINCH);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!req.banner.empty() && !::isatty(1)) {
    }
    {
      TermGuard tg;
      tg.make_raw(0);
      relay(master.get(), sigfd.get());
    }
    ::sigprocmask(SIG_UNBLOCK, &mask, nullptr);
  }
  // Setup errors arrive as a message; a clean exec closes the socket.
  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(sync.parent.get()));
  BERTH_ASSIGN_OR_RETURN(int wstatus, a.wait());
  int code = sys::exit_code_of(wstatus);
  if (!r.eof && r.type == SyncMsg::kError && code == kSetupFailed) return error_from(r);
  if (!r.eof && r.type == SyncMsg::kError) {
    // exec of the command itself failed (127 not found / 126 not executable): report, keep code.
    return Error::with_status(code, r.text);
  }
  return code;
}

}  // namespace berth::runtime

namespace berth::runtime {
namespace {

int run_fn_child(const std::function<Status()>& fn, int sync_fd) {
  auto st = fn();
  if (!st.ok()) {
    sync_report_error(sync_fd, st.error());
    return kSetupFailed;
  }
  return 0;
}

Status collect(sys::ChildProcess& child, int parent_sock) {
  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(parent_sock));
  BERTH_ASSIGN_OR_RETURN(int ws, child.wait());
  if (!r.eof && r.type == SyncMsg::kError) return error_from(r);
  if (sys::exit_code_of(ws) != 0) return Error::with_status(3, "in-CT action failed");
  return {};
}

}  // namespace

Status run_in_ct(const CtConfig& ct, const std::function<Status()>& fn) {
  BERTH_ASSIGN_OR_RETURN(CtStatus s, query_status(ct));
  bool userns = !ct.is_privileged();
  BERTH_ASSIGN_OR_RETURN(SyncPair sync, make_sync_pair());
  int sock = sync.child.get();
  if (s.running) {
    UniqueFd init_fd(static_cast<int>(::syscall(SYS_pidfd_open, s.init_pid, 0)));
    if (!init_fd) return Error::from_errno(errno, "open pidfd of the CT's init");
    int pidfd = init_fd.get();
    BERTH_ASSIGN_OR_RETURN(sys::ChildProcess c, sys::clone_child(0, -1, [&] {
                             ::prctl(PR_SET_DUMPABLE, 0);
                             int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
                             if (userns) flags |= CLONE_NEWUSER;
                             if (::setns(pidfd, flags) != 0) {
                               sync_report_error(sock, Error::from_errno(errno, "join the CT's namespaces"));
                               return kSetupFailed;
                             }
                             if (userns && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
                               sync_report_error(sock, Error::from_errno(errno, "become the CT's root"));
                               return kSetupFailed;
                             }
                             return run_fn_child(fn, sock);
                           }));
    sync.child.reset();
    return collect(c, sync.parent.get());
  }
  bool mounted_here = false;
  if (!s.mounted) {
    BERTH_RETURN_IF_ERROR(storage::mount_root(ct));
    mounted_here = true;
  }
  ScopeExit unmount([&] {
    if (mounted_here) (void)storage::umount_root(ct);
  });
  // As at start: the host's VE_ROOT is nosuid and out of the CT's root id's reach; the child
  // attaches its own view in its own mount namespace and chroots there.
  BERTH_ASSIGN_OR_RETURN(std::string root, storage::ct_attach_dir(ct));
  BERTH_ASSIGN_OR_RETURN(UniqueFd view, storage::ct_root_view(ct));
  int view_fd = view.get();
  uint64_t flags = CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0);
  BERTH_ASSIGN_OR_RETURN(sys::ChildProcess c, sys::clone_child(flags, -1, [&] {
                           if (userns) {
                             auto w = sync_expect(sock, SyncMsg::kMapsDone);
                             if (!w.ok() || ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
                               sync_report_error(sock, Error::from_errno(errno, "become the CT's root"));
                               return kSetupFailed;
                             }
                           }
                           if (auto st = isolation::attach_root_from_child(view_fd, root); !st.ok()) {
                             sync_report_error(sock, st.error());
                             return kSetupFailed;
                           }
                           if (::chroot(root.c_str()) != 0 || ::chdir("/") != 0) {
                             sync_report_error(sock, Error::from_errno(errno, "chroot into `" + root + "`"));
                             return kSetupFailed;
                           }
                           return run_fn_child(fn, sock);
                         }));
  sync.child.reset();
  if (userns) {
    BERTH_RETURN_IF_ERROR(sys::write_id_maps(c.pid(), ct.local_uid(), ct.local_gid(), kIdRangeSize));
    BERTH_RETURN_IF_ERROR(sync_send(sync.parent.get(), SyncMsg::kMapsDone));
  }
  return collect(c, sync.parent.get());
}

}  // namespace berth::runtime
