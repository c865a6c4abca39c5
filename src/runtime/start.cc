// Parent (host) side of start, as a pipeline of named steps (runtime/start_steps.h): each step
// either succeeds or leaves what it made to the context, whose destruction undoes it. The child
// side is runtime/child_init.cc; docs/runtime.md numbers the same steps.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>
#include <system_error>
#include <exception>

#include "cgroups/convert.h"
#include "core/ct_model.h"
#include "core/exit_codes.h"
#include "isolation/cgroupfs.h"
#include "isolation/rootfs.h"
#include "isolation/staging.h"
#include "dist/files.h"
#include "monitor/client.h"
#include "monitor/report.h"
#include "net/network.h"
#include "net/routed.h"
#include "net/shaper.h"
#include "state/ct_cgroup.h"
#include "state/instance_owner.h"
#include "runtime/proc_repair.h"
#include "runtime/start_steps.h"
#include "storage/disk.h"
#include "sys/blockdev.h"
#include "storage/root.h"
#include "sys/fs.h"

namespace berth::runtime {
namespace {

constexpr std::array<Step<StartContext>, 19> kStartSteps{{
    {"validate_config", validate_config},
    {"repair_leftovers", repair_leftovers},
    // The first start of an instance: its /proc server comes up while the root is mounted.
    {"spawn_ubc_server", spawn_ubc_server},
    // The group is made beside the root's mount (begin_cgroup) and waited for by create_cgroup.
    {"begin_cgroup", begin_cgroup},
    {"mount_root", mount_root},
    {"open_root_view", open_root_view},
    {"create_cgroup", create_cgroup},
    // Limits go on before the child exists, so nothing of the CT ever runs without them.
    {"apply_limits", apply_limits},
    {"open_console_log", open_console_log},
    {"open_notify_socket", open_notify_socket},
    {"prepare_child", prepare_child},
    {"ensure_ubc_server", ensure_ubc_server},
    {"clone_child", clone_child},
    // The id maps first: the child then mounts while the network is made here. It waits for
    // release_child before its cgroup namespace and init, so init starts with its network.
    {"write_id_maps", write_id_maps},
    {"attach_network", attach_network},
    {"apply_shaping", apply_shaping},
    {"join_cgroup_v1", join_cgroup_v1},
    {"release_child", release_child},
    {"wait_child", wait_child},
}};

// A parent step failed after the child was made: the child may have failed first and said why.
Error child_error_or(int sock, Error err) {
  struct pollfd p {
    sock, POLLIN, 0
  };
  while (::poll(&p, 1, 100) > 0) {
    auto r = sync_recv(sock);
    if (!r.ok() || r->eof) break;
    if (r->type == SyncMsg::kError) return error_from(*r);
    // A console fd sent before the failure: closed here.
  }
  return err;
}

// systemd as PID 1 sends READY=1 to $NOTIFY_SOCKET when its boot transaction is done (the
// system is then "running" or "degraded"). Anything in the CT may write to the socket: only a
// bounded datagram is read, and a false READY=1 only ends the CT's own start --wait early.
Status wait_notified(int sock, pid_t init, unsigned timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return Error::with_status(exitcode::kWaitFailed,
                                "timed out waiting for systemd in the CT to finish booting");
    struct pollfd p {
      sock, POLLIN, 0
    };
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (r < 0 && errno != EINTR) return Error::from_errno(errno, "poll notify socket");
    if (r > 0) {
      ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        std::string_view msg(buf, static_cast<size_t>(n));
        if (msg.starts_with("READY=1") || msg.find("\nREADY=1") != std::string_view::npos)
          return {};
      }
    }
    if (!sys::path_exists("/proc/" + std::to_string(init)))
      return Error::with_status(exitcode::kWaitFailed, "CT's init exited during boot");
  }
}

Status wait_booted(pid_t init, unsigned timeout_s) {
  // The flag file is the CT's: looked up beneath its root, following none of its symlinks.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (sys::open_in_root_of(init, "run/berth-ready", O_PATH).ok()) return {};
    if (!sys::path_exists("/proc/" + std::to_string(init)))
      return Error::with_status(exitcode::kWaitFailed, "CT's init exited during boot");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Error::with_status(exitcode::kWaitFailed, "timed out waiting for the CT to boot");
}

struct BootContext {
  pid_t init;
  unsigned timeout;
  int notify;  // systemd's notify socket, or -1 (then the marker file)
};
Status wait_booted_step(BootContext& b) {
  return b.notify >= 0 ? wait_notified(b.notify, b.init, b.timeout)
                       : wait_booted(b.init, b.timeout);
}
constexpr std::array<Step<BootContext>, 1> kBootSteps{{{"wait_booted", wait_booted_step}}};

}  // namespace

UnlinkAtEnd::~UnlinkAtEnd() {
  if (!path.empty()) ::unlink(path.c_str());
}

std::span<const Step<StartContext>> start_steps() { return kStartSteps; }
std::vector<std::string> start_parent_step_names() { return step_names(start_steps()); }

void StartContext::commit() {
  network.release();
  child.release();
  cgroup.release();
  root.release();
  disk.release();
  if (ubc) ubc->commit();
}

// Load and validate: the CT's state (exists 14, not running 32), every value of its config
// (core/ct_model.h: exit 21 naming the key), not disabled (105), a privileged CT only when trusted
// (12), and what start derives from the values (limits, rlimits, NUMCGROUP, DEVNODES), so a bad
// value fails here, before anything is mounted or made.
Status validate_config(StartContext& ctx) {
  const CtConfig& ct = ctx.ct;
  BERTH_ASSIGN_OR_RETURN(ctx.status, state::query_status(ct));
  if (!ctx.status.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (ctx.status.running) return Error::with_status(exitcode::kRunning, "CT is already running");
  BERTH_RETURN_IF_ERROR(berth::validate_config(ct));
  if (ct.get_bool("DISABLED", false) && !ctx.opts.force)
    return Error::with_status(exitcode::kStartDisabled,
                              "CT is disabled (DISABLED=yes); use --force to start it");
  BERTH_RETURN_IF_ERROR(check_privileged_trusted(ct));
  ctx.userns = !ct.is_privileged();
  if (!ctx.cg) {
    BERTH_ASSIGN_OR_RETURN(ctx.cg, state::cgroup_backend());
  }
  ctx.group = state::ct_group_of(ct);
  BERTH_ASSIGN_OR_RETURN(ctx.limits, ct_resources(ct, &ctx.notes));
  BERTH_ASSIGN_OR_RETURN(ctx.proc_limits,
                         proc_limits_from([&ct](std::string_view k) { return ct.get(k); }));
  for (auto& n : rlimit_clamp_notes(ctx.proc_limits)) ctx.notes.push_back(std::move(n));
  if (!ctx.userns) {
    // Without a user namespace /proc/sys/user is the host's: the CT's values cannot go there.
    ctx.proc_limits.inotify_instances.reset();
    ctx.proc_limits.inotify_watches.reset();
  }
  BERTH_ASSIGN_OR_RETURN(ctx.numcgroup, state::numcgroup_of(ct));
  if (auto mode = proc_mode(ct, isolation::InitKind::kOther); !mode.ok()) return mode.error();
  BERTH_ASSIGN_OR_RETURN(ctx.device_rules,
                         isolation::ct_device_rules(ct).context("set device access"));
  return {};
}

// What a killed command left (a cgroup without init) goes first.
Status repair_leftovers(StartContext& ctx) { return repair(ctx.ct); }

// VE_ROOT, unless it is mounted already (`berth mount`; then it stays mounted after a failure).
Status mount_root(StartContext& ctx) {
  if (ctx.status.mounted) return {};
  BERTH_RETURN_IF_ERROR(storage::mount_root(ctx.ct).context("mount root"));
  // A failed start leaves the CT as it found it: neither VE_ROOT nor its disk mounted (the loop
  // device goes with the disk's unmount).
  if (storage::has_disk(ctx.ct)) ctx.disk = sys::MountGuard(storage::disk_mount_path(ctx.ct));
  ctx.root = sys::MountGuard(ctx.ct.ve_root());
  return {};
}

// The host's VE_ROOT is nosuid,nodev and closed to host users; the CT gets its own view.
Status open_root_view(StartContext& ctx) {
  // Cloned from the staging namespace, the child attaches its root at the staging /ct: the
  // host's attach directory (which the CT's root id must be able to reach) is not needed.
  if (isolation::staging_namespace() < 0) {
    BERTH_ASSIGN_OR_RETURN(ctx.attach_dir, storage::ct_attach_dir(ctx.ct));
  }
  BERTH_ASSIGN_OR_RETURN(ctx.root_view, storage::ct_root_view(ctx.ct).context("mount root"));
  // What boots decides what /proc is and how --wait learns the boot is over.
  ctx.init = isolation::init_kind(ctx.root_view.get());
  BERTH_ASSIGN_OR_RETURN(ctx.proc_mode, proc_mode(ctx.ct, ctx.init));
  return {};
}

namespace {

// The CT's group in every hierarchy, owned by the CT's root, bounded, with its device list.
Status make_cgroup(StartContext& ctx) {
  cgroups::Backend& cg = *ctx.cg;
  {
    // Made (new: exit 9 if another root's start made it), named ours, and the instance claimed,
    // as one step for every root of the host (state/instance_owner.h).
    BERTH_ASSIGN_OR_RETURN(state::InstanceGate gate,
                           state::InstanceGate::enter(ctx.ct.host(), cg, true));
    BERTH_RETURN_IF_ERROR(cg.create(ctx.group).context("create cgroup"));
    ctx.cgroup = cgroups::CgroupGuard(cg, ctx.group);
    state::mark_ct_group(ctx.ct.host(), cg, ctx.ct.ctid());
    BERTH_RETURN_IF_ERROR(state::claim_instance(ctx.ct.host(), cg, ctx.ct.ctid()));
  }
  // The CT's root owns its group before anything of the CT runs: an init inside (systemd) makes
  // its sub-groups at once.
  if (ctx.userns)
    BERTH_RETURN_IF_ERROR(
        cg.delegate(ctx.group, ctx.ct.local_uid(), ctx.ct.local_gid()).context("delegate cgroup"));
  // The number and depth of the CT's own sub-groups are the host's to bound (v2).
  BERTH_RETURN_IF_ERROR(cg.limit_nesting(ctx.group, ctx.numcgroup, state::kMaxCgroupDepth)
                            .context("limit nested cgroups"));
  // Only the CT's own device nodes are usable. A CT in a user namespace cannot make device nodes
  // anyway; for a privileged one this is the wall (v1 devices cgroup; v2 would need a BPF
  // program, not written yet, so there the seccomp filter's mknod rule is all there is).
  auto dev = cg.set_devices(ctx.group, ctx.device_rules);
  if (!dev.ok() && dev.error().code() != ENOTSUP)
    return std::move(dev).context("set device access");
  return {};
}

}  // namespace

// The group is made on a thread of its own while the root is mounted: both are the kernel's work
// (mkdir in every hierarchy; the loop device, ext4 and the overlay), each about what the other
// leaves a second CPU idle for. It touches only the group's fields of the context. Without a
// thread to be had (the caller's process limit), create_cgroup makes it.
Status begin_cgroup(StartContext& ctx) {
  try {
    ctx.cgroup_worker.thread = std::thread([&ctx] {
      try {
        ctx.cgroup_made = make_cgroup(ctx);
      } catch (const std::exception& e) {
        ctx.cgroup_made = Error::with_status(exitcode::kSystem, e.what());
      }
    });
  } catch (const std::system_error&) {}
  return {};
}

Status create_cgroup(StartContext& ctx) {
  if (!ctx.cgroup_worker.thread.joinable()) return make_cgroup(ctx);
  ctx.cgroup_worker.thread.join();
  return std::exchange(ctx.cgroup_made, Status{});
}

// Resource limits on the group; the warnings about clamped values are printed here (they do not
// stop the start).
Status apply_limits(StartContext& ctx) {
  // The disk's loop device exists only now that the root is mounted.
  if (storage::has_disk(ctx.ct) && (ctx.limits.io_bps || ctx.limits.io_iops))
    if (auto d = sys::disk_of_path(storage::disk_mount_path(ctx.ct)); d.ok() && !d->empty())
      ctx.limits.io_device = *d;
  BERTH_RETURN_IF_ERROR(ctx.cg->apply(ctx.group, ctx.limits).context("apply resource limits"));
  for (const auto& n : ctx.notes) std::fprintf(stderr, "Warning: %s\n", n.c_str());
  return {};
}

// init's stdout and stderr: the console log, opened through a detached bind mount of the file
// itself, so that /proc/1/fd/1 inside names "/" and not the log's host path (which would show
// BERTH_ROOT and the host's layout to the tenant). The detached mount lives as long as the open
// file; nothing is left mounted. Without the new mount API (before 5.2): the plain open file.
Status open_console_log(StartContext& ctx) {
  std::string path = console_log_path(ctx.ct);
  BERTH_RETURN_IF_ERROR(make_dirs(ctx.ct.host().paths().log_dir, 0755));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open console log `" + path + "`");
  UniqueFd tree = sys::clone_mount_or_none(path);
  UniqueFd hidden;
  if (tree)
    hidden.reset(::open(("/proc/self/fd/" + std::to_string(tree.get())).c_str(),
                        O_WRONLY | O_APPEND | O_CLOEXEC));
  ctx.console = hidden ? std::move(hidden) : std::move(fd);
  return {};
}

// start --wait with a systemd init: a datagram socket for its READY=1, owned by the CT's root
// (who must be able to send to it), reached inside through a detached mount of the socket file
// (at kNotifySocket): the host's path is unlinked when start is over, nothing stays on the host.
Status open_notify_socket(StartContext& ctx) {
  if (!ctx.opts.wait || ctx.init != isolation::InitKind::kSystemd) return {};
  const std::string dir = ctx.ct.host().paths().run + "/notify";
  BERTH_RETURN_IF_ERROR(make_dirs(dir, 0700));
  const std::string path = dir + "/" + ctx.ct.ctid();
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return Error::from_errno(errno, "socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error::invalid("notify socket path too long: `" + path + "`", exitcode::kSystem);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::from_errno(errno, "bind `" + path + "`");
  ctx.notify_path.path = path;
  if (ctx.userns && ::chown(path.c_str(), ctx.ct.local_uid(), ctx.ct.local_gid()) != 0)
    return Error::from_errno(errno, "chown `" + path + "`");
  ctx.notify_mount = sys::clone_mount_or_none(path);
  if (!ctx.notify_mount) return {};  // no new mount API: --wait falls back to the marker file
  ctx.notify = std::move(sock);
  return {};
}

// The cgroup fd to clone into (v2), the sync socket, and the child's arguments.
Status prepare_child(StartContext& ctx) {
  BERTH_ASSIGN_OR_RETURN(ctx.cgfd, ctx.cg->open_for_clone(ctx.group));
  if (!ctx.cgfd.valid()) ctx.self_join = ctx.cg->open_self_join(ctx.group);
  if (ctx.self_join)
    for (const auto& fd : ctx.self_join->tasks) ctx.args.self_join.push_back(fd.get());
  BERTH_ASSIGN_OR_RETURN(ctx.sync, make_sync_pair());
  ChildArgs& a = ctx.args;
  a.ct = &ctx.ct;
  a.root = ctx.attach_dir;
  a.root_fd = ctx.root_view.get();
  a.userns = ctx.userns;
  a.wait_cgroup = !ctx.cgfd.valid();
  a.sync_fd = ctx.sync.child.get();
  a.console_fd = ctx.console.get();
  std::vector<isolation::HostHierarchy> hier;
  // v1 hierarchies the CT's root does not get are mounted read-only inside, so an init there sees
  // at once that it cannot make groups in them (the wall itself is the group's owner).
  for (const auto& h : ctx.cg->hierarchies())
    hier.push_back({h.mount, h.options, ctx.userns && !ctx.cg->delegates(h)});
  a.cgroup_fs = isolation::plan_cgroup_fs(std::string_view(ctx.cg->name()) == "v2", hier);
  isolation::bind_ct_groups(a.cgroup_fs, ctx.group, ctx.cgroup_binds);
  a.limits = ctx.proc_limits;
  a.init = ctx.init;
  BERTH_ASSIGN_OR_RETURN(a.host_resolv, dist::read_if_exists("/etc/resolv.conf"));
  if (ctx.notify_mount) {
    a.notify_fd = ctx.notify_mount.get();
    a.notify_socket = kNotifySocket;
  }
  return {};
}

// The CT's /run/berth/user_beancounters and /proc view are served by the instance's FUSE server
// (procsrv/client.h); if it cannot run, the CT starts without them (not an error).
// No server up: begin its spawn now, wait for it in ensure_ubc_server. Never fails the start
// (ensure_ubc_server tries again, and a CT may start without the server).
Status spawn_ubc_server(StartContext& ctx) {
  ctx.ubc_spawn = procsrv::begin_server(ctx.ct.host());
  return {};
}

Status ensure_ubc_server(StartContext& ctx) {
  auto use = procsrv::ensure_server(ctx.ct.host(), std::move(ctx.ubc_spawn));
  if (!use.ok()) return {};
  ctx.ubc.emplace(std::move(use).value());
  if (ctx.ubc->revived()) repair_dead_proc_views(ctx.ct.host());
  ctx.ubc_file = sys::clone_mount_or_none(procsrv::served_path(ctx.ct.host(), ctx.ct.ctid()));
  ctx.proc = clone_proc_mounts(ctx.ct, ctx.proc_mode);
  ctx.args.beancounters_fd = ctx.ubc_file.get();
  ctx.args.proc_view_fd = ctx.proc.view.get();
  ctx.args.proc_files = ctx.proc.files;
  return {};
}

// clone3 with the CT's namespaces (straight into its cgroup on v2); the child runs child_init.
Status clone_child(StartContext& ctx) {
  uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
  if (ctx.userns) flags |= CLONE_NEWUSER;
  // Cloned straight into its cgroup (v2), the child may get its cgroup namespace at once.
  if (ctx.cgfd.valid()) flags |= CLONE_NEWCGROUP;
  int parent_end = ctx.sync.parent.get();
  // Cloned from the staging namespace (isolation/staging.h), the child copies four mounts
  // instead of all the host's; back home before anything else runs here.
  std::optional<isolation::InStaging> staging;
  if (isolation::staging_namespace() >= 0 && ctx.root_view.valid()) {
    if (auto in = isolation::InStaging::enter(isolation::staging_namespace()); in.ok()) {
      staging.emplace(std::move(in).value());
      ctx.args.root = isolation::kStagingAttachDir;
    }
  }
  if (!staging) {
    if (ctx.attach_dir.empty()) {
      BERTH_ASSIGN_OR_RETURN(ctx.attach_dir, storage::ct_attach_dir(ctx.ct));
    }
    ctx.args.root = ctx.attach_dir;
  }
  const ChildArgs& args = ctx.args;
  // The CT's user namespace is owned by the CT's root id on the host, not by host root: what the
  // kernel counts per user (inotify instances and watches, namespaces) is charged at the host
  // level to LOCAL_UID, so a CT cannot use up host root's share (docs/security/limits.md).
  sys::NsOwner owner{ctx.ct.local_uid(), ctx.ct.local_gid()};
  BERTH_ASSIGN_OR_RETURN(ctx.child,
                         sys::kernel().clone_child(owner, flags,
                                                   ctx.cgfd.valid() ? ctx.cgfd.get()
                                                   : ctx.self_join ? ctx.self_join->clone_into.get()
                                                                   : -1,
                                                   [&args, parent_end] {
                                                     // The child's copy of the parent's end would
                                                     // keep the socket open if `berth start` is
                                                     // killed: the child would wait for a message
                                                     // forever (holding the CT's lock). Closed, a
                                                     // dead parent is an EOF and the child exits.
                                                     ::close(parent_end);
                                                     return child_init(args);
                                                   }));
  staging.reset();
  ctx.sync.child.reset();
  if (ctx.self_join) ctx.self_join->tasks.clear();
  ctx.args.self_join.clear();
  return {};
}

// Network (IP_ADDRESS, NETIF, anti-spoofing filters; nothing without them): the CT ends of the
// veths are made straight in the child's netns and configured from there; ctx.network removes
// the host side on failure.
Status attach_network(StartContext& ctx) {
  BERTH_ASSIGN_OR_RETURN(ctx.network,
                         net::attach_network(ctx.ct, ctx.child.pid()).context("set up network"));
  return {};
}

// RATE: tbf qdiscs on the host veth and its ifb (removed with the link by ctx.network).
Status apply_shaping(StartContext& ctx) { return net::apply_shaping(ctx.ct); }

// uid_map/gid_map (0 -> LOCAL_UID), then tell the child, which waits for them before anything else.
Status write_id_maps(StartContext& ctx) {
  if (!ctx.userns) return {};
  BERTH_RETURN_IF_ERROR(
      sys::kernel()
          .write_id_maps(ctx.child.pid(), ctx.ct.local_uid(), ctx.ct.local_gid(), kIdRangeSize)
          .context("write id maps"));
  return sync_send(ctx.sync.parent.get(), SyncMsg::kMapsDone);
}

// cgroup v1: join from here while the child mounts (the first attach can stall ~10 ms).
Status join_cgroup_v1(StartContext& ctx) {
  if (ctx.cgfd.valid() || ctx.self_join) return {};
  return ctx.cg->attach(ctx.group, ctx.child.pid());
}

// The host side is done (network, v1 cgroup): the child may make its cgroup namespace and exec
// init.
Status release_child(StartContext& ctx) {
  return sync_send(ctx.sync.parent.get(), SyncMsg::kCgroupDone);
}

// The child's answer: an error message (with its errno and vzctl exit status), or EOF when it
// exec'ed init (its end of the socket is close-on-exec).
Status wait_child(StartContext& ctx) {
  ctx.child_reported = true;
  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(ctx.sync.parent.get()));
  // First, maybe, the master of the CT's console (child_init's set_up_mounts).
  if (!r.eof && r.type == SyncMsg::kFd) {
    ctx.console_master = std::move(r.fd);
    BERTH_ASSIGN_OR_RETURN(r, sync_recv(ctx.sync.parent.get()));
  }
  if (!r.eof) return error_from(r);
  // EOF: the child exec'ed init, or died before saying why.
  if (ctx.child.has_exited())
    return Error::with_status(exitcode::kSystem, "CT's init exited before it could run");
  return {};
}

std::string console_log_path(const CtConfig& ct) {
  return ct.host().paths().log_dir + "/" + ct.ctid() + ".console.log";
}

Status start(const CtConfig& ct, const StartOptions& opts) {
  pid_t init = 0;
  UniqueFd notify;
  UniqueFd console;
  {
    StartContext ctx{ct, opts};
    auto st = run_pipeline<StartContext>("start", start_steps(), ctx);
    if (!st.ok()) {
      // A parent step failed after the clone: the child may have failed first and said why.
      if (ctx.child.pid() > 0 && !ctx.child_reported)
        return child_error_or(ctx.sync.parent.get(), std::move(st).error());
      return st;
    }
    init = ctx.child.pid();
    notify = std::move(ctx.notify);
    console = std::move(ctx.console_master);
    ctx.commit();
  }
  // Run by the watcher (monitor/server.h): it adopts this init when we exit, and holds its
  // console (without a watcher the master closes here: the CT's console writes fail, never
  // block).
  monitor::report_init(ct.ctid(), init);
  if (console) monitor::hand_console(ct.host(), ct.ctid(), console.get());
  if (!opts.wait) return {};
  BootContext boot{init, opts.wait_timeout, notify.get()};
  return run_pipeline<BootContext>("start-wait", kBootSteps, boot);
}

}  // namespace berth::runtime
