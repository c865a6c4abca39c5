// The jobs of a CT's data (jobs.h): snapshot, snapshot-switch, snapshot-delete, backup,
// backup-restore, backup-delete, migrate. Each runs in its job's worker, takes the CT's lock as
// the CLI's command does (cli/cmd_snapshot.cc, cmd_backup.cc; migrate takes it itself) and calls
// the runtime; a CT a job stopped is started again through the watcher, as `berth start` does.
#include <cstdio>

#include "core/exit_codes.h"
#include "daemon/job_run.h"
#include "daemon/jobs.h"
#include "runtime/backup.h"
#include "runtime/migrate.h"
#include "runtime/snapshot.h"
#include "state/status.h"
#include "storage/backup_store.h"

namespace berth::daemon {
namespace {

int done(JobRun& run, const std::string& message, Json result) {
  run.f["result"] = std::move(result);
  run.update("done", 100, message);
  return 0;
}

int job_snapshot(const HostConfig& host, JobRun& run, const std::string& ctid, const Json& p) {
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  run.update("running", 30, "taking the snapshot");
  runtime::SnapshotRequest req;
  req.name = p.value("name", "");
  req.description = p.value("description", "");
  auto r = runtime::take_snapshot(locked->ct, req);
  if (!r.ok()) return run.fail(Error(r.error()).context("snapshot CT " + ctid));
  return done(run, "snapshot " + r->uuid + " taken", {{"id", r->uuid}, {"pause_ms", r->pause_ms}});
}

int job_snapshot_switch(const HostConfig& host, JobRun& run, const std::string& ctid,
                        const Json& p) {
  const std::string id = p.value("id", "");
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  auto s = state::query_status(locked->ct);
  if (!s.ok()) return run.fail(s.error());
  run.update("running", 30, "switching to snapshot " + id);
  // The runtime would start a running CT again itself, as this worker's child: it is started
  // through the watcher below instead (the CLI runs the whole switch as the watcher's worker).
  // The CT's config is kept (skip_config): a customer must not bring back the limits it had
  // when it took the snapshot; only the files go back.
  auto st = runtime::switch_snapshot(locked->ct, id, {true, true});
  if (!st.ok()) return run.fail(Error(st.error()).context("snapshot-switch CT " + ctid));
  if (s->running) {
    locked->lock = sys::FileLock();
    run.update("running", 80, "starting");
    if (auto up = start_via_watcher(host, ctid); !up.ok()) return run.fail(up.error());
  }
  return done(run, "switched to snapshot " + id, {{"id", id}});
}

int job_snapshot_delete(const HostConfig& host, JobRun& run, const std::string& ctid,
                        const Json& p) {
  const std::string id = p.value("id", "");
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  run.update("running", 30, "deleting snapshot " + id);
  if (auto st = runtime::delete_snapshot(locked->ct, id); !st.ok())
    return run.fail(Error(st.error()).context("snapshot-delete CT " + ctid));
  return done(run, "snapshot " + id + " deleted", {{"id", id}});
}

int job_backup(const HostConfig& host, JobRun& run, const std::string& ctid) {
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  run.update("running", 20, "backing up");
  auto r = runtime::backup(locked->ct, runtime::BackupOptions{});
  if (!r.ok()) return run.fail(Error(r.error()).context("backup CT " + ctid));
  return done(run, "backup " + r->id + " made",
              {{"id", r->id},
               {"files", r->files},
               {"logical_bytes", r->logical},
               {"new_bytes", r->new_bytes},
               {"seconds", r->seconds},
               {"consistent", r->consistent}});
}

// The backup's own CTID must be the job's (checked by the API, and again here: the store may
// have changed between the request and the job).
Status check_backup_of(const HostConfig& host, const std::string& ctid, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(auto store,
                         storage::BackupStore::open_unlocked(runtime::backup_store_dir(host, "")));
  auto m = store.meta(id);
  if (!m.ok() || m->ctid != ctid)
    return Error::with_status(exitcode::kBackupNotFound, "no backup " + id + " of CT " + ctid);
  return {};
}

int job_backup_restore(const HostConfig& host, JobRun& run, const std::string& ctid,
                       const Json& p) {
  const std::string id = p.value("id", "");
  if (auto st = check_backup_of(host, ctid, id); !st.ok()) return run.fail(st.error());
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  auto was = stop_for_job(run, locked->ct);
  if (!was.ok()) return run.fail(was.error());
  run.update("running", 40, "restoring backup " + id);
  runtime::RestoreOptions opts;
  opts.backup_id = id;
  opts.new_ctid = ctid;
  opts.force = true;
  opts.keep_config = true;
  auto st = runtime::restore(host, ctid, opts,
                             [&](const std::string& line) { run.update("running", 60, line); });
  if (!st.ok()) return run.fail(Error(st.error()).context("restore CT " + ctid));
  if (*was) {
    locked->lock = sys::FileLock();
    run.update("running", 85, "starting");
    if (auto up = start_via_watcher(host, ctid); !up.ok()) return run.fail(up.error());
  }
  return done(run, "backup " + id + " restored", {{"id", id}});
}

int job_backup_delete(const HostConfig& host, JobRun& run, const std::string& ctid, const Json& p) {
  const std::string id = p.value("id", "");
  if (run.safe_point()) return 0;
  auto store = storage::BackupStore::open(runtime::backup_store_dir(host, ""), true, false);
  if (!store.ok()) return run.fail(store.error());
  auto m = store->meta(id);
  if (!m.ok() || m->ctid != ctid)
    return run.fail(
        Error::with_status(exitcode::kBackupNotFound, "no backup " + id + " of CT " + ctid));
  run.update("running", 40, "deleting backup " + id);
  auto r = store->remove(id);
  if (!r.ok()) return run.fail(Error(r.error()).context("backup-delete " + id));
  return done(run, "backup " + id + " deleted",
              {{"id", id}, {"chunks_removed", r->chunks_removed}, {"bytes_freed", r->bytes_freed}});
}

int job_migrate(const HostConfig& host, JobRun& run, const std::string& ctid, const Json& p) {
  if (run.safe_point()) return 0;
  runtime::MigrateOptions o;
  o.dest = p.value("destination", "");
  o.online = p.value("online", false);
  o.keep_dst = p.value("keep_dst", false);
  o.remove_area = p.value("remove_area", true);
  bool cancelled = false;
  o.cancelled = [&] {
    cancelled = run.cancel_requested();
    return cancelled;
  };
  o.start_here = [&](const std::string& id) { return start_via_watcher(host, id, true); };
  // Progress: each phase line of the runtime moves it on (the phases differ between offline and
  // online, so the percentage is a rough one).
  int progress = 5;
  run.update("running", progress, "connecting to " + o.dest);
  auto st = runtime::migrate(host, ctid, o, [&](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    progress = std::min(progress + 10, 95);
    run.update("running", progress, line);
  });
  if (!st.ok() && cancelled) {
    run.update("cancelled", progress,
               "cancelled before the final freeze; CT " + ctid + " stays on this host");
    return 0;
  }
  if (!st.ok()) return run.fail(Error(st.error()).context("migrate CT " + ctid + " to " + o.dest));
  return done(run, "migrated to " + o.dest, {{"destination", o.dest}});
}

}  // namespace

bool run_data_job(const HostConfig& host, JobRun& run, const std::string& kind,
                  const std::string& ctid, const Json& params, int& rc) {
  if (kind == kJobSnapshot)
    rc = job_snapshot(host, run, ctid, params);
  else if (kind == kJobSnapshotSwitch)
    rc = job_snapshot_switch(host, run, ctid, params);
  else if (kind == kJobSnapshotDelete)
    rc = job_snapshot_delete(host, run, ctid, params);
  else if (kind == kJobBackup)
    rc = job_backup(host, run, ctid);
  else if (kind == kJobBackupRestore)
    rc = job_backup_restore(host, run, ctid, params);
  else if (kind == kJobBackupDelete)
    rc = job_backup_delete(host, run, ctid, params);
  else if (kind == kJobMigrate)
    rc = job_migrate(host, run, ctid, params);
  else
    return false;
  return true;
}

}  // namespace berth::daemon
