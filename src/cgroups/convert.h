// OpenVZ parameters (CTID.conf keys) -> cgroup limits (Resources). Pure functions, unit-tested.
//
// The mapping, key by key (the resource parameters of vzctl's ctid.conf(5)):
//   PHYSPAGES  "b:l" pages -> memory limit = l pages in bytes (VSwap: the limit part is RAM)
//   SWAPPAGES  "b:l" pages -> swap limit = l pages; v1 memsw = RAM + swap, v2 memory.swap.max
//   CPUUNITS   n -> cpu.shares = n * 1024 / 1000 (clamped 2..262144; vzctl's default 1000 -> 1024),
//              v2 cpu.weight from the shares with crun's linear formula (shares_to_weight)
//   CPULIMIT   percent of one CPU (200 = two CPUs) -> quota = period * n / 100, period 100 ms;
//              0 = no limit
//   CPUS       n -> a CPU-time cap of n CPUs (quota n * period). With CPULIMIT both apply (the
//              smaller wins). CPUS is not a cpuset: which CPUs a CT may use is CPUMASK's job, and
//              a cap lets the scheduler spread the CT over every CPU, as OpenVZ's VCPUs did.
//   CPUMASK    list -> cpuset.cpus ("all" = the parent's CPUs; "auto" = not set)
//   NODEMASK   list -> cpuset.mems ("all" = the parent's nodes)
//   NUMPROC    "b:l" -> pids.max = l (processes + threads, as the kernel's pids controller counts)
//   IOPRIO     0..7 -> I/O weight 100 + prio * 900 / 7: 0 -> 100, 4 -> 614 (default), 7 -> 1000
//   IOLIMIT    bytes/s -> read and write bps limits on the private area's disk (v1
//              blkio.throttle.*_bps_device, v2 io.max rbps/wbps); 0 = no limit
//   IOPSLIMIT  ops/s -> read and write iops limits on that disk; 0 = no limit
// "unlimited" anywhere -> no limit (v1 -1, v2 "max"). Keys that are absent leave the kernel's
//   TCPSNDBUF + TCPRCVBUF  limits in bytes, summed -> v1 memory.kmem.tcp.limit_in_bytes (as
//              vzctl's upstream-kernel mode); unlimited when either is. v2 has no such file.
// value alone. NUMFILE, LOCKEDPAGES, SHMPAGES and NUMPTY are not cgroup limits: see
// runtime/ct_limits.h. The other fine-grained UBCs (KMEMSIZE, socket counts, ...) are not mapped.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/resources.h"
#include "core/ct_config.h"
#include "core/ct_model.h"
#include "core/error.h"

namespace berth::cgroups {

// Looks a config key up (CtConfig::get: the CT's file, then berth.conf).
using KeyLookup = berth::KeyLookup;

uint64_t cpuunits_to_shares(uint64_t cpuunits);
// crun's convert_shares_to_weight(): 2..262144 -> 1..10000, linearly.
uint64_t shares_to_weight(uint64_t shares);
// Quota per period for CPULIMIT percent of one CPU; kNoLimit for 0. At least 1000 us (the
// kernel's minimum quota).
int64_t cpulimit_to_quota(uint64_t percent, uint64_t period_us = kDefaultCpuPeriodUs);
uint64_t ioprio_to_weight(unsigned prio);

// Every key resources_from() reads, in a fixed order.
const std::vector<std::string_view>& resource_keys();

// The Resources a CT with this configuration gets (the typed model, core/ct_model.h).
Resources resources_from_model(const CtModel& m);
// The same for the keys a lookup gives: parse_model(), then resources_from_model(). Error
// (exit 21, naming the key) for a bad value.
Result<Resources> resources_from(const KeyLookup& get);
Result<Resources> resources_from_config(const CtConfig& ct);

// Keys of resource_keys() whose value differs between two configs.
std::vector<std::string> changed_resource_keys(const KeyLookup& before, const KeyLookup& after);
// r with only the fields that depend on `keys` kept (for a live `set`). Fields that are computed
// together stay together: PHYSPAGES/SWAPPAGES (memsw = ram + swap) and CPULIMIT/CPUS (one quota).
// A changed key that was removed from the config resets its field to no limit (or, for
// cpusets, to the parent's set) instead of leaving the old kernel value in place.
Resources only_keys(const Resources& r, const std::vector<std::string>& keys);

}  // namespace berth::cgroups
