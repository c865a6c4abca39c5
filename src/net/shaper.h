// Per-CT shaping on the host side of a CT's veth (RATE, see net/shaping.h):
//
//   traffic to the CT   (host veth egress):  root tbf qdisc at the rate;
//   traffic from the CT (host veth ingress): ingress qdisc + u32 match-all filter with a mirred
//                       redirect to the CT's ifb device `vq<hash><CTID>` (alias
//                       "berth:<instance>:<CTID>:ifb"), whose root tbf qdisc holds the rate.
//
// Everything is on host links the CT cannot reach (root inside the CT owns only its own netns).
// The qdiscs and the filter die with the veth; the ifb is removed with it by net/routed.cc.
#pragma once

#include <string_view>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::net {

// Make the shaping of the CT's routed link match its RATE (added, changed in place, or removed
// for no rate). No link (no IP_ADDRESS, or not running): nothing to do. A malformed RATE is exit
// 21 before anything changes; a kernel error is exit 130 (veth).
Status apply_shaping(const CtConfig& ct);
// The same for any host link of a CT, by name and owner alias, at kbit (0 = no limit).
Status shape_link(std::string_view host_veth, std::string_view alias, uint64_t kbit);
// Remove the ifb of the host link host_veth if it carries the owner alias (stop, failed start).
Status remove_shaping(std::string_view host_veth, std::string_view alias);

}  // namespace berth::net
