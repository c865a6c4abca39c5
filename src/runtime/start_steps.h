// The steps of start (parent side, pipeline "start") and the context they share. runtime/start.cc
// runs them; the table is here so unit tests can check the order and run steps against
// tests/fakes (the kernel seam, sys/kernel.h, and a fake cgroups::Backend).
//
// StartContext owns every object the steps acquire, as members in acquisition order: the root
// mount (MountGuard), the CT's cgroup (CgroupGuard), the child (ChildProcess: SIGKILL + reap),
// its network (net::CtNetwork: veths, routes, filters). A failed step returns; the context's
// destruction then undoes what was made, in reverse. commit() hands them over to the running CT.
#pragma once

#include <optional>
#include <thread>
#include <span>
#include <string>
#include <vector>

#include "cgroups/backend.h"
#include "cgroups/guard.h"
#include "core/ct_config.h"
#include "core/unique_fd.h"
#include "net/network.h"
#include "runtime/child_init.h"
#include "runtime/ct_limits.h"
#include "runtime/lifecycle.h"
#include "runtime/pipeline.h"
#include "runtime/proc_mode.h"
#include "state/status.h"
#include "runtime/sync.h"
#include "sys/kernel.h"
#include "sys/process.h"
#include "procsrv/client.h"

namespace berth::runtime {

// Unlinks a host file when start is over (made or failed).
struct UnlinkAtEnd {
  std::string path;
  UnlinkAtEnd() = default;
  UnlinkAtEnd(const UnlinkAtEnd&) = delete;
  UnlinkAtEnd& operator=(const UnlinkAtEnd&) = delete;
  ~UnlinkAtEnd();
};

struct StartContext {
  StartContext(const CtConfig& c, const StartOptions& o) : ct(c), opts(o) {}
  StartContext(const StartContext&) = delete;
  StartContext& operator=(const StartContext&) = delete;

  const CtConfig& ct;
  const StartOptions& opts;

  // validate_config: the state and every config value start uses, parsed before anything is made.
  state::CtStatus status;
  bool userns = true;
  cgroups::Backend* cg = nullptr;  // set by validate_config unless a test put a fake here
  std::string group;               // "<instance>/<CTID>"
  cgroups::Resources limits;
  ProcLimits proc_limits;
  int64_t numcgroup = 0;
  isolation::InitKind init = isolation::InitKind::kOther;  // open_root_view
  ProcMode proc_mode = ProcMode::kView;                    // open_root_view
  std::vector<std::string> device_rules;
  std::vector<std::string> notes;  // warnings, printed by apply_limits

  // Acquired, in this order (destroyed in reverse).
  sys::MountGuard disk;    // mount_root: the CT's disk (storage/disk.h), unmounted after VE_ROOT
  sys::MountGuard root;    // mount_root (not when VE_ROOT was mounted already)
  std::string attach_dir;  // open_root_view
  UniqueFd root_view;
  std::vector<UniqueFd> cgroup_binds;  // v1: the CT's groups as detached binds (bind_ct_groups)
  cgroups::CgroupGuard cgroup;         // create_cgroup
  // begin_cgroup: what the thread making the group returned, and the thread, joined by
  // create_cgroup, or here whatever failed meanwhile: before the group's guard goes (and before
  // cgroup_made, which it writes).
  Status cgroup_made;
  struct Joined {
    std::thread thread;
    Joined() = default;
    Joined(const Joined&) = delete;
    Joined& operator=(const Joined&) = delete;
    ~Joined() {
      if (thread.joinable()) thread.join();
    }
  } cgroup_worker;
  UniqueFd console;         // open_console_log
  UnlinkAtEnd notify_path;  // open_notify_socket: its host file, until the child attached it
  UniqueFd notify;          // open_notify_socket: systemd's READY=1 arrives here (--wait)
  UniqueFd notify_mount;    // its detached mount, attached in the CT at kNotifySocket
  UniqueFd cgfd;            // prepare_child
  // v1 (prepare_child): the child moves itself into its groups (cgroups/backend.h: no RCU
  // wait); nullopt: the parent attaches it.
  std::optional<cgroups::Backend::SelfJoin> self_join;
  SyncPair sync;
  procsrv::PendingServer ubc_spawn;       // spawn_ubc_server (a first start's server coming up)
  std::optional<procsrv::ServerUse> ubc;  // ensure_ubc_server
  UniqueFd ubc_file;
  ProcMounts proc;  // the CT's /proc (proc_mode.h)
  ChildArgs args;
  sys::ChildProcess child;      // clone_child
  net::CtNetwork network;       // attach_network
  bool child_reported = false;  // wait_child consumed the child's message
  UniqueFd console_master;      // wait_child: the CT's console pty, for the watcher

  // Everything acquired now belongs to the running CT.
  void commit();
};

// Where a systemd init finds the socket that start --wait listens on (NOTIFY_SOCKET).
inline constexpr const char* kNotifySocket = "/run/host/notify";

// The steps of the parent side, in order.
std::span<const Step<StartContext>> start_steps();

// Steps (each one argument, the context; see start.cc for what each does and why it is there).
Status validate_config(StartContext& ctx);
Status repair_leftovers(StartContext& ctx);
Status mount_root(StartContext& ctx);
Status open_root_view(StartContext& ctx);
Status begin_cgroup(StartContext& ctx);
Status create_cgroup(StartContext& ctx);
Status apply_limits(StartContext& ctx);
Status open_console_log(StartContext& ctx);
Status open_notify_socket(StartContext& ctx);
Status prepare_child(StartContext& ctx);
Status spawn_ubc_server(StartContext& ctx);
Status ensure_ubc_server(StartContext& ctx);
Status clone_child(StartContext& ctx);
Status write_id_maps(StartContext& ctx);
Status attach_network(StartContext& ctx);
Status apply_shaping(StartContext& ctx);
Status join_cgroup_v1(StartContext& ctx);
Status release_child(StartContext& ctx);
Status wait_child(StartContext& ctx);

}  // namespace berth::runtime
