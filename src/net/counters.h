// Per-CT traffic counters: bytes and packets in and out of a CT, from the host end of its veth
// (what the host end transmits the CT received, and the other way round), kept across restarts.
//
// While the CT runs the kernel counts on its host link; when the link goes (stop, the last
// address removed by `set --ipdel`), its counts are added to the CT's state file
// <lib>/netstat/<CTID> (IN_BYTES=, IN_PACKETS=, OUT_BYTES=, OUT_PACKETS=). Total = saved + live.
// Stop keeps the CT's network namespace (so its veth) open until the counts are saved. Counts
// of a CT whose init dies on its own, without `stop`, are lost for that run.
#pragma once

#include <optional>
#include <string>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/shaping.h"

namespace berth::net {

std::string counters_path(const CtConfig& ct);
// Saved totals of earlier runs (no file: zero).
Result<Counters> saved_counters(const CtConfig& ct);
// The live counts of the CT's host link; nullopt when there is no link of this CT.
Result<std::optional<Counters>> live_counters(const CtConfig& ct);
// saved + live.
Result<Counters> total_counters(const CtConfig& ct);
// Add the live counts to the state file; call right before the link is deleted.
Status bank_counters(const CtConfig& ct);
// destroy: the state file goes with the CT.
Status forget_counters(const CtConfig& ct);

}  // namespace berth::net
