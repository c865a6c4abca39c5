// Child side of the start pipeline (ARCHITECTURE.md section 2): wait for id maps -> mounts ->
// pivot_root -> hostname and in-CT files -> loopback -> cgroup namespace -> seccomp -> drop caps
// -> close fds -> exec init.
#include "runtime/child_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dist/files.h"
#include "dist/net_config.h"
#include "dist/users.h"
#include "isolation/cgroupfs.h"
#include "isolation/caps.h"
#include "isolation/proc_mask.h"
#include "isolation/rootfs.h"
#include "isolation/seccomp.h"
#include "isolation/timens.h"
#include "runtime/ct_limits.h"
#include "runtime/sync.h"

namespace berth::runtime {
namespace {

Status become_root() {
  if (::setgroups(0, nullptr) != 0 && errno != EPERM) return Error::from_errno(errno, "setgroups");
  if (::setresgid(0, 0, 0) != 0) return Error::from_errno(errno, "setresgid 0");
  if (::setresuid(0, 0, 0) != 0) return Error::from_errno(errno, "setresuid 0");
  return {};
}

// host_resolv: the host's /etc/resolv.conf, for NAMESERVER/SEARCHDOMAIN `inherit`.
Status configure_inside(const CtConfig& ct, const std::string& host_resolv) {
  std::string hostname = ct.hostname();
  // As vzctl's dist scripts: the kernel hostname is the whole configured name.
  std::string uts = hostname.empty() ? ct.ctid() : hostname.substr(0, 64);
  if (::sethostname(uts.c_str(), uts.size()) != 0) return Error::from_errno(errno, "sethostname `" + uts + "`");
  // /etc/hosts names the CT's first address (IP_ADDRESS), as vzctl's set_hostname.sh does.
  std::string ip = dist::first_address(ct.get_or("IP_ADDRESS", ""));
  if (!hostname.empty()) BERTH_RETURN_IF_ERROR(dist::set_hostname(hostname, "", ip).context("set hostname files"));
  auto ns = dist::resolve_inherit(ct.list("NAMESERVER"), host_resolv, true);
  auto sd = dist::resolve_inherit(ct.list("SEARCHDOMAIN"), host_resolv, false);
  if (!ns.empty() || !sd.empty()) BERTH_RETURN_IF_ERROR(dist::set_dns(ns, sd).context("set DNS"));
  return {};
}

Status setup(const ChildArgs& a) {
  const CtConfig& ct = *a.ct;
  // Die with the parent until init is exec'ed: a killed `berth start` leaves no half-made CT.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Error::from_errno(errno, "prctl PDEATHSIG");
  if (a.userns) {
    BERTH_RETURN_IF_ERROR(sync_expect(a.sync_fd, SyncMsg::kMapsDone));
    BERTH_RETURN_IF_ERROR(become_root());
    // Per-user inotify limits of the CT's own user namespace, while the host's /proc is still
    // here (the CT's /proc/sys is read-only to it; docs/security/limits.md).
    BERTH_RETURN_IF_ERROR(apply_userns_limits_self(a.limits).context("set inotify limits"));
  }
  // The host's resolv.conf, read while the host's root is still ours (for `inherit`).
  BERTH_ASSIGN_OR_RETURN(auto host_resolv, dist::read_if_exists("/etc/resolv.conf"));
  isolation::RootfsPlan plan{a.root, a.root_fd, a.userns, a.beancounters_fd, a.limits.pty_max.value_or(0)};
  BERTH_RETURN_IF_ERROR(isolation::setup_rootfs_from_child(ct, plan).context("set up mounts"));
  BERTH_RETURN_IF_ERROR(isolation::mask_proc(a.userns).context("mask /proc"));
  // /proc/user_beancounters: /proc becomes the server's view, the procfs goes under it.
  isolation::attach_proc_view(a.proc_view_fd);
  BERTH_RETURN_IF_ERROR(configure_inside(ct, host_resolv.value_or("")));
  // Its uptime counts from now.
  BERTH_RETURN_IF_ERROR(isolation::enter_own_time_namespace());
  // In the CT's IPC namespace (its /proc/sys/kernel/shm* are open again after mask_proc) and on
  // init itself, so everything it starts inherits them.
  BERTH_RETURN_IF_ERROR(apply_proc_limits_self(a.limits).context("set process limits"));
  BERTH_RETURN_IF_ERROR(isolation::bring_up_loopback());
  if (a.wait_cgroup) {
    // The parent moves us into the CT's cgroup while we did the mounts (hiding the cgroup v1
    // attach latency); the cgroup namespace must be made after that, so its root is our group.
    BERTH_RETURN_IF_ERROR(sync_expect(a.sync_fd, SyncMsg::kCgroupDone));
    if (::unshare(CLONE_NEWCGROUP) != 0) return Error::from_errno(errno, "unshare cgroup namespace");
  }
  // Only now is the cgroup namespace's root the CT's own group (v1 joined it just above).
  BERTH_RETURN_IF_ERROR(isolation::mount_cgroup_fs_from_child(a.cgroup_fs).context("mount cgroup file system"));
  BERTH_ASSIGN_OR_RETURN(std::vector<int> caps, isolation::ct_capabilities(ct));
  // Load the filter before drop_caps(): VPS mode cannot set no_new_privs (setuid su/sudo must
  // work inside), and without it seccomp(2) needs CAP_SYS_ADMIN. The filter allows the
  // capset/prctl calls that drop_caps() makes next.
  BERTH_RETURN_IF_ERROR(isolation::load_seccomp_filter(!a.userns).context("load seccomp filter"));
  BERTH_RETURN_IF_ERROR(isolation::drop_caps(caps).context("drop capabilities"));
  return {};
}

}  // namespace

int child_init(const ChildArgs& a) {
  auto st = setup(a);
  if (!st.ok()) {
    sync_report_error(a.sync_fd, st.error());
    return kChildSetupFailed;
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) ::dup2(devnull, 0);
  if (a.console_fd >= 0) {
    ::dup2(a.console_fd, 1);
    ::dup2(a.console_fd, 2);
  } else if (devnull >= 0) {
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }
  // Everything else (the sync socket included) closes on exec: its EOF tells the parent "ok".
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, 0);
  const char* argv[] = {"/sbin/init", nullptr};
  const char* envp[] = {"container=berth", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "TERM=linux", "HOME=/root", nullptr};
  ::execve(argv[0], const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  int err = errno;
  sync_report_error(a.sync_fd, Error::from_errno(err, "exec /sbin/init").status(exitcode::kBadCt));
  return kChildSetupFailed;
}

}  // namespace berth::runtime
