// IP address parsing (see ip.h).
#include "core/values/ip.h"

#include <arpa/inet.h>

#include <algorithm>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::values {

bool IpAddr::is_v6() const { return family == AF_INET6; }

bool IpAddr::is_any() const {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Result<IpAddr> parse_ip(std::string_view s) {
  auto bad = [&] {
    return Error::invalid("bad IP address `" + printable(s) + "`", exitcode::kBadIp);
  };
  size_t slash = s.find('/');
  std::string addr(s.substr(0, slash));
  IpAddr ip;
  ip.family = addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (addr.empty() || inet_pton(ip.family, addr.c_str(), ip.bytes.data()) != 1) return bad();
  char out[INET6_ADDRSTRLEN];
  if (!inet_ntop(ip.family, ip.bytes.data(), out, sizeof out)) return bad();
  ip.text = out;
  if (slash != std::string_view::npos &&
      !parse_u64_max(s.substr(slash + 1), ip.is_v6() ? 128u : 32u))
    return bad();
  return ip;
}

Result<std::vector<IpAddr>> parse_ip_list(std::string_view s) {
  std::vector<IpAddr> out;
  for (const auto& w : split_any(s, " \t\n")) {
    BERTH_ASSIGN_OR_RETURN(IpAddr ip, parse_ip(w));
    if (ip.is_any() || std::find(out.begin(), out.end(), ip) != out.end()) continue;
    out.push_back(std::move(ip));
  }
  return out;
}

std::optional<std::string> canonical_ip(std::string_view s, bool allow_prefix) {
  size_t slash = s.find('/');
  if (slash != std::string_view::npos && !allow_prefix) return std::nullopt;
  auto ip = parse_ip(s);
  if (!ip.ok()) return std::nullopt;
  std::string r = ip->text;
  if (slash != std::string_view::npos) r += "/" + std::to_string(*parse_u64(s.substr(slash + 1)));
  return r;
}

std::string ip_part(std::string_view s) { return std::string(s.substr(0, s.find('/'))); }

bool in_prefix(const IpAddr& a, const IpAddr& net, int prefix) {
  int len = a.is_v6() ? 16 : 4;
  if (a.family != net.family || prefix < 0 || prefix > len * 8) return false;
  int full = prefix / 8, rest = prefix % 8;
  for (int i = 0; i < full; ++i)
    if (a.bytes[i] != net.bytes[i]) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (net.bytes[full] & mask);
}

namespace {

bool in_net(const IpAddr& a, std::string_view net, int prefix) {
  return in_prefix(a, *parse_ip(net), prefix);
}

std::optional<IpClass> refuse(std::string why, bool forcible = false) {
  return IpClass{forcible, std::move(why)};
}

}  // namespace

std::optional<IpClass> unusable_class(const IpAddr& a) {
  if (!a.is_v6()) {
    if (a.is_any()) return refuse("the unspecified address");
    if (a.bytes == parse_ip("255.255.255.255")->bytes)
      return refuse("the limited broadcast address");
    if (in_net(a, "127.0.0.0", 8)) return refuse("a loopback address (127.0.0.0/8)");
    if (in_net(a, "169.254.0.0", 16)) return refuse("a link-local address (169.254.0.0/16)");
    if (in_net(a, "224.0.0.0", 4)) return refuse("a multicast address (224.0.0.0/4)");
    // Reserved, but Linux routes both as unicast: some networks use them on purpose.
    if (in_net(a, "0.0.0.0", 8))
      return refuse("in the reserved block 0.0.0.0/8 (\"this network\")", true);
    if (in_net(a, "240.0.0.0", 4))
      return refuse("in the reserved block 240.0.0.0/4 (class E)", true);
    return std::nullopt;
  }
  if (a.is_any()) return refuse("the unspecified address");
  if (a.bytes == parse_ip("::1")->bytes) return refuse("the loopback address");
  if (a.bytes[0] == 0xff) return refuse("a multicast address (ff00::/8)");
  if (in_net(a, "fe80::", 10)) return refuse("a link-local address (fe80::/10)");
  if (in_net(a, "::ffff:0:0", 96)) return refuse("an IPv4-mapped address (::ffff:0:0/96)");
  if (in_net(a, "::", 96)) return refuse("an IPv4-compatible address (::/96, deprecated)");
  return std::nullopt;
}

}  // namespace berth::values
