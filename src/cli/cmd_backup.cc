// backup, backup-list, backup-verify, backup-delete, restore: front-ends over runtime/backup.h.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "runtime/backup.h"
#include "runtime/lifecycle.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) {
  return Error::with_status(exitcode::kBadArgument, what);
}

struct Args {
  std::vector<std::string> positional;
  std::string storage, export_file, backup_id, import_file, new_ctid;
  bool full_read = false, json = false, force = false;
};

Result<Args> parse(const Invocation& inv, std::initializer_list<std::string_view> allowed) {
  Args a;
  auto ok = [&](std::string_view f) {
    for (auto x : allowed)
      if (x == f) return true;
    return false;
  };
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& s = inv.args[i];
    if (s.empty() || s[0] != '-') {
      a.positional.push_back(s);
      continue;
    }
    if (!ok(s)) return usage_error(inv.command + ": invalid option `" + s + "`");
    auto value = [&](std::string* out) -> Status {
      if (i + 1 >= inv.args.size() || inv.args[i + 1].empty())
        return usage_error(inv.command + ": " + s + " needs a value");
      *out = inv.args[++i];
      return {};
    };
    if (s == "--storage")
      BERTH_RETURN_IF_ERROR(value(&a.storage));
    else if (s == "--export")
      BERTH_RETURN_IF_ERROR(value(&a.export_file));
    else if (s == "--backup")
      BERTH_RETURN_IF_ERROR(value(&a.backup_id));
    else if (s == "--import")
      BERTH_RETURN_IF_ERROR(value(&a.import_file));
    else if (s == "--ctid")
      BERTH_RETURN_IF_ERROR(value(&a.new_ctid));
    else if (s == "--full-read")
      a.full_read = true;
    else if (s == "-j" || s == "--json")
      a.json = true;
    else if (s == "--force")
      a.force = true;
  }
  return a;
}

int fail(const Invocation& inv, Error e, const std::string& what) {
  if (!what.empty()) e.context(what);
  return report(inv, e);
}

std::string mib(uint64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / 1048576.0);
  return buf;
}

}  // namespace

int cmd_backup(const Invocation& inv, const HostConfig& host) {
  auto a = parse(inv, {"--storage", "--full-read", "--export"});
  if (!a.ok()) return report(inv, a.error());
  if (a->positional.size() != 1) return report(inv, usage_error("backup: one CTID expected"));
  auto ctid = resolve_ctid(host, a->positional[0]);
  if (!ctid.ok()) return report(inv, ctid.error());
  const std::string what = "backup CT " + *ctid;
  auto ct = CtConfig::load(host, *ctid);
  if (!ct.ok())
    return fail(inv, Error::with_status(exitcode::kNoConfig, "CT does not exist"), what);
  auto lock = runtime::lock_ct(host, *ctid, inv.skiplock);
  if (!lock.ok()) return fail(inv, lock.error(), what);
  runtime::BackupOptions opts{a->storage, a->full_read, a->export_file,
                              !inv.quiet && ::isatty(STDERR_FILENO) == 1};
  auto r = runtime::backup(*ct, opts);
  if (!r.ok()) return fail(inv, r.error(), what);
  double rate = r->seconds > 0 ? static_cast<double>(r->logical) / r->seconds : 0;
  if (!r->id.empty())
    std::printf("id: %s\n", r->id.c_str());
  else
    std::printf("exported: %s\n", a->export_file.c_str());
  std::printf("files: %llu\n", static_cast<unsigned long long>(r->files));
  std::printf("logical: %llu (%s)\n", static_cast<unsigned long long>(r->logical),
              mib(r->logical).c_str());
  std::printf("%s: %llu (%s)\n", r->id.empty() ? "archive" : "new",
              static_cast<unsigned long long>(r->new_bytes), mib(r->new_bytes).c_str());
  std::printf("time: %.2f s (%s/s)\n", r->seconds, mib(static_cast<uint64_t>(rate)).c_str());
  return 0;
}

int cmd_backup_list(const Invocation& inv, const HostConfig& host) {
  auto a = parse(inv, {"--storage", "-j", "--json"});
  if (!a.ok()) return report(inv, a.error());
  if (a->positional.size() > 1) return report(inv, usage_error("backup-list: at most one CTID"));
  auto store =
      storage::BackupStore::open(runtime::backup_store_dir(host, a->storage), false, false);
  if (!store.ok()) {
    if (a->json) std::printf("[]\n");
    return store.error().exit_status() == exitcode::kBackupNotFound ? 0
                                                                    : report(inv, store.error());
  }
  auto usage = store->usage();
  if (!usage.ok()) return report(inv, usage.error());
  nlohmann::json j = nlohmann::json::array();
  if (!a->json)
    std::printf("%-32s %-8s %-20s %8s %12s %12s %12s\n", "ID", "CTID", "DATE", "FILES", "SIZE",
                "STORED", "SHARED");
  for (const auto& u : *usage) {
    if (!a->positional.empty() && u.meta.ctid != a->positional[0]) continue;
    char date[32];
    time_t t = u.meta.created;
    struct tm tm;
    gmtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (a->json)
      j.push_back({{"id", u.meta.id},
                   {"ctid", u.meta.ctid},
                   {"date", date},
                   {"files", u.meta.files},
                   {"size", u.meta.logical},
                   {"stored", u.stored},
                   {"shared", u.shared},
                   {"consistent", u.meta.consistent}});
    else
      std::printf("%-32s %-8s %-20s %8llu %12llu %12llu %12llu\n", u.meta.id.c_str(),
                  u.meta.ctid.c_str(), date, static_cast<unsigned long long>(u.meta.files),
                  static_cast<unsigned long long>(u.meta.logical),
                  static_cast<unsigned long long>(u.stored),
                  static_cast<unsigned long long>(u.shared));
  }
  if (a->json) std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

int cmd_backup_verify(const Invocation& inv, const HostConfig& host) {
  auto a = parse(inv, {"--storage"});
  if (!a.ok()) return report(inv, a.error());
  if (a->positional.size() != 1) return report(inv, usage_error("backup-verify: one ID expected"));
  const std::string id = a->positional[0];
  auto store = storage::BackupStore::open(runtime::backup_store_dir(host, a->storage), true, false);
  if (!store.ok()) return fail(inv, store.error(), "backup-verify " + id);
  auto m = store->meta(id);
  if (!m.ok()) return fail(inv, m.error(), "backup-verify " + id);
  auto problems = store->verify(id);
  for (const auto& p : problems)
    std::fprintf(stderr, "%s: backup %s: %s\n", inv.prog.c_str(), id.c_str(), p.c_str());
  if (!problems.empty()) return exitcode::kBackupBroken;
  say(inv, "Backup " + id + " verified");
  return 0;
}

int cmd_backup_delete(const Invocation& inv, const HostConfig& host) {
  auto a = parse(inv, {"--storage"});
  if (!a.ok()) return report(inv, a.error());
  if (a->positional.size() != 1) return report(inv, usage_error("backup-delete: one ID expected"));
  const std::string id = a->positional[0];
  auto store = storage::BackupStore::open(runtime::backup_store_dir(host, a->storage), true, false);
  if (!store.ok()) return fail(inv, store.error(), "backup-delete " + id);
  auto r = store->remove(id);
  if (!r.ok()) return fail(inv, r.error(), "backup-delete " + id);
  say(inv, "Backup " + id + " deleted; " + std::to_string(r->chunks_removed) + " chunks (" +
               mib(r->bytes_freed) + ") freed");
  return 0;
}

int cmd_restore(const Invocation& inv, const HostConfig& host) {
  // Without --backup or --import: vzctl's restore of a checkpoint (cmd_checkpoint.cc).
  bool backup = false;
  for (const auto& arg : inv.args)
    if (arg.rfind("--backup", 0) == 0 || arg.rfind("--import", 0) == 0) backup = true;
  if (!backup) return cmd_restore_checkpoint(inv, host);
  auto a = parse(inv, {"--storage", "--backup", "--import", "--ctid", "--force"});
  if (!a.ok()) return report(inv, a.error());
  if (a->positional.size() != 1) return report(inv, usage_error("restore: one CTID expected"));
  if (a->backup_id.empty() == a->import_file.empty())
    return report(inv, usage_error("restore: --backup ID or --import FILE expected"));
  auto ctid = validate_ctid(a->positional[0]);
  if (!ctid.ok()) return report(inv, ctid.error());
  std::string target = *ctid;
  if (!a->new_ctid.empty()) {
    auto n = validate_ctid(a->new_ctid);
    if (!n.ok()) return report(inv, n.error());
    target = *n;
  }
  const std::string what = "restore CT " + target;
  auto lock = runtime::lock_ct(host, target, inv.skiplock);
  if (!lock.ok()) return fail(inv, lock.error(), what);
  runtime::RestoreOptions opts{a->storage, a->backup_id, a->import_file, target, a->force};
  auto st = runtime::restore(host, *ctid, opts, [&](const std::string& l) { say(inv, l); });
  if (!st.ok()) return fail(inv, st.error(), what);
  return 0;
}

}  // namespace berth::cli
