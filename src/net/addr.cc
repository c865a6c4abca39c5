// Address parsing, host interface names and address plans for routed networking.
#include "net/addr.h"

#include <algorithm>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::net {
namespace {

bool contains(const std::vector<IpAddr>& v, const IpAddr& a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}

// FNV-1a: stable across builds and hosts, which std::hash is not.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

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
  auto devs = values::split_any(s, " \t\n");
  for (const auto& d : devs) {
    if (d == "all" || d == "detect")
      return Error::invalid("NEIGHBOUR_DEVS=" + d + " is not supported; list the uplink devices",
                            exitcode::kBadValue);
    if (!values::is_valid_ifname(d))
      return Error::invalid("bad device `" + d + "` in NEIGHBOUR_DEVS", exitcode::kBadValue);
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
