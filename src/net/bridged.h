// Bridged networking of a CT (NETIF, vzctl's veth mode): one veth pair per NETIF entry.
//
// Host side: the end `host_ifname` (veth<CTID>.<N> by default, see core/values/netif.h) with
// MAC host_mac, alias "berth:<instance>:<ctid>:<ifname>" (net/netif.h), a port of `bridge` when
// one is named, up. The bridge must exist and be a bridge: otherwise exit 130 and nothing is made.
// Inside: the end `ifname` with MAC `mac`, up, without addresses: the CT configures them (its
// own DHCP client or `ip addr add`), as in OpenVZ. mac_filter is enforced by net/filter.h.
//
// Host links are found again by their alias, so stop, destroy and `--netif_del` on a running CT
// remove exactly this CT's links, including ones a killed command left behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::net {

// Owner of host links made while a start or a live change runs: deleted unless released.
class BridgedLinks {
 public:
  BridgedLinks() = default;
  BridgedLinks(BridgedLinks&& o) noexcept : names_(std::move(o.names_)) { o.names_.clear(); }
  BridgedLinks& operator=(BridgedLinks&& o) noexcept;
  BridgedLinks(const BridgedLinks&) = delete;
  BridgedLinks& operator=(const BridgedLinks&) = delete;
  ~BridgedLinks();

  void add(std::string host_ifname) { names_.push_back(std::move(host_ifname)); }
  void release() { names_.clear(); }

 private:
  std::vector<std::string> names_;
};

// Every NETIF entry's bridge exists and is a bridge, and no host_ifname is taken by a link that
// is not this CT's (exit 130 otherwise). Changes nothing.
Status check_bridged(const CtConfig& ct);

// Start, after the CT's init is cloned: every NETIF entry's veth. On failure nothing is left.
Result<BridgedLinks> attach_bridged(const CtConfig& ct, pid_t init);

// Restore: CRIU has made the CT's veths again, each CT end as it was dumped (MAC, addresses,
// routes: the CT configured them itself), its host end under a temporary name. restored: (that
// temporary host name, the CT end's name) pairs. Each pair a NETIF entry names becomes that
// entry's host end as start makes it (host_ifname, host_mac, alias, bridge, up), so the CT's
// own configuration of its end is kept; links of this CT a killed command left go first.
// Returns the temporary names taken (the others are the caller's: the routed veth's).
Result<std::vector<std::string>> adopt_bridged(
    const CtConfig& ct, const std::vector<std::pair<std::string, std::string>>& restored);

// Stop and destroy: remove every host link of this CT's bridged veths (nothing there is fine).
Status detach_bridged(const CtConfig& ct);

// `set --netif_add/--netif_del/--ifname ...` on a running CT: links no longer in NETIF or changed
// (name, bridge, MACs) are removed, missing ones made; unchanged ones are kept as they are.
Status update_bridged(const CtConfig& ct, pid_t init);

}  // namespace berth::net
