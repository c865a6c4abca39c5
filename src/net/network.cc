// The network of a CT as one unit: its parts in a fixed order, undone in reverse.
#include "net/network.h"

#include "net/filter.h"

namespace berth::net {

CtNetwork& CtNetwork::operator=(CtNetwork&& o) noexcept {
  if (this != &o) {
    ct_ = o.ct_;
    o.ct_ = nullptr;
    routed_ = std::move(o.routed_);
    bridged_ = std::move(o.bridged_);
  }
  return *this;
}

CtNetwork::~CtNetwork() {
  // Members go after this body: links first would be nicer, but a filter without its link
  // filters nothing, so the order does not matter for safety.
  if (ct_) (void)remove_filters(*ct_);
}

void CtNetwork::release() {
  ct_ = nullptr;
  routed_.release();
  bridged_.release();
}

Result<CtNetwork> attach_network(const CtConfig& ct, pid_t init, bool bridged_in_place) {
  CtNetwork net;
  BERTH_RETURN_IF_ERROR(check_bridged(ct));
  BERTH_RETURN_IF_ERROR(apply_filters(ct));
  net.ct_ = &ct;
  BERTH_ASSIGN_OR_RETURN(net.routed_, attach_routed(ct, init));
  if (bridged_in_place) {
    BERTH_RETURN_IF_ERROR(update_bridged(ct, init));
  } else {
    BERTH_ASSIGN_OR_RETURN(net.bridged_, attach_bridged(ct, init));
  }
  return net;
}

Status detach_network(const CtConfig& ct, bool netns_dying, bool keep_routed_filter) {
  Status first = detach_routed(ct, netns_dying);
  Status st = detach_bridged(ct);
  if (first.ok()) first = std::move(st);
  st = remove_filters(ct, keep_routed_filter);
  if (first.ok()) first = std::move(st);
  return first;
}

Status update_network(const CtConfig& ct, pid_t init) {
  BERTH_RETURN_IF_ERROR(check_bridged(ct));
  BERTH_RETURN_IF_ERROR(update_routed(ct, init));
  BERTH_RETURN_IF_ERROR(update_bridged(ct, init));
  return apply_filters(ct);
}

}  // namespace berth::net
