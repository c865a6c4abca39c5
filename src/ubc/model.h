// Beancounters: the rows of OpenVZ's /proc/user_beancounters, computed from a stock kernel's
// counters (reference section 4). Pure: no file or kernel access here (collect.h reads them).
//
// Every one of the 25 rows is produced, in the kernel's index order (4 and 20-22 are "dummy").
// Which rows carry real numbers (see docs/runtime.md, "Beancounters"):
//   real, from cgroup counters: kmemsize (v1 memory.kmem.*, v2 memory.stat kernel), shmpages
//     (memory.stat shmem), numproc (pids.*), physpages (memory usage/peak/limit/failcnt or OOM
//     kills), oomguarpages (memory + swap, failcnt = OOM kills), tcpsndbuf (socket buffer memory:
//     v1 memory.kmem.tcp.*, v2 memory.stat sock; the kernel does not split send and receive),
//     dcachesize (v2 memory.stat slab_reclaimable), swappages (memsw - mem, memory.swap.*);
//   real, counted from the CT's processes: lockedpages (VmLck), privvmpages (VmData + VmStk),
//     numfile (open fds), numflock (/proc/locks), numpty (its devpts), numtcpsock and
//     numothersock (its network namespace's sockstat and unix sockets);
//   always 0: vmguarpages, numsiginfo, tcprcvbuf, othersockbuf, dgramrcvbuf, numiptent, dummies.
// failcnt is the kernel's where one exists (pids events max, memory failcnt / events max,
// kmem failcnt, OOM kills), else 0. barrier and limit come from the kernel where it enforces one
// (physpages, swappages, numproc), else from the CT's config; unlimited is LONG_MAX.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/units.h"

namespace berth::ubc {

inline constexpr int kRowCount = 25;

struct ResourceDef {
  const char* name;     // "kmemsize"; "dummy" for the unused indices
  const char* key;      // config key, "KMEMSIZE"; nullptr for dummies
  const char* alt_key;  // older spelling, or nullptr
  units::Kind kind;     // what the numbers count (pages rows are in pages)
};

// The 25 rows in /proc/user_beancounters order (= kernel index).
const std::array<ResourceDef, kRowCount>& resources();
// Index of a row by name (never a dummy); -1 when unknown.
int resource_index(std::string_view name);

struct Row {
  std::string name;
  uint64_t held = 0, maxheld = 0;
  uint64_t barrier = units::kUnlimited, limit = units::kUnlimited;
  uint64_t failcnt = 0;
  bool operator==(const Row&) const = default;
};

struct Block {
  std::string uid;  // CTID ("0" is the host in OpenVZ)
  std::vector<Row> rows;
  const Row* find(std::string_view name) const;
};

// What the collector read. Byte counts unless said; nullopt = the host does not have it.
struct Raw {
  uint64_t mem_usage = 0;
  std::optional<uint64_t> mem_peak;
  int64_t mem_limit = -1;  // -1 unlimited
  uint64_t mem_failcnt = 0;
  uint64_t oom_kills = 0;
  uint64_t swap_usage = 0;
  std::optional<uint64_t> swap_peak;
  int64_t swap_limit = -1;
  uint64_t swap_failcnt = 0;
  std::optional<uint64_t> kmem_usage, kmem_peak;
  uint64_t kmem_failcnt = 0;
  std::optional<uint64_t> sock_usage, sock_peak;
  uint64_t sock_failcnt = 0;
  uint64_t shmem = 0;
  std::optional<uint64_t> dcache;
  uint64_t pids_current = 0;
  std::optional<uint64_t> pids_peak;
  int64_t pids_limit = -1;
  uint64_t pids_failcnt = 0;
  // Counted from the CT's processes.
  uint64_t locked_bytes = 0, privvm_bytes = 0;
  uint64_t numfile = 0, numflock = 0, numpty = 0, numtcpsock = 0, numothersock = 0;
};

// barrier:limit of each row from the CT's config (get(key) returns the raw value). Rows without
// a (valid) key stay unlimited.
std::array<units::BarrierLimit, kRowCount> config_limits(
    const std::function<std::optional<std::string>(std::string_view)>& get);

// The CT's block. maxheld is the kernel's peak where it keeps one, else held (merge_maxheld
// carries the maximum across reads).
Block compute_block(const std::string& uid, const Raw& raw,
                    const std::array<units::BarrierLimit, kRowCount>& conf);

// maxheld = max(maxheld, previous[i]) for each row; returns the new maxima to store.
std::vector<uint64_t> merge_maxheld(Block& b, const std::vector<uint64_t>& previous);

// /proc/user_beancounters text: "Version: 2.5", the column header, then each block.
std::string render_v25(const std::vector<Block>& blocks);
// Parse that text (vzubc -f). Errors for another version or malformed lines.
Result<std::vector<Block>> parse_v25(std::string_view text);

// Unit conversions.
inline uint64_t pages_to_bytes(uint64_t pages) {
  return pages >= units::kUnlimited / units::kPageSize ? units::kUnlimited
                                                       : pages * units::kPageSize;
}
inline uint64_t bytes_to_pages(uint64_t bytes) { return bytes / units::kPageSize; }

}  // namespace berth::ubc
