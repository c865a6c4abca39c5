// Address parsing, host interface names and address plans for routed networking.
#include "net/addr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "core/exit_codes.h"

namespace berth::net {
namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool contains(const std::vector<IpAddr>& v, const IpAddr& a) { return std::find(v.begin(), v.end(), a) != v.end(); }

// FNV-1a: stable across builds and hosts, which std::hash is not.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool is_ifname(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\0'; });
}

}  // namespace

bool IpAddr::is_v6() const { return family == AF_INET6; }

Result<IpAddr> parse_ip(std::string_view s) {
  auto bad = [&] { return Error::invalid("bad IP address `" + std::string(s) + "`", exitcode::kBadIp); };
  size_t slash = s.find('/');
  std::string addr(s.substr(0, slash));
  IpAddr ip;
  ip.family = addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (addr.empty() || inet_pton(ip.family, addr.c_str(), ip.bytes.data()) != 1) return bad();
  char out[INET6_ADDRSTRLEN];
  if (!inet_ntop(ip.family, ip.bytes.data(), out, sizeof out)) return bad();
  ip.text = out;
  if (slash != std::string_view::npos) {
    std::string_view p = s.substr(slash + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || v > (ip.is_v6() ? 128u : 32u)) return bad();
  }
  return ip;
}

Result<std::vector<IpAddr>> parse_ip_list(std::string_view s) {
  std::vector<IpAddr> out;
  for (const auto& w : words(s)) {
    BERTH_ASSIGN_OR_RETURN(IpAddr ip, parse_ip(w));
    bool any = std::all_of(ip.bytes.begin(), ip.bytes.end(), [](uint8_t b) { return b == 0; });
    if (any || contains(out, ip)) continue;
    out.push_back(std::move(ip));
  }
  return out;
}

std::string host_ifname(std::string_view instance, std::string_view ctid) {
  size_t letters = std::min<size_t>(5, ctid.size() < 13 ? 13 - ctid.size() : 0);
  uint64_t h = fnv1a(instance);
  std::string name = "vb";
  for (size_t i = 0; i < letters; ++i) {
    name += static_cast<char>('a' + h % 26);
    h /= 26;
  }
  return name + std::string(ctid);
}

std::string link_alias(std::string_view instance, std::string_view ctid) {
  return "berth:" + std::string(instance) + ":" + std::string(ctid);
}

Result<std::vector<std::string>> parse_neighbour_devs(std::string_view s) {
  if (s.substr(0, 5) == "list:") s.remove_prefix(5);
  auto devs = words(s);
  for (const auto& d : devs) {
    if (d == "all" || d == "detect")
      return Error::invalid("NEIGHBOUR_DEVS=" + d + " is not supported; list the uplink devices", exitcode::kBadValue);
    if (!is_ifname(d)) return Error::invalid("bad device `" + d + "` in NEIGHBOUR_DEVS", exitcode::kBadValue);
  }
  return devs;
}

AddrPlan plan_addresses(const std::vector<IpAddr>& before, const std::vector<IpAddr>& after) {
  AddrPlan plan;
  for (const auto& a : after)
    if (!contains(before, a)) plan.add.push_back(a);
  for (const auto& b : before)
    if (!contains(after, b)) plan.remove.push_back(b);
  return plan;
}

}  // namespace berth::net
