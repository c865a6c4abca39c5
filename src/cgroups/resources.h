// Resources: the limits of one CT's cgroup in kernel terms, and the file writes that set them.
//
// A Resources value says what to set and nothing else: an unset field is left as the kernel has
// it (so `set` writes only what changed). It is built from the CT's config by cgroups/convert.h
// and applied by Backend::apply(). The write plans below are pure (unit-tested); the backends
// only carry them out, skipping controllers and files the host does not have. Counters read back
// for beancounters (Stats) are parsed here too; the backends read the files.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::cgroups {

inline constexpr int64_t kNoLimit = -1;  // "unlimited": v1 -1, v2 "max"
inline constexpr uint64_t kDefaultCpuPeriodUs = 100000;

struct Resources {
  std::optional<int64_t> memory_limit;  // bytes of RAM (VSwap PHYSPAGES), or kNoLimit
  std::optional<int64_t> swap_limit;    // bytes of swap alone (SWAPPAGES), or kNoLimit
  std::optional<uint64_t> cpu_shares;   // v1 cpu.shares, 2..262144; v2 gets the matching weight
  std::optional<int64_t> cpu_quota_us;  // per cpu_period_us, or kNoLimit
  uint64_t cpu_period_us = kDefaultCpuPeriodUs;
  std::optional<std::string> cpuset_cpus;  // "0-2,7"; "" = all the parent has
  std::optional<std::string> cpuset_mems;  // NUMA nodes; "" = all the parent has
  std::optional<int64_t> pids_max;         // NUMPROC limit, or kNoLimit
  std::optional<uint64_t> io_weight;       // 100..1000 (IOPRIO)
  // IOLIMIT / IOPSLIMIT: bytes and operations per second, each for reads and for writes, on the
  // block device io_device ("major:minor", the whole disk holding the private area; the caller
  // finds it, see io_device.h). kNoLimit removes the limit. Without a device nothing is written.
  std::optional<int64_t> io_bps;
  std::optional<int64_t> io_iops;
  std::string io_device;
  // TCPSNDBUF + TCPRCVBUF: bytes of TCP socket buffers (v1 memory.kmem.tcp.limit_in_bytes; v2 has
  // no such limit, socket memory is charged to memory.max), or kNoLimit.
  std::optional<int64_t> tcp_mem_limit;

  bool empty() const {
    return !memory_limit && !swap_limit && !cpu_shares && !cpu_quota_us && !cpuset_cpus &&
           !cpuset_mems && !pids_max && !io_weight && !io_bps && !io_iops && !tcp_mem_limit;
  }
  bool operator==(const Resources&) const = default;
};

// One write of a plan: `value` into <controller's group dir>/<file>. An empty value for a
// cpuset.* file means "the parent's value" (the backend reads it).
struct CgroupWrite {
  std::string controller;  // v1 hierarchy controller ("memory", "cpu", ...); v2 the same names
  std::string file;        // "memory.limit_in_bytes"
  std::string value;
  bool operator==(const CgroupWrite&) const = default;
};

// cgroup v1 files: memory.limit_in_bytes, memory.memsw.limit_in_bytes (= RAM + swap, written only
// when the swap limit is set), cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us, cpuset.cpus,
// cpuset.mems, pids.max, blkio.weight and blkio.bfq.weight (whichever the I/O scheduler offers),
// blkio.throttle.{read,write}_{bps,iops}_device ("M:m N"; N = 0 removes the rule),
// memory.kmem.tcp.limit_in_bytes.
std::vector<CgroupWrite> v1_writes(const Resources& r);
// cgroup v2 files: memory.max, memory.swap.max, cpu.weight, cpu.max, cpuset.cpus, cpuset.mems,
// pids.max, io.weight and io.bfq.weight, io.max ("M:m rbps=N wbps=N riops=N wiops=N", max = none).
std::vector<CgroupWrite> v2_writes(const Resources& r);

// Carry out a plan: dir_of(controller) is the CT's group dir for that controller, "" when the host
// has no such controller (the write is skipped, as is a file the kernel does not offer). A write
// the kernel refuses with EINVAL or EBUSY is retried once after the others (a v1 memory limit
// above the old memsw limit only fits once memsw is raised). Host side, root.
Status apply_writes(const std::vector<CgroupWrite>& plan,
                    const std::function<std::string(const std::string&)>& dir_of);

// Beancounter counters of one CT, from its cgroup (vz7's user_beancounters.py does the same on
// v1). Byte counts; -1 for a limit means unlimited; a counter the host lacks stays 0.
struct Stats {
  struct Counter {
    uint64_t held = 0;
    uint64_t maxheld = 0;
    int64_t limit = kNoLimit;
    uint64_t failcnt = 0;
  };
  Counter memory;  // bytes: usage, max usage (v2 memory.peak), limit, failcnt (v2 events max)
  Counter swap;    // bytes: memsw - mem on v1, memory.swap.* on v2
  Counter pids;    // items: pids.current, (maxheld = current where no peak), pids.max, events max
  uint64_t oom_kills = 0;  // memory.oom_control oom_kill (v1) / memory.events oom_kill (v2)
};

// "123\n" -> 123; "max" and v1's huge "unlimited" values -> kNoLimit; garbage -> nullopt.
std::optional<int64_t> parse_limit(std::string_view text);
// The value of `key` in a flat keyed file ("key value\n" lines: memory.events, pids.events,
// memory.oom_control, memory.stat); nullopt when absent.
std::optional<uint64_t> keyed_value(std::string_view text, std::string_view key);

// Counter files of a group, read for stats(): a missing or unreadable file reads as 0 (or
// kNoLimit).
uint64_t read_u64(const std::string& path);
int64_t read_limit(const std::string& path);
uint64_t read_keyed(const std::string& path, std::string_view key);

}  // namespace berth::cgroups
