// NETIF, the bridged veths of a CT, as vzctl 4.x stores it: `;`-separated entries of
// `,`-separated k=v pairs, e.g.
//   NETIF="ifname=eth0,bridge=vmbr0,mac=00:18:51:12:34:56,host_ifname=veth101.0,host_mac=00:18:51:65:43:21"
// Keys Berth knows: ifname, bridge, mac, host_ifname, host_mac, mac_filter; other pairs are kept
// as they were (written back after the known ones). Pure; unit-tested through the CLI's tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::net {

struct Netif {
  std::string ifname, bridge, mac, host_ifname, host_mac, mac_filter;
  std::vector<std::string> extra;  // k=v pairs Berth does not know, kept as they were

  bool filters_mac() const { return mac_filter == "on" || mac_filter == "yes"; }
};

// NETIF's value; an entry without ifname is an error (exit 21).
Result<std::vector<Netif>> parse_netif(std::string_view v);
// Back to NETIF's form, in vzctl's field order (ifname, bridge, mac, host_ifname, host_mac, ...).
std::string format_netif(const std::vector<Netif>& list);

// Another entry of list than self has host_ifname name.
bool host_ifname_taken(const std::vector<Netif>& list, std::string_view name, const Netif* self);
// The host end's name for CT-side ifname as vzctl's generate_veth_name(): veth<CTID>.<n>, n the
// number in ifname (eth1 -> 1, 0 without one), bumped while another entry of list has it. Past
// IFNAMSIZ-1 (15) characters, i.e. 10-digit CTIDs, "veth" becomes "v": v<CTID>.<n>. Exit 21 when
// even that does not fit.
Result<std::string> generate_host_ifname(const std::vector<Netif>& list, std::string_view ctid, std::string_view ifname);

// The alias that marks the host end of a CT's bridged veth: "berth:<instance>:<ctid>:<ifname>".
// (The routed veth's alias is "berth:<instance>:<ctid>" without the last field.)
std::string netif_alias(std::string_view instance, std::string_view ctid, std::string_view ifname);
// The prefix every bridged host end of the CT carries in its alias.
std::string netif_alias_prefix(std::string_view instance, std::string_view ctid);

}  // namespace berth::net
