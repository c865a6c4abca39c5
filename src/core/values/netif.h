// NETIF, the bridged veths of a VPS, and the MAC addresses in it, as vzctl 4.x stores it:
// `;`-separated entries of `,`-separated k=v pairs, e.g.
//   NETIF="ifname=eth0,bridge=vmbr0,mac=00:18:51:12:34:56,host_ifname=veth101.0,host_mac=00:18:51:65:43:21"
// Keys Berth knows: ifname, bridge, mac, host_ifname, host_mac, mac_filter; other pairs are kept
// as they were (written back after the known ones). The one parser of NETIF: it checks every
// field (interface-name rule of text.h, unicast MAC, mac_filter on/off), so a hand-edited bad
// entry is refused before anything is made. Pure (generate_mac reads getrandom(2)); unit-tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::values {

struct Netif {
  std::string ifname, bridge, mac, host_ifname, host_mac, mac_filter;
  std::vector<std::string> extra;  // k=v pairs Berth does not know, kept as they were

  bool filters_mac() const { return mac_filter == "on" || mac_filter == "yes"; }
};

// NETIF's value. Errors (exit 21) name the entry's problem: no ifname, a bad or duplicate
// interface name, a bad MAC, a bad mac_filter.
Result<std::vector<Netif>> parse_netif(std::string_view v);
// Back to NETIF's form, in vzctl's field order (ifname, bridge, mac, host_ifname, host_mac, ...).
std::string format_netif(const std::vector<Netif>& list);

// Another entry of list than self has host_ifname name.
bool host_ifname_taken(const std::vector<Netif>& list, std::string_view name, const Netif* self);
// The host end's name for CT-side ifname as vzctl's generate_veth_name(): veth<CTID>.<n>, n the
// number in ifname (eth1 -> 1, 0 without one), bumped while another entry of list has it. Past
// IFNAMSIZ-1 (15) characters, i.e. 10-digit CTIDs, "veth" becomes "v": v<CTID>.<n>. Exit 21 when
// even that does not fit.
Result<std::string> generate_host_ifname(const std::vector<Netif>& list, std::string_view ctid,
                                         std::string_view ifname);

// Canonical form of a MAC "xx:xx:xx:xx:xx:xx" (upper case), or nullopt if malformed, multicast
// (the kernel refuses it on a veth) or all zero.
std::optional<std::string> canonical_mac(std::string_view s);
// "00:18:51:XX:XX:XX" with a random tail (OpenVZ's OUI, as vzctl's generate_mac()).
std::string generate_mac();

}  // namespace berth::values
