// exec/enter pipeline. Host side: pidfd of init -> the command's pipes -> fork A -> put A in the
// CT's cgroup -> A: new session, fds 0-2 = the command's pipe ends, every other host fd closed,
// setns into all the CT's namespaces, a pty from the CT's devpts if needed -> A forks B (B is in
// the CT's PID namespace) -> B: new session (the pty as its terminal), caps, seccomp, exec the
// command. A waits for B and passes its status up; berth relays the stdio (exec_stdio.h) until then.
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

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/exit_codes.h"
#include "isolation/caps.h"
#include "isolation/rootfs.h"
#include "isolation/seccomp.h"
#include "isolation/timens.h"
#include "runtime/ct_cgroup.h"
#include "runtime/ct_limits.h"
#include "runtime/exec_stdio.h"
#include "runtime/proc_repair.h"
#include "runtime/status.h"
#include "storage/root.h"
#include "runtime/sync.h"
#include "sys/fs.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

constexpr int kSetupFailed = exitcode::kCommandNotExecutable;

std::string join_args(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Child B: the command itself, inside the CT.
[[noreturn]] void run_command(const CtConfig& ct, const ExecRequest& req, const StdioPlan& plan, bool userns,
                              int sync_fd, int pty_slave, const ProcLimits& rlimits) {
  auto fail = [&](const Error& e) {
    sync_report_error(sync_fd, e);
    ::_exit(kSetupFailed);
  };
  reset_signals_for_command();
  // Always a session of its own: its terminal, if any, is the CT's pty (never the caller's).
  ::setsid();
  if (pty_slave >= 0) {
    if (::ioctl(pty_slave, TIOCSCTTY, 0) != 0) fail(Error::from_errno(errno, "set controlling terminal"));
    for (int fd : {0, 1, 2})
      if (plan.on_pty[static_cast<size_t>(fd)]) ::dup2(pty_slave, fd);
    if (pty_slave > 2) ::close(pty_slave);
  }
  if (userns) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
      fail(Error::from_errno(errno, "become root of the CT"));
  }
  if (::chdir("/root") != 0 && ::chdir("/") != 0) fail(Error::from_errno(errno, "chdir /"));
  // The CT's NUMFILE/LOCKEDPAGES, as its init has them now (a live `set` changes init's too), for
  // the command only: the joiner ran with Berth's own, as the CT's root may lower init's at will.
  if (auto st = apply_proc_limits_self(rlimits); !st.ok()) fail(st.error());
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
  int status = err == ENOENT ? exitcode::kCommandNotFound : exitcode::kCommandNotExecutable;
  sync_report_error(sync_fd, Error::from_errno(err, "exec `" + args[0] + "`").status(status));
  ::_exit(status);
}

// Close every fd from 3 up except a and b.
void close_fds_except(int a, int b) {
  if (a > b) std::swap(a, b);
  unsigned lo = 3;
  for (int k : {a, b}) {
    if (k < static_cast<int>(lo)) continue;
    if (static_cast<unsigned>(k) > lo) ::syscall(SYS_close_range, lo, static_cast<unsigned>(k) - 1, 0);
    lo = static_cast<unsigned>(k) + 1;
  }
  ::syscall(SYS_close_range, lo, ~0U, 0);
}

// Child A: joins the CT, then runs and waits for B. inner: the command's pipe ends (the pty, if
// one is made, replaces some of them in B).
int joiner(const CtConfig& ct, const ExecRequest& req, const StdioPlan& plan, std::array<int, 3> inner,
           int init_pidfd, bool userns, bool join_time, int sync_fd, const ProcLimits& rlimits) {
  auto fail = [&](const Error& e) {
    sync_report_error(sync_fd, e);
    return kSetupFailed;
  };
  // Nothing of the caller's may reach the CT: out of its session and process group (no terminal
  // signals, no controlling terminal), fds 0-2 are the command's pipes, and every other fd of
  // berth is closed (its pipe ends above all: a copy of the stdin pipe's write end here would keep
  // the command from ever seeing EOF).
  ::setsid();
  for (int fd : {0, 1, 2})
    if (::dup2(inner[static_cast<size_t>(fd)], fd) < 0) return fail(Error::from_errno(errno, "set up the command's stdio"));
  close_fds_except(sync_fd, init_pidfd);
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
  if (plan.any_pty()) {
    // A pty of the CT's own devpts. If the CT has none left (NUMPTY), the command gets its pipes
    // (which are there for every fd) rather than failing: the tenant cannot lock the admin out.
    UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (master && ::unlockpt(master.get()) == 0)
      slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    auto sent = slave >= 0 ? sync_send_fd(sync_fd, master.get()) : sync_send(sync_fd, SyncMsg::kGo);
    if (!sent.ok()) return fail(sent.error());
  }
  pid_t b = ::fork();
  if (b < 0) return fail(Error::from_errno(errno, "fork in CT"));
  if (b == 0) run_command(ct, req, plan, userns, sync_fd, slave, rlimits);
  if (slave >= 0) ::close(slave);
  ::close(sync_fd);
  for (int fd : {0, 1, 2}) ::close(fd);  // only B holds the command's stdio: its EOF is B's
  forward_signals_to(b);
  int status = 0;
  while (::waitpid(b, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// The rlimits a command run by exec/enter gets: its init's, but NOFILE not below a floor the
// CT's root cannot lower (a shell and the tools an admin runs need a few dozen fds): the smaller of
// kNofileFloor and the configured NUMFILE, which stays the CT's ceiling.
constexpr uint64_t kNofileFloor = 1024;

ProcLimits command_rlimits(ProcLimits init, const CtConfig& ct) {
  if (!init.nofile) return init;
  Rlimit floor{kNofileFloor, kNofileFloor};
  auto conf = proc_limits_from([&ct](std::string_view k) { return ct.get(k); });
  if (conf.ok() && conf->nofile) floor = {std::min(floor.soft, conf->nofile->soft), std::min(floor.hard, conf->nofile->hard)};
  init.nofile->soft = std::max(init.nofile->soft, floor.soft);
  init.nofile->hard = std::max(init.nofile->hard, floor.hard);
  if (init.nofile->soft > init.nofile->hard) init.nofile->soft = init.nofile->hard;
  return init;
}

// fds 0-2 closed by the caller would be taken by the pipes made below and mistaken for its stdio.
void ensure_std_fds() {
  for (int fd : {0, 1, 2})
    if (::fcntl(fd, F_GETFD) < 0) {
      // Not close-on-exec: when it lands on fd itself, it is the stdio it stands for.
      int null = ::open("/dev/null", O_RDWR);  // NOLINT(android-cloexec-open)
      if (null >= 0 && null != fd) {
        ::dup2(null, fd);
        ::close(null);
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
  ProcLimits rlimits = command_rlimits(rlimits_of(s.init_pid), ct);
  bool join_time = isolation::other_time_namespace(s.init_pid);  // CTs started before 5.6 kernels have none
  ensure_std_fds();
  StdioPlan plan = plan_stdio_for_caller(req.pty);
  BERTH_ASSIGN_OR_RETURN(ExecPipes pipes, make_exec_pipes(plan.stdin_eof));
  std::array<int, 3> inner{pipes.inner[0].get(), pipes.inner[1].get(), pipes.inner[2].get()};
  // Before the clone, so A starts with them blocked and passes them on once B exists.
  ExecSignals signals;
  BERTH_ASSIGN_OR_RETURN(sys::ChildProcess a, sys::clone_child(0, cgfd.get(), [&] {
                           return joiner(ct, req, plan, inner, pidfd, userns, join_time, child_sock, rlimits);
                         }));
  sync.child.reset();
  for (auto& fd : pipes.inner) fd.reset();
  if (!cgfd.valid()) BERTH_RETURN_IF_ERROR(cg->attach(group, a.pid()).context("join the CT's cgroup"));
  BERTH_RETURN_IF_ERROR(sync_send(sync.parent.get(), SyncMsg::kCgroupDone));

  UniqueFd master;
  if (plan.any_pty()) {
    BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(sync.parent.get()));
    if (r.eof) return Error::with_status(exitcode::kSystem, "exec failed");
    if (r.type == SyncMsg::kError) return error_from(r);
    if (r.type == SyncMsg::kFd && r.fd) {
      master = std::move(r.fd);
      for (size_t i = 0; i < 3; ++i)
        if (plan.on_pty[i]) pipes.outer[i].reset();
    } else {
      plan = plan_stdio({false, false, false}, false, false);  // no pty left in the CT: pipes
    }
  }
  relay_stdio(plan, pipes, master.get(), a.pidfd(), signals.fd());
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
  if (sys::exit_code_of(ws) != 0) return Error::with_status(exitcode::kSystem, "in-CT action failed");
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
  // Owned by the CT's root id, as the running CT's namespace is (start.cc).
  sys::NsOwner owner{ct.local_uid(), ct.local_gid()};
  BERTH_ASSIGN_OR_RETURN(sys::ChildProcess c, sys::clone_child_owned(owner, flags, -1, [&] {
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
