// daemon/job_run: the worker side of a job (jobs.h), shared by the job kinds of jobs.cc (create,
// destroy, reinstall) and jobs_data.cc (snapshots, backups, migration). Runs only in a job's
// worker process (`berthd _worker job FILE`), never in the daemon.
#pragma once

#include <string>

#include "core/ct_config.h"
#include "core/host_config.h"
#include "daemon/http.h"
#include "sys/lock.h"

namespace berth::daemon {

// The job file as the worker updates it (atomic replaces).
struct JobRun {
  std::string file;
  Json f;
  void update(const std::string& state, int progress, const std::string& message);
  bool cancel_requested() const;
  // A safe point: honour a cancel (and the tests' delay); true when the job ended cancelled.
  bool safe_point();
  // End failed with e; returns its exit status.
  int fail(const Error& e);
};

// `berthd _worker start CTID` through the instance's watcher (the CT's init is the watcher's
// child). skiplock: the caller holds the CT's lock (a migration starting the CT again).
Status start_via_watcher(const HostConfig& host, const std::string& ctid, bool skiplock = false);

// The CT's lock (the CLI's) and its config; exit 14 when it has none.
struct LockedCt {
  sys::FileLock lock;
  CtConfig ct;
};
Result<LockedCt> lock_and_load(const HostConfig& host, const std::string& ctid);

// Stop the CT (at once) when it runs or is mounted; returns whether it ran.
Result<bool> stop_for_job(JobRun& run, const CtConfig& ct);

// The jobs of jobs_data.cc: false when kind is none of theirs; else runs it and sets rc.
bool run_data_job(const HostConfig& host, JobRun& run, const std::string& kind,
                  const std::string& ctid, const Json& params, int& rc);

}  // namespace berth::daemon
