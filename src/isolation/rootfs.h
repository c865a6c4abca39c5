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

struct RootfsPlan {
  std::string root;        // VE_ROOT, already mounted by the parent
  bool userns = true;      // false for a privileged CT (mknod allowed)
  int beancounters_fd = -1;  // detached mount (open_tree) for /run/berth/user_beancounters, or -1
  uint64_t pty_max = 0;    // NUMPTY: the CT's devpts max= (0: the kernel's default)
};

// Everything up to and including pivot_root; afterwards "/" is the CT's root.
Status setup_rootfs_from_child(const CtConfig& ct, const RootfsPlan& plan);

// The CT's device nodes: the standard ones plus DEVNODES (resolved against the host's /dev).
Result<std::vector<DevNode>> ct_device_nodes(const CtConfig& ct);
// Device cgroup allow rules for the CT: its nodes, DEVICES, its own ptys.
Result<std::vector<std::string>> ct_device_rules(const CtConfig& ct);

// Bring the loopback interface of the current network namespace up.
Status bring_up_loopback();

}  // namespace berth::isolation
