// Parent (host) side of start: each step either succeeds or leaves nothing behind.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cgroups/backend.h"
#include "cgroups/convert.h"
#include "core/exit_codes.h"
#include "isolation/cgroupfs.h"
#include "isolation/rootfs.h"
#include "net/network.h"
#include "net/routed.h"
#include "net/shaper.h"
#include "runtime/child_init.h"
#include "runtime/ct_cgroup.h"
#include "runtime/ct_limits.h"
#include "runtime/lifecycle.h"
#include "runtime/status.h"
#include "runtime/sync.h"
#include "storage/root.h"
#include "sys/fs.h"
#include "sys/process.h"
#include "runtime/proc_repair.h"
#include "ubc/fs.h"

namespace berth::runtime {
namespace {

// Owns what start acquires, in order; destruction undoes it in reverse unless committed.
struct StartContext {
  const CtConfig& ct;
  cgroups::Backend& cg;
  std::string group;
  bool mounted_here = false;
  bool cgroup_made = false;
  sys::ChildProcess child;

  ~StartContext() {
    child.kill_and_reap();
    if (cgroup_made) {
      (void)cg.kill_all(group);
      (void)cg.remove(group);
    }
    if (mounted_here) (void)storage::umount_root(ct);
  }
  void commit() {
    child.release();
    cgroup_made = false;
    mounted_here = false;
  }
};

// init's stdout and stderr: the console log, opened through a detached bind mount of the file
// itself, so that /proc/1/fd/1 inside names "/" and not the log's host path (which would show
// BERTH_ROOT and the host's layout to the tenant). The detached mount lives as long as the open
// file; nothing is left mounted. Without the new mount API (before 5.2): the plain open file.
Result<UniqueFd> open_console_log(const CtConfig& ct) {
  std::string path = console_log_path(ct);
  BERTH_RETURN_IF_ERROR(make_dirs(ct.host().paths().log_dir, 0755));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open console log `" + path + "`");
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree) return fd;
  std::string via = "/proc/self/fd/" + std::to_string(tree.get());
  UniqueFd hidden(::open(via.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  return hidden ? std::move(hidden) : std::move(fd);
}

// Only the CT's own device nodes are usable. A CT in a user namespace cannot make device nodes
// anyway; for a privileged one this is the wall (v1 devices cgroup; v2 would need a BPF program,
// not written yet, so there the seccomp filter's mknod rule is all there is).
Status apply_device_rules(const CtConfig& ct, cgroups::Backend& cg, const std::string& group) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> rules, isolation::ct_device_rules(ct));
  auto st = cg.set_devices(group, rules);
  if (!st.ok() && st.error().code() == ENOTSUP) return {};
  return st;
}

// A parent step failed after the child was made: the child may have failed first and said why.
Error child_error_or(int sock, Error err) {
  struct pollfd p{sock, POLLIN, 0};
  if (::poll(&p, 1, 100) > 0) {
    auto r = sync_recv(sock);
    if (r.ok() && !r->eof && r->type == SyncMsg::kError) return error_from(*r);
  }
  return err;
}

Status wait_booted(pid_t init, unsigned timeout_s) {
  // The flag file is the CT's: looked up beneath its root, following none of its symlinks.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (sys::open_in_root_of(init, "run/berth-ready", O_PATH).ok()) return {};
    if (!sys::path_exists("/proc/" + std::to_string(init))) return Error::with_status(exitcode::kWaitFailed, "CT's init exited during boot");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Error::with_status(exitcode::kWaitFailed, "timed out waiting for the CT to boot");
}

}  // namespace

std::string console_log_path(const CtConfig& ct) { return ct.host().paths().log_dir + "/" + ct.ctid() + ".console.log"; }

Status start(const CtConfig& ct, const StartOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(CtStatus status, query_status(ct));
  if (!status.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (status.running) return Error::with_status(exitcode::kRunning, "CT is already running");
  if (ct.get_bool("DISABLED", false) && !opts.force)
    return Error::with_status(exitcode::kStartDisabled, "CT is disabled (DISABLED=yes); use --force to start it");
  BERTH_RETURN_IF_ERROR(check_privileged_trusted(ct));
  BERTH_RETURN_IF_ERROR(repair(ct));
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, cgroup_backend());

  StartContext ctx{ct, *cg, ct_group_of(ct)};
  if (!status.mounted) {
    BERTH_RETURN_IF_ERROR(storage::mount_root(ct).context("mount root"));
    ctx.mounted_here = true;
  }
  // The host's VE_ROOT is nosuid,nodev and closed to host users; the CT gets its own view.
  BERTH_ASSIGN_OR_RETURN(std::string attach_dir, storage::ct_attach_dir(ct));
  BERTH_ASSIGN_OR_RETURN(UniqueFd root_view, storage::ct_root_view(ct).context("mount root"));
  BERTH_RETURN_IF_ERROR(cg->create(ctx.group).context("create cgroup"));
  ctx.cgroup_made = true;
  bool userns = !ct.is_privileged();
  // The CT's root owns its group before anything of the CT runs: an init inside (systemd) makes
  // its sub-groups at once.
  if (userns) BERTH_RETURN_IF_ERROR(cg->delegate(ctx.group, ct.local_uid(), ct.local_gid()).context("delegate cgroup"));
  // The number and depth of the CT's own sub-groups are the host's to bound (v2).
  BERTH_ASSIGN_OR_RETURN(int64_t numcgroup, numcgroup_of(ct));
  BERTH_RETURN_IF_ERROR(cg->limit_nesting(ctx.group, numcgroup, kMaxCgroupDepth).context("limit nested cgroups"));
  BERTH_RETURN_IF_ERROR(apply_device_rules(ct, *cg, ctx.group).context("set device access"));
  // Limits go on before the child exists, so nothing of the CT ever runs without them.
  std::vector<std::string> notes;
  BERTH_ASSIGN_OR_RETURN(cgroups::Resources limits, ct_resources(ct, &notes));
  BERTH_RETURN_IF_ERROR(cg->apply(ctx.group, limits).context("apply resource limits"));
  BERTH_ASSIGN_OR_RETURN(ProcLimits proc_limits, proc_limits_from([&ct](std::string_view k) { return ct.get(k); }));
  for (auto& n : rlimit_clamp_notes(proc_limits)) notes.push_back(std::move(n));
  if (!userns) {
    // Without a user namespace /proc/sys/user is the host's: the CT's values cannot go there.
    proc_limits.inotify_instances.reset();
    proc_limits.inotify_watches.reset();
  }
  for (const auto& n : notes) std::fprintf(stderr, "Warning: %s\n", n.c_str());
  BERTH_ASSIGN_OR_RETURN(UniqueFd cgfd, cg->open_for_clone(ctx.group));
  BERTH_ASSIGN_OR_RETURN(UniqueFd console, open_console_log(ct));
  BERTH_ASSIGN_OR_RETURN(SyncPair sync, make_sync_pair());
  // The CT's /run/berth/user_beancounters is served by the instance's FUSE server (ubc/fs.h); if
  // it cannot run, the CT starts without that file.
  auto ubc_use = ubc::ensure_server(ct.host());
  if (ubc_use.ok() && ubc_use->revived()) repair_dead_proc_views(ct.host());
  auto clone_served = [&](const std::string& path) {
    return UniqueFd(ubc_use.ok() ? static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC))
                                 : -1);
  };
  UniqueFd ubc_file = clone_served(ubc::served_path(ct.host(), ct.ctid()));
  // And /proc/user_beancounters: the CT's /proc is the server's view (ubc/proc_view.h), unless
  // PROC_BEANCOUNTERS="no" asks for a plain procfs.
  UniqueFd proc_view;
  if (ct.get_or("PROC_BEANCOUNTERS", "yes") != "no") proc_view = clone_served(ubc::served_proc_path(ct.host(), ct.ctid()));

  ChildArgs args;
  args.ct = &ct;
  args.root = attach_dir;
  args.root_fd = root_view.get();
  args.userns = userns;
  args.wait_cgroup = !cgfd.valid();
  args.sync_fd = sync.child.get();
  args.console_fd = console.get();
  std::vector<isolation::HostHierarchy> hier;
  // v1 hierarchies the CT's root does not get are mounted read-only inside, so an init there sees
  // at once that it cannot make groups in them (the wall itself is the group's owner).
  for (const auto& h : cg->hierarchies())
    hier.push_back({h.mount, h.options, userns && !cg->delegates(h)});
  args.cgroup_fs = isolation::plan_cgroup_fs(std::string_view(cg->name()) == "v2", hier);
  args.beancounters_fd = ubc_file.get();
  args.proc_view_fd = proc_view.get();
  args.limits = proc_limits;
  uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
  if (userns) flags |= CLONE_NEWUSER;
  // Cloned straight into its cgroup (v2), the child may get its cgroup namespace at once.
  if (cgfd.valid()) flags |= CLONE_NEWCGROUP;
  int parent_end = sync.parent.get();
  // The CT's user namespace is owned by the CT's root id on the host, not by host root: what the
  // kernel counts per user (inotify instances and watches, namespaces) is charged at the host
  // level to LOCAL_UID, so a CT cannot use up host root's share (docs/security/limits.md).
  sys::NsOwner owner{ct.local_uid(), ct.local_gid()};
  BERTH_ASSIGN_OR_RETURN(ctx.child, sys::clone_child_owned(owner, flags, cgfd.get(), [&] {
    // The child's copy of the parent's end would keep the socket open if `berth start` is
    // killed: the child would wait for a message forever (holding the CT's lock). Closed, a
    // dead parent is an EOF and the child exits.
    ::close(parent_end);
    return child_init(args);
  }));
  sync.child.reset();

  int sock = sync.parent.get();
  // Network (IP_ADDRESS, NETIF, anti-spoofing filters; nothing without them): the CT ends of the
  // veths are made straight in the child's netns and configured from there. A CT in a user
  // namespace still waits for its id maps, so its init starts with its network; the guard removes
  // the host side on failure.
  auto net_link = net::attach_network(ct, ctx.child.pid()).context("set up network");
  if (!net_link.ok()) return child_error_or(sock, std::move(net_link).error());
  // RATE: tbf qdiscs on the host veth and its ifb (removed with the link by the guard).
  if (auto shaped = net::apply_shaping(ct); !shaped.ok()) return child_error_or(sock, std::move(shaped).error());
  if (userns) {
    auto st = sys::write_id_maps(ctx.child.pid(), ct.local_uid(), ct.local_gid(), kIdRangeSize).context("write id maps");
    if (st.ok()) st = sync_send(sock, SyncMsg::kMapsDone);
    if (!st.ok()) return child_error_or(sock, std::move(st).error());
  }
  if (!cgfd.valid()) {
    // cgroup v1: join from here while the child mounts (the first attach can stall ~10 ms).
    auto st = cg->attach(ctx.group, ctx.child.pid());
    if (st.ok()) st = sync_send(sock, SyncMsg::kCgroupDone);
    if (!st.ok()) return child_error_or(sock, std::move(st).error());
  }

  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(sync.parent.get()));
  if (!r.eof) return error_from(r);
  // EOF: the child exec'ed init, or died before saying why.
  if (ctx.child.has_exited()) return Error::with_status(exitcode::kSystem, "CT's init exited before it could run");
  pid_t init = ctx.child.pid();
  net_link->release();
  ctx.commit();
  if (ubc_use.ok()) ubc_use->commit();
  if (opts.wait) BERTH_RETURN_IF_ERROR(wait_booted(init, opts.wait_timeout));
  return {};
}

}  // namespace berth::runtime
