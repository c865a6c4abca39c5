// Traffic control and link counters through libnl-route-3 (rtnl_qdisc, rtnl_cls, rtnl_act):
// token bucket qdiscs, an ingress redirect to an ifb device, ifb links, link statistics. One
// TrafficControl is one rtnetlink socket in the caller's network namespace (the host's).
//
// Owns no kernel objects; net/shaper.h decides what exists. Needs CAP_NET_ADMIN (host root).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"

struct nl_sock;

namespace berth::net {

struct LinkStats {
  uint64_t rx_bytes = 0, rx_packets = 0, tx_bytes = 0, tx_packets = 0;
};

class TrafficControl {
 public:
  static Result<TrafficControl> open();
  TrafficControl(TrafficControl&& o) noexcept : sock_(o.sock_) { o.sock_ = nullptr; }
  TrafficControl& operator=(TrafficControl&&) = delete;
  TrafficControl(const TrafficControl&) = delete;
  ~TrafficControl();

  // An ifb link `name` (down); EEXIST if a link of that name exists.
  Status create_ifb(std::string_view name);
  Result<LinkStats> link_stats(int ifindex);

  // The root qdisc of ifindex becomes a token bucket filter (created, or changed in place).
  Status set_root_tbf(int ifindex, uint32_t rate_bytes, uint32_t burst_bytes, uint32_t limit_bytes);
  // Back to the device's default root qdisc. None of ours there is fine.
  Status delete_root_qdisc(int ifindex);
  // An ingress qdisc on ifindex with one filter that redirects every packet to the egress of
  // to_ifindex (mirred). Already there (from an earlier call) is fine.
  Status redirect_ingress(int ifindex, int to_ifindex);
  // The ingress qdisc and its filter. None there is fine.
  Status delete_ingress(int ifindex);

 private:
  explicit TrafficControl(nl_sock* s) : sock_(s) {}
  nl_sock* sock_ = nullptr;
};

}  // namespace berth::net
