// A VPS's traffic counters as the read-only front-ends (netstat, vzlist's netin/netout) ask for
// them: the totals of earlier runs plus the live counts of its host links (net/counters.h).
#pragma once

#include "core/ct_config.h"
#include "core/error.h"
#include "net/shaping.h"

namespace berth::runtime {

using TrafficCounters = net::Counters;

// Saved + live bytes and packets in and out, from the CT's point of view.
Result<TrafficCounters> traffic_counters(const CtConfig& ct);

}  // namespace berth::runtime
