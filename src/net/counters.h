// Per-CT traffic counters: bytes and packets in and out of a CT, from the host ends of all its
// veths (the routed one and every bridged NETIF one; what a host end transmits the CT received,
// and the other way round), kept across restarts.
//
// While the CT runs the kernel counts on its host links; when a link goes (stop, the last
// address removed by `set --ipdel`, a `--netif_del` or a changed NETIF entry), its counts are
// added to the CT's state file <lib>/netstat/<CTID> (IN_BYTES=, IN_PACKETS=, OUT_BYTES=,
// OUT_PACKETS=) right before it is deleted. Total = saved + live. Stop keeps the CT's network
// namespace (so its veths) open until the counts are saved. Counts of a CT whose init dies on its
// own, without `stop`, are lost for that run.
#pragma once

#include <optional>
#include <string>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/netlink.h"
#include "net/shaping.h"

namespace berth::net {

std::string counters_path(const CtConfig& ct);
// Saved totals of earlier runs (no file: zero).
Result<Counters> saved_counters(const CtConfig& ct);
// The host link is one of ct's veths: its routed link or one of its bridged (NETIF) links.
bool counted_link(const CtConfig& ct, const LinkInfo& link);
// The live counts of all of the CT's host links; nullopt when the CT has none.
Result<std::optional<Counters>> live_counters(const CtConfig& ct);
// saved + live.
Result<Counters> total_counters(const CtConfig& ct);
// Add the live counts of the host link `name` to the state file, if it is one of ct's
// (counted_link); call right before the link is deleted.
Status bank_counters(const CtConfig& ct, const std::string& name);
// destroy: the state file goes with the CT.
Status forget_counters(const CtConfig& ct);

}  // namespace berth::net
