// Netlink (rtnetlink through libnl-route-3) for Berth's networking: veth pairs, link state and
// aliases, addresses, routes and proxy neighbour entries. One Netlink object is one socket bound
// to one network namespace: the caller's, or a running CT's (opened from a short-lived thread
// that joins the CT's netns, so the calling thread never changes namespace).
//
// Owns no kernel objects: what it creates is owned by the caller (net/routed.h). Needs
// CAP_NET_ADMIN over the namespace (host root). Errors carry the errno the kernel returned.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "net/addr.h"
#include "net/addr_policy.h"

struct nl_sock;

namespace berth::net {

struct LinkInfo {
  int ifindex = 0;
  std::string name, alias;
  std::string kind;  // IFLA_INFO_KIND: "veth", "bridge", ... ("" for plain devices)
  std::string mac;   // "00:18:51:AB:CD:EF" (upper case, as NETIF stores it); "" if none
  int master = 0;    // ifindex of the bridge the link is a port of; 0 if none
};

class Netlink {
 public:
  // A socket in the calling thread's network namespace.
  static Result<Netlink> open();
  // A socket in the network namespace of process pid (host root only).
  static Result<Netlink> open_in_netns_of(pid_t pid);

  Netlink(Netlink&& o) noexcept : sock_(o.sock_) { o.sock_ = nullptr; }
  Netlink& operator=(Netlink&& o) noexcept;
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;
  ~Netlink();

  // nullopt when there is no link of that name.
  Result<std::optional<LinkInfo>> find_link(std::string_view name);
  // Every link of the namespace.
  Result<std::vector<LinkInfo>> list_links();
  // A veth pair: `name` here, `peer_name` created directly in the netns of peer_pid, both down.
  // MACs ("00:18:51:..") are set at creation when given; otherwise the kernel picks random ones.
  Status create_veth(std::string_view name, std::string_view peer_name, pid_t peer_pid,
                     std::string_view mac = {}, std::string_view peer_mac = {});
  // Make ifindex a port of bridge master_ifindex (`ip link set dev X master BR`).
  Status set_master(int ifindex, int master_ifindex);
  Status set_alias(int ifindex, std::string_view alias);
  Status set_up(int ifindex);
  // Down, then renamed to `name` with MAC `mac` ("" keeps it): a link restored under a temporary
  // name (CRIU) takes the one its CT's config gives it.
  Status rename_link(int ifindex, std::string_view name, std::string_view mac = {});
  // Renames a link as it is, up or down (kernels before 6.2 refuse an up link: EBUSY).
  Status rename_live(int ifindex, std::string_view name);
  Status delete_link(int ifindex);

  // Addresses are added without duplicate address detection (IFA_F_NODAD), so they are usable
  // at once. EEXIST is reported as an error; callers that want "ensure" ignore it.
  Status add_address(int ifindex, const IpAddr& ip, int prefix, bool link_scope = false);
  Status delete_address(int ifindex, const IpAddr& ip, int prefix);
  // dst/prefix in the main table out of ifindex, via gw if given. exclusive: EEXIST if any route
  // to dst/prefix exists already (another CT has the address).
  Status add_route(const IpAddr& dst, int prefix, int ifindex, const IpAddr* gw, bool exclusive);
  Status delete_route(const IpAddr& dst, int prefix, int ifindex);
  // Host routes (/32, /128) of the main table whose only next hop is ifindex.
  Result<std::vector<IpAddr>> host_routes_via(int ifindex);
  // Links, addresses, routes of every table and neighbour entries (IPv4 and IPv6) of the
  // namespace: what net/addr_policy.h decides on.
  Result<HostNet> host_net();
  // The part of host_net() that addr_policy.h's host_use() looks at for one address, found by
  // lookups instead of dumps of the whole namespace, so its cost does not grow with the number of
  // VPSs: the kernel's route lookup of addr (RTM_F_FIB_MATCH: the local entry when the host holds
  // it, the route of a VPS that has it, its connected subnet, or the default route), and on the
  // devices that route names the addresses, routes and neighbours (kernel-filtered dumps); the
  // links all of these name. Exact /32 routes in tables no policy rule consults for addr, IPv6
  // addresses still tentative on a host device, and, for an address the host reaches through a
  // gateway, a route whose `onlink` gateway it is (unless the matched one) and neighbour entries
  // made by hand, are not seen (host_net() sees them).
  Result<HostNet> host_net_for(const IpAddr& addr);
  // Proxy ARP (IPv4) / proxy NDP (IPv6) entry for ip on ifindex (`ip neigh add proxy`).
  Status add_proxy_neigh(int ifindex, const IpAddr& ip);
  Status delete_proxy_neigh(int ifindex, const IpAddr& ip);

 private:
  explicit Netlink(nl_sock* s) : sock_(s) {}
  nl_sock* sock_ = nullptr;
};

// errno for a libnl error code (negative NLE_*), for Error::from_errno.
int errno_of_nl(int nl_err);

}  // namespace berth::net
