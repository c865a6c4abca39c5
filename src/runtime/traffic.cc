// Traffic counters for the front-ends (see traffic.h).
#include "runtime/traffic.h"

#include "net/counters.h"

namespace berth::runtime {

Result<TrafficCounters> traffic_counters(const CtConfig& ct) { return net::total_counters(ct); }

}  // namespace berth::runtime
