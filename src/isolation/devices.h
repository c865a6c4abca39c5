// Device nodes of a CT: the standard set, the DEVNODES and DEVICES keys, and filling its /dev.
//
// The DevNode values of `DEVNODES="net/tun:rw fuse:rw"` (a node by name, numbers taken from the
// host's /dev here) and `DEVICES="c:10:200:rw b:8:0:r"` (access by number, no node) are the config
// model's (core/values/devices.h parses them). Owns resolving a DEVNODES entry against the host and
// creating the nodes in the CT's /dev before pivot_root. It does not enforce access: the cgroup
// device controller does (cgroups/ reads the same DevNode list), and the runtime mounts the tmpfs
// on /dev and devpts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/values/devices.h"

namespace berth::isolation {

// The values are the config model's (core/values/devices.h).
using values::DevAccess;
using values::DevNode;
using values::DevType;
using values::format_dev_access;
using values::parse_dev_access;
using values::parse_devices;
using values::parse_devnodes;

// null, zero, full, random, urandom, tty: every CT gets these, read-write. Pure.
std::vector<DevNode> standard_devnodes();

// Fill type/major/minor of a DEVNODES entry from <host_dev>/<path> (stat, follows symlinks).
// Missing or not a device: exit 86. Host side or child side before pivot_root.
Status resolve_devnode(DevNode& node, const std::string& host_dev = "/dev");

// "c 10:200 rw" / "c 4:* r": the cgroup v1 devices.allow form without 'm'. Pure.
std::string device_rule(const DevNode& node);

// Symlinks every CT's /dev has: fd, stdin, stdout, stderr, ptmx -> pts/ptmx. Pure.
std::vector<std::pair<std::string, std::string>> standard_dev_symlinks();

// Child side, BEFORE pivot_root (the host's /dev must be visible), after the runtime mounted a
// tmpfs on dev_dir. For each node with a path and some access: privileged (in_userns false) ->
// mknod; in a user namespace mknod is refused, so an empty file is created and the host's
// /dev/<path> bind-mounted over it. Then creates the standard symlinks and the pts/ and shm/
// directories. Nodes without a path or with no access are skipped; DEVNODES entries must have been
// through resolve_devnode() (a node without a minor is an error). On failure, what was created
// stays in dev_dir (a tmpfs that the failed start discards).
Status populate_dev(const std::string& dev_dir, const std::vector<DevNode>& nodes, bool in_userns,
                    const std::string& host_dev = "/dev");

}  // namespace berth::isolation
