// Netlink::host_net_for(a) against the whole-namespace snapshot host_net(): for the addresses this
// machine's network has something to say about (its own addresses, their subnets' network and
// broadcast addresses, gateways, neighbours, routed destinations, and some that nothing knows),
// addr_policy's host_use() must decide the same from both. Reads the caller's network namespace
// (no privilege needed for dumps and lookups).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <set>

#include "net/netlink.h"

namespace berth::net {
namespace {

std::string decision(const HostNet& host, const IpAddr& a) {
  auto r = host_use(host, a, "berth:none:0");
  return r ? r->why + (r->forcible ? " (forcible)" : "") : "free";
}

// a with the bits after prefix all zeros (the network address) or all ones (IPv4 broadcast).
IpAddr with_last_bits(IpAddr a, int prefix, bool ones) {
  int bits = a.is_v6() ? 128 : 32;
  for (int i = prefix; i < bits; ++i) {
    auto& byte = a.bytes[static_cast<size_t>(i / 8)];
    auto m = static_cast<uint8_t>(0x80 >> (i % 8));
    byte = static_cast<uint8_t>(ones ? (byte | m) : (byte & ~m));
  }
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(a.family, a.bytes.data(), buf, sizeof buf);
  return *parse_ip(buf);
}

TEST(NetHostNetFor, DecidesAsTheWholeSnapshot) {
  auto nl = Netlink::open();
  ASSERT_TRUE(nl.ok()) << nl.error().message();
  auto full = nl->host_net();
  ASSERT_TRUE(full.ok()) << full.error().message();
  std::vector<IpAddr> probes;
  for (const char* s : {"198.18.250.250", "fd00:ffff::77", "192.0.2.1", "2001:db8::1", "8.8.8.8"})
    probes.push_back(*parse_ip(s));
  for (const auto& h : full->addresses) {
    probes.push_back(h.addr);
    probes.push_back(with_last_bits(h.addr, h.prefix, false));
    if (!h.addr.is_v6()) probes.push_back(with_last_bits(h.addr, h.prefix, true));
  }
  for (const auto& r : full->routes) {
    if (r.prefix == r.dst.host_prefix()) probes.push_back(r.dst);
    for (const auto& nh : r.nexthops)
      if (nh.gateway) probes.push_back(*nh.gateway);
  }
  for (const auto& n : full->neighbours) probes.push_back(n.addr);
  std::set<std::string> seen;
  for (auto& a : probes) {
    // check_address() asks the host only about addresses a VPS may hold at all.
    if (a.text.empty() || !check_address_class(a, true).ok() || !seen.insert(a.text).second)
      continue;
    auto part = nl->host_net_for(a);
    ASSERT_TRUE(part.ok()) << a.text << ": " << part.error().message();
    EXPECT_EQ(decision(*part, a), decision(*full, a)) << a.text;
    // The part is a small fraction of the namespace, not a copy of it.
    EXPECT_LE(part->links.size(), full->links.size()) << a.text;
  }
  EXPECT_GE(seen.size(), 5u);
}

}  // namespace
}  // namespace berth::net
