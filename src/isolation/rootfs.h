// The CT's mount namespace, set up in the child before pivot_root: the root, /proc, /sys, /dev
// (a small tmpfs with the standard nodes, its own devpts, shm, mqueue), /run; then pivot_root.
//
// Child side only (runs in the new mount namespace, as root of the CT's user namespace). The
// order matters: propagation is cut first so nothing made here reaches the host; nodes are bound
// from the host's /dev before pivot_root while it is still visible.
#pragma once

#include <cstdint>
#include <string>

#include "core/ct_config.h"
#include "core/error.h"
#include "isolation/devices.h"

namespace berth::isolation {

// Where a CT sees its own beancounters (a mount of its file in the instance's /proc server,
// procsrv/client.h); the server's repair of a CT's /proc mounts it there again.
inline constexpr const char* kBeancountersPath = "/run/berth/user_beancounters";

struct RootfsPlan {
  std::string root;          // where root_fd is attached (storage::ct_attach_dir), or VE_ROOT
  int root_fd = -1;          // the CT's view of its root (storage::ct_root_view); -1: bind `root`
  bool userns = true;        // false for a privileged CT (mknod allowed)
  int beancounters_fd = -1;  // detached mount (open_tree) for kBeancountersPath, or -1
  uint64_t pty_max = 0;      // NUMPTY: the CT's devpts max= (0: the kernel's default)
  // Out: the master of the CT's console, a pty of its own devpts whose slave is bound on
  // /dev/console (close-on-exec; the caller hands it to the host and closes it before init
  // runs). Stays -1 when the CT's devpts gives no pty: /dev/console is then a null device.
  int* console_master = nullptr;
};

// Everything up to and including pivot_root; afterwards "/" is the CT's root.
Status setup_rootfs_from_child(const CtConfig& ct, const RootfsPlan& plan);

// Child side, in a new mount namespace: cut propagation to the host (rslave), then attach the
// detached tree root_fd (storage::ct_root_view) at `at`. Mount-namespace-local: the host never sees
// the mount, so its setuid bits never reach a host user.
Status attach_root_from_child(int root_fd, const std::string& at);

// The CT's device nodes: the standard ones plus DEVNODES (resolved against the host's /dev).
Result<std::vector<DevNode>> ct_device_nodes(const CtConfig& ct);
// Device cgroup allow rules for the CT: its nodes, DEVICES, its own ptys.
Result<std::vector<std::string>> ct_device_rules(const CtConfig& ct);

// Bring the loopback interface of the current network namespace up.
Status bring_up_loopback();

}  // namespace berth::isolation
