// stop, mount, umount, repair: ending a CT's processes and tearing down what start made.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <thread>

#include "core/exit_codes.h"
#include "net/network.h"
#include "state/ct_cgroup.h"
#include "runtime/lifecycle.h"
#include "state/status.h"
#include "storage/root.h"
#include "sys/fs.h"
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
  struct pollfd p{pidfd, POLLIN, 0};
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
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string group = state::ct_group_of(ct);
  if (!cg->exists(group)) return {};
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (s.running) return {};
  // A cgroup without an init: a start killed half-way, or an init that died. Clean it.
  BERTH_RETURN_IF_ERROR(cg->kill_all(group).context("clean up after an interrupted command"));
  return cg->remove(group).context("clean up after an interrupted command");
}

Status stop(const CtConfig& ct, const StopOptions& opts) {
  ScopeExit end_server([&] { procsrv::stop_server_if_idle(ct.host()); });  // it ends with the last CT
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string group = state::ct_group_of(ct);
  // Held open, the CT's network namespace (and so its veth) outlives init until detach_routed
  // has saved the traffic counters of the veth and removed it.
  UniqueFd netns_hold;
  if (!s.running) {
    bool leftovers = cg->exists(group);
    BERTH_RETURN_IF_ERROR(repair(ct));
    if (!leftovers) return Error::with_status(exitcode::kNotRunning, "unable to stop: CT is not running");
  } else {
    netns_hold = UniqueFd(::open(("/proc/" + std::to_string(s.init_pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, s.init_pid, 0));
    UniqueFd guard(pidfd);
    bool gone = false;
    if (!opts.fast && pidfd >= 0) {
      ::syscall(SYS_pidfd_send_signal, pidfd, halt_signal(s.init_pid), nullptr, 0);
      gone = wait_exit(pidfd, std::chrono::seconds(ct.stop_timeout()));
    }
    if (!gone && pidfd >= 0) {
      // The PID namespace dies with its init: waiting for it is cheaper than polling the cgroup.
      ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      gone = wait_exit(pidfd, std::chrono::seconds(5));
    }
    if (!gone) {
      BERTH_RETURN_IF_ERROR(cg->kill_all(group).status(exitcode::kStopFailed));
    }
    // Processes exec'ed into the CT die with its PID namespace; wait for the group to empty.
    BERTH_RETURN_IF_ERROR(cg->kill_all(group).status(exitcode::kStopFailed));
    BERTH_RETURN_IF_ERROR(cg->remove(group).status(exitcode::kStopFailed));
  }
  // The veths die with the CT's netns; their host ends (if still there), the host routes, the
  // proxy neighbour entries and the anti-spoofing filters are removed here.
  BERTH_RETURN_IF_ERROR(net::detach_network(ct).status(exitcode::kStopFailed));
  netns_hold.reset();
  if (!opts.skip_umount) BERTH_RETURN_IF_ERROR(storage::umount_root(ct));
  return {};
}

Status mount(const CtConfig& ct) {
  if (!sys::path_exists(ct.conf_path())) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  return storage::mount_root(ct);
}

Status umount(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (s.running) return Error::with_status(exitcode::kRunning, "CT is running; stop it first");
  if (!s.mounted) return Error::with_status(exitcode::kNotMounted, "CT is not mounted");
  return storage::umount_root(ct);
}

}  // namespace berth::runtime
