// What the beancounter server keeps per CT, and the bounds on what one CT can make the shared
// server do and hold (see docs/security/procsrv.md).
//
// Work: a served file (user_beancounters, meminfo, loadavg, cpuinfo) is computed at most once per
// kFresh for each CT and kind, by one thread at a time; reads in between, and reads that come
// while it is being computed, get the last text (at most kStale old). The costly part of a block,
// the rows counted from the CT's processes (a walk of every fd directory), is kept kCountsFor.
// So a CT reading its files in a loop costs the server one computation per kFresh, whatever its
// number of readers, and never waits on another CT: there is no lock shared between CTs.
//
// Pace: every request about a CT (a lookup, a read, a listing of its /proc) takes a turn of that
// CT's own token bucket, kOpsPerSecond on average and kBurst at once; past that, the request waits
// for its turn (sleeping, holding no lock). A CT hammering its /proc thus costs the server at most
// kOpsPerSecond cheap requests a second, and its neighbours keep theirs.
//
// Memory: a text is shared by every handle opened while it was current, and counted in its CT's
// budget while a handle holds it; past kBudget, new opens of that CT get the newest text again
// instead of a new one. What a CT's open handles make the server hold is bounded by
// kBudget + one small shared pointer per handle (and its handles by its own fd limits).
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/ct_config.h"
#include "core/unique_fd.h"
#include "ubc/collect.h"

namespace berth::procsrv {

using Text = std::shared_ptr<const std::string>;

enum class Served { kUbc, kMeminfo, kLoadavg, kCpuinfo };
inline constexpr size_t kServedKinds = 4;

class CtSlots {
 public:
  static constexpr std::chrono::milliseconds kFresh{20};
  static constexpr std::chrono::milliseconds kStale{1000};
  static constexpr std::chrono::milliseconds kCountsFor{1000};
  static constexpr size_t kBudget = size_t{4} << 20;
  static constexpr int kOpsPerSecond = 2000;
  static constexpr int kBurst = 500;

  // Waits for the CT's next turn (see Pace above).
  void pace(const std::string& ctid);

  // The text of `what` for the CT: the last one while it is fresh and was computed with the same
  // `limits` (the stamp a live change of the CT's limits leaves: procsrv::limits_changed), else
  // compute()'s.
  Text text(const std::string& ctid, Served what, const std::function<std::string()>& compute,
            std::string_view limits = {});

  // The CT's init, checked against its start time on each call (query_status only when it is not
  // known or has changed); nullopt when the CT does not run.
  std::optional<pid_t> init(const CtConfig& ct);

  // The counts from the CT's processes (count_ct_processes), at most kCountsFor old.
  ubc::ProcessCounts counts(const CtConfig& ct, pid_t init);

  // A new descriptor of the server's own procfs of the CT's pid namespace (ct_access.h), made
  // once per run of the CT; invalid when it does not run.
  UniqueFd procfs(const CtConfig& ct);

  // Bytes of texts the CT's handles and caches hold now (for tests and the budget).
  size_t held(const std::string& ctid);

  // Drop what is kept for CTs whose init has gone (their procfs holds their pid namespace).
  void forget_dead();

 private:
  using Clock = std::chrono::steady_clock;
  struct Kind {
    Text text;
    Clock::time_point at{};
    std::string limits;  // the stamp `text` was computed with
    bool computing = false;
  };
  struct Slot {
    std::mutex mutex;
    std::condition_variable cv;
    pid_t init = 0;
    uint64_t start = 0;
    UniqueFd procfs;
    std::optional<ubc::ProcessCounts> counts;
    Clock::time_point counted_at{};
    std::array<Kind, kServedKinds> kinds;
    std::shared_ptr<std::atomic<size_t>> held = std::make_shared<std::atomic<size_t>>(0);
    Clock::time_point next_turn{};  // the token bucket, as the time its next turn is free
  };
  std::shared_ptr<Slot> slot(const std::string& ctid);

  std::mutex mutex_;  // the map only; never held while a CT's work runs
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace berth::procsrv
