// OpenVZ parameters -> Resources (see convert.h for the mapping and why).
#include "cgroups/convert.h"

#include <algorithm>
#include <cstdint>

#include "core/units.h"

namespace berth::cgroups {
namespace {

// The limit part of a UBC key of the model: nullopt when unset, kNoLimit for unlimited.
std::optional<int64_t> ubc_limit(const CtModel& m, std::string_view key) {
  auto it = m.ubc.find(key);
  if (it == m.ubc.end()) return std::nullopt;
  if (it->second.limit >= units::kUnlimited) return kNoLimit;
  return static_cast<int64_t>(it->second.limit);
}

std::optional<int64_t> pages_to_bytes(const CtModel& m, std::string_view key) {
  auto pages = ubc_limit(m, key);
  if (!pages || *pages == kNoLimit) return pages;
  if (static_cast<uint64_t>(*pages) > (1ULL << 62) / units::kPageSize) return kNoLimit;
  return static_cast<int64_t>(static_cast<uint64_t>(*pages) * units::kPageSize);
}

bool has(const std::vector<std::string>& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

}  // namespace

uint64_t cpuunits_to_shares(uint64_t cpuunits) {
  uint64_t shares = cpuunits > (1ULL << 40) ? (1ULL << 40) : cpuunits * 1024 / 1000;
  return std::clamp<uint64_t>(shares, 2, 262144);
}

uint64_t shares_to_weight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t cpulimit_to_quota(uint64_t percent, uint64_t period_us) {
  if (percent == 0) return kNoLimit;
  if (percent > 100000000) percent = 100000000;
  return std::max<int64_t>(1000, static_cast<int64_t>(period_us * percent / 100));
}

uint64_t ioprio_to_weight(unsigned prio) { return 100 + std::min(prio, 7u) * 900 / 7; }

const std::vector<std::string_view>& resource_keys() {
  static const std::vector<std::string_view> kKeys = {
      "PHYSPAGES", "SWAPPAGES", "CPUUNITS", "CPULIMIT",  "CPUS",      "CPUMASK",  "NODEMASK",
      "NUMPROC",   "IOPRIO",    "IOLIMIT",  "IOPSLIMIT", "TCPSNDBUF", "TCPRCVBUF"};
  return kKeys;
}

Resources resources_from_model(const CtModel& m) {
  Resources r;
  r.memory_limit = pages_to_bytes(m, "PHYSPAGES");
  r.swap_limit = pages_to_bytes(m, "SWAPPAGES");
  if (m.cpuunits) r.cpu_shares = cpuunits_to_shares(*m.cpuunits);
  std::optional<int64_t> quota;
  if (m.cpulimit) quota = cpulimit_to_quota(*m.cpulimit, r.cpu_period_us);
  if (m.cpus) {
    int64_t cap = *m.cpus == 0 ? kNoLimit
                               : cpulimit_to_quota(std::min<uint64_t>(*m.cpus, 1000000) * 100,
                                                   r.cpu_period_us);
    if (!quota || *quota == kNoLimit || (cap != kNoLimit && cap < *quota)) quota = cap;
  }
  r.cpu_quota_us = quota;
  // "all" -> "" (the parent's set); CPUMASK "auto" -> not set.
  if (m.cpumask && m.cpumask->kind != values::CpuMask::Kind::kAuto)
    r.cpuset_cpus = m.cpumask->cpuset();
  if (m.nodemask) r.cpuset_mems = m.nodemask->cpuset();
  r.pids_max = ubc_limit(m, "NUMPROC");
  if (m.ioprio) r.io_weight = ioprio_to_weight(static_cast<unsigned>(*m.ioprio));
  for (auto [n, field] : {std::pair{&m.iolimit, &r.io_bps}, std::pair{&m.iopslimit, &r.io_iops}})
    if (*n) *field = **n == 0 ? kNoLimit : static_cast<int64_t>(**n);
  // Both socket buffer limits together (vzctl's upstream-kernel mode did the same); one alone is
  // unlimited in sum.
  auto snd = ubc_limit(m, "TCPSNDBUF"), rcv = ubc_limit(m, "TCPRCVBUF");
  if (snd || rcv) {
    int64_t s = snd.value_or(kNoLimit), c = rcv.value_or(kNoLimit);
    bool none = s == kNoLimit || c == kNoLimit || s > (INT64_MAX / 2) || c > (INT64_MAX / 2);
    r.tcp_mem_limit = none ? kNoLimit : s + c;
  }
  return r;
}

Result<Resources> resources_from(const KeyLookup& get) {
  BERTH_ASSIGN_OR_RETURN(CtModel m, parse_model(get));
  return resources_from_model(m);
}

Result<Resources> resources_from_config(const CtConfig& ct) {
  return resources_from([&ct](std::string_view k) { return ct.get(k); });
}

std::vector<std::string> changed_resource_keys(const KeyLookup& before, const KeyLookup& after) {
  std::vector<std::string> out;
  for (auto k : resource_keys())
    if (before(k) != after(k)) out.emplace_back(k);
  return out;
}

Resources only_keys(const Resources& r, const std::vector<std::string>& keys) {
  Resources out;
  out.cpu_period_us = r.cpu_period_us;
  if (has(keys, "PHYSPAGES") || has(keys, "SWAPPAGES")) {
    out.memory_limit = r.memory_limit.value_or(kNoLimit);
    // Both, always: v1's memsw (ram + swap) follows the RAM. No SWAPPAGES means no swap limit,
    // even if an unsaved `set --swap` put one on the kernel before.
    out.swap_limit = r.swap_limit.value_or(kNoLimit);
  }
  if (has(keys, "CPUUNITS")) out.cpu_shares = r.cpu_shares.value_or(cpuunits_to_shares(1000));
  if (has(keys, "CPULIMIT") || has(keys, "CPUS"))
    out.cpu_quota_us = r.cpu_quota_us.value_or(kNoLimit);
  if (has(keys, "CPUMASK")) out.cpuset_cpus = r.cpuset_cpus.value_or("");
  if (has(keys, "NODEMASK")) out.cpuset_mems = r.cpuset_mems.value_or("");
  if (has(keys, "NUMPROC")) out.pids_max = r.pids_max.value_or(kNoLimit);
  if (has(keys, "IOPRIO")) out.io_weight = r.io_weight.value_or(ioprio_to_weight(4));
  if (has(keys, "IOLIMIT")) out.io_bps = r.io_bps.value_or(kNoLimit);
  if (has(keys, "IOPSLIMIT")) out.io_iops = r.io_iops.value_or(kNoLimit);
  out.io_device = r.io_device;
  if (has(keys, "TCPSNDBUF") || has(keys, "TCPRCVBUF"))
    out.tcp_mem_limit = r.tcp_mem_limit.value_or(kNoLimit);
  return out;
}

}  // namespace berth::cgroups
