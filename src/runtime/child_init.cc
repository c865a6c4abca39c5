// Child side of the start pipeline (ARCHITECTURE.md section 2), pipeline "start-child": wait for
// id maps -> mounts -> pivot_root -> hostname and in-CT files -> loopback -> cgroup namespace ->
// seccomp -> drop caps; then close fds and exec init. A failed step (or one BERTH_FAIL_STEP
// names) is reported to the parent over the sync socket with its errno and exit status.
#include "runtime/child_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "dist/files.h"
#include "dist/net_config.h"
#include "dist/network.h"
#include "dist/users.h"
#include "isolation/cgroupfs.h"
#include "isolation/caps.h"
#include "isolation/proc_mask.h"
#include "isolation/rootfs.h"
#include "isolation/seccomp.h"
#include "isolation/timens.h"
#include "net/addr.h"
#include "runtime/ct_limits.h"
#include "runtime/pipeline.h"
#include "runtime/sync.h"
#include "sys/kernel.h"
#include "sys/pidfd.h"

namespace berth::runtime {
namespace {

struct ChildContext {
  const ChildArgs& a;
  std::optional<std::string> host_resolv;
  std::vector<int> caps;
  UniqueFd console;  // the slave of the CT's console pty: init's stdout and stderr
};

// Die with the parent until init is exec'ed: a killed `berth start` leaves no half-made CT.
Status set_parent_death_signal(ChildContext&) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Error::from_errno(errno, "prctl PDEATHSIG");
  return {};
}

// v1: into the CT's groups by ourselves, through files the parent opened (as host root): a
// thread moving itself waits for no RCU grace period (cgroups/backend.h).
Status join_cgroup_self(ChildContext& c) {
  for (int fd : c.a.self_join)
    if (::write(fd, "0", 1) != 1) return Error::from_errno(errno, "join the CT's cgroup");
  for (int fd : c.a.self_join) ::close(fd);
  return {};
}

// Nothing in a new user namespace works before its id maps exist.
Status wait_id_maps(ChildContext& c) {
  return c.a.userns ? sync_expect(c.a.sync_fd, SyncMsg::kMapsDone) : Status{};
}

Status become_root(ChildContext& c) {
  if (!c.a.userns) return {};
  if (::setgroups(0, nullptr) != 0 && errno != EPERM) return Error::from_errno(errno, "setgroups");
  if (::setresgid(0, 0, 0) != 0) return Error::from_errno(errno, "setresgid 0");
  if (::setresuid(0, 0, 0) != 0) return Error::from_errno(errno, "setresuid 0");
  return {};
}

// Per-user inotify limits of the CT's own user namespace (docs/security/limits.md), written
// through the CT's fresh procfs before mask_proc makes its /proc/sys read-only. Not through a
// procfs every CT's child shares (the host's, the staging namespace's): there the dentries of
// /proc/sys/user/* of each user namespace that ever looked pile up under one name, and each
// lookup walks them all (0.2 -> 4.6 ms from the first to the thousandth CT).
Status apply_userns_limits(ChildContext& c) {
  if (!c.a.userns) return {};
  return apply_userns_limits_self(c.a.limits).context("set inotify limits");
}

// The host's resolv.conf (for `inherit`), read by the parent: a child cloned from the staging
// namespace (isolation/staging.h) has no host files.
Status read_host_resolv(ChildContext& c) {
  c.host_resolv = c.a.host_resolv;
  return {};
}

Status set_up_mounts(ChildContext& c) {
  const ChildArgs& a = c.a;
  int master = -1;
  isolation::RootfsPlan plan{
      a.root, a.root_fd, a.userns, a.beancounters_fd, a.limits.pty_max.value_or(0), &master};
  BERTH_RETURN_IF_ERROR(isolation::setup_rootfs_from_child(*a.ct, plan).context("set up mounts"));
  // The console's master goes to the parent (then the watcher); the CT keeps only the slave.
  UniqueFd m(master);
  if (m) {
    c.console.reset(::ioctl(m.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (c.console) BERTH_RETURN_IF_ERROR(sync_send_fd(a.sync_fd, m.get()));
  }
  return {};
}

// systemd's notify socket for start --wait (start.cc open_notify_socket), at a name in the CT's
// fresh /run: the host's socket file itself, attached from its detached mount.
Status attach_notify_socket(ChildContext& c) {
  if (c.a.notify_fd < 0) return {};
  if (::mkdir("/run/host", 0755) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `/run/host`");
  UniqueFd target(::open(c.a.notify_socket.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!target) return Error::from_errno(errno, "create `" + c.a.notify_socket + "`");
  return sys::kernel().move_mount(c.a.notify_fd, c.a.notify_socket).context("attach notify socket");
}

Status mask_proc(ChildContext& c) { return isolation::mask_proc(c.a.userns).context("mask /proc"); }

// /proc/user_beancounters: /proc becomes the server's view, the procfs goes under it (any
// failure leaves the plain procfs: not an error).
Status attach_proc_view(ChildContext& c) {
  isolation::attach_proc_view(c.a.proc_view_fd);
  isolation::attach_proc_files(c.a.proc_files);
  return {};
}

Status configure_inside(ChildContext& c) {
  const CtConfig& ct = *c.a.ct;
  std::string host_resolv = c.host_resolv.value_or("");
  std::string hostname = ct.hostname();
  // As vzctl's dist scripts: the kernel hostname is the whole configured name.
  std::string uts = hostname.empty() ? ct.ctid() : hostname.substr(0, 64);
  if (::sethostname(uts.c_str(), uts.size()) != 0)
    return Error::from_errno(errno, "sethostname `" + uts + "`");
  // /etc/hosts names the CT's first address (IP_ADDRESS), as vzctl's set_hostname.sh does.
  std::string ip = dist::first_address(ct.get_or("IP_ADDRESS", ""));
  if (!hostname.empty())
    BERTH_RETURN_IF_ERROR(dist::set_hostname(hostname, "", ip).context("set hostname files"));
  auto ns = dist::resolve_inherit(ct.list("NAMESERVER"), host_resolv, true);
  auto sd = dist::resolve_inherit(ct.list("SEARCHDOMAIN"), host_resolv, false);
  if (!ns.empty() || !sd.empty()) BERTH_RETURN_IF_ERROR(dist::set_dns(ns, sd).context("set DNS"));
  // The addresses in the distribution's own network files, so its tools keep them.
  return dist::set_ct_network(ct, {net::kCtIfname, net::kGatewayV4, net::kGatewayV6});
}

// Its uptime counts from now. Before attach_proc_view: the /proc files this reads and writes are
// then the CT's own procfs, not lookups through the /proc server's view (a round trip to it per
// path component it serves, 0.1-0.7 ms in all).
Status enter_time_namespace(ChildContext&) { return isolation::enter_own_time_namespace(); }

// In the CT's IPC namespace (its /proc/sys/kernel/shm* are open again after mask_proc) and on
// init itself, so everything it starts inherits them.
Status apply_proc_limits(ChildContext& c) {
  return apply_proc_limits_self(c.a.limits).context("set process limits");
}

Status bring_up_loopback(ChildContext&) { return isolation::bring_up_loopback(); }

// The parent made the network and (v1) moved us into the CT's cgroup while we did the mounts
// (hiding both, the cgroup v1 attach latency too); it says so before anything below, so init
// starts with its network, and a v1 cgroup namespace's root is our group.
Status join_cgroup_namespace(ChildContext& c) {
  BERTH_RETURN_IF_ERROR(sync_expect(c.a.sync_fd, SyncMsg::kCgroupDone));
  if (!c.a.wait_cgroup) return {};
  if (::unshare(CLONE_NEWCGROUP) != 0) return Error::from_errno(errno, "unshare cgroup namespace");
  return {};
}

// Only now is the cgroup namespace's root the CT's own group (v1 joined it just above).
Status mount_cgroup_fs(ChildContext& c) {
  return isolation::mount_cgroup_fs_from_child(c.a.cgroup_fs).context("mount cgroup file system");
}

// Load the filter before drop_caps: VPS mode cannot set no_new_privs (setuid su/sudo must work
// inside), and without it seccomp(2) needs CAP_SYS_ADMIN. The filter allows the capset/prctl
// calls that drop_caps makes next.
Status load_seccomp(ChildContext& c) {
  BERTH_ASSIGN_OR_RETURN(c.caps, isolation::ct_capabilities(*c.a.ct));
  return isolation::load_seccomp_filter(!c.a.userns).context("load seccomp filter");
}

Status drop_caps(ChildContext& c) {
  return isolation::drop_caps(c.caps).context("drop capabilities");
}

constexpr std::array<Step<ChildContext>, 18> kChildSteps{{
    {"set_parent_death_signal", set_parent_death_signal},
    {"join_cgroup_self", join_cgroup_self},
    {"wait_id_maps", wait_id_maps},
    {"become_root", become_root},
    {"read_host_resolv", read_host_resolv},
    {"set_up_mounts", set_up_mounts},
    {"apply_userns_limits", apply_userns_limits},
    {"attach_notify_socket", attach_notify_socket},
    {"mask_proc", mask_proc},
    {"enter_time_namespace", enter_time_namespace},
    {"attach_proc_view", attach_proc_view},
    {"configure_inside", configure_inside},
    {"apply_proc_limits", apply_proc_limits},
    {"bring_up_loopback", bring_up_loopback},
    {"join_cgroup_namespace", join_cgroup_namespace},
    {"mount_cgroup_fs", mount_cgroup_fs},
    {"load_seccomp", load_seccomp},
    {"drop_caps", drop_caps},
}};

}  // namespace

std::vector<std::string> start_child_step_names() { return step_names<ChildContext>(kChildSteps); }

int child_init(const ChildArgs& a) {
  ChildContext c{a, std::nullopt, {}};
  auto st = run_pipeline<ChildContext>("start-child", kChildSteps, c);
  if (!st.ok()) {
    sync_report_error(a.sync_fd, st.error());
    return kChildSetupFailed;
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) ::dup2(devnull, 0);
  if (c.console) {
    // As on a real machine, init writes to the console.
    ::dup2(c.console.get(), 1);
    ::dup2(c.console.get(), 2);
  } else if (a.console_fd >= 0) {
    ::dup2(a.console_fd, 1);
    ::dup2(a.console_fd, 2);
  } else if (devnull >= 0) {
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }
  // Everything else (the sync socket included) closes on exec: its EOF tells the parent "ok".
  (void)sys::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, 0);
  const char* argv[] = {"/sbin/init", nullptr};
  std::string notify = "NOTIFY_SOCKET=" + a.notify_socket;
  const char* envp[] = {"container=berth",
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "TERM=linux",
                        "HOME=/root",
                        a.notify_socket.empty() ? nullptr : notify.c_str(),
                        nullptr};
  ::execve(argv[0], const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  int err = errno;
  sync_report_error(a.sync_fd, Error::from_errno(err, "exec /sbin/init").status(exitcode::kBadCt));
  return kChildSetupFailed;
}

}  // namespace berth::runtime
