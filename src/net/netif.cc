// NETIF parsing and writing (vzctl's parse_netif_str() / store_netif() forms).
#include "net/netif.h"

#include <cctype>

#include "core/exit_codes.h"

namespace berth::net {
namespace {

std::vector<std::string> split_nonempty(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<std::vector<Netif>> parse_netif(std::string_view v) {
  std::vector<Netif> out;
  for (const auto& entry : split_nonempty(v, ';')) {
    Netif n;
    for (const auto& kv : split_nonempty(entry, ',')) {
      size_t eq = kv.find('=');
      std::string k = kv.substr(0, eq), val = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (k == "ifname")
        n.ifname = val;
      else if (k == "bridge")
        n.bridge = val;
      else if (k == "mac")
        n.mac = val;
      else if (k == "host_ifname")
        n.host_ifname = val;
      else if (k == "host_mac")
        n.host_mac = val;
      else if (k == "mac_filter")
        n.mac_filter = val;
      else
        n.extra.push_back(kv);
    }
    if (n.ifname.empty())
      return Error::invalid("NETIF entry `" + entry + "` in the config has no ifname", exitcode::kBadValue);
    out.push_back(std::move(n));
  }
  return out;
}

std::string format_netif(const std::vector<Netif>& list) {
  std::string out;
  for (const auto& n : list) {
    std::string entry;
    auto add = [&](std::string_view k, const std::string& val) {
      if (val.empty()) return;
      if (!entry.empty()) entry += ",";
      entry += std::string(k) + "=" + val;
    };
    add("ifname", n.ifname);
    add("bridge", n.bridge);
    add("mac", n.mac);
    add("host_ifname", n.host_ifname);
    add("host_mac", n.host_mac);
    add("mac_filter", n.mac_filter);
    for (const auto& x : n.extra) entry += (entry.empty() ? "" : ",") + x;
    if (!out.empty()) out += ";";
    out += entry;
  }
  return out;
}

bool host_ifname_taken(const std::vector<Netif>& list, std::string_view name, const Netif* self) {
  for (const auto& n : list)
    if (&n != self && n.host_ifname == name) return true;
  return false;
}

Result<std::string> generate_host_ifname(const std::vector<Netif>& list, std::string_view ctid, std::string_view ifname) {
  unsigned n = 0;
  size_t i = 0;
  while (i < ifname.size() && !std::isdigit(static_cast<unsigned char>(ifname[i]))) ++i;
  if (i > 0)
    while (i < ifname.size() && std::isdigit(static_cast<unsigned char>(ifname[i])) && n < 100000)
      n = n * 10 + static_cast<unsigned>(ifname[i++] - '0');
  for (unsigned tries = 0; tries < 1000; ++tries, ++n) {
    std::string name = "veth" + std::string(ctid) + "." + std::to_string(n);
    if (name.size() > 15) name = "v" + std::string(ctid) + "." + std::to_string(n);
    if (name.size() > 15) break;
    if (!host_ifname_taken(list, name, nullptr)) return name;
  }
  return Error::invalid("cannot make a host interface name for `" + std::string(ifname) + "`, give host_ifname",
                        exitcode::kBadValue);
}

std::string netif_alias_prefix(std::string_view instance, std::string_view ctid) {
  return "berth:" + std::string(instance) + ":" + std::string(ctid) + ":";
}

std::string netif_alias(std::string_view instance, std::string_view ctid, std::string_view ifname) {
  return netif_alias_prefix(instance, ctid) + std::string(ifname);
}

}  // namespace berth::net
