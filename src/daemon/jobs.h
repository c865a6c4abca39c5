// daemon/jobs: long operations (create, destroy, reinstall, snapshots, backups, migration) as
// jobs with progress and, when done, a kind-specific result.
//
// A job is a file, <run>/berthd/jobs/<id>.json, and a worker process (`berthd _worker job FILE`,
// worker.h) started in its own session, which updates the file itself (state, progress, message,
// error, end time) with atomic replaces. berthd only starts workers and reads files, so a restart
// of berthd never touches a running job: the worker goes on and records its end, and the new
// berthd reads it. A job whose file says queued or running while its worker is gone (killed, the
// host rebooted) is marked failed ("interrupted") by the first berthd that sees it: a job always
// ends in done, failed or cancelled.
//
// Cancelling asks the worker to stop at its next safe point (before it changes anything that
// cannot be undone: before the create, before the stop and destroy); a job past its last safe
// point finishes. BERTH_TEST_JOB_DELAY_MS (tests only) holds a worker at its first safe point.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/tokens.h"
#include "core/host_config.h"
#include "daemon/http.h"

namespace berth::daemon {

inline constexpr const char* kJobDelayEnv = "BERTH_TEST_JOB_DELAY_MS";

// Job kinds.
inline constexpr const char* kJobCreate = "create";
inline constexpr const char* kJobDestroy = "destroy";
inline constexpr const char* kJobReinstall = "reinstall";
inline constexpr const char* kJobSnapshot = "snapshot";
inline constexpr const char* kJobSnapshotSwitch = "snapshot-switch";
inline constexpr const char* kJobSnapshotDelete = "snapshot-delete";
inline constexpr const char* kJobBackup = "backup";
inline constexpr const char* kJobBackupRestore = "backup-restore";
inline constexpr const char* kJobBackupDelete = "backup-delete";
inline constexpr const char* kJobMigrate = "migrate";

bool is_final_state(const std::string& state);

class JobStore {
 public:
  JobStore(const HostConfig& host, std::string self_exe);
  static std::string dir_of(const HostConfig& host);

  // Write the job file and start its worker. Returns the Job as the API shows it.
  Result<Json> submit(const std::string& kind, const std::string& ctid, const std::string& owner,
                      const Json& params);
  // The API's Job for id (nullopt: none).
  std::optional<Json> get(const std::string& id);
  // Jobs the caller may see, newest first.
  std::vector<Json> list(const auth::Principal& who);
  // Ask to cancel. Error 409 when the job ended already.
  Result<Json> cancel(const std::string& id);
  // Whether a job that is not final exists for ctid (one job per CT at a time).
  bool busy(const std::string& ctid);

  // Read the files again; calls on_change for every job whose file changed; marks the jobs of
  // dead workers failed; reaps our finished workers; forgets final jobs older than a day (and
  // keeps at most 500 files).
  void poll(const std::function<void(const Json&)>& on_change);

 private:
  std::optional<Json> read(const std::string& id) const;
  Status spawn(const std::string& file);
  std::string file_of(const std::string& id) const;

  const HostConfig& host_;
  std::string exe_;
  std::mutex mu_;
  std::map<std::string, std::string> seen_;  // id -> last text seen
  std::vector<pid_t> children_;
};

// The API's view of a job file (drops the worker's pid, owner and params; "result": null until
// a job that has one is done).
Json public_job(const Json& file);

// In the worker: run the job of FILE to its end; returns the exit status.
int run_job(const HostConfig& host, const std::string& file);

}  // namespace berth::daemon
