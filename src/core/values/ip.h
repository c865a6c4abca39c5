// IP addresses of a VPS's configuration: IP_ADDRESS, IP_ADDRESS_FORCED, NAMESERVER entries.
//
// One parser for "198.18.0.1", "198.18.0.1/24", "fd00::1/64" (inet_pton, written back in the
// canonical inet_ntop form) and for the space-separated lists of them, and the address classes a
// VPS can never hold. Whether the host uses an address is net/addr_policy.h's. Pure; unit-tested.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::values {

struct IpAddr {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  std::string text;                 // canonical (inet_ntop) form, no prefix

  bool is_v6() const;
  bool is_any() const;  // 0.0.0.0 or ::
  int host_prefix() const { return is_v6() ? 128 : 32; }
  bool operator==(const IpAddr& o) const { return family == o.family && bytes == o.bytes; }
};

// An address with an optional "/prefix" (0..32 or 0..128); a bad address or prefix is an error
// with exit status 71 (vzctl's "bad IP address").
Result<IpAddr> parse_ip(std::string_view s);
// A space/tab/newline separated list; duplicates dropped, order kept. 0.0.0.0 and :: are
// skipped, as vzctl's parse_ip() does.
Result<std::vector<IpAddr>> parse_ip_list(std::string_view s);
// "addr[/prefix]" in canonical form ("FD00::0001/64" -> "fd00::1/64"), nullopt when malformed or
// when a prefix is given and allow_prefix is false.
std::optional<std::string> canonical_ip(std::string_view s, bool allow_prefix);
// The address part of "addr[/prefix]".
std::string ip_part(std::string_view s);

// a inside net/prefix (same family).
bool in_prefix(const IpAddr& a, const IpAddr& net, int prefix);

// Why an address can never be a VPS's unicast address: unspecified, loopback, multicast, limited
// broadcast, link-local, IPv4-mapped and IPv4-compatible IPv6 (not forcible), and the reserved
// IPv4 blocks 0.0.0.0/8 and 240.0.0.0/4 (forcible: some networks use them on purpose).
struct IpClass {
  bool forcible = false;
  std::string why;  // "a loopback address (127.0.0.0/8)", ...
};
std::optional<IpClass> unusable_class(const IpAddr& a);

}  // namespace berth::values
