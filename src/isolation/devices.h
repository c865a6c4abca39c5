// Device nodes of a CT: the standard set, the DEVNODES and DEVICES keys, and filling its /dev.
//
// Owns parsing `DEVNODES="net/tun:rw fuse:rw"` (a node by name, numbers taken from the host's
// /dev) and `DEVICES="c:10:200:rw b:8:0:r"` (access by number, no node) into DevNode values, and
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

namespace berth::isolation {

enum class DevType { kChar, kBlock };

struct DevAccess {
  bool read = false;
  bool write = false;
  bool quota = false;  // vzctl's 'q' (second-level quota on a block device); kept for round-trips
  bool none() const { return !read && !write; }
  bool operator==(const DevAccess&) const = default;
};

struct DevNode {
  DevType type = DevType::kChar;
  uint32_t major = 0;
  std::optional<uint32_t> minor;  // nullopt: every minor of major ("c:4:all:rw")
  std::string path;               // name under /dev ("net/tun"); empty: access by number only
  DevAccess access;
  unsigned mode = 0666;           // permission bits of the created node
  bool operator==(const DevNode&) const = default;
};

// null, zero, full, random, urandom, tty: every CT gets these, read-write. Pure.
std::vector<DevNode> standard_devnodes();

// "rw", "r", "wq", "none". Anything else: exit 86. Pure.
Result<DevAccess> parse_dev_access(std::string_view s);
std::string format_dev_access(const DevAccess& a);

// DEVNODES: "name:access ..." with name relative to /dev (no "..", no leading '/'). The result has
// path and access set; type/major/minor come from resolve_devnode(). "dev:none" keeps the entry
// with no access (the node is not created). Bad syntax: exit 86. Pure.
Result<std::vector<DevNode>> parse_devnodes(std::string_view value);

// DEVICES: "b|c:major:minor|all:access ..." (vzctl's format; minor "all" = every minor). The
// single word "none" means no extra devices. A bare "all:rw" (every device of the host) is
// refused. Bad syntax: exit 86. Pure.
Result<std::vector<DevNode>> parse_devices(std::string_view value);

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
