// Routed networking: host link, host routes, proxy entries, and the CT side through a netlink
// socket opened in the CT's network namespace (the same code path at start and for live set).
#include "net/routed.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <thread>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "net/announce.h"
#include "net/counters.h"
#include "net/netlink.h"
#include "net/shaper.h"
#include "sys/fs.h"

namespace berth::net {
namespace {

struct Setup {
  std::string host, alias;
  std::vector<IpAddr> addrs;
  std::vector<std::string> neigh_devs;
};

// strict: a bad NEIGHBOUR_DEVS is an error (start, set); teardown goes on without it.
Result<Setup> setup_of(const CtConfig& ct, bool strict = true) {
  Setup s;
  s.host = host_ifname(ct.host().instance(), ct.ctid());
  s.alias = link_alias(ct.host().instance(), ct.ctid());
  BERTH_ASSIGN_OR_RETURN(s.addrs, parse_ip_list(ct.get_or("IP_ADDRESS", "")));
  auto devs = parse_neighbour_devs(ct.host().global().get_or("NEIGHBOUR_DEVS", ""));
  if (devs.ok())
    s.neigh_devs = std::move(*devs);
  else if (strict)
    return std::move(devs).error();
  return s;
}

bool has_family(const std::vector<IpAddr>& v, bool v6) {
  for (const auto& a : v)
    if (a.is_v6() == v6) return true;
  return false;
}

Status ignore(Status st, std::initializer_list<int> codes) {
  if (st.ok()) return st;
  for (int c : codes)
    if (st.error().code() == c) return {};
  return st;
}

IpAddr must_parse(std::string_view s) { return *parse_ip(s); }

Result<std::vector<int>> neigh_dev_indexes(Netlink& nl, const std::vector<std::string>& devs) {
  std::vector<int> out;
  for (const auto& d : devs) {
    BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(d));
    if (!link)
      return Error::invalid("NEIGHBOUR_DEVS device `" + d + "` does not exist",
                            exitcode::kBadValue);
    out.push_back(link->ifindex);
  }
  return out;
}

void remove_proxies(Netlink& nl, const std::vector<std::string>& devs,
                    const std::vector<IpAddr>& addrs) {
  for (const auto& d : devs) {
    auto link = nl.find_link(d);
    if (!link.ok() || !*link) continue;
    for (const auto& a : addrs) (void)nl.delete_proxy_neigh((*link)->ifindex, a);
  }
}

// The alias a stopped CT's host veth gets when stop leaves the link to its dying network
// namespace: its counters are banked, so whoever removes it later must not bank them again. (A
// space: no interface name, so no NETIF veth's `<alias>:<ifname>`, can end like this.)
constexpr std::string_view kStoppedSuffix = " stopped";

bool is_ours(const std::optional<LinkInfo>& link, const std::string& alias) {
  return link && (link->alias == alias || link->alias == alias + std::string(kStoppedSuffix));
}

// What teardown_host does with the host end of the veth.
enum class HostEnd {
  // Delete it and wait until it is gone: a start needs its name.
  kRemove,
  // The same, except for a link a stop left to the CT's dying network namespace (marked
  // kStoppedSuffix): the kernel removes that pair with the namespace, in the background, and
  // deleting it here would only wait for the kernel's own teardown (RCU grace periods under the
  // RTNL lock: 3-55 ms a link measured with 30 VPSs stopping). Its routes and proxy entries are
  // gone already; a start of the same CTID that still finds it removes it (kRemove).
  kLeaveStopped,
  // Stop: the CT's network namespace is about to go. Only the routes go now (a start of another
  // CT with one of its addresses must not find them), and the link is marked as banked.
  kLeaveDying,
};

// Host link, proxy entries: everything of the host side. The routes go with the link.
// bank: the CT whose traffic counters the link's are added to first (best effort; not for a link
// a stop already banked and marked). end: see HostEnd.
Status teardown_host(Netlink& nl, const std::string& host, const std::string& alias,
                     const std::vector<std::string>& devs, std::vector<IpAddr> addrs,
                     const CtConfig* bank, HostEnd end = HostEnd::kRemove) {
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(host));
  bool ours = is_ours(link, alias);
  if (ours && bank && link->alias == alias) (void)bank_counters(*bank, host);
  if (ours) {
    if (auto routed = nl.host_routes_via(link->ifindex); routed.ok())
      for (auto& a : *routed)
        if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
  }
  remove_proxies(nl, devs, addrs);
  BERTH_RETURN_IF_ERROR(remove_shaping(host, alias));
  if (!ours) return {};
  if (end == HostEnd::kLeaveStopped && link->alias != alias) return {};
  if (end == HostEnd::kLeaveDying) {
    for (const auto& a : addrs)
      BERTH_RETURN_IF_ERROR(
          ignore(nl.delete_route(a, a.host_prefix(), link->ifindex), {ESRCH, ENOENT, ENODEV}));
    return ignore(nl.set_alias(link->ifindex, alias + std::string(kStoppedSuffix)), {ENODEV});
  }
  BERTH_RETURN_IF_ERROR(ignore(nl.delete_link(link->ifindex), {ENODEV}));
  // A dying network namespace may still hold the pair for a moment: wait until it is gone.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    BERTH_ASSIGN_OR_RETURN(auto again, nl.find_link(host));
    if (!again) return {};
    (void)nl.delete_link(again->ifindex);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Error::from_errno(EBUSY, "remove host link `" + host + "`");
}

// Host routes for addrs, all or none: EEXIST means another CT (or the host) routes the address.
Status add_host_routes(Netlink& nl, int ifindex, const std::vector<IpAddr>& addrs) {
  for (size_t i = 0; i < addrs.size(); ++i) {
    auto st = nl.add_route(addrs[i], addrs[i].host_prefix(), ifindex, nullptr, true);
    if (!st.ok()) {
      for (size_t j = 0; j < i; ++j)
        (void)nl.delete_route(addrs[j], addrs[j].host_prefix(), ifindex);
      if (st.error().code() == EEXIST)
        return Error::with_status(exitcode::kIpInUse,
                                  "IP address " + addrs[i].text + " is already in use");
      return st;
    }
  }
  return {};
}

Status add_proxies(Netlink& nl, const std::vector<int>& devs, const std::vector<IpAddr>& addrs) {
  for (int dev : devs)
    for (const auto& a : addrs) BERTH_RETURN_IF_ERROR(nl.add_proxy_neigh(dev, a));
  return {};
}

// IPv6 on the CT's host end: on when the CT has an IPv6 address (its gateway fe80::1 lives
// there), off otherwise. Each host end with IPv6 on puts its own routes (fe80::/64, ff00::/8,
// its link-local address) in the host's IPv6 table, and the kernel walks that whole table
// whenever a link comes up or goes away (rt6_sync_up, rt6_disable_ip): with 1000 VPSs, 3 ms of
// every start and stop (perf, bench/README.md). A host without IPv6 has no such file: nothing
// to do.
Status set_host_end_ipv6(const std::string& host, bool on) {
  auto st = sys::write_file("/proc/sys/net/ipv6/conf/" + host + "/disable_ipv6", on ? "0" : "1");
  return !st.ok() && st.error().code() == ENOENT ? Status{} : st;
}

// The host end's next-hop addresses for the families in addrs (already there is fine).
// addrs: the CT's addresses (a start) or those a change adds; IPv6 comes on with the first.
Status ensure_gateways(Netlink& nl, int ifindex, const std::string& host,
                       const std::vector<IpAddr>& addrs) {
  if (has_family(addrs, false))
    BERTH_RETURN_IF_ERROR(
        ignore(nl.add_address(ifindex, must_parse(kGatewayV4), 32, true), {EEXIST}));
  if (has_family(addrs, true)) {
    BERTH_RETURN_IF_ERROR(set_host_end_ipv6(host, true));
    BERTH_RETURN_IF_ERROR(ignore(nl.add_address(ifindex, must_parse(kGatewayV6), 64), {EEXIST}));
  }
  return {};
}

// IPv4 forwarding of what arrives on the CT's host end only (the kernel checks the input
// device's own `forwarding`): CT to CT works on a host whose net.ipv4.ip_forward is off, and
// nothing arriving on the host's other links is forwarded. The value dies with the link.
Status enable_forwarding(const std::string& host, const std::vector<IpAddr>& addrs) {
  if (!has_family(addrs, false)) return {};
  const std::string path = "/proc/sys/net/ipv4/conf/" + host + "/forwarding";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), "1", 1) != 1)
    return Error::from_errno(errno, "enable forwarding on `" + host + "`");
  return {};
}

// Inside the CT: venet0 up, the addresses, default routes via the host end. Idempotent.
Status configure_inside(Netlink& ct, const std::vector<IpAddr>& addrs) {
  BERTH_ASSIGN_OR_RETURN(auto link, ct.find_link(kCtIfname));
  if (!link) return Error::from_errno(ENODEV, "find `" + std::string(kCtIfname) + "` in the CT");
  int dev = link->ifindex;
  BERTH_RETURN_IF_ERROR(ct.set_up(dev));
  for (const auto& a : addrs)
    BERTH_RETURN_IF_ERROR(ignore(ct.add_address(dev, a, a.host_prefix()), {EEXIST}));
  if (has_family(addrs, false)) {
    IpAddr gw = must_parse(kGatewayV4), any = must_parse("0.0.0.0");
    BERTH_RETURN_IF_ERROR(ignore(ct.add_route(gw, 32, dev, nullptr, true), {EEXIST}));
    BERTH_RETURN_IF_ERROR(ignore(ct.add_route(any, 0, dev, &gw, true), {EEXIST}));
  }
  if (has_family(addrs, true)) {
    IpAddr gw = must_parse(kGatewayV6), any = must_parse("::");
    BERTH_RETURN_IF_ERROR(ignore(ct.add_route(any, 0, dev, &gw, true), {EEXIST}));
  }
  return {};
}

Status remove_inside(Netlink& ct, const std::vector<IpAddr>& addrs) {
  BERTH_ASSIGN_OR_RETURN(auto link, ct.find_link(kCtIfname));
  if (!link) return {};
  for (const auto& a : addrs)
    BERTH_RETURN_IF_ERROR(ignore(ct.delete_address(link->ifindex, a, a.host_prefix()),
                                 {EADDRNOTAVAIL, ESRCH, ENOENT}));
  return {};
}

Status check_with(Netlink& nl, const CtConfig& ct, const std::vector<IpAddr>& addrs) {
  if (addrs.empty()) return {};
  BERTH_ASSIGN_OR_RETURN(auto forced, parse_ip_list(ct.get_or("IP_ADDRESS_FORCED", "")));
  std::string alias = link_alias(ct.host().instance(), ct.ctid());
  for (const auto& a : addrs) {
    bool force = std::find(forced.begin(), forced.end(), a) != forced.end();
    // What the host has that concerns this address, looked up: the same cost with 1 or 1,000 VPSs.
    BERTH_ASSIGN_OR_RETURN(HostNet host, nl.host_net_for(a));
    BERTH_RETURN_IF_ERROR(check_address(host, a, alias, force));
  }
  return {};
}

}  // namespace

Status check_routed_addresses(const CtConfig& ct, const std::vector<IpAddr>& addrs) {
  if (addrs.empty()) return {};
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  return check_with(nl, ct, addrs);
}

RoutedLink& RoutedLink::operator=(RoutedLink&& o) noexcept {
  if (this != &o) {
    ifname_ = std::move(o.ifname_);
    alias_ = std::move(o.alias_);
    neigh_devs_ = std::move(o.neigh_devs_);
    addrs_ = std::move(o.addrs_);
    o.ifname_.clear();
  }
  return *this;
}

RoutedLink::~RoutedLink() {
  if (ifname_.empty()) return;
  auto nl = Netlink::open();
  if (nl.ok()) (void)teardown_host(*nl, ifname_, alias_, neigh_devs_, addrs_, nullptr);
}

Result<RoutedLink> attach_routed(const CtConfig& ct, pid_t init) {
  BERTH_ASSIGN_OR_RETURN(Setup s, setup_of(ct));
  if (s.addrs.empty()) return RoutedLink();
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(std::vector<int> devs, neigh_dev_indexes(nl, s.neigh_devs));
  BERTH_ASSIGN_OR_RETURN(auto old, nl.find_link(s.host));
  if (old) {
    if (!is_ours(old, s.alias))
      return Error::with_status(exitcode::kVeth,
                                "host interface name `" + s.host + "` is in use by another link");
    // Ours, and the CT is not running (start checked): left by a start or stop that was killed
    // (its counters are banked here), or by a stop a moment ago (banked, the kernel not yet
    // done removing it). That one has nothing left but its name (the stop took its routes and
    // proxy entries): renamed out of the way (bs<ifindex>), it stays the kernel's to remove with
    // the dying namespace. Deleting it here waited for that teardown: 10-40 ms of a start right
    // after a stop (rcu_barrier after the delete, then the wait below), on the 2-vCPU test host.
    bool moved = old->alias == s.alias + std::string(kStoppedSuffix) &&
                 nl.rename_live(old->ifindex, "bs" + std::to_string(old->ifindex)).ok();
    if (!moved)
      BERTH_RETURN_IF_ERROR(
          teardown_host(nl, s.host, s.alias, s.neigh_devs, s.addrs, &ct).status(exitcode::kVeth));
  }
  BERTH_RETURN_IF_ERROR(check_with(nl, ct, s.addrs));
  BERTH_RETURN_IF_ERROR(nl.create_veth(s.host, kCtIfname, init).status(exitcode::kVeth));
  RoutedLink guard(s.host, s.alias, s.neigh_devs, s.addrs);
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(s.host));
  if (!link)
    return Error::with_status(exitcode::kVeth, "veth `" + s.host + "` vanished after creation");
  int dev = link->ifindex;
  BERTH_RETURN_IF_ERROR(nl.set_alias(dev, s.alias).status(exitcode::kVeth));
  // IPv6 off before the link comes up when the CT has no IPv6 address (set_host_end_ipv6).
  if (!has_family(s.addrs, true))
    BERTH_RETURN_IF_ERROR(set_host_end_ipv6(s.host, false).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(nl.set_up(dev).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(ensure_gateways(nl, dev, s.host, s.addrs).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(enable_forwarding(s.host, s.addrs).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(add_host_routes(nl, dev, s.addrs));
  BERTH_RETURN_IF_ERROR(add_proxies(nl, devs, s.addrs).status(exitcode::kVeth));
  BERTH_ASSIGN_OR_RETURN(Netlink inside, Netlink::open_in_netns_of(init));
  BERTH_RETURN_IF_ERROR(configure_inside(inside, s.addrs)
                            .context("configure the CT's network")
                            .status(exitcode::kVeth));
  // The LAN learns at once that the addresses are here now (after a migration its caches name
  // the old host). A lost announcement costs only time: a warning, not a failed start.
  if (auto st = announce_addresses(devs, s.addrs); !st.ok())
    std::fprintf(stderr, "Warning: CT %s: %s\n", ct.ctid().c_str(), st.error().message().c_str());
  return guard;
}

Status detach_routed(const CtConfig& ct, bool netns_dying) {
  BERTH_ASSIGN_OR_RETURN(Setup s, setup_of(ct, false));
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  return teardown_host(nl, s.host, s.alias, s.neigh_devs, s.addrs, &ct,
                       netns_dying ? HostEnd::kLeaveDying : HostEnd::kLeaveStopped)
      .context("remove network");
}

Status update_routed(const CtConfig& ct, pid_t init) {
  BERTH_ASSIGN_OR_RETURN(Setup s, setup_of(ct));
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(s.host));
  if (!link || link->alias != s.alias) {
    if (s.addrs.empty()) return {};
    BERTH_ASSIGN_OR_RETURN(RoutedLink made, attach_routed(ct, init));
    made.release();
    return {};
  }
  if (s.addrs.empty()) {
    BERTH_RETURN_IF_ERROR(bank_counters(ct, s.host));
    return teardown_host(nl, s.host, s.alias, s.neigh_devs, s.addrs, nullptr);
  }
  int dev = link->ifindex;
  BERTH_ASSIGN_OR_RETURN(std::vector<int> devs, neigh_dev_indexes(nl, s.neigh_devs));
  BERTH_ASSIGN_OR_RETURN(std::vector<IpAddr> current, nl.host_routes_via(dev));
  AddrPlan plan = plan_addresses(current, s.addrs);
  if (plan.empty()) return {};
  BERTH_RETURN_IF_ERROR(check_with(nl, ct, plan.add));
  // The gateways first: a first IPv6 address turns IPv6 on on the host end, which its route needs.
  BERTH_RETURN_IF_ERROR(ensure_gateways(nl, dev, s.host, plan.add).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(enable_forwarding(s.host, plan.add).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(add_host_routes(nl, dev, plan.add));
  BERTH_ASSIGN_OR_RETURN(Netlink inside, Netlink::open_in_netns_of(init));
  BERTH_RETURN_IF_ERROR(remove_inside(inside, plan.remove).context("configure the CT's network"));
  for (const auto& a : plan.remove)
    BERTH_RETURN_IF_ERROR(ignore(nl.delete_route(a, a.host_prefix(), dev), {ESRCH, ENOENT}));
  remove_proxies(nl, s.neigh_devs, plan.remove);
  BERTH_RETURN_IF_ERROR(add_proxies(nl, devs, plan.add).status(exitcode::kVeth));
  return configure_inside(inside, plan.add)
      .context("configure the CT's network")
      .status(exitcode::kVeth);
}

}  // namespace berth::net
