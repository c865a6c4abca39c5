// Which addresses a routed VPS may be given (--ipadd, IP_ADDRESS): pure decisions over an address
// and a snapshot of the host's network namespace. No syscalls here; unit-tested. The snapshot is
// read by Netlink::host_net() (net/netlink.h) and the checks are run by net/addr_check.h.
//
// Two kinds of refusal, with vzctl's exit statuses:
//  - invalid (71): addresses that are never a host's unicast address: unspecified, loopback,
//    multicast, limited broadcast, link-local, IPv4-mapped and IPv4-compatible IPv6, and the
//    reserved IPv4 blocks 0.0.0.0/8 ("this network") and 240.0.0.0/4 (class E).
//  - in use (78): the host's own addresses (on any interface, and local/broadcast/anycast routes of
//    its local table), the network and broadcast addresses of its connected subnets, the next hop
//    of any of its routes (its gateways), the addresses of its neighbour table entries (other
//    machines on the LAN), and addresses the host routes to another device with a /32 (/128)
//    route (another VPS, of this or any other Berth instance).
// A route that merely covers the address (the LAN's /24 on eth0, the default route) does not make
// it in use: a VPS address inside the host's LAN subnet, answered by proxy ARP, is the normal case.
//
// The override (--ipadd_force, saved as IP_ADDRESS_FORCED) accepts what a deliberate admin may
// mean: the reserved blocks 0.0.0.0/8 and 240.0.0.0/4, a gateway's address (the VPS becomes the
// LAN's router) and a neighbour's address (a machine being moved into a VPS). It never accepts an
// address the VPS could only use to impersonate the host or break the host's own traffic:
// loopback, multicast, link-local, broadcast, the host's own addresses, a subnet's network or
// broadcast address, or another VPS's address.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "net/addr.h"

namespace berth::net {

struct Refusal {
  int exit_status = 0;    // exitcode::kBadIp (71) or exitcode::kIpInUse (78)
  bool forcible = false;  // --ipadd_force accepts it
  std::string why;        // "loopback", "the gateway of 198.19.50.0/24 (dev eth0)", ...
};

// The class of addr, if it can never be a VPS's address (exit 71). nullopt: an ordinary unicast.
std::optional<Refusal> invalid_class(const IpAddr& addr);

// A snapshot of the host's network namespace, as much of it as the checks need.
struct HostLink {
  int ifindex = 0;
  std::string name, alias;
};
struct HostAddress {
  int ifindex = 0;
  IpAddr addr;
  int prefix = 0;
};
struct HostNexthop {
  int ifindex = 0;
  std::optional<IpAddr> gateway;
};
struct HostRoute {
  int table = 0;  // RT_TABLE_MAIN (254), RT_TABLE_LOCAL (255), ...
  int type = 0;   // RTN_UNICAST (1), RTN_LOCAL (2), RTN_BROADCAST (3), RTN_ANYCAST (4), ...
  int family = 0;
  IpAddr dst;  // all zeros for a default route
  int prefix = 0;
  std::vector<HostNexthop> nexthops;
};
struct HostNeighbour {
  int ifindex = 0;
  IpAddr addr;
  int state = 0;  // NUD_* bits
};
struct HostNet {
  std::vector<HostLink> links;
  std::vector<HostAddress> addresses;
  std::vector<HostRoute> routes;
  std::vector<HostNeighbour> neighbours;

  const HostLink* link(int ifindex) const;
};

// Why addr is in use on host (exit 78), or nullopt. own_alias is the host link alias of the VPS
// the address is for ("berth:<instance>:<ctid>", net/addr.h link_alias()): its own routes are not
// a use by someone else. Neighbour entries on Berth's own links (alias "berth:...") are ignored:
// a VPS's address is known by its route, and a stale entry on a VPS's veth proves nothing.
std::optional<Refusal> host_use(const HostNet& host, const IpAddr& addr,
                                std::string_view own_alias);

// Both checks for one address of a VPS: ok, or the one-line error with exit 71 or 78. forced: the
// address is in IP_ADDRESS_FORCED (forcible refusals are then accepted).
Status check_address(const HostNet& host, const IpAddr& addr, std::string_view own_alias,
                     bool forced);

// Only the class check (71), for option parsing, where the host is not looked at.
Status check_address_class(const IpAddr& addr, bool forced);

}  // namespace berth::net
