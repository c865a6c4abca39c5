// clone SRC DST: a new CT from another's files (its current state, or one of its snapshots).
//
// The copy is made as a snapshot's is (runtime/snapshot.h: a running SRC is frozen while its files
// are copied, and keeps running), built in DST's "<VE_PRIVATE>.tmp" and renamed into place, then
// adapted to be a machine of its own:
//  - config: SRC's, with DST's VE_ROOT/VE_PRIVATE (create's defaults), a new LOCAL_UID/LOCAL_GID
//    range (id_ranges.h, as create), HOSTNAME given or SRC's first label + "-" + DST (the domain
//    kept), NAME only when given (names are unique), IP_ADDRESS only when given (a routed address
//    cannot be on two CTs), NETIF with new MACs and host interface names (same bridges);
//  - owners: every id inside SRC's range moves to DST's (storage::move_id_range);
//  - identity: a new /etc/machine-id and no ssh host keys (storage::reset_guest_identity).
// A killed clone leaves a .tmp (or a private area marked as being created) that the next create
// or clone of DST removes; its id range line is replaced by that next reservation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"
#include "runtime/set.h"

namespace berth::runtime {

struct CloneRequest {
  std::string src, dst;                 // CTIDs (src resolved from a name by the caller)
  std::optional<std::string> snapshot;  // a uuid of SRC's snapshots, else its current files
  std::optional<std::string> hostname, name;
  std::vector<std::string> ipadd;
};

// The caller holds both CTs' locks.
Status clone_ct(const HostConfig& host, const CloneRequest& req, const Say& say);

// The hostname a clone gets when none is given: "web.example.com" -> "web-102.example.com";
// none -> "ct<DST>". Pure.
std::string clone_hostname(const std::string& src_hostname, const std::string& dst);

}  // namespace berth::runtime
