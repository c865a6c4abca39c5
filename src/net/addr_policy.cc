// Address classes and the host-use decision for VPS addresses (see addr_policy.h).
#include "net/addr_policy.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "core/exit_codes.h"

namespace berth::net {
namespace {

Refusal bad(std::string why, bool forcible = false) {
  return {exitcode::kBadIp, forcible, std::move(why)};
}
Refusal used(std::string why, bool forcible = false) {
  return {exitcode::kIpInUse, forcible, std::move(why)};
}

int addr_len(const IpAddr& a) { return a.is_v6() ? 16 : 4; }

using values::in_prefix;

// The address of a with every bit after prefix set to `ones`.
IpAddr with_host_bits(const IpAddr& a, int prefix, bool ones) {
  IpAddr r;
  r.family = a.family;
  int bits = addr_len(a) * 8;
  for (int i = 0; i < bits; ++i) {
    int byte = i / 8;
    uint8_t bit = static_cast<uint8_t>(0x80 >> (i % 8));
    bool set = i < prefix ? (a.bytes[byte] & bit) != 0 : ones;
    if (set) r.bytes[byte] |= bit;
  }
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(r.family, r.bytes.data(), out, sizeof out)) r.text = out;
  return r;
}

std::string text_of(const IpAddr& a) {
  if (!a.text.empty()) return a.text;
  char out[INET6_ADDRSTRLEN];
  return inet_ntop(a.family, a.bytes.data(), out, sizeof out) ? out : "?";
}

std::string dev_name(const HostNet& host, int ifindex) {
  if (const HostLink* l = host.link(ifindex)) return l->name;
  return "#" + std::to_string(ifindex);
}

bool is_berth_link(const HostLink* l) { return l && l->alias.rfind("berth:", 0) == 0; }

// "CT 102 of Berth instance berth" for a routed VPS's host link, else "dev <name>".
std::string owner_of(const HostNet& host, int ifindex) {
  const HostLink* l = host.link(ifindex);
  if (is_berth_link(l)) {
    std::string rest = l->alias.substr(6);  // <instance>:<ctid>[:<ifname>]
    size_t colon = rest.find(':');
    if (colon != std::string::npos) {
      std::string inst = rest.substr(0, colon), ct = rest.substr(colon + 1);
      if (size_t c2 = ct.find(':'); c2 != std::string::npos) ct.resize(c2);
      return "CT " + ct + " of Berth instance " + inst + " (dev " + l->name + ")";
    }
  }
  return "dev " + dev_name(host, ifindex);
}

std::string route_text(const HostRoute& r) {
  if (r.prefix == 0) return "default";
  return text_of(r.dst) + "/" + std::to_string(r.prefix);
}

std::string type_name(int type) {
  switch (type) {
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    case RTN_THROW: return "throw";
    case RTN_NAT: return "nat";
    default: return "type " + std::to_string(type);
  }
}

}  // namespace

const HostLink* HostNet::link(int ifindex) const {
  for (const auto& l : links)
    if (l.ifindex == ifindex) return &l;
  return nullptr;
}

std::optional<Refusal> invalid_class(const IpAddr& a) {
  if (auto c = values::unusable_class(a)) return bad(c->why, c->forcible);
  return std::nullopt;
}

std::optional<Refusal> host_use(const HostNet& host, const IpAddr& a, std::string_view own_alias) {
  auto own = [&](int ifindex) {
    const HostLink* l = host.link(ifindex);
    return l && !own_alias.empty() && l->alias == own_alias;
  };
  // The host's own addresses: a VPS holding one would send as the host (the anti-spoofing filter
  // lets a VPS use its addresses), and never receive anything (the local table wins).
  for (const auto& h : host.addresses) {
    if (h.addr == a) return used("an address of the host (dev " + dev_name(host, h.ifindex) + ")");
  }
  for (const auto& r : host.routes) {
    if (r.family != a.family || r.table != RT_TABLE_LOCAL) continue;
    if (!in_prefix(a, r.dst, r.prefix)) continue;
    std::string dev = r.nexthops.empty() ? "" : " dev " + dev_name(host, r.nexthops[0].ifindex);
    if (r.type == RTN_LOCAL)
      return used("a local address of the host (route local " + route_text(r) + dev + ")");
    if (r.type == RTN_BROADCAST || r.type == RTN_ANYCAST)
      return used("a broadcast or anycast address of the host (route " + route_text(r) + dev + ")");
  }
  // Network and broadcast addresses of the host's connected subnets (IPv6: the subnet-router
  // anycast address), even when the kernel has no local route for them.
  for (const auto& h : host.addresses) {
    if (h.addr.family != a.family) continue;
    int bits = addr_len(a) * 8;
    if (h.prefix >= bits - 1 || !in_prefix(a, h.addr, h.prefix)) continue;
    std::string net =
        text_of(with_host_bits(h.addr, h.prefix, false)) + "/" + std::to_string(h.prefix);
    if (a == with_host_bits(h.addr, h.prefix, false))
      return used("the network address of the host's subnet " + net + " (dev " +
                  dev_name(host, h.ifindex) + ")");
    if (!a.is_v6() && a == with_host_bits(h.addr, h.prefix, true))
      return used("the broadcast address of the host's subnet " + net + " (dev " +
                  dev_name(host, h.ifindex) + ")");
  }
  // Another device's exact route: another VPS (of any instance), or the admin's own /32.
  for (const auto& r : host.routes) {
    if (r.family != a.family || r.table == RT_TABLE_LOCAL || r.prefix != a.host_prefix() ||
        !(r.dst == a))
      continue;
    if (r.type == RTN_UNICAST && !r.nexthops.empty()) {
      bool mine = true;
      for (const auto& nh : r.nexthops) mine = mine && own(nh.ifindex) && !nh.gateway;
      if (mine) continue;
      return used("routed to " + owner_of(host, r.nexthops[0].ifindex));
    }
    return used("routed elsewhere by the host (route " + type_name(r.type) + " " + route_text(r) +
                ")");
  }
  // Gateways: the host sends traffic for whole networks to this address.
  for (const auto& r : host.routes) {
    if (r.table == RT_TABLE_LOCAL) continue;
    for (const auto& nh : r.nexthops) {
      if (nh.gateway && *nh.gateway == a)
        return used("a gateway of the host (next hop of " + route_text(r) + " dev " +
                        dev_name(host, nh.ifindex) + ")",
                    true);
    }
  }
  // Neighbours: another machine answers for the address on a host device. Entries the host tried
  // and got no answer for (INCOMPLETE, FAILED) say nobody is there.
  for (const auto& n : host.neighbours) {
    if (!(n.addr == a)) continue;
    if (n.state == NUD_NONE || (n.state & (NUD_INCOMPLETE | NUD_FAILED))) continue;
    const HostLink* l = host.link(n.ifindex);
    if (is_berth_link(l) || own(n.ifindex)) continue;
    return used(
        "a neighbour of the host (another machine on dev " + dev_name(host, n.ifindex) + ")", true);
  }
  return std::nullopt;
}

Status check_address_class(const IpAddr& a, bool forced) {
  auto r = invalid_class(a);
  if (!r || (forced && r->forcible)) return {};
  std::string hint = r->forcible ? "; use --ipadd_force to assign it anyway" : "";
  return Error::invalid("bad IP address " + text_of(a) + ": " + r->why + hint, r->exit_status);
}

Status check_address(const HostNet& host, const IpAddr& a, std::string_view own_alias,
                     bool forced) {
  BERTH_RETURN_IF_ERROR(check_address_class(a, forced));
  auto r = host_use(host, a, own_alias);
  if (!r || (forced && r->forcible)) return {};
  std::string hint = r->forcible ? "; use --ipadd_force to assign it anyway" : "";
  return Error::with_status(r->exit_status,
                            "IP address " + text_of(a) + " is already in use: " + r->why + hint);
}

}  // namespace berth::net
