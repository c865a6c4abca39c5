// daemon/view: berthd's picture of the instance's CTs, rebuilt from the kernel and the state
// files (nothing of it is persisted: a restarted berthd reads it again). A poller thread refreshes
// every CT each interval (and one CT at once after an API action on it), records usage in the
// history, and reports changes: a CT's state (event `ct`), a beancounter's failcnt going up
// (event `ubc`). Readers get an immutable snapshot, so GET /v1/cts costs no kernel reads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ct_config.h"
#include "core/host_config.h"
#include "daemon/history.h"
#include "daemon/http.h"
#include "ubc/model.h"

namespace berth::daemon {

struct CtInfo {
  std::string ctid, name, hostname, state, ostemplate, layout;
  std::vector<std::string> ip;
  std::map<std::string, std::string> config;  // every key of CTID.conf (admin only)
  bool running = false;
  // Usage (running CTs; zeros otherwise).
  double cpu_pct = 0;
  uint64_t cpu_usec = 0;  // cumulative
  uint64_t mem_bytes = 0, swap_bytes = 0, procs = 0, disk_bytes = 0;
  int64_t mem_limit = -1, swap_limit = -1, disk_limit = -1;  // -1: none
  uint64_t io_read_bytes = 0, io_write_bytes = 0;
  uint64_t net_rx_bytes = 0, net_tx_bytes = 0;
  std::vector<ubc::Row> ubc;
  uint64_t ubc_failcnt = 0;  // sum over the rows
  int64_t sampled = 0;       // unix seconds
  // The parsed config and the identity of the file it came from (inode, size, mtime in ns): a
  // pass reads a config again only when its file changed.
  std::shared_ptr<const CtConfig> cfg;
  std::array<int64_t, 3> conf_id{};
};

using Snapshot = std::map<std::string, CtInfo, std::less<>>;

// The CT as the API shows it (contract: CT); with_config adds "config".
Json ct_json(const CtInfo& ct, bool with_config);

class View {
 public:
  using OnEvent = std::function<void(const std::string& type, const std::string& ctid,
                                     const std::string& json)>;
  View(const HostConfig& host, History& history, OnEvent on_event);
  ~View();
  // Refresh everything once (synchronously), then every interval_s in a thread.
  void start(int interval_s);
  void stop();
  std::shared_ptr<const Snapshot> snapshot() const;
  // Read one CT again now (after an action on it); publishes its changes.
  void refresh(const std::string& ctid);
  // Time one full pass took, ms (for /metrics).
  double last_pass_ms() const { return last_pass_ms_.load(); }

 private:
  void pass();
  std::optional<CtInfo> read_ct(const std::string& ctid, const CtInfo* previous);
  void update(const std::string& ctid, std::optional<CtInfo> info);
  // The events of one CT's change from prev to info (either may be null: new, gone).
  void publish_changes(const std::string& ctid, const CtInfo* prev, const CtInfo* info);

  const HostConfig& host_;
  History& history_;
  OnEvent on_event_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snap_;
  std::mutex refresh_mu_;  // one reader of the kernel at a time
  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::atomic<double> last_pass_ms_{0};
  int64_t last_history_ = 0;
};

}  // namespace berth::daemon
