// Each CT's own load average, as OpenVZ kept one per VPS: /proc/loadavg in the CT's /proc view
// (ubc/proc_view.h) and vzlist's laverage.
//
// The beancounter server samples every running CT of its instance every 5 s, as the kernel does
// for the host: the CT's tasks (every thread of its cgroup subtree) that are runnable (R) or in
// uninterruptible sleep (D), folded into three exponentially decaying averages over 1, 5 and 15
// minutes with the kernel's factors. The averages start at 0 with the server (or the CT's start)
// and are kept in memory only. The server writes them, with the sample's counts, to
// <run>/ubc/<CTID>.loadavg, for vzlist.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/host_config.h"

namespace berth::ubc {

inline constexpr double kLoadInterval = 5.0;  // seconds between samples (the kernel's LOAD_FREQ)

struct LoadAvg {
  std::array<double, 3> avg{};  // 1, 5, 15 minutes
  uint32_t running = 0;         // runnable tasks at the last sample
  uint32_t threads = 0;         // all tasks at the last sample
};

// One sample of `active` tasks after `interval` seconds. Pure.
void fold_sample(LoadAvg& l, uint32_t active, double interval);

// /proc/loadavg's line: "0.52 0.31 0.12 2/87 4242\n". Pure.
std::string render_loadavg(const LoadAvg& l, pid_t last_pid);

// The state file's text and back (vzlist reads it). Pure.
std::string format_load_state(const LoadAvg& l);
std::optional<LoadAvg> parse_load_state(std::string_view text);

// State char of /proc/<tid>/stat ("12 (name with ) parens) R 1 ..." -> 'R'); 0 if malformed. Pure.
char stat_state(std::string_view stat);

// The server's sampler.
class LoadSampler {
 public:
  explicit LoadSampler(const HostConfig& host) : host_(host) {}
  // Sample every running CT once (the server calls it every kLoadInterval s).
  void sample_all();
  // The CT's averages, if it was sampled.
  std::optional<LoadAvg> get(const std::string& ctid);

 private:
  struct Entry {
    LoadAvg load;
    pid_t init = 0;  // a new init (restart) starts over
  };
  const HostConfig& host_;
  std::mutex mutex_;
  std::map<std::string, Entry> ct_;
};

// <run>/ubc/<CTID>.loadavg
std::string load_state_path(const HostConfig& host, const std::string& ctid);

// The averages the server last wrote for a running CT; nullopt when there is no server, or its
// last sample is older than three intervals.
std::optional<std::array<double, 3>> saved_load(const HostConfig& host, const std::string& ctid);

}  // namespace berth::ubc
