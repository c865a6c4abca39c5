// The cgroup backend of this process (detected once) and the CT's group name in it.
#pragma once

#include <cstdint>
#include <string>

#include "cgroups/backend.h"
#include "core/ct_config.h"

namespace berth::state {

Result<cgroups::Backend*> cgroup_backend();
// "<instance>/<ctid>", the CT's group in every hierarchy.
std::string ct_group_of(const CtConfig& ct);

// NUMCGROUP: how many cgroups the CT may make below its own (cgroup v2's cgroup.max.descendants,
// set by the host at start); "unlimited" or a number, default kDefaultNumCgroup. Each memory
// cgroup takes one of the host's 65535 memory cgroup ids, so the default is small: systemd with a
// few dozen services needs well under a hundred. Exit 21 for a bad value.
inline constexpr int64_t kDefaultNumCgroup = 256;
// cgroup.max.depth below the CT's group (systemd's deepest, user sessions, is 5 or so).
inline constexpr int64_t kMaxCgroupDepth = 32;
Result<int64_t> numcgroup_of(const CtConfig& ct);

}  // namespace berth::state
