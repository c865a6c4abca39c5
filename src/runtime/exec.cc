// exec/enter pipeline. Host side: pidfd of init -> the command's pipes -> then one of two ways.
// Direct (no pty wanted, a caller with one thread): berth joins the CT's PID namespace for its
// children and its time namespace, starts the command as a clone sharing its memory
// (CLONE_VM|CLONE_VFORK, into the CT's cgroup), and is back in its own namespaces once the clone
// has exec'd; the clone joins the other namespaces, becomes the CT's root and execs. With a pty:
// fork A -> put A in the CT's cgroup -> A: new session, fds 0-2 = the command's pipe ends, every
// other host fd closed, setns into all the CT's namespaces, a pty from the CT's devpts -> A starts
// B (in the CT's PID namespace) -> B: new session (the pty as its terminal), caps, seccomp, exec
// the command. A waits for B and passes its status up. berth relays the stdio (exec_stdio.h)
// until the command ends.
#include "runtime/exec.h"
#include "runtime/snapshot.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>
#include <cstring>
#include <utility>

#include "core/exit_codes.h"
#include "isolation/caps.h"
#include "isolation/rootfs.h"
#include "isolation/seccomp.h"
#include "isolation/timens.h"
#include "state/ct_cgroup.h"
#include "runtime/ct_limits.h"
#include "runtime/exec_stdio.h"
#include "runtime/proc_repair.h"
#include "state/status.h"
#include "storage/disk.h"
#include "storage/root.h"
#include "runtime/command_line.h"
#include "runtime/sync.h"
#include "sys/fs.h"
#include "sys/kernel.h"
#include "sys/pidfd.h"
#include "sys/process.h"
#include "runtime/pipeline.h"

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

// What the command's process needs, made before it exists: it is a clone that shares its
// parent's memory (CLONE_VM|CLONE_VFORK, as posix_spawn's child): its start copies no page tables
// and takes no copy-on-write faults of berth's memory. The parent is suspended until it has
// exec'd or ended, so it may use this memory as its own; but once it has joined the CT's user
// namespace the CT's root may signal it (kill, stop), so from there on it only makes system calls
// (run_command): a kill then leaves the parent's memory as a finished call would.
struct CommandPlan {
  // argv and envp point into the strings below: never copied or moved (plan_command fills it).
  CommandPlan() = default;
  CommandPlan(const CommandPlan&) = delete;
  CommandPlan& operator=(const CommandPlan&) = delete;

  struct Limit {
    int resource = 0;
    struct rlimit value {};
  };
  const StdioPlan* plan = nullptr;
  bool userns = false;
  int sync_fd = -1;
  int pty_slave = -1;
  // init's NUMFILE and LOCKEDPAGES, clamped as the command gets them
  std::array<Limit, 2> limits{};
  size_t n_limits = 0;
  isolation::CapPlan caps;
  std::vector<sock_filter> seccomp;
  bool via_shell = false;
  std::vector<std::string> args;    // what is exec'd (through /bin/sh when asked)
  std::vector<std::string> direct;  // a simple command line's words: its program, tried first
  std::string term;
  std::string exec_what;  // "exec `<program>`", for a failed exec's message
  std::vector<char*> argv, bash_argv, direct_argv;  // bash_argv: argv with /bin/bash
  std::vector<const char*> envp;
};

// Fills p in place: argv and envp point into its own strings (a copy or move of p would leave
// them pointing into the old object's short-string buffers).
Status plan_command(CommandPlan& p, const CtConfig& ct, const ExecRequest& req,
                    const StdioPlan& plan, bool userns, int sync_fd, int pty_slave,
                    const ProcLimits& rlimits) {
  p.plan = &plan;
  p.userns = userns;
  p.sync_fd = sync_fd;
  p.pty_slave = pty_slave;
  // The command's rlimits are set from this process's (which it inherits) as a change of its own
  // would clamp them: to the hard limits it has.
  for (auto [resource, want] :
       {std::pair{RLIMIT_NOFILE, rlimits.nofile}, std::pair{RLIMIT_MEMLOCK, rlimits.memlock}}) {
    struct rlimit cur {};
    if (!want || ::getrlimit(resource, &cur) != 0) continue;
    Rlimit v = clamp_rlimit(*want, cur.rlim_max);
    p.limits[p.n_limits++] = {resource, {v.soft, v.hard}};
  }
  BERTH_ASSIGN_OR_RETURN(auto keep, isolation::ct_capabilities(ct));
  // In the CT's user namespace the bounding set is whole again (the kernel gives a process that
  // joins one every capability in it); a privileged CT keeps what this process has.
  p.caps = isolation::plan_caps(
      keep, userns ? isolation::in_fresh_userns_bound : isolation::in_own_bound);
  BERTH_ASSIGN_OR_RETURN(p.seccomp, isolation::seccomp_program(!userns));
  p.via_shell = req.via_shell;
  if (req.via_shell) {
    // /bin/bash if the CT has it, else /bin/sh: B looks, as the CT's root.
    std::string shell = "/bin/sh";
    if (req.pty && req.argv.empty()) {
      p.args = {shell, "-l"};
    } else if (req.script_on_stdin) {
      p.args = {shell, "-s"};
    } else {
      p.args = {shell, "-c", join_args(req.argv)};
      // A command line the shell would only split at spaces: its program directly, the shell
      // only when no program of that name is found (a builtin or alias of the CT's shell).
      if (auto words = simple_command(p.args[2])) p.direct = std::move(*words);
    }
  } else {
    p.args = req.argv;
  }
  for (auto& a : p.args) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  p.bash_argv = p.argv;
  static char bash[] = "/bin/bash";
  p.bash_argv[0] = bash;
  for (auto& w : p.direct) p.direct_argv.push_back(w.data());
  p.direct_argv.push_back(nullptr);
  p.exec_what = "exec `" + (p.args.empty() ? std::string() : p.args.front()) + "`";
  p.term = std::string("TERM=") + (std::getenv("TERM") ? std::getenv("TERM") : "xterm");
  p.envp = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "USER=root",
            "LOGNAME=root",
            "SHELL=/bin/sh",
            "container=berth",
            p.term.c_str(),
            nullptr};
  return {};
}

// The command's process, inside the CT (a CLONE_VM child: see CommandPlan): system calls only.
[[noreturn]] void run_command(const CommandPlan& p) {
  auto fail = [&](int err, const char* what, int status = kSetupFailed) {
    sync_report_errno(p.sync_fd, err, what, status);
    ::_exit(status);
  };
  reset_signals_for_command();
  // Always a session of its own: its terminal, if any, is the CT's pty (never the caller's).
  ::setsid();
  if (p.pty_slave >= 0) {
    if (::ioctl(p.pty_slave, TIOCSCTTY, 0) != 0) fail(errno, "set controlling terminal");
    for (int fd : {0, 1, 2})
      if (p.plan->on_pty[static_cast<size_t>(fd)]) ::dup2(p.pty_slave, fd);
    if (p.pty_slave > 2) ::close(p.pty_slave);
  }
  if (p.userns) {
    if (::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setresgid, 0, 0, 0) != 0 ||
        ::syscall(SYS_setresuid, 0, 0, 0) != 0)
      fail(errno, "become root of the CT");
  }
  if (::chdir("/root") != 0 && ::chdir("/") != 0) fail(errno, "chdir /");
  // The CT's NUMFILE/LOCKEDPAGES, as its init has them now (a live `set` changes init's too), for
  // the command only: berth ran with its own, as the CT's root may lower init's at will.
  for (size_t i = 0; i < p.n_limits; ++i)
    if (::setrlimit(static_cast<__rlimit_resource>(p.limits[i].resource), &p.limits[i].value) != 0)
      fail(errno, "set the command's rlimits");
  // No flags and no no_new_privs (setuid su/sudo must work in a VPS), as for the CT's init.
  struct sock_fprog fprog {};
  fprog.len = static_cast<unsigned short>(p.seccomp.size());
  fprog.filter = const_cast<sock_filter*>(p.seccomp.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
    fail(errno, "load seccomp filter");
  int failed_cap = 0;
  if (int err = isolation::apply_cap_plan(p.caps, &failed_cap); err != 0)
    fail(err, failed_cap >= 0 ? "drop a capability from the bounding set" : "set capabilities",
         exitcode::kCapability);
  (void)sys::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  auto envp = const_cast<char* const*>(p.envp.data());
  if (!p.direct.empty()) ::execvpe(p.direct_argv[0], p.direct_argv.data(), envp);
  const auto& argv = p.via_shell && ::access("/bin/bash", X_OK) == 0 ? p.bash_argv : p.argv;
  ::execvpe(argv[0], argv.data(), envp);
  int err = errno;
  fail(err, p.exec_what.c_str(),
       err == ENOENT ? exitcode::kCommandNotFound : exitcode::kCommandNotExecutable);
  __builtin_unreachable();
}

int run_command_entry(void* p) { run_command(*static_cast<const CommandPlan*>(p)); }

// Starts the command on a stack of its own, sharing this process's memory; returns once it has
// exec'd or ended (its pid) or -1 (errno).
pid_t spawn_command(const CommandPlan& p) {
  return sys::clone_vfork(-1, run_command_entry, const_cast<CommandPlan*>(&p), nullptr);
}

// Close every fd from 3 up except a and b.
void close_fds_except(int a, int b) {
  if (a > b) std::swap(a, b);
  unsigned lo = 3;
  for (int k : {a, b}) {
    if (k < static_cast<int>(lo)) continue;
    if (static_cast<unsigned>(k) > lo) (void)sys::close_range(lo, static_cast<unsigned>(k) - 1, 0);
    lo = static_cast<unsigned>(k) + 1;
  }
  (void)sys::close_range(lo, ~0U, 0);
}

// Child A: joins the CT, then runs and waits for B. inner: the command's pipe ends (the pty, if
// one is made, replaces some of them in B).
int joiner(const CtConfig& ct, const ExecRequest& req, const StdioPlan& plan,
           std::array<int, 3> inner, int init_pidfd, bool userns, bool join_time, int sync_fd,
           const ProcLimits& rlimits, const std::vector<UniqueFd>& self_join) {
  auto fail = [&](const Error& e) {
    sync_report_error(sync_fd, e);
    return kSetupFailed;
  };
  // v1: into the CT's groups by ourselves (cgroups/backend.h: open_self_join), before anything.
  for (const auto& t : self_join)
    if (::write(t.get(), "0", 1) != 1)
      return fail(Error::from_errno(errno, "join the CT's cgroup"));
  // Nothing of the caller's may reach the CT: out of its session and process group (no terminal
  // signals, no controlling terminal), fds 0-2 are the command's pipes, and every other fd of
  // berth is closed (its pipe ends above all: a copy of the stdin pipe's write end here would keep
  // the command from ever seeing EOF).
  ::setsid();
  for (int fd : {0, 1, 2})
    if (::dup2(inner[static_cast<size_t>(fd)], fd) < 0)
      return fail(Error::from_errno(errno, "set up the command's stdio"));
  close_fds_except(sync_fd, init_pidfd);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Not dumpable: processes of the CT must not ptrace or open /proc/<A> (it runs the host's berth).
  ::prctl(PR_SET_DUMPABLE, 0);
  auto st = sync_expect(sync_fd, SyncMsg::kCgroupDone);
  if (!st.ok()) return fail(st.error());
  int flags =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (userns) flags |= CLONE_NEWUSER;
  if (join_time) flags |= CLONE_NEWTIME;
  if (::setns(init_pidfd, flags) != 0)
    return fail(Error::from_errno(errno, "join the CT's namespaces"));
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
  CommandPlan cmd;
  if (auto st = plan_command(cmd, ct, req, plan, userns, sync_fd, slave, rlimits); !st.ok())
    return fail(st.error());
  pid_t b = spawn_command(cmd);
  if (b < 0) return fail(Error::from_errno(errno, "start the command in the CT"));
  if (slave >= 0) ::close(slave);
  ::close(sync_fd);
  for (int fd : {0, 1, 2}) ::close(fd);  // only B holds the command's stdio: its EOF is B's
  forward_signals_to(b);
  int status = 0;
  while (::waitpid(b, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// The direct way's clone (no joiner): into the CT's v1 groups by itself, its stdio, every other
// host fd closed, not dumpable (its memory is berth's: nothing in the CT may ptrace it between its
// join of the CT's user namespace and its exec; set on the shared memory, berth makes it dumpable
// again once the clone has exec'd), the CT's namespaces but its PID and time ones (it was made in
// those), then run_command.
struct DirectPlan {
  const CommandPlan* cmd = nullptr;
  std::array<int, 3> inner{-1, -1, -1};
  const std::vector<UniqueFd>* tasks = nullptr;
  int init_pidfd = -1;
  int ns_flags = 0;
};

int direct_child(void* arg) {
  const auto& d = *static_cast<const DirectPlan*>(arg);
  int sync_fd = d.cmd->sync_fd;
  auto fail = [&](const char* what) {
    sync_report_errno(sync_fd, errno, what, kSetupFailed);
    return kSetupFailed;
  };
  for (const auto& t : *d.tasks)
    if (::write(t.get(), "0", 1) != 1) return fail("join the CT's cgroup");
  ::setsid();
  for (int fd : {0, 1, 2})
    if (::dup2(d.inner[static_cast<size_t>(fd)], fd) < 0) return fail("set up the command's stdio");
  close_fds_except(sync_fd, d.init_pidfd);
  ::prctl(PR_SET_DUMPABLE, 0);
  if (::setns(d.init_pidfd, d.ns_flags) != 0) return fail("join the CT's namespaces");
  run_command(*d.cmd);
}

// This process in the CT's PID namespace (for its children) and time namespace while the command
// is made; its own again when this ends.
class BorrowedNamespaces {
 public:
  // False when they cannot be borrowed (the caller runs threads: setns refuses the time
  // namespace; no /proc): the joiner's way then.
  bool enter(int init_pidfd, bool time) {
    own_pid_.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (time) own_time_.reset(::open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC));
    if (!own_pid_ || (time && !own_time_)) return false;
    if (::setns(init_pidfd, CLONE_NEWPID | (time ? CLONE_NEWTIME : 0)) != 0) return false;
    entered_ = true;
    return true;
  }
  ~BorrowedNamespaces() {
    if (!entered_) return;
    // Never carry on with the CT's PID namespace for children: a helper forked later would be
    // born inside the CT. (Joining one's own namespaces again cannot fail for root; if it did,
    // this process ends here, leaving the command running.)
    if (::setns(own_pid_.get(), CLONE_NEWPID) != 0 || (own_time_ && !rejoin_time())) {
      static const char msg[] = "berth: cannot return to its own PID or time namespace\n";
      (void)!::write(2, msg, sizeof msg - 1);
      ::_exit(exitcode::kSystem);
    }
  }

 private:
  // The clone's exec (or exit) lets this process go on before the clone has left the memory they
  // share, and until it has, the kernel counts this process as one of several that share it and
  // refuses it a time namespace (EUSERS): a few microseconds, retried for a second at most.
  bool rejoin_time() {
    for (int i = 0;; ++i) {
      if (::setns(own_time_.get(), CLONE_NEWTIME) == 0) return true;
      if (errno != EUSERS || i >= 20000) return false;
      if (i < 100)
        ::sched_yield();
      else
        ::usleep(50);
    }
  }

  UniqueFd own_pid_, own_time_;
  bool entered_ = false;
};

// The rlimits a command run by exec/enter gets: its init's, but NOFILE not below a floor the
// CT's root cannot lower (a shell and the tools an admin runs need a few dozen fds): the smaller of
// kNofileFloor and the configured NUMFILE, which stays the CT's ceiling.
constexpr uint64_t kNofileFloor = 1024;

ProcLimits command_rlimits(ProcLimits init, const CtConfig& ct) {
  if (!init.nofile) return init;
  Rlimit floor{kNofileFloor, kNofileFloor};
  auto conf = proc_limits_from([&ct](std::string_view k) { return ct.get(k); });
  if (conf.ok() && conf->nofile)
    floor = {std::min(floor.soft, conf->nofile->soft), std::min(floor.hard, conf->nofile->hard)};
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

// Everything exec acquires, in order (destroyed in reverse: the joiner is killed before the
// signal mask is restored and the pipes are closed).
struct ExecContext {
  const CtConfig& ct;
  const ExecRequest& req;
  state::CtStatus s;
  UniqueFd init_fd;
  cgroups::Backend* cg = nullptr;
  std::string group;
  UniqueFd cgfd;                                        // v2: the group to clone the joiner into
  std::optional<cgroups::Backend::SelfJoin> self_join;  // v1: it moves itself (else we attach it)
  SyncPair sync;
  bool userns = true;
  bool join_time = false;
  ProcLimits rlimits;
  StdioPlan plan;
  ExecPipes pipes;
  std::optional<ExecSignals> signals;
  sys::ChildProcess joiner;  // the direct way: the command itself
  bool direct = false;
  UniqueFd master;
  int code = 0;
};

Status query_state(ExecContext& c) {
  BERTH_ASSIGN_OR_RETURN(c.s, state::query_running(c.ct));
  if (!c.s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (!c.s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
  return {};
}

// A dead /proc view (the beancounter server was killed) is repaired before anyone enters.
Status repair_proc_view(ExecContext& c) {
  // A snapshot killed while the CT was frozen would hold this command forever.
  BERTH_RETURN_IF_ERROR(thaw_leftover(c.ct));
  repair_proc_view_if_dead(c.ct, c.s.init_pid);
  return {};
}

Status open_init_pidfd(ExecContext& c) {
  auto fd = sys::pidfd_open(c.s.init_pid);
  if (!fd.ok()) return sys::reworded(fd.error(), "open pidfd of the CT's init");
  c.init_fd = std::move(fd).value();
  return {};
}

Status open_cgroup(ExecContext& c) {
  BERTH_ASSIGN_OR_RETURN(c.cg, state::cgroup_backend());
  c.group = state::ct_group_of(c.ct);
  // v2: the leaf group the CT's init is in (state::entry_group), if it can be opened.
  auto text = sys::read_file("/proc/" + std::to_string(c.s.init_pid) + "/cgroup");
  std::string entry = state::entry_group(c.cg->name(), c.group, text.ok() ? *text : "");
  if (entry != c.group) {
    // The CT owns that group: a frozen one would hold the command (and this exec) forever.
    auto events =
        sys::read_file(c.cg->hierarchies().front().mount + "/" + entry + "/cgroup.events");
    if (events.ok() && events->find("frozen 1") != std::string::npos)
      return Error::with_status(exitcode::kSystem,
                                "the cgroup of the CT's init is frozen (thaw it inside first)");
    auto fd = c.cg->open_for_clone(entry);
    if (fd.ok()) {
      c.cgfd = std::move(fd).value();
      return {};
    }
  }
  BERTH_ASSIGN_OR_RETURN(c.cgfd, c.cg->open_for_clone(c.group));
  // v1: the joiner moves itself (no RCU wait); the parent's attach is the fallback.
  if (!c.cgfd.valid()) c.self_join = c.cg->open_self_join(c.group);
  return {};
}

// The sync socket, the command's rlimits, its pipes and the relayed signals (blocked before the
// clone, so the joiner starts with them blocked and passes them on once the command exists).
Status prepare_stdio(ExecContext& c) {
  BERTH_ASSIGN_OR_RETURN(c.sync, make_sync_pair());
  c.userns = !c.ct.is_privileged();
  // The command's seccomp program, here on the host's side (kept in the run directory, a host
  // path): the joiner, a fork of this process, finds it ready in its memory once inside the CT.
  (void)isolation::prepare_seccomp_program(!c.userns, c.ct.host().paths().run);
  c.rlimits = command_rlimits(rlimits_of(c.s.init_pid), c.ct);
  c.join_time =
      isolation::other_time_namespace(c.s.init_pid);  // CTs started before 5.6 kernels have none
  ensure_std_fds();
  c.plan = plan_stdio_for_caller(c.req.pty);
  BERTH_ASSIGN_OR_RETURN(c.pipes, make_exec_pipes(c.plan.stdin_eof));
  c.signals.emplace();
  return {};
}

const std::vector<UniqueFd>& self_join_tasks(const ExecContext& c) {
  static const std::vector<UniqueFd> kNone;
  return c.self_join ? c.self_join->tasks : kNone;
}

int clone_into_fd(const ExecContext& c) {
  return c.cgfd.valid() ? c.cgfd.get() : c.self_join ? c.self_join->clone_into.get() : -1;
}

Status clone_joiner(ExecContext& c);

// The direct way (the top of this file). False when it cannot be taken here.
Result<bool> spawn_direct(ExecContext& c) {
  CommandPlan cmd;
  BERTH_RETURN_IF_ERROR(
      plan_command(cmd, c.ct, c.req, c.plan, c.userns, c.sync.child.get(), -1, c.rlimits));
  DirectPlan d;
  d.cmd = &cmd;
  d.inner = {c.pipes.inner[0].get(), c.pipes.inner[1].get(), c.pipes.inner[2].get()};
  d.tasks = &self_join_tasks(c);
  d.init_pidfd = c.init_fd.get();
  d.ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP |
               (c.userns ? CLONE_NEWUSER : 0);
  int dumpable = ::prctl(PR_GET_DUMPABLE);
  int pidfd = -1;
  pid_t pid = -1;
  {
    BorrowedNamespaces ns;
    if (!ns.enter(c.init_fd.get(), c.join_time)) return false;
    pid = sys::clone_vfork(clone_into_fd(c), direct_child, &d, &pidfd);
  }
  if (dumpable > 0) ::prctl(PR_SET_DUMPABLE, dumpable);
  if (pid < 0) return Error::from_errno(errno, "start the command in the CT");
  c.joiner = sys::ChildProcess(pid, UniqueFd(pidfd));
  c.direct = true;
  return true;
}

// The command: the direct way for a CT in a user namespace when no pty is wanted and the CT's
// cgroup needs no attach from here, else child A (the joiner), in the CT's cgroup on v2. (A
// privileged CT's root is host root with CAP_SYS_PTRACE: it could trace the clone before its exec,
// and through it write this process's memory; there the joiner, whose memory B shares, stands in
// the way, though that CT gives everything away anyway: docs/security.md.)
Status start_command(ExecContext& c) {
  bool started = false;
  if (c.userns && !c.plan.any_pty() && (c.cgfd.valid() || c.self_join)) {
    BERTH_ASSIGN_OR_RETURN(started, spawn_direct(c));
  }
  if (!started) BERTH_RETURN_IF_ERROR(clone_joiner(c));
  c.sync.child.reset();
  if (c.self_join) c.self_join->tasks.clear();
  for (auto& fd : c.pipes.inner) fd.reset();
  return {};
}

// Child A (the joiner), in the CT's cgroup on v2.
Status clone_joiner(ExecContext& c) {
  std::array<int, 3> inner{c.pipes.inner[0].get(), c.pipes.inner[1].get(), c.pipes.inner[2].get()};
  int child_sock = c.sync.child.get(), pidfd = c.init_fd.get();
  int into = clone_into_fd(c);
  const std::vector<UniqueFd>& tasks = self_join_tasks(c);
  BERTH_ASSIGN_OR_RETURN(
      c.joiner, sys::kernel().clone_child(
                    {::geteuid(), ::getegid()}, 0, into, [&c, &tasks, inner, child_sock, pidfd] {
                      return joiner(c.ct, c.req, c.plan, inner, pidfd, c.userns, c.join_time,
                                    child_sock, c.rlimits, tasks);
                    }));
  return {};
}

// v1: A joins the CT's cgroups from here; then A may join the namespaces.
Status join_cgroup(ExecContext& c) {
  if (c.direct) return {};
  if (!c.cgfd.valid() && !c.self_join)
    BERTH_RETURN_IF_ERROR(c.cg->attach(c.group, c.joiner.pid()).context("join the CT's cgroup"));
  return sync_send(c.sync.parent.get(), SyncMsg::kCgroupDone);
}

// A pty of the CT's devpts, when one is wanted and the CT has one left (else pipes).
Status receive_pty(ExecContext& c) {
  if (!c.plan.any_pty()) return {};
  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(c.sync.parent.get()));
  if (r.eof) return Error::with_status(exitcode::kSystem, "exec failed");
  if (r.type == SyncMsg::kError) return error_from(r);
  if (r.type == SyncMsg::kFd && r.fd) {
    c.master = std::move(r.fd);
    for (size_t i = 0; i < 3; ++i)
      if (c.plan.on_pty[i]) c.pipes.outer[i].reset();
  } else {
    c.plan = plan_stdio({false, false, false}, false, false);  // no pty left in the CT: pipes
  }
  return {};
}

Status relay_stdio(ExecContext& c) {
  // The joiner passes signals on to the command's process group; the direct way's command leads
  // its own group (it made a session), which lives while berth has not reaped it.
  runtime::relay_stdio(c.plan, c.pipes, c.master.get(), c.joiner.pidfd(), c.signals->fd(),
                       c.direct ? c.joiner.pid() : 0);
  return {};
}

// Setup errors arrive as a message; a clean exec closes the socket.
Status collect_status(ExecContext& c) {
  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(c.sync.parent.get()));
  BERTH_ASSIGN_OR_RETURN(int wstatus, c.joiner.wait());
  c.code = sys::exit_code_of(wstatus);
  if (!r.eof && r.type == SyncMsg::kError && c.code == kSetupFailed) return error_from(r);
  if (!r.eof && r.type == SyncMsg::kError) {
    // exec of the command itself failed (127 not found / 126 not executable): report, keep code.
    return Error::restored(r.err, c.code, r.text);
  }
  return {};
}

constexpr std::array<Step<ExecContext>, 10> kExecSteps{{
    {"query_state", query_state},
    {"repair_proc_view", repair_proc_view},
    {"open_init_pidfd", open_init_pidfd},
    {"open_cgroup", open_cgroup},
    {"prepare_stdio", prepare_stdio},
    {"start_command", start_command},
    {"join_cgroup", join_cgroup},
    {"receive_pty", receive_pty},
    {"relay_stdio", relay_stdio},
    {"collect_status", collect_status},
}};

}  // namespace

std::vector<std::string> exec_step_names() { return step_names<ExecContext>(kExecSteps); }

Result<int> exec(const CtConfig& ct, const ExecRequest& req) {
  ExecContext c{ct,    req, {}, {}, nullptr, {}, {},    {}, {}, true,
                false, {},  {}, {}, {},      {}, false, {}, 0};
  BERTH_RETURN_IF_ERROR(run_pipeline<ExecContext>("exec", kExecSteps, c));
  return c.code;
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
  if (sys::exit_code_of(ws) != 0)
    return Error::with_status(exitcode::kSystem, "in-CT action failed");
  return {};
}

}  // namespace

Status run_in_ct(const CtConfig& ct, const std::function<Status()>& fn) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  bool userns = !ct.is_privileged();
  BERTH_ASSIGN_OR_RETURN(SyncPair sync, make_sync_pair());
  int sock = sync.child.get();
  if (s.running) {
    auto init_fd = sys::pidfd_open(s.init_pid);
    if (!init_fd.ok()) return sys::reworded(init_fd.error(), "open pidfd of the CT's init");
    int pidfd = init_fd->get();
    BERTH_ASSIGN_OR_RETURN(
        sys::ChildProcess c, sys::clone_child(0, -1, [&] {
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
  sys::MountGuard disk_here, mounted_here;  // VE_ROOT goes first, then the disk under it
  if (!s.mounted) {
    BERTH_RETURN_IF_ERROR(storage::mount_root(ct));
    if (storage::has_disk(ct)) disk_here = sys::MountGuard(storage::disk_mount_path(ct));
    mounted_here = sys::MountGuard(ct.ve_root());
  }
  // As at start: the host's VE_ROOT is nosuid and out of the CT's root id's reach; the child
  // attaches its own view in its own mount namespace and chroots there.
  BERTH_ASSIGN_OR_RETURN(std::string root, storage::ct_attach_dir(ct));
  BERTH_ASSIGN_OR_RETURN(UniqueFd view, storage::ct_root_view(ct));
  int view_fd = view.get();
  uint64_t flags = CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0);
  // Owned by the CT's root id, as the running CT's namespace is (start.cc).
  sys::NsOwner owner{ct.local_uid(), ct.local_gid()};
  BERTH_ASSIGN_OR_RETURN(sys::ChildProcess c, sys::kernel().clone_child(owner, flags, -1, [&] {
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
    BERTH_RETURN_IF_ERROR(
        sys::kernel().write_id_maps(c.pid(), ct.local_uid(), ct.local_gid(), kIdRangeSize));
    BERTH_RETURN_IF_ERROR(sync_send(sync.parent.get(), SyncMsg::kMapsDone));
  }
  return collect(c, sync.parent.get());
}

}  // namespace berth::runtime
