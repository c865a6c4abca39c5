// NETIF's host-side names: the alias that marks the host end of a CT's bridged veth. The NETIF
// value itself (entries, MACs, generated host names) is the config model's: core/values/netif.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/values/netif.h"

namespace berth::net {

using values::format_netif;
using values::generate_host_ifname;
using values::host_ifname_taken;
using values::Netif;
using values::parse_netif;

// The alias that marks the host end of a CT's bridged veth: "berth:<instance>:<ctid>:<ifname>".
// (The routed veth's alias is "berth:<instance>:<ctid>" without the last field.)
std::string netif_alias(std::string_view instance, std::string_view ctid, std::string_view ifname);
// The prefix every bridged host end of the CT carries in its alias.
std::string netif_alias_prefix(std::string_view instance, std::string_view ctid);

}  // namespace berth::net
