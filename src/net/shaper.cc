// Shaping: RATE -> tbf qdiscs on the host veth and on the CT's ifb, through net/tc.h.
#include "net/shaper.h"

#include "core/exit_codes.h"
#include "net/addr.h"
#include "net/netif.h"
#include "net/netlink.h"
#include "net/shaping.h"
#include "net/tc.h"

namespace berth::net {
namespace {

// The CT's ifb, made and raised if missing; EEXIST-like refusal if the name is someone else's.
Result<int> ensure_ifb(Netlink& nl, TrafficControl& tc, const std::string& name,
                       const std::string& alias) {
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(name));
  if (link) {
    if (link->alias != alias)
      return Error::with_status(exitcode::kVeth,
                                "interface name `" + name + "` is in use by another link");
    return link->ifindex;
  }
  BERTH_RETURN_IF_ERROR(tc.create_ifb(name));
  BERTH_ASSIGN_OR_RETURN(link, nl.find_link(name));
  if (!link) return Error::from_errno(ENODEV, "ifb `" + name + "` vanished after creation");
  BERTH_RETURN_IF_ERROR(nl.set_alias(link->ifindex, alias));
  BERTH_RETURN_IF_ERROR(nl.set_up(link->ifindex));
  return link->ifindex;
}

}  // namespace

Status shape_link(std::string_view host_veth, std::string_view alias, uint64_t kbit) {
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(auto veth, nl.find_link(host_veth));
  if (!veth || veth->alias != alias) return {};
  BERTH_ASSIGN_OR_RETURN(TrafficControl tc, TrafficControl::open());
  if (kbit == 0) {
    BERTH_RETURN_IF_ERROR(tc.delete_ingress(veth->ifindex));
    BERTH_RETURN_IF_ERROR(tc.delete_root_qdisc(veth->ifindex));
    return remove_shaping(host_veth, alias);
  }
  TbfParams p = tbf_params(kbit);
  BERTH_ASSIGN_OR_RETURN(int ifb, ensure_ifb(nl, tc, ifb_ifname(host_veth), ifb_alias(alias)));
  BERTH_RETURN_IF_ERROR(tc.set_root_tbf(ifb, p.rate_bytes, p.burst_bytes, p.limit_bytes));
  BERTH_RETURN_IF_ERROR(tc.redirect_ingress(veth->ifindex, ifb));
  return tc.set_root_tbf(veth->ifindex, p.rate_bytes, p.burst_bytes, p.limit_bytes);
}

Status apply_shaping(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(auto rates, parse_rate_list(ct.get_or("RATE", "")));
  const std::string& inst = ct.host().instance();
  uint64_t kbit = link_rate_kbit(rates, kCtIfname);
  std::string host = host_ifname(inst, ct.ctid());
  BERTH_RETURN_IF_ERROR(shape_link(host, link_alias(inst, ct.ctid()), kbit)
                            .context("shape traffic")
                            .status(exitcode::kVeth));
  // Bridged veths (NETIF): each by its CT-side name (`eth0:1:N`, or `*`), found by their aliases.
  // A CT without NETIF entries has none: the host's links are not listed for it.
  if (ct.get_or("NETIF", "").empty()) return {};
  std::string prefix = netif_alias_prefix(inst, ct.ctid());
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(auto links, nl.list_links());
  for (const auto& l : links) {
    if (l.kind != "veth" || l.alias.rfind(prefix, 0) != 0) continue;
    uint64_t k = link_rate_kbit(rates, l.alias.substr(prefix.size()));
    BERTH_RETURN_IF_ERROR(shape_link(l.name, l.alias, k)
                              .context("shape traffic of `" + l.name + "`")
                              .status(exitcode::kVeth));
  }
  return {};
}

Status remove_shaping(std::string_view host_veth, std::string_view alias) {
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  std::string name = ifb_ifname(host_veth);
  BERTH_ASSIGN_OR_RETURN(auto ifb, nl.find_link(name));
  if (!ifb || ifb->alias != ifb_alias(alias)) return {};
  auto st = nl.delete_link(ifb->ifindex);
  if (!st.ok() && st.error().code() != ENODEV) return st;
  return {};
}

}  // namespace berth::net
