// daemon/metrics: the Prometheus text of GET /metrics, from the view's snapshot (no kernel
// reads at scrape time). Per CT: CPU, memory, swap, disk, I/O, network, processes, state and
// every beancounter's held, maxheld, barrier, limit and failcnt; per host: CT counts, CPUs,
// memory and disk capacity; berthd's own: event subscribers, requests, poll time. Pure.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/view.h"

namespace berth::daemon {

struct MetricsHost {
  size_t subscribers = 0;
  uint64_t requests = 0;
  double poll_ms = 0;
};

std::string render_metrics(const Snapshot& snap, const MetricsHost& host);

// The host's MemTotal and MemAvailable (/proc/meminfo), bytes; zeros when unreadable.
std::pair<uint64_t, uint64_t> host_memory();

}  // namespace berth::daemon
