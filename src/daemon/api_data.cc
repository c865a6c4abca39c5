// berthd's endpoints for a CT's data (docs/api.md): snapshots (runtime/snapshot.h), backups in the
// host's store (runtime/backup.h) and migration to another host (runtime/migrate.h). Listings are
// read here (files only, no lock); every change is a job (jobs.h) whose worker takes the CT's
// lock as the CLI does. A backup is reachable only through the CT it is of: its own CTID (from
// its meta.json) must be the URL's, so a customer never sees, restores or deletes another's.
#include <unistd.h>

#include <ctime>

#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "daemon/api.h"
#include "daemon/limits_map.h"
#include "runtime/backup.h"
#include "runtime/snapshot.h"
#include "storage/backup_store.h"

namespace berth::daemon {
namespace {

Response bad_body(const Error& e) { return error_response(400, e.exit_status(), e.message()); }

Response no_snapshot(const std::string& id) {
  return error_response(404, exitcode::kSnapshotNotFound, "no snapshot " + id.substr(0, 40));
}

Response no_backup(const std::string& id, const std::string& ctid) {
  return error_response(404, exitcode::kBackupNotFound,
                        "no backup " + id.substr(0, 40) + " of CT " + ctid);
}

std::string iso_date(int64_t t) {
  char buf[32];
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json snapshot_json(const storage::SnapshotEntry& e, const std::string& current) {
  return {{"id", e.uuid},
          {"name", e.name},
          {"description", e.description},
          {"date", e.date},
          {"parent", e.parent.empty() ? Json(nullptr) : Json(e.parent)},
          {"size", e.size},
          {"current", e.uuid == current}};
}

// A backup of ctid by the id in a URL: a store id (no '/', no leading dot: nothing outside the
// store is named) whose meta.json says it is of ctid. Anything else: nullopt (the caller's 404,
// the same whether the backup is another CT's or does not exist).
std::optional<storage::BackupMeta> backup_of(const HostConfig& host, const std::string& ctid,
                                             const std::string& id) {
  if (!storage::is_backup_id(id) || id.size() > 128 || id.rfind(ctid + "-", 0) != 0)
    return std::nullopt;
  auto store = storage::BackupStore::open_unlocked(runtime::backup_store_dir(host, ""));
  if (!store.ok()) return std::nullopt;
  auto m = store->meta(id);
  if (!m.ok() || m->ctid != ctid) return std::nullopt;
  return *m;
}

}  // namespace

Response Api::submit_job(const Request& req, const auth::Principal& who, const std::string& kind,
                         const std::string& ctid, const Json& params, const std::string& action) {
  if (jobs_.busy(ctid))
    return error_response(409, exitcode::kLocked, "CT " + ctid + " has a job running");
  auto job = jobs_.submit(kind, ctid, who.user, params);
  audit(req, who.user, action, ctid,
        job.ok() ? "job " + (*job)["id"].get<std::string>() : "failed");
  if (!job.ok()) return error_response(job.error());
  return Response::json(202, *job);
}

Response Api::snapshots_route(const Request& req, const RouteMatch& m, const std::string& ctid,
                              const auth::Principal& who) {
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  if (m.id == RouteId::kSnapshotTake) {
    auto p = snapshot_params(*body);
    if (!p.ok()) return bad_body(p.error());
    return submit_job(req, who, kJobSnapshot, ctid, *p, "snapshot");
  }
  auto ct = CtConfig::load(host_, ctid);
  if (!ct.ok()) return not_found_ct(ctid);
  auto idx = runtime::list_snapshots(*ct);
  if (!idx.ok()) return error_response(idx.error());
  if (m.id == RouteId::kSnapshotList) {
    Json arr = Json::array();
    for (const auto& e : idx->entries) arr.push_back(snapshot_json(e, idx->current));
    return Response::json(200,
                          {{"current", idx->current.empty() ? Json(nullptr) : Json(idx->current)},
                           {"snapshots", arr}});
  }
  const std::string& raw = m.params.at("id");
  auto id = storage::normalize_uuid(raw);
  if (!id || !idx->find(*id)) return no_snapshot(raw);
  if (m.id == RouteId::kSnapshotSwitch) {
    if (auto st = confirmed(*body, "snapshot switch"); !st.ok()) return bad_body(st.error());
    return submit_job(req, who, kJobSnapshotSwitch, ctid, {{"id", *id}}, "snapshot-switch " + *id);
  }
  if (auto st = only_keys(*body, {}, "snapshot delete"); !st.ok()) return bad_body(st.error());
  return submit_job(req, who, kJobSnapshotDelete, ctid, {{"id", *id}}, "snapshot-delete " + *id);
}

Response Api::backups_route(const Request& req, const RouteMatch& m, const std::string& ctid,
                            const auth::Principal& who) {
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  if (m.id == RouteId::kBackupList) {
    Json arr = Json::array();
    auto store = storage::BackupStore::open_unlocked(runtime::backup_store_dir(host_, ""));
    if (!store.ok()) return Response::json(200, arr);  // no store yet: no backups
    auto list = store->list();
    if (!list.ok()) return error_response(list.error());
    // Oldest first from the store; the API's list is newest first.
    for (auto it = list->rbegin(); it != list->rend(); ++it) {
      if (it->ctid != ctid) continue;
      arr.push_back({{"id", it->id},
                     {"date", iso_date(it->created)},
                     {"files", it->files},
                     {"logical_bytes", it->logical},
                     {"new_bytes", it->new_bytes},
                     {"consistent", it->consistent}});
    }
    return Response::json(200, arr);
  }
  if (m.id == RouteId::kBackupTake) {
    if (auto st = only_keys(*body, {}, "backup"); !st.ok()) return bad_body(st.error());
    return submit_job(req, who, kJobBackup, ctid, Json::object(), "backup");
  }
  const std::string& id = m.params.at("id");
  if (!backup_of(host_, ctid, id)) return no_backup(id, ctid);
  if (m.id == RouteId::kBackupRestore) {
    if (auto st = confirmed(*body, "backup restore"); !st.ok()) return bad_body(st.error());
    return submit_job(req, who, kJobBackupRestore, ctid, {{"id", id}}, "backup-restore " + id);
  }
  if (auto st = only_keys(*body, {}, "backup delete"); !st.ok()) return bad_body(st.error());
  return submit_job(req, who, kJobBackupDelete, ctid, {{"id", id}}, "backup-delete " + id);
}

Response Api::ct_migrate(const Request& req, const std::string& ctid, const auth::Principal& who) {
  if (!who.admin) return forbidden("migrating CTs is the operator's");
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  auto p = migrate_params(*body);
  if (!p.ok()) return bad_body(p.error());
  return submit_job(req, who, kJobMigrate, ctid, *p,
                    "migrate to " + (*p)["destination"].get<std::string>());
}

}  // namespace berth::daemon
