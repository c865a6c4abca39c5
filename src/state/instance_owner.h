// Which Berth root an instance's host-wide objects belong to.
//
// Every root is an instance named by its CGROUP_PARENT (default "berth"): its CTs' cgroups are
// <hierarchy>/<CGROUP_PARENT>/<CTID>, and its filter tables and id ranges carry the name too. Two
// roots under one name would take each other's VPSs for their own: a `stop 101` in the second
// root found the first root's CT 101 running (its group) and killed it; `status` there took it
// for its own; the destroy of its last CT would delete the filter tables the other's CTs use.
//
// So the instance's group in the first hierarchy names the root that made it, in the extended
// attribute kOwnerXattr (the canonical path of BERTH_ROOT). The start that makes a CT's group
// claims it (claim_instance); every command checks it before it acts (check_instance_owner). A
// claim lives as long as the instance has groups: the group goes with its last CT, and a claim
// whose root has no CT group left is taken over. Where the kernel keeps no extended attributes on
// cgroups, nothing is claimed and nothing is refused (as before).
#pragma once

#include <string>

#include "core/error.h"
#include "core/host_config.h"

namespace berth::state {

inline constexpr const char* kOwnerXattr = "trusted.berth.root";

// The root as the claims name it: the canonical path of BERTH_ROOT ("/" for the host's own).
std::string owner_name(const HostConfig& host);

// Exit 9 when another root owns the instance and has CT groups in it; the message names that
// root and the remedy (a CGROUP_PARENT of this root's own).
Status check_instance_owner(const HostConfig& host);

// After this root made a CT's group (ctid): the instance is ours, or exit 9 as above (another
// root's claim with groups of its own, not ctid's).
Status claim_instance(const HostConfig& host, const std::string& ctid);

}  // namespace berth::state
