// A CT's addresses in its distribution's own network configuration: vzctl's ADD_IP/DEL_IP dist
// actions, for ifupdown (Debian, older Ubuntu) and systemd-networkd (netplan Ubuntu, others).
//
// Berth itself configures the routed device (net/routed.h) before the CT's init runs; these files
// make the CT's own network tools agree with it, so `systemctl restart networking` (ifdown -a;
// ifup -a) or a networkd restart inside puts back the same addresses and default routes instead
// of dropping them. ifupdown gets an `inet manual` stanza whose commands are idempotent
// (`ip addr replace`, `ip route replace`), so ifup at boot, after Berth's own setup, changes
// nothing. Bridged NETIF interfaces get their static addresses (NETIF's `ip=`, `gw=`, `gw6=`
// pairs) or a DHCP stanza (`dhcp=yes`, `dhcp6=yes`: the client asks the user's own server);
// without any of these Berth writes nothing for them.
//
// Every file Berth writes is its own (ifupdown: /etc/network/interfaces.d/berth-<ifname>,
// networkd: /etc/systemd/network/10-berth-<ifname>.network; characters of ifname other than
// letters, digits and '-' written as _<hex>, e.g. berth-eth0_2e100) and is removed again when the
// interface loses its addresses. Pure text transforms (unit-tested) plus set_network(), which runs
// INSIDE the CT (see files.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "core/values/ip.h"
#include "core/values/netif.h"
#include "dist/family.h"

namespace berth::dist {

// The routed device as the CT sees it: its name, its addresses (each a /32 or /128 inside) and
// the next hops of its default routes (the caller passes net/addr.h's).
struct RoutedIf {
  std::string ifname;
  std::vector<values::IpAddr> addrs;
  std::string gw4, gw6;
};

// One bridged interface's own addressing, from its NETIF entry.
struct BridgedIf {
  std::string ifname;
  std::vector<std::string> addrs;  // "addr/prefix", canonical
  std::string gw4, gw6;
  bool dhcp4 = false, dhcp6 = false;
  bool configured() const { return !addrs.empty() || dhcp4 || dhcp6; }
};

// The addressing pairs of a NETIF entry (kept in Netif::extra): `ip=addr/prefix` (repeatable; a
// bare address gets /32 or /128), `gw=`, `gw6=`, `dhcp=yes|no`, `dhcp6=yes|no`. Error exit 21 for
// a bad value (a gateway of the wrong family, a dhcp value other than yes/no). Pure.
Result<BridgedIf> bridged_if_of(const values::Netif& n);

// Which network configuration systems the CT uses. ifupdown: /etc/network/interfaces and an ifup
// binary; networkd: systemd-networkd enabled (a .wants link to its service or socket).
struct NetStacks {
  bool ifupdown = false, networkd = false;
};
NetStacks detect_net_stacks(const std::string& root = "");

// The ifupdown stanza for the routed device ("" when it has no addresses). Pure.
std::string ifupdown_routed(const RoutedIf& r);
// The ifupdown stanzas for a bridged interface ("" when not configured()). Pure.
std::string ifupdown_bridged(const BridgedIf& b);
// /etc/network/interfaces without the stanzas of ifname and its aliases (ifname:N), as vzctl's
// Debian scripts wrote them into this file, and without them in `auto`/`allow-*` lines. Other
// stanzas, comments and options are kept. Pure.
std::string interfaces_without(std::string_view text, std::string_view ifname);
// Whether /etc/network/interfaces reads file (a `source` line whose glob matches it, or a
// `source-directory` of its directory). Pure.
bool interfaces_reads(std::string_view text, std::string_view file);

// The systemd-networkd .network file for the routed device ("" without addresses). Pure.
std::string networkd_routed(const RoutedIf& r);
// The .network file for a bridged interface ("" when not configured()). Pure.
std::string networkd_bridged(const BridgedIf& b);

// Inside the CT: bring the distribution's network files in line with routed and bridged (all
// of the CT's interfaces, as the config has them now): write the files of configured ones, remove
// Berth's files of the others. Families other than Debian and the default one are left alone (the
// busybox template's init configures nothing itself); so is a CT with neither ifupdown nor
// networkd. Errors name the file and keep its errno.
Status set_network(Family family, const RoutedIf& routed, const std::vector<BridgedIf>& bridged,
                   const std::string& root = "");

// The routed device's names, as net/addr.h has them (kCtIfname, kGatewayV4, kGatewayV6).
struct RoutedNames {
  std::string_view ifname, gw4, gw6;
};
// The CT's interfaces as its config has them: IP_ADDRESS (routed addresses, on names.ifname) and
// NETIF's entries. Error exit 71 for a bad address, 21 for a bad NETIF. Pure.
Result<std::pair<RoutedIf, std::vector<BridgedIf>>> interfaces_of(std::string_view ip_address,
                                                                  std::string_view netif,
                                                                  const RoutedNames& names);
// Inside the CT: set_network for ct's IP_ADDRESS and NETIF, the family detected from its
// OSTEMPLATE and its own os-release (family.h).
Status set_ct_network(const CtConfig& ct, const RoutedNames& names, const std::string& root = "");

}  // namespace berth::dist
