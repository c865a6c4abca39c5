// Network changes of a config (core/edit/config_edit.h): IP_ADDRESS (--ipadd/--ipdel, applied in
// argv order), NAMESERVER/SEARCHDOMAIN (replace the list), HOSTNAME, NETIF (--netif_add/--netif_del
// and the
// --ifname edit), NETDEV and RATE. Forms follow vzctl 4.x src/lib/config.c (parse_ip(),
// canon_ip(), parse_netif_str_cmd(), store_netif()) and src/lib/veth.c (generate_mac()).
#include <algorithm>

#include "core/edit/internal.h"
#include "core/exit_codes.h"
#include "core/values/ip.h"
#include "core/values/netif.h"
#include "core/values/rate.h"

namespace berth::edit::detail {
namespace {

constexpr int kBadIp = exitcode::kBadIp;

using values::canonical_ip;
using values::canonical_mac;
using values::format_netif;
using values::generate_host_ifname;
using values::generate_mac;
using values::host_ifname_taken;
using values::ip_part;
using values::Netif;

Netif* find_netif(std::vector<Netif>& list, std::string_view ifname) {
  for (auto& n : list)
    if (n.ifname == ifname) return &n;
  return nullptr;
}

Result<std::vector<Netif>> load_netif(Edit& e) {
  return values::parse_netif(e.conf.get_or("NETIF", ""));
}

bool is_any_address(std::string_view t) { return t == "0.0.0.0" || t == "::" || t == "::0"; }

Status set_replaced_list(Edit& e, std::string_view key, bool& replaced, std::string_view v,
                         bool (*valid)(std::string_view), std::string_view what) {
  auto toks = split_any(v, " \t");
  if (toks.empty()) return bad_value(v, std::string(what) + " expected");
  for (const auto& t : toks)
    if (t != "inherit" && !valid(t))
      return bad_value(v, "bad " + std::string(what) + " `" + t + "`");
  std::vector<std::string> list;
  if (replaced) list = split_any(e.conf.get_or(key, ""), " \t");
  replaced = true;
  for (const auto& t : toks)
    if (std::find(list.begin(), list.end(), t) == list.end()) list.push_back(t);
  return e.set(key, join(list, " "));
}

bool is_nameserver(std::string_view s) { return canonical_ip(s, false).has_value(); }

// Kernel devices that must stay on the host (check_netdev()).
bool is_strict_netdev(std::string_view s) {
  for (std::string_view p : {"venet", "tun", "tap", "lo"})
    if (s.substr(0, p.size()) == p) return true;
  return false;
}

Result<std::vector<std::string>> parse_netdevs(std::string_view v) {
  auto toks = split_any(v, " \t");
  if (toks.empty()) return bad_value(v, "interface name expected");
  for (const auto& t : toks) {
    if (!is_valid_ifname(t)) return bad_value(v, "bad interface name `" + t + "`");
    if (is_strict_netdev(t)) return bad_value(v, "`" + t + "` cannot be moved into a CT");
  }
  return toks;
}

}  // namespace

namespace {

// The addresses of list that are in the forced list after the edit: IP_ADDRESS_FORCED holds only
// addresses that are also in IP_ADDRESS (erased when none is left).
Status set_forced(Edit& e, std::vector<std::string> forced, const std::vector<std::string>& list) {
  std::erase_if(forced, [&](const std::string& f) {
    return std::none_of(list.begin(), list.end(),
                        [&](const std::string& x) { return ip_part(x) == f; });
  });
  if (forced.empty()) {
    if (e.conf.has("IP_ADDRESS_FORCED")) e.erase("IP_ADDRESS_FORCED");
    return {};
  }
  return e.set("IP_ADDRESS_FORCED", join(forced, " "));
}

// --ipadd and --ipadd_force: the address must be a unicast a VPS may hold (net/addr_policy.h: 71
// otherwise; with force, the reserved blocks 0/8 and 240/4 too). Whether the host uses it (78)
// is checked by the command against the host as it is (create, set) and again at every start.
Status add_ips(Edit& e, std::string_view v, bool force) {
  auto toks = split_any(v, " \t");
  if (toks.empty()) return bad_value(v, "IP address expected", kBadIp);
  auto list = split_any(e.conf.get_or("IP_ADDRESS", ""), " \t");
  auto forced = split_any(e.conf.get_or("IP_ADDRESS_FORCED", ""), " \t");
  for (const auto& t : toks) {
    auto ip = canonical_ip(t, true);
    if (!ip) return bad_value(v, "bad IP address `" + t + "`", kBadIp);
    auto parsed = values::parse_ip(*ip);
    if (!parsed.ok()) return bad_value(v, "bad IP address `" + t + "`", kBadIp);
    if (auto r = values::unusable_class(*parsed); r && !(force && r->forcible))
      return bad_value(v,
                       "`" + t + "` is " + r->why +
                           (r->forcible ? "; use --ipadd_force to assign it anyway" : ""),
                       kBadIp);
    auto same = std::find_if(list.begin(), list.end(),
                             [&](const std::string& x) { return ip_part(x) == ip_part(*ip); });
    if (same != list.end())
      *same = *ip;  // same address: the new prefix wins
    else
      list.push_back(*ip);
    if (force && std::find(forced.begin(), forced.end(), ip_part(*ip)) == forced.end())
      forced.push_back(ip_part(*ip));
  }
  BERTH_RETURN_IF_ERROR(e.set("IP_ADDRESS", join(list, " ")));
  if (force || e.conf.has("IP_ADDRESS_FORCED")) return set_forced(e, std::move(forced), list);
  return {};
}

}  // namespace

Status handle_ipadd(Edit& e, std::string_view v) { return add_ips(e, v, false); }

Status handle_ipadd_force(Edit& e, std::string_view v) { return add_ips(e, v, true); }

Status handle_ipdel(Edit& e, std::string_view v) {
  auto toks = split_any(v, " \t");
  if (toks.empty()) return bad_value(v, "IP address or `all` expected", kBadIp);
  auto list = split_any(e.conf.get_or("IP_ADDRESS", ""), " \t");
  for (const auto& t : toks) {
    if (t == "all") {
      list.clear();
      continue;
    }
    if (is_any_address(t)) continue;
    auto ip = canonical_ip(t, true);
    if (!ip) return bad_value(v, "bad IP address `" + t + "`", kBadIp);
    std::erase_if(list, [&](const std::string& x) { return ip_part(x) == ip_part(*ip); });
  }
  BERTH_RETURN_IF_ERROR(e.set("IP_ADDRESS", join(list, " ")));
  if (e.conf.has("IP_ADDRESS_FORCED"))
    return set_forced(e, split_any(e.conf.get_or("IP_ADDRESS_FORCED", ""), " \t"), list);
  return {};
}

Status handle_hostname(Edit& e, std::string_view v) {
  if (!is_valid_hostname(v)) return bad_value(v, "not a valid host name");
  return e.set("HOSTNAME", v);
}

Status handle_nameserver(Edit& e, std::string_view v) {
  return set_replaced_list(e, "NAMESERVER", e.nameserver_replaced, v, is_nameserver, "IP address");
}

Status handle_searchdomain(Edit& e, std::string_view v) {
  return set_replaced_list(e, "SEARCHDOMAIN", e.searchdomain_replaced, v, is_valid_hostname,
                           "domain");
}

Status handle_netif_add(Edit& e, std::string_view v) {
  BERTH_ASSIGN_OR_RETURN(auto list, load_netif(e));
  auto toks = split_any(v, " ");
  if (toks.empty()) return bad_value(v, "ifname[,mac,host_ifname,host_mac,bridge] expected");
  for (const auto& tok : toks) {
    // Keep empty fields: "eth0,,veth101.0" leaves the MAC to be generated.
    std::vector<std::string> f;
    size_t start = 0;
    while (true) {
      size_t c = tok.find(',', start);
      f.push_back(tok.substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (f.size() > 5) return bad_value(v, "ifname[,mac,host_ifname,host_mac,bridge] expected");
    f.resize(5);
    Netif n;
    n.ifname = f[0];
    if (!is_valid_ifname(n.ifname) || n.ifname == "all")
      return bad_value(v, "bad interface name `" + f[0] + "`");
    if (find_netif(list, n.ifname)) return bad_value(v, "veth `" + n.ifname + "` already exists");
    if (f[1].empty())
      n.mac = generate_mac();
    else if (auto m = canonical_mac(f[1]))
      n.mac = *m;
    else
      return bad_value(v, "bad MAC address `" + f[1] + "`");
    if (f[2].empty()) {
      BERTH_ASSIGN_OR_RETURN(n.host_ifname, generate_host_ifname(list, e.ctid, n.ifname));
    } else if (!is_valid_ifname(f[2]) || host_ifname_taken(list, f[2], nullptr)) {
      return bad_value(v, "bad or duplicate host interface name `" + f[2] + "`");
    } else {
      n.host_ifname = f[2];
    }
    if (f[3].empty())
      n.host_mac = generate_mac();
    else if (auto m = canonical_mac(f[3]))
      n.host_mac = *m;
    else
      return bad_value(v, "bad MAC address `" + f[3] + "`");
    if (!f[4].empty() && !is_valid_ifname(f[4]))
      return bad_value(v, "bad bridge name `" + f[4] + "`");
    n.bridge = f[4];
    list.push_back(std::move(n));
  }
  return e.set("NETIF", format_netif(list));
}

Status handle_netif_del(Edit& e, std::string_view v) {
  if (v == "all") return e.set("NETIF", "");
  if (!is_valid_ifname(v)) return bad_value(v, "interface name or `all` expected");
  BERTH_ASSIGN_OR_RETURN(auto list, load_netif(e));
  std::erase_if(list, [&](const Netif& n) { return n.ifname == v; });
  return e.set("NETIF", format_netif(list));
}

Status finish_ifname_edit(Edit& e) {
  const IfnameEdit& ed = e.ifname_edit;
  if (!ed.ifname) return {};
  auto fail = [](const std::string& opt, Error err) { return std::move(err.context("--" + opt)); };
  BERTH_ASSIGN_OR_RETURN(auto list, load_netif(e));
  Netif* n = find_netif(list, *ed.ifname);
  if (!n)
    return Error::invalid("veth `" + *ed.ifname + "` is not configured, use --netif_add first",
                          exitcode::kBadArgument);
  if (ed.mac) {
    auto m = canonical_mac(*ed.mac);
    if (!m) return fail("mac", bad_value(*ed.mac, "bad MAC address"));
    n->mac = *m;
  }
  if (ed.host_mac) {
    auto m = canonical_mac(*ed.host_mac);
    if (!m) return fail("host_mac", bad_value(*ed.host_mac, "bad MAC address"));
    n->host_mac = *m;
  }
  if (ed.host_ifname) {
    if (!is_valid_ifname(*ed.host_ifname) || host_ifname_taken(list, *ed.host_ifname, n))
      return fail("host_ifname", bad_value(*ed.host_ifname, "bad or duplicate interface name"));
    n->host_ifname = *ed.host_ifname;
  }
  if (ed.bridge) {
    if (!is_valid_ifname(*ed.bridge))
      return fail("bridge", bad_value(*ed.bridge, "bad bridge name"));
    n->bridge = *ed.bridge;
  }
  if (ed.mac_filter) {
    if (*ed.mac_filter != "on" && *ed.mac_filter != "off")
      return fail("mac_filter", bad_value(*ed.mac_filter, "on or off expected"));
    n->mac_filter = *ed.mac_filter;
  }
  return e.set("NETIF", format_netif(list));
}

Status handle_netdev_add(Edit& e, std::string_view v) {
  BERTH_ASSIGN_OR_RETURN(auto devs, parse_netdevs(v));
  auto list = split_any(e.conf.get_or("NETDEV", ""), " \t");
  for (const auto& d : devs)
    if (std::find(list.begin(), list.end(), d) == list.end()) list.push_back(d);
  return e.set("NETDEV", join(list, " "));
}

Status handle_netdev_del(Edit& e, std::string_view v) {
  BERTH_ASSIGN_OR_RETURN(auto devs, parse_netdevs(v));
  auto list = split_any(e.conf.get_or("NETDEV", ""), " \t");
  for (const auto& d : devs) std::erase(list, d);
  return e.set("NETDEV", join(list, " "));
}

Status handle_rate(Edit& e, std::string_view v) {
  // dev:class:kbit (vz7 --rate); a later rate for the same dev:class replaces the earlier one.
  auto add = values::parse_rate_list(v);
  if (!add.ok() || add->empty()) return bad_value(v, "dev:class:kbit expected");
  auto have = values::parse_rate_list(e.conf.get_or("RATE", ""));
  if (!have.ok()) have = std::vector<values::RateEntry>();  // a hand-broken RATE is replaced
  auto merged = values::merge_rates(std::move(*have), *add);
  for (const auto& r : values::unenforced_rates(merged)) {
    std::string what = "RATE " + r + " (only class 1, all traffic, is shaped)";
    if (std::find(e.out.not_enforced.begin(), e.out.not_enforced.end(), what) ==
        e.out.not_enforced.end())
      e.out.not_enforced.push_back(what);
  }
  return e.set("RATE", values::format_rate_list(merged));
}

}  // namespace berth::edit::detail
