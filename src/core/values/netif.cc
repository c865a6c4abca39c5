// NETIF parsing and writing (vzctl's parse_netif_str() / store_netif() forms) and MACs.
#include "core/values/netif.h"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::values {
namespace {

Error bad_entry(std::string_view entry, std::string_view why) {
  return Error::invalid(std::string(why) + " in entry `" + printable(entry) + "`",
                        exitcode::kBadValue);
}

Status check_entry(const Netif& n, std::string_view entry) {
  if (n.ifname.empty()) return bad_entry(entry, "no ifname");
  if (!is_valid_ifname(n.ifname) || n.ifname == "all")
    return bad_entry(entry, "bad interface name `" + printable(n.ifname) + "`");
  for (const auto* mac : {&n.mac, &n.host_mac})
    if (!mac->empty() && !canonical_mac(*mac))
      return bad_entry(entry, "bad MAC `" + printable(*mac) + "`");
  if (!n.host_ifname.empty() && !is_valid_ifname(n.host_ifname))
    return bad_entry(entry, "bad host interface name `" + printable(n.host_ifname) + "`");
  if (!n.bridge.empty() && !is_valid_ifname(n.bridge))
    return bad_entry(entry, "bad bridge name `" + printable(n.bridge) + "`");
  if (!n.mac_filter.empty() && n.mac_filter != "on" && n.mac_filter != "off" &&
      n.mac_filter != "yes" && n.mac_filter != "no")
    return bad_entry(entry,
                     "bad mac_filter `" + printable(n.mac_filter) + "` (on or off expected)");
  return {};
}

}  // namespace

Result<std::vector<Netif>> parse_netif(std::string_view v) {
  std::vector<Netif> out;
  for (const auto& entry : split_any(v, ";")) {
    Netif n;
    for (const auto& kv : split_any(entry, ",")) {
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
    BERTH_RETURN_IF_ERROR(check_entry(n, entry));
    for (const auto& o : out) {
      if (o.ifname == n.ifname) return bad_entry(entry, "duplicate interface `" + n.ifname + "`");
      if (!n.host_ifname.empty() && o.host_ifname == n.host_ifname)
        return bad_entry(entry, "duplicate host interface `" + n.host_ifname + "`");
    }
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
  return std::any_of(list.begin(), list.end(),
                     [&](const Netif& n) { return &n != self && n.host_ifname == name; });
}

Result<std::string> generate_host_ifname(const std::vector<Netif>& list, std::string_view ctid,
                                         std::string_view ifname) {
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
  return Error::invalid(
      "cannot make a host interface name for `" + std::string(ifname) + "`, give host_ifname",
      exitcode::kBadValue);
}

std::optional<std::string> canonical_mac(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < 17; ++i) {
    char c = s[i];
    if (i % 3 == 2) {
      if (c != ':') return std::nullopt;
      out += ':';
    } else {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  // The low bit of the first octet marks a multicast address: the kernel refuses it on a veth.
  if (std::string_view("13579BDF").find(out[1]) != std::string_view::npos) return std::nullopt;
  if (out == "00:00:00:00:00:00") return std::nullopt;
  return out;
}

std::string generate_mac() {
  unsigned char tail[3] = {0, 0, 0};
  if (::getrandom(tail, sizeof tail, 0) != static_cast<ssize_t>(sizeof tail)) {
    auto t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    tail[0] = static_cast<unsigned char>(t);
    tail[1] = static_cast<unsigned char>(t >> 8);
    tail[2] = static_cast<unsigned char>(t >> 16);
  }
  char buf[18];
  std::snprintf(buf, sizeof buf, "00:18:51:%02X:%02X:%02X", tail[0], tail[1], tail[2]);
  return buf;
}

}  // namespace berth::values
