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
//
// Two roots' first starts at the same moment both found no claim: the second one's repair took
// the first one's new CT group (same CTID) for a leftover and removed it, or both inits ended up
// in one group (seen with two roots starting CT 301 at once, 6 times in 15 rounds). So each CT
// group names its root too (mark_ct_group), a repair removes only its own root's groups
// (check_ct_group_owner), and the making and marking of a group, the claim, and a repair's check
// and removal hold the InstanceGate: no root sees another's group half made.
#pragma once

#include <string>

#include "core/error.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
#include "cgroups/backend.h"

namespace berth::state {

inline constexpr const char* kOwnerXattr = "trusted.berth.root";

// The root as the claims name it: the canonical path of BERTH_ROOT ("/" for the host's own).
std::string owner_name(const HostConfig& host);

// Exit 9 when another root owns the instance and has CT groups in it; the message names that
// root and the remedy (a CGROUP_PARENT of this root's own).
Status check_instance_owner(const HostConfig& host);

// After this root made a CT's group (ctid): the instance is ours, or exit 9 as above (another
// root's claim with groups of its own, not ctid's).
// cg: the backend the group was made with (its first hierarchy; none: nothing to claim).
Status claim_instance(const HostConfig& host, const cgroups::Backend& cg, const std::string& ctid);

// The gate every Berth root under this instance name passes to make, mark or remove a CT's
// group: an exclusive flock on the instance's group in the first hierarchy, which is made mode
// 0711 (so no unprivileged host user can open it to hold the lock; nothing but host root reads
// it), held for microseconds. make: the group is made if missing (a start; a repair finds it).
// Waits up to 10 s (exit 9 past that); open where the layout is unknown or cgroups take no flock.
class InstanceGate {
 public:
  static Result<InstanceGate> enter(const HostConfig& host, const cgroups::Backend& cg, bool make);

 private:
  explicit InstanceGate(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Under the gate, right after this root made CT ctid's group: the group names this root.
void mark_ct_group(const HostConfig& host, const cgroups::Backend& cg, const std::string& ctid);

// Under the gate, before a leftover group of CT ctid is removed: exit 9 when the group names
// another root (whose start made it a moment ago).
Status check_ct_group_owner(const HostConfig& host, const cgroups::Backend& cg,
                            const std::string& ctid);

}  // namespace berth::state
