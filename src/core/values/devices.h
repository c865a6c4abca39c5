// Device permissions of a VPS's configuration: DEVNODES (a node by name under /dev, numbers taken
// from the host's node at start) and DEVICES (access by number, no node), vzctl's src/lib/dev.c
// forms. The one parser of both keys and of a permission string; creating the nodes and the cgroup
// rules are isolation/devices.h and cgroups/. Pure; unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::values {

enum class DevType { kChar, kBlock };

// A device permission: "rw", "r", "wq", "none" (vzctl's parse_dev_perm()).
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
  unsigned mode = 0666;  // permission bits of the created node
  bool operator==(const DevNode&) const = default;
};

inline constexpr uint32_t kMaxDevMajor = 4095;
inline constexpr uint32_t kMaxDevMinor = 1048575;

// "rw", "r", "wq", "none": each of r, w, q at most once. Anything else: exit 86.
Result<DevAccess> parse_dev_access(std::string_view s);
// The saved form: "rw", "r", ... or "none".
std::string format_dev_access(const DevAccess& a);

// A name under /dev: letters, digits, '/', '_', '-', '.', '+'; no empty, "." or ".." component,
// no leading or trailing '/'; at most 255 characters.
bool is_valid_dev_name(std::string_view n);

// DEVNODES: "name:access ..." with name relative to /dev. The result has path and access set;
// type/major/minor come from the host's node. "dev:none" keeps the entry with no access (the node
// is not created). Bad syntax: exit 86.
Result<std::vector<DevNode>> parse_devnodes(std::string_view value);

// DEVICES: "b|c:major:minor|all:access ..." (minor "all" = every minor of major). The single word
// "none" means no extra devices. Bad syntax: exit 86.
Result<std::vector<DevNode>> parse_devices(std::string_view value);

// One entry of each, as saved: "net/tun:rw", "c:10:200:rw", "b:8:all:r".
std::string format_devnode(const DevNode& n);
std::string format_device(const DevNode& n);

}  // namespace berth::values
