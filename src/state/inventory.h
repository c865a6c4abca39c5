// Inventory: which CTs exist on this host (and whether any of them is alive).
//
// A CT exists when <conf_dir>/<CTID>.conf exists (as legacy vzlist's get_ve_list() reads
// /etc/vz/conf). This module only looks at names and paths; it does not parse configs or ask
// whether a CT runs (that is status.h). Read-only, no privileges needed beyond reading conf_dir.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "core/host_config.h"

namespace berth::state {

// The CTIDs whose <conf_dir>/<CTID>.conf exists, sorted numerically. Only valid CTIDs (decimal,
// > 100, no leading zero) count; `101.conf.destroyed`, `ve-*.conf-sample`, `101.conf.tmp` and
// other files are ignored. A missing conf_dir is an empty list, not an error.
Result<std::vector<std::string>> list_ctids(const HostConfig& host);

// Whether name is exactly `<CTID>.conf` for a valid CTID; returns the CTID or "".
std::string ctid_from_conf_name(std::string_view name);

// Whether any CT of the instance has a process (runs, or is still dying): on cgroup v2 one read of
// the instance group's cgroup.events ("populated"), whatever the number of CTs; on v1 the CTs'
// groups are looked at until one has a process (groups of dead CTs, which the next command on
// them removes, are the only ones passed over). So host-wide decisions on a CT's path (may the
// /proc server exit?) do not read every CT's config and status. Errors count as "yes".
bool any_ct_alive(const HostConfig& host);

// Whether the CT's private area (VE_PRIVATE, $VEID expanded) exists. vzlist hides a stopped CT
// whose private area is gone (a half-created or half-destroyed CT).
bool private_area_exists(const CtConfig& ct);

}  // namespace berth::state
