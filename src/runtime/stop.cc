// stop, mount, umount, repair: ending a CT's processes and tearing down what start made.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <future>
#include <system_error>
#include <thread>

#include "core/exit_codes.h"
#include "monitor/client.h"
#include "net/network.h"
#include "state/ct_cgroup.h"
#include "state/instance_owner.h"
#include "runtime/lifecycle.h"
#include "runtime/snapshot.h"
#include "state/status.h"
#include "storage/root.h"
#include "sys/close_behind.h"
#include "sys/fs.h"
#include "sys/pidfd.h"
#include "sys/process.h"
#include "runtime/pipeline.h"
#include "procsrv/client.h"

namespace berth::runtime {
namespace {

// The signal that asks this init for a clean power-off: systemd SIGRTMIN+4, busybox SIGUSR2,
// sysvinit-style SIGPWR otherwise (its inittab `powerfail` entry halts).
int halt_signal(pid_t init) {
  char buf[PATH_MAX];
  std::string link = "/proc/" + std::to_string(init) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  if (exe.find("systemd") != std::string::npos) return SIGRTMIN + 4;
  if (exe.find("busybox") != std::string::npos) return SIGUSR2;
  return SIGPWR;
}

// Wait until pid (a pidfd) exits or timeout; true if it exited.
bool wait_exit(int pidfd, std::chrono::milliseconds timeout) {
  struct pollfd p {
    pidfd, POLLIN, 0
  };
  int ms = static_cast<int>(timeout.count());
  for (;;) {
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

Status repair(const CtConfig& ct) {
  BERTH_RETURN_IF_ERROR(thaw_leftover(ct));
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string group = state::ct_group_of(ct);
  if (!cg->exists(group)) return {};
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (s.running) return {};
  // A cgroup without an init: a start killed half-way, or an init that died (a poweroff inside
  // while no watcher saw it, monitor/server.h). The same teardown as stop's, but the mount:
  // processes, group, and the network on the host (routes, proxy neighbours, filters, host
  // veths; the counters of veths still there are banked by detach_network).
  {
    // Not a group another root's start made a moment ago (same CTID, same CGROUP_PARENT): only
    // this root's leftovers go (state/instance_owner.h).
    BERTH_ASSIGN_OR_RETURN(state::InstanceGate gate,
                           state::InstanceGate::enter(ct.host(), *cg, false));
    BERTH_RETURN_IF_ERROR(state::check_ct_group_owner(ct.host(), *cg, ct.ctid()));
    BERTH_RETURN_IF_ERROR(cg->kill_all(group).context("clean up after an interrupted command"));
    BERTH_RETURN_IF_ERROR(cg->remove(group).context("clean up after an interrupted command"));
  }
  return net::detach_network(ct).context("clean up the network of a CT that is not running");
}

namespace {

struct StopContext {
  const CtConfig& ct;
  const StopOptions& opts;
  state::CtStatus s;
  cgroups::Backend* cg = nullptr;
  std::string group;
  // Held open, the CT's network namespace (and so its veth) outlives init until detach_network
  // has saved the traffic counters of the veth and removed it.
  UniqueFd netns_hold;
  UniqueFd init_fd;   // pidfd of init
  bool gone = false;  // init has exited
  // Closes of nf_tables sockets (the filter lookups of detach_network), done while the root is
  // unmounted (sys/close_behind.h) and waited for by umount_root.
  sys::CloseBehind closes;
  // The root's unmount, begun by detach_network on a thread of its own and waited for by
  // umount_root (std::async's future waits in its destructor too: an earlier error still waits).
  std::future<Status> umount;
};

// The CT's state. Not running: a cgroup left by a killed command is cleaned (then the rest of
// the teardown runs), and without one there is nothing to stop (32).
Status query_state(StopContext& c) {
  BERTH_ASSIGN_OR_RETURN(c.s, state::query_running(c.ct));
  if (!c.s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  BERTH_ASSIGN_OR_RETURN(c.cg, state::cgroup_backend());
  c.group = state::ct_group_of(c.ct);
  if (c.s.running) return {};
  bool leftovers = c.cg->exists(c.group);
  BERTH_RETURN_IF_ERROR(repair(c.ct));
  if (!leftovers)
    return Error::with_status(exitcode::kNotRunning, "unable to stop: CT is not running");
  return {};
}

Status hold_netns(StopContext& c) {
  if (!c.s.running) return {};
  // The watcher must not take this init's end for a poweroff inside (monitor/client.h).
  monitor::release(c.ct.host(), c.ct.ctid());
  c.netns_hold = UniqueFd(
      ::open(("/proc/" + std::to_string(c.s.init_pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  auto fd = sys::pidfd_open(c.s.init_pid);
  if (fd.ok()) c.init_fd = std::move(fd).value();
  return {};
}

// Ask init to power off and wait up to STOP_TIMEOUT (not with --fast). The signal goes once
// init takes it (sys::signal_take); sent before, the kernel drops it (the namespace's init is not
// killed by a signal it does not handle), and the stop waited STOP_TIMEOUT for nothing: `start`
// returns once init is exec'd, and a stop right after it came before busybox's init had set its
// handlers (seen once in CI: a test's stop timed out). An init that only blocks it takes it when
// it has kept it blocked over kBlockedLooks looks kLook apart: systemd, which reads its signals
// from a signalfd, blocks them for good, but busybox's sh blocks every signal for a moment around
// each wait for a child and, with no handler, drops the signal once it unblocks it (a stop that
// sent it then waited STOP_TIMEOUT: LifecycleTest.AStopRightAfterTheStartWaitsForInitToTake-
// TheHaltSignal failed so once in CI, 26.9 s). An init still not taking it after 2 s never will:
// it is killed (kill_init) without the wait.
constexpr auto kLook = std::chrono::milliseconds(5);
constexpr int kBlockedLooks = 5;

Status halt_init(StopContext& c) {
  if (!c.s.running || c.opts.fast || !c.init_fd) return {};
  using Clock = std::chrono::steady_clock;
  const auto timeout = std::chrono::seconds(c.ct.stop_timeout());
  const auto grace_end = Clock::now() + std::min<Clock::duration>(std::chrono::seconds(2), timeout);
  int sig = halt_signal(c.s.init_pid);
  for (int blocked = 0;;) {
    sys::SignalTake take = sys::signal_take(c.s.init_pid, sig);
    if (take == sys::SignalTake::kHandled) break;
    blocked = take == sys::SignalTake::kBlocked ? blocked + 1 : 0;
    if (blocked >= kBlockedLooks) break;
    if (wait_exit(c.init_fd.get(), kLook)) {
      c.gone = true;
      return {};
    }
    if (Clock::now() >= grace_end) return {};
    int now_sig = halt_signal(c.s.init_pid);
    if (now_sig != sig) blocked = 0;
    sig = now_sig;
  }
  (void)sys::pidfd_send_signal(c.init_fd.get(), sig);
  c.gone = wait_exit(c.init_fd.get(), timeout);
  return {};
}

// The PID namespace dies with its init: waiting for it is cheaper than polling the cgroup.
Status kill_init(StopContext& c) {
  if (!c.s.running || c.gone) return {};
  if (c.init_fd) {
    (void)sys::pidfd_send_signal(c.init_fd.get(), SIGKILL);
    c.gone = wait_exit(c.init_fd.get(), std::chrono::seconds(5));
  }
  if (!c.gone) BERTH_RETURN_IF_ERROR(c.cg->kill_all(c.group).status(exitcode::kStopFailed));
  return {};
}

// The root's unmount on a thread of its own (once; not with skip_umount): it waits mostly on the
// disk (its file systems' sync), the rest of the stop on the kernel's cgroup and network teardown
// (rmdir of the groups, netlink, nftables, the traffic counters' file), so a stop costs the
// longer of the two instead of their sum. Without a thread to be had (the caller's process
// limit) umount_root unmounts after the network.
void begin_umount(StopContext& c) {
  if (c.opts.skip_umount || c.umount.valid()) return;
  try {
    c.umount = std::async(std::launch::async, [&ct = c.ct] { return storage::umount_root(ct); });
  } catch (const std::system_error&) {}
}

// Processes exec'ed into the CT die with its PID namespace; wait for the group to empty. Then no
// process of the CT is left to hold its root: the unmount begins while the groups are removed.
Status remove_cgroup(StopContext& c) {
  if (!c.s.running) return {};
  BERTH_RETURN_IF_ERROR(c.cg->kill_all(c.group).status(exitcode::kStopFailed));
  begin_umount(c);
  return c.cg->remove(c.group).status(exitcode::kStopFailed);
}

// The veths die with the CT's netns; their host ends (if still there), the host routes, the
// proxy neighbour entries and the anti-spoofing filters are removed here, while the root is
// unmounted (begin_umount; begun here for a CT that was not running).
Status detach_network(StopContext& c) {
  begin_umount(c);
  // Init is dead: the netns goes when we let go of it below, and the routed veth with it. Its
  // anti-spoofing elements stay (net::remove_filters): every process of the CT is gone, and the
  // host end of the veth, which lives on until the kernel has taken the namespace down, stays
  // filtered meanwhile.
  BERTH_RETURN_IF_ERROR(net::detach_network(c.ct, true, true).status(exitcode::kStopFailed));
  c.netns_hold.reset();
  return {};
}

Status umount_root(StopContext& c) {
  Status st = c.umount.valid()     ? c.umount.get()
              : c.opts.skip_umount ? Status{}
                                   : storage::umount_root(c.ct);
  c.closes.wait();
  return st;
}

constexpr std::array<Step<StopContext>, 7> kStopSteps{{
    {"query_state", query_state},
    {"hold_netns", hold_netns},
    {"halt_init", halt_init},
    {"kill_init", kill_init},
    {"remove_cgroup", remove_cgroup},
    {"detach_network", detach_network},
    {"umount_root", umount_root},
}};

}  // namespace

std::vector<std::string> stop_step_names() { return step_names<StopContext>(kStopSteps); }

Status stop(const CtConfig& ct, const StopOptions& opts) {
  ScopeExit end_server([&] {
    procsrv::stop_server_if_idle(ct.host());  // it ends with the last CT
    monitor::stop_if_idle(ct.host());
  });
  StopContext c{ct, opts, {}, nullptr, {}, {}, {}, false};
  return run_pipeline<StopContext>("stop", kStopSteps, c);
}

Status mount(const CtConfig& ct) {
  if (!sys::path_exists(ct.conf_path()))
    return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  return storage::mount_root(ct);
}

Status umount(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (s.running) return Error::with_status(exitcode::kRunning, "CT is running; stop it first");
  if (!s.mounted) {
    // A disk left mounted without VE_ROOT (a command killed between the two) goes all the same.
    BERTH_RETURN_IF_ERROR(storage::umount_root(ct));
    return Error::with_status(exitcode::kNotMounted, "CT is not mounted");
  }
  return storage::umount_root(ct);
}

}  // namespace berth::runtime
