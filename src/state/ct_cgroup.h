// The cgroup backend of this process (detected once) and the CT's group name in it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

// Where a process entering the running CT (exec, enter) is cloned into. cgroup v2 allows
// processes only in leaf groups once a group has controllers for its children ("no internal
// processes"): systemd enables them in the CT's group and moves itself into init.scope, so the
// CT's own group refuses new processes (EBUSY). The group of the CT's init is a leaf it keeps
// (systemd's init.scope; the CT's group itself for other inits). A path that is not below the
// CT's group (it cannot be, but the kernel's text is the CT's names) gives the CT's group.
// v1: the CT's group (each hierarchy allows processes anywhere). `cgroup_text` is the content of
// /proc/<init>/cgroup as the host reads it.
std::string entry_group(std::string_view backend, const std::string& group,
                        std::string_view cgroup_text);

}  // namespace berth::state
