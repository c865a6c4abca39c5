// Child side of start: runs in the new process created by clone3, inside the CT's fresh
// namespaces, until it execs the CT's init. Reports failures over the sync socket.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/ct_config.h"
#include "isolation/cgroupfs.h"
#include "isolation/init_kind.h"
#include "isolation/proc_mask.h"
#include "runtime/ct_limits.h"

namespace berth::runtime {

inline constexpr int kChildSetupFailed = 127;

struct ChildArgs {
  const CtConfig* ct = nullptr;
  std::string root;  // where root_fd is attached (storage::ct_attach_dir, or the staging one)
  int root_fd = -1;  // the CT's view of its root (storage::ct_root_view)
  bool userns = true;
  bool wait_cgroup = true;     // v1: joined by the parent; our cgroupns is made after its release
  int sync_fd = -1;            // child end of the sync socket
  std::vector<int> self_join;  // v1: `tasks` files to write "0" into (our own move), or none
  int console_fd = -1;         // init's stdout/stderr
  isolation::CgroupFsPlan cgroup_fs;  // /sys/fs/cgroup inside the CT
  int beancounters_fd =
      -1;                 // detached mount of the CT's beancounter file (procsrv/client.h), or -1
  int proc_view_fd = -1;  // detached mount of the CT's /proc view (ubc/proc_view.h), or -1
  std::vector<isolation::ProcFile> proc_files;  // or the view's files over procfs (proc_mode.h)
  isolation::InitKind init = isolation::InitKind::kOther;  // what /sbin/init is
  std::string notify_socket;  // NOTIFY_SOCKET for a systemd init (start --wait), "" = none
  int notify_fd = -1;         // detached mount of the host's notify socket, or -1
  ProcLimits limits;          // rlimits and IPC sysctls of init (NUMFILE, LOCKEDPAGES, SHMPAGES)
  std::optional<std::string> host_resolv;  // the host's /etc/resolv.conf (for `inherit`)
};

// Never returns on success (execs /sbin/init). Returns kChildSetupFailed after reporting.
int child_init(const ChildArgs& args);

}  // namespace berth::runtime
