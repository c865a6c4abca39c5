// The CT's own /proc/meminfo (in its /proc view, ubc/proc_view.h): `free`, `top` and htop inside a
// VPS show its RAM and swap, as on OpenVZ, not the host's.
//
// The host's /proc/meminfo is the template: the lines about the CT's memory are rewritten from
// its memory cgroup (MemTotal = its RAM limit, or the host's when that is smaller or unset;
// MemFree = total - usage; Cached, Shmem, AnonPages, Active/Inactive from memory.stat; Buffers 0;
// MemAvailable = free + reclaimable page cache; SwapTotal = its swap limit when it has one,
// SwapFree = that - swap in use), every other line is the host's. Each number keeps the width of
// the host's field, so the text's length stays the host's (FUSE sizes, see procsrv/server.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::ubc {

// A CT's memory, in bytes. No value: unlimited / unknown.
struct MemCounters {
  std::optional<uint64_t> limit;  // RAM limit
  uint64_t usage = 0;             // RAM in use, page cache included
  uint64_t file = 0;              // page cache (shmem included, as the kernel's Cached)
  uint64_t shmem = 0;
  uint64_t anon = 0;
  uint64_t active_anon = 0, inactive_anon = 0, active_file = 0, inactive_file = 0;
  // The CT's own, so that no host-wide figure shows in its meminfo (procps' free adds
  // SReclaimable to buff/cache: the host's would exceed the CT's MemTotal). v1 has no slab,
  // kernel stack or page table counters: 0.
  uint64_t slab_reclaimable = 0, slab_unreclaimable = 0;
  uint64_t mapped = 0, dirty = 0, writeback = 0, unevictable = 0, mlocked = 0;
  uint64_t kernel_stack = 0, pagetables = 0;
  std::optional<uint64_t> swap_limit;  // swap limit (VSwap SWAPPAGES)
  uint64_t swap_usage = 0;
};

// host_meminfo rewritten for the CT. Pure.
std::string virtual_meminfo(std::string_view host_meminfo, const MemCounters& c);

// The counters of a running CT from its memory cgroup (v1 or v2).
Result<MemCounters> read_mem_counters(const CtConfig& ct);

}  // namespace berth::ubc
