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
#include <vector>
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
    pid_t init = 0;         // a new init (restart) starts over
    std::string group_dir;  // its memory group, once known: later samples only read its tasks
    std::string written;    // what its state file holds (unchanged text is not written again)
  };
  // Tasks of a CT sampled before whose init is still among them (it still runs the same init),
  // without reading its config or status again; nullopt: look it up in full.
  std::optional<std::vector<pid_t>> known_tasks(const std::string& id, const char* file);
  const HostConfig& host_;
  std::mutex mutex_;
  std::map<std::string, Entry> ct_;
};

// <run>/ubc/<CTID>.loadavg (rewritten only when its text changes)
// The stamp of the last live change of a running CT's limits (procsrv::limits_changed); removed
// with its load state once the CT no longer runs.
std::string limits_stamp_path(const HostConfig& host, const std::string& ctid);
std::string load_state_path(const HostConfig& host, const std::string& ctid);

// <run>/ubc/sampled: touched after every round of samples, so a state file whose text did not
// change is still known to be current.
std::string load_heartbeat_path(const HostConfig& host);

// The averages the server last wrote for a running CT; nullopt when there is no server, or its
// last round of samples is older than three intervals.
std::optional<std::array<double, 3>> saved_load(const HostConfig& host, const std::string& ctid);

}  // namespace berth::ubc
