// Pure parts of routed (venet-style) networking: IP_ADDRESS entries as addresses, the host-side
// interface name and owner mark of a CT's veth, NEIGHBOUR_DEVS, and the plan of what to add and
// remove when a CT's address list changes. No syscalls here; unit-tested.
//
// Routed mode ignores a "/prefix" in IP_ADDRESS (as venet does without USE_VENET_MASK): every
// address is a /32 or /128 inside the CT and a /32 or /128 host route to the CT's veth.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/values/ip.h"

namespace berth::net {

// Addresses and their parser are the config model's (core/values/ip.h).
using values::IpAddr;
using values::parse_ip;
using values::parse_ip_list;

// The inside next hop every routed CT uses for its default routes; the host end of each CT's
// veth holds these addresses (link-local, so the same on every veth without conflict).
inline constexpr std::string_view kGatewayV4 = "169.254.0.1";
inline constexpr std::string_view kGatewayV6 = "fe80::1";
// The CT side of the veth, as the CT sees it (OpenVZ's venet device name).
inline constexpr std::string_view kCtIfname = "venet0";

// Host end of CT ctid's veth: "vb" + a hash of the instance in letters + the CTID, at most 15
// chars. Letters then digits, so two (instance, CTID) pairs give the same name only if the
// instance hashes collide for the same CTID; the owner mark below tells them apart.
std::string host_ifname(std::string_view instance, std::string_view ctid);
// The interface alias that marks a host link as this instance's CT's: "berth:<instance>:<ctid>".
std::string link_alias(std::string_view instance, std::string_view ctid);

// NEIGHBOUR_DEVS from berth.conf: "" (default: none), "eth0 eth1" or "list:eth0 eth1". "all" and
// "detect" (vzctl's automatic choices) are refused with exit 21 rather than guessed.
Result<std::vector<std::string>> parse_neighbour_devs(std::string_view s);

// What to change when a CT's addresses go from `before` to `after`.
struct AddrPlan {
  std::vector<IpAddr> add;
  std::vector<IpAddr> remove;
  bool empty() const { return add.empty() && remove.empty(); }
};
AddrPlan plan_addresses(const std::vector<IpAddr>& before, const std::vector<IpAddr>& after);

}  // namespace berth::net
