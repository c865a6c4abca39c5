// Routed (venet-style) networking of a CT: one veth pair per CT with IP_ADDRESS entries.
//
// Host side: the host end `vb<hash><CTID>` (net/addr.h), marked with the alias
// "berth:<instance>:<CTID>", up, holding 169.254.0.1/32 and fe80::1/64 (the CT's next hop);
// a /32 or /128 route per address to it (refused with exit 78 when any route to the address
// exists, e.g. another CT has it); proxy ARP / proxy NDP entries for each address on the
// NEIGHBOUR_DEVS devices of berth.conf (default none).
// Inside: the CT end `venet0`, brought up from inside the CT's network namespace (raising it at
// creation fails on some kernels), the addresses as /32 and /128, default routes via 169.254.0.1
// and fe80::1.
//
// Berth changes no host-global sysctl. It turns on net.ipv4.conf.<host end>.forwarding, so IPv4
// from a CT is routed (CT to CT works with ip_forward off; what arrives on the host's other links
// is still not forwarded). What the admin enables for traffic beyond the host:
// net.ipv4.ip_forward=1 (replies from the LAN arrive on its link) and
// net.ipv6.conf.all.forwarding=1 (IPv6 has no per-device forwarding: also CT to CT), and for
// NEIGHBOUR_DEVS answering on the LAN, net.ipv6.conf.<dev>.proxy_ndp=1 on those devices (proxy
// ARP entries need IPv4 forwarding on the device). CT to host works without any of these.
//
// A CT without IP_ADDRESS gets nothing here (loopback only). NETIF (bridged veths) is not handled
// here. All functions run on the host side as host root.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/addr.h"

namespace berth::net {

// Owner of a CT's host link while start runs: deletes the link and proxy entries unless released.
class RoutedLink {
 public:
  RoutedLink() = default;
  RoutedLink(std::string ifname, std::string alias, std::vector<std::string> neigh_devs,
             std::vector<IpAddr> addrs)
      : ifname_(std::move(ifname)),
        alias_(std::move(alias)),
        neigh_devs_(std::move(neigh_devs)),
        addrs_(std::move(addrs)) {}
  RoutedLink(RoutedLink&& o) noexcept { *this = std::move(o); }
  RoutedLink& operator=(RoutedLink&& o) noexcept;
  RoutedLink(const RoutedLink&) = delete;
  RoutedLink& operator=(const RoutedLink&) = delete;
  ~RoutedLink();

  void release() { ifname_.clear(); }
  bool active() const { return !ifname_.empty(); }

 private:
  std::string ifname_, alias_;
  std::vector<std::string> neigh_devs_;
  std::vector<IpAddr> addrs_;
};

// May ct be given addrs (its new addresses)? Each is checked against the host's network namespace
// as it is now (net/addr_policy.h): exit 71 for an invalid class, 78 for an address the host or
// another VPS uses. Addresses listed in ct's IP_ADDRESS_FORCED (--ipadd_force) get the override.
// attach_routed and update_routed call it for what they add; create and set on a stopped CT call
// it for the addresses of the command line.
Status check_routed_addresses(const CtConfig& ct, const std::vector<IpAddr>& addrs);

// Start, after the CT's first process (init) is cloned: set up its routed network from
// IP_ADDRESS. On failure nothing is left (exit 130 veth, 71 bad address, 78 address in use, 21 bad
// NEIGHBOUR_DEVS). Every address is checked (check_routed_addresses) before the veth is made: a
// hand-edited IP_ADDRESS, or a host that changed since the address was given. A leftover host link
// of this CT (a killed start) is removed first.
Result<RoutedLink> attach_routed(const CtConfig& ct, pid_t init);

// Stop and destroy: remove the host link of ct (if it is there and ours) and the proxy entries of
// its addresses. Waits until the link is gone. Nothing there is fine. netns_dying (stop, init
// dead, its netns about to be let go): the routes are removed and the link is left to the kernel,
// which removes the pair with the namespace in the background; it is marked banked (its alias
// gets " stopped"). A later detach_routed (destroy, repair) leaves such a link to the kernel too
// (deleting it would only wait for the kernel's teardown of the namespace); a start of the same
// CTID that still finds it removes it without banking again.
Status detach_routed(const CtConfig& ct, bool netns_dying = false);

// `set --ipadd/--ipdel` on a running CT: make the host routes, proxy entries and the addresses
// inside match ct's IP_ADDRESS (creating or removing the veth when the list becomes non-empty
// or empty). Host routes are added before anything else, so an address in use (78) changes
// nothing.
Status update_routed(const CtConfig& ct, pid_t init);

}  // namespace berth::net
