// OpenVZ parameters -> Resources (see convert.h for the mapping and why).
#include "cgroups/convert.h"

#include <algorithm>
#include <cstdint>

#include "core/exit_codes.h"
#include "core/units.h"
#include "core/values/bitmap.h"
#include "core/values/text.h"

namespace berth::cgroups {
namespace {

Error bad_key(std::string_view key, std::string_view value, std::string_view why) {
  return Error::with_status(exitcode::kBadValue,
                            "invalid value `" + std::string(value) + "` of " + std::string(key) + ": " + std::string(why));
}

using values::parse_u64;

// The limit part of a barrier:limit key, in its native unit; kNoLimit for unlimited.
Result<int64_t> ubc_limit(std::string_view key, const std::string& value, units::Kind kind) {
  auto bl = units::parse_barrier_limit(value, kind);
  if (!bl.ok()) return bad_key(key, value, "barrier[:limit] expected");
  if (bl->limit >= units::kUnlimited) return kNoLimit;
  return static_cast<int64_t>(bl->limit);
}

Result<int64_t> pages_to_bytes(std::string_view key, const std::string& value) {
  BERTH_ASSIGN_OR_RETURN(int64_t pages, ubc_limit(key, value, units::Kind::kPages));
  if (pages == kNoLimit || static_cast<uint64_t>(pages) > (1ULL << 62) / units::kPageSize) return kNoLimit;
  return static_cast<int64_t>(static_cast<uint64_t>(pages) * units::kPageSize);
}

// A CPU/node list as the kernel takes it (the config model's parser, core/values/bitmap.h);
// "all" -> "" (the parent's set).
Result<std::string> cpu_list(std::string_view key, const std::string& value) {
  auto m = values::parse_cpumask(value, false);
  if (!m.ok()) return bad_key(key, value, "list like 0-2,7 expected");
  return m->cpuset();
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
  static const std::vector<std::string_view> kKeys = {"PHYSPAGES", "SWAPPAGES", "CPUUNITS", "CPULIMIT", "CPUS",
                                                      "CPUMASK",   "NODEMASK",  "NUMPROC",  "IOPRIO",
                                                      "IOLIMIT",   "IOPSLIMIT", "TCPSNDBUF", "TCPRCVBUF"};
  return kKeys;
}

Result<Resources> resources_from(const KeyLookup& get) {
  Resources r;
  if (auto v = get("PHYSPAGES")) {
    BERTH_ASSIGN_OR_RETURN(r.memory_limit, pages_to_bytes("PHYSPAGES", *v));
  }
  if (auto v = get("SWAPPAGES")) {
    BERTH_ASSIGN_OR_RETURN(r.swap_limit, pages_to_bytes("SWAPPAGES", *v));
  }
  if (auto v = get("CPUUNITS")) {
    auto n = parse_u64(*v);
    if (!n) return bad_key("CPUUNITS", *v, "a number expected");
    r.cpu_shares = cpuunits_to_shares(*n);
  }
  std::optional<int64_t> quota;
  if (auto v = get("CPULIMIT")) {
    auto n = parse_u64(*v);
    if (!n) return bad_key("CPULIMIT", *v, "a number expected");
    quota = cpulimit_to_quota(*n, r.cpu_period_us);
  }
  if (auto v = get("CPUS")) {
    auto n = parse_u64(*v);
    if (!n) return bad_key("CPUS", *v, "a number expected");
    int64_t cap = *n == 0 ? kNoLimit : cpulimit_to_quota(std::min<uint64_t>(*n, 1000000) * 100, r.cpu_period_us);
    if (!quota || *quota == kNoLimit || (cap != kNoLimit && cap < *quota)) quota = cap;
  }
  r.cpu_quota_us = quota;
  if (auto v = get("CPUMASK"); v && *v != "auto") {
    BERTH_ASSIGN_OR_RETURN(r.cpuset_cpus, cpu_list("CPUMASK", *v));
  }
  if (auto v = get("NODEMASK")) {
    BERTH_ASSIGN_OR_RETURN(r.cpuset_mems, cpu_list("NODEMASK", *v));
  }
  if (auto v = get("NUMPROC")) {
    BERTH_ASSIGN_OR_RETURN(r.pids_max, ubc_limit("NUMPROC", *v, units::Kind::kItems));
  }
  if (auto v = get("IOPRIO")) {
    auto n = parse_u64(*v);
    if (!n || *n > 7) return bad_key("IOPRIO", *v, "0..7 expected");
    r.io_weight = ioprio_to_weight(static_cast<unsigned>(*n));
  }
  for (auto [key, field] : {std::pair{"IOLIMIT", &r.io_bps}, std::pair{"IOPSLIMIT", &r.io_iops}}) {
    auto v = get(key);
    if (!v) continue;
    auto n = parse_u64(*v);
    if (!n || *n > static_cast<uint64_t>(INT64_MAX)) return bad_key(key, *v, "a number expected");
    *field = *n == 0 ? kNoLimit : static_cast<int64_t>(*n);
  }
  // Both socket buffer limits together (vzctl's upstream-kernel mode did the same); one alone is
  // unlimited in sum.
  auto snd = get("TCPSNDBUF"), rcv = get("TCPRCVBUF");
  if (snd || rcv) {
    int64_t s = kNoLimit, c = kNoLimit;
    if (snd) {
      BERTH_ASSIGN_OR_RETURN(s, ubc_limit("TCPSNDBUF", *snd, units::Kind::kBytes));
    }
    if (rcv) {
      BERTH_ASSIGN_OR_RETURN(c, ubc_limit("TCPRCVBUF", *rcv, units::Kind::kBytes));
    }
    bool none = s == kNoLimit || c == kNoLimit || s > (INT64_MAX / 2) || c > (INT64_MAX / 2);
    r.tcp_mem_limit = none ? kNoLimit : s + c;
  }
  return r;
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
  if (has(keys, "CPULIMIT") || has(keys, "CPUS")) out.cpu_quota_us = r.cpu_quota_us.value_or(kNoLimit);
  if (has(keys, "CPUMASK")) out.cpuset_cpus = r.cpuset_cpus.value_or("");
  if (has(keys, "NODEMASK")) out.cpuset_mems = r.cpuset_mems.value_or("");
  if (has(keys, "NUMPROC")) out.pids_max = r.pids_max.value_or(kNoLimit);
  if (has(keys, "IOPRIO")) out.io_weight = r.io_weight.value_or(ioprio_to_weight(4));
  if (has(keys, "IOLIMIT")) out.io_bps = r.io_bps.value_or(kNoLimit);
  if (has(keys, "IOPSLIMIT")) out.io_iops = r.io_iops.value_or(kNoLimit);
  out.io_device = r.io_device;
  if (has(keys, "TCPSNDBUF") || has(keys, "TCPRCVBUF")) out.tcp_mem_limit = r.tcp_mem_limit.value_or(kNoLimit);
  return out;
}

}  // namespace berth::cgroups
