// Announcing that a CT's addresses are now reached through this host, on the host's uplinks
// (NEIGHBOUR_DEVS): a gratuitous ARP request for an IPv4 address, an unsolicited neighbour
// advertisement (override) for an IPv6 one, as OpenVZ's `arpsend -U` and `ndsend` did. Sent when a
// routed CT's network is attached (start, restore, a migration's destination), so the LAN's
// neighbour caches that still name another host (the one the CT came from) move at once instead
// of after their entries go stale.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/values/ip.h"

namespace berth::net {

using Mac = std::array<uint8_t, 6>;

// The ARP payload (after the Ethernet header) of a gratuitous request: sender and target address
// both a, sender hardware address mac, target hardware address zero. Pure.
std::vector<uint8_t> gratuitous_arp(const Mac& mac, const values::IpAddr& a);
// The ICMPv6 neighbour advertisement for a with the override flag and mac as the target's
// link-layer address (checksum left 0: the kernel fills it for raw ICMPv6 sockets). Pure.
std::vector<uint8_t> unsolicited_na(const Mac& mac, const values::IpAddr& a);

// Sends the announcement of each address once on each device (by index). An error on one device
// does not stop the others; the first is returned.
Status announce_addresses(const std::vector<int>& ifindexes,
                          const std::vector<values::IpAddr>& addrs);

}  // namespace berth::net
