// A CT's whole network, as start, stop, destroy and set see it: routed veth (IP_ADDRESS,
// net/routed.h), bridged veths (NETIF, net/bridged.h) and anti-spoofing filters (net/filter.h).
// The runtime and the CLI call these, never the parts.
#pragma once

#include <sys/types.h>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/bridged.h"
#include "net/routed.h"

namespace berth::net {

// Owner of what attach_network made: all of it is removed unless released.
class CtNetwork {
 public:
  CtNetwork() = default;
  explicit CtNetwork(const CtConfig* ct) : ct_(ct) {}
  CtNetwork(CtNetwork&& o) noexcept { *this = std::move(o); }
  CtNetwork& operator=(CtNetwork&& o) noexcept;
  CtNetwork(const CtNetwork&) = delete;
  CtNetwork& operator=(const CtNetwork&) = delete;
  ~CtNetwork();

  void release();

 private:
  friend Result<CtNetwork> attach_network(const CtConfig& ct, pid_t init, bool bridged_in_place);
  const CtConfig* ct_ = nullptr;  // set while the filters are owned
  RoutedLink routed_;
  BridgedLinks bridged_;
};

// Start, after the CT's init is cloned and before it runs: filters first (so the CT never runs
// unfiltered), then the routed veth, then the bridged ones. On failure nothing is left.
// bridged_in_place (a restore, after adopt_bridged): the bridged veths there and as NETIF says
// are kept as they are (the CT's addresses on them with them), only missing ones are made.
Result<CtNetwork> attach_network(const CtConfig& ct, pid_t init, bool bridged_in_place = false);

// Stop, failed-start repair and destroy: everything of the CT's network on the host. Tries every
// part and returns the first error. netns_dying: see detach_routed (stop). keep_routed_filter
// (stop): the CT's anti-spoofing elements stay (remove_filters).
Status detach_network(const CtConfig& ct, bool netns_dying = false,
                      bool keep_routed_filter = false);

// `set` on a running CT whose IP_ADDRESS or NETIF changed: bridges are checked first (a missing
// one changes nothing, exit 130), then routes and addresses (an address in use: 78, nothing
// changed), then veths, then the filters follow the new config.
Status update_network(const CtConfig& ct, pid_t init);

}  // namespace berth::net
