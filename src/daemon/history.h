// daemon/history: the bounded usage history behind GET /v1/cts/{ctid}/stats, in SQLite
// (<lib>/berthd/history.db). Two resolutions per CT: the samples themselves (every
// kSampleStepS, kept an hour) and their 5-minute downsampling (kept a day), so the file holds at
// most ~650 rows per CT whatever the uptime. A destroyed CT's rows go with it (forget()).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

struct sqlite3;

namespace berth::daemon {

struct Point {
  int64_t t = 0;
  double cpu_pct = 0;
  uint64_t mem_bytes = 0, disk_bytes = 0, net_rx_bytes = 0, net_tx_bytes = 0, ubc_failcnt = 0;
};

inline constexpr int64_t kHourStepS = 10;
inline constexpr int64_t kDayStepS = 300;

// Buckets of step seconds (t rounded down): gauges (cpu, memory, disk) averaged, counters
// (network bytes, failcnt) their last value. Input in time order; output in time order. Pure.
std::vector<Point> downsample(const std::vector<Point>& in, int64_t step);

class History {
 public:
  History() = default;
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;
  Status open(const std::string& path);
  // Record one sample of ctid; every kDayStepS also the downsampled bucket that ended; prunes.
  void add(const std::string& ctid, const Point& p);
  // range "hour" or "day".
  std::vector<Point> query(const std::string& ctid, const std::string& range);
  void forget(const std::string& ctid);

 private:
  void exec(const char* sql);
  std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace berth::daemon
