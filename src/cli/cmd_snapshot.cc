// snapshot, snapshot-list, snapshot-switch, snapshot-delete, snapshot-mount, snapshot-umount
// (vzctl 4.x's spelling and options): thin front-ends over runtime/snapshot.h.
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "runtime/clone.h"
#include "runtime/lifecycle.h"
#include "runtime/snapshot.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) {
  return Error::with_status(exitcode::kBadArgument, what);
}

// The options of one snapshot command: flags, and options with a value (--id X or --id=X).
struct SnapOpts {
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
  bool has(const std::string& k) const { return values.count(k) || flags.count(k); }
  std::string get(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() ? "" : it->second;
  }
};

Result<SnapOpts> parse(const Invocation& inv, std::initializer_list<const char*> with_value,
                       std::initializer_list<const char*> flags) {
  SnapOpts o;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    std::string a = inv.args[i];
    std::string val;
    bool inline_val = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_val = true;
    }
    bool known = false;
    for (const char* k : with_value)
      if (a == k) {
        if (!inline_val) {
          if (i + 1 >= inv.args.size())
            return usage_error(inv.command + ": " + a + " needs a value");
          val = inv.args[++i];
        }
        o.values[a] = val;
        known = true;
      }
    for (const char* k : flags)
      if (a == k && !inline_val) {
        o.flags[a] = true;
        known = true;
      }
    if (!known) return usage_error(inv.command + ": invalid option `" + inv.args[i] + "`");
  }
  return o;
}

Result<std::string> uuid_opt(const Invocation& inv, const SnapOpts& o, bool required) {
  if (!o.has("--id")) {
    if (required) return usage_error(inv.command + ": --id UUID is required");
    return std::string();
  }
  auto u = storage::normalize_uuid(o.get("--id"));
  if (!u)
    return Error::with_status(exitcode::kBadValue,
                              inv.command + ": --id `" + o.get("--id") + "` is not a UUID");
  return *u;
}

// The CT of a snapshot command, loaded, and its lock held.
struct Target {
  CtConfig ct;
  sys::FileLock lock;
};

Result<Target> load_locked(const Invocation& inv, const HostConfig& host, bool lock) {
  if (inv.args.empty() || inv.args[0].empty() || inv.args[0][0] == '-')
    return usage_error(inv.command + ": CT ID or name expected");
  BERTH_ASSIGN_OR_RETURN(std::string ctid, resolve_ctid(host, inv.args[0]));
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok()) {
    if (ct.error().code() == ENOENT)
      return Error::with_status(exitcode::kNoConfig, "CT " + ctid + " does not exist");
    return std::move(ct).error();
  }
  sys::FileLock held;
  if (lock) {
    BERTH_ASSIGN_OR_RETURN(held, runtime::lock_ct(host, ctid, inv.skiplock));
  }
  return Target{std::move(ct).value(), std::move(held)};
}

int fail(const Invocation& inv, const Error& e, const std::string& ctid) {
  Error err = e;
  if (!ctid.empty()) err.context(inv.command + " CT " + ctid);
  return report(inv, err);
}

std::string shown_date(const std::string& iso) {
  std::string d = iso;
  if (d.size() == 20 && d[10] == 'T' && d[19] == 'Z') d = d.substr(0, 10) + " " + d.substr(11, 8);
  return d;
}

std::string human_size(uint64_t b) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

}  // namespace

int cmd_snapshot(const Invocation& inv, const HostConfig& host) {
  auto o = parse(inv, {"--id", "--name", "--description"},
                 {"--skip-suspend", "--skip-config", "--skip-dump"});
  if (!o.ok()) return report(inv, o.error());
  auto id = uuid_opt(inv, *o, false);
  if (!id.ok()) return report(inv, id.error());
  auto t = load_locked(inv, host, true);
  if (!t.ok()) return report(inv, t.error());
  runtime::SnapshotRequest req;
  if (!id->empty()) req.id = *id;
  req.name = o->get("--name");
  req.description = o->get("--description");
  req.skip_suspend = o->has("--skip-suspend");
  req.skip_config = o->has("--skip-config");
  auto r = runtime::take_snapshot(t->ct, req);
  if (!r.ok()) return fail(inv, r.error(), t->ct.ctid());
  say(inv, "Snapshot " + r->uuid + " of CT " + t->ct.ctid() + " created (" +
               storage::copy_method_name(r->method) + ", " + human_size(r->size) + ")");
  char pause[64];
  std::snprintf(pause, sizeof pause, "%.3f", r->pause_ms);
  say(inv, r->frozen ? "Pause: " + std::string(pause) + " ms (CT frozen while copied)"
                     : "Pause: 0 ms (CT not running or --skip-suspend: not frozen)");
  return 0;
}

int cmd_snapshot_list(const Invocation& inv, const HostConfig& host) {
  auto o = parse(inv, {"--id", "-o", "--output"}, {"-H", "--no-header", "-j", "--json"});
  if (!o.ok()) return report(inv, o.error());
  auto id = uuid_opt(inv, *o, false);
  if (!id.ok()) return report(inv, id.error());
  auto t = load_locked(inv, host, false);
  if (!t.ok()) return report(inv, t.error());
  auto idx = runtime::list_snapshots(t->ct);
  if (!idx.ok()) return fail(inv, idx.error(), t->ct.ctid());
  std::vector<const storage::SnapshotEntry*> rows;
  for (const auto& e : idx->entries)
    if (id->empty() || e.uuid == *id) rows.push_back(&e);
  if (!id->empty() && rows.empty())
    return fail(inv, Error::with_status(exitcode::kSnapshotNotFound, "no snapshot " + *id),
                t->ct.ctid());
  if (o->has("-j") || o->has("--json")) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto* e : rows)
      out.push_back({{"uuid", e->uuid},
                     {"parent_uuid", e->parent},
                     {"current", e->uuid == idx->current},
                     {"date", e->date},
                     {"name", e->name},
                     {"desc", e->description},
                     {"size", e->size},
                     {"mounted_at", e->mounted_at}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<std::string> fields = {"parent_uuid", "current", "uuid", "date", "name", "size"};
  std::string spec = o->has("-o") ? o->get("-o") : o->get("--output");
  if (!spec.empty()) {
    fields.clear();
    size_t pos = 0;
    while (pos <= spec.size()) {
      size_t comma = spec.find(',', pos);
      std::string f =
          spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (f == "id") f = "uuid";
      if (f != "uuid" && f != "parent_uuid" && f != "current" && f != "date" && f != "name" &&
          f != "desc" && f != "size")
        return report(inv, Error::with_status(exitcode::kBadValue,
                                              "snapshot-list: unknown field `" + f + "`"));
      fields.push_back(f);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  auto cell = [&](const storage::SnapshotEntry& e, const std::string& f) -> std::string {
    if (f == "uuid") return e.uuid;
    if (f == "parent_uuid") return e.parent;
    if (f == "current") return e.uuid == idx->current ? "*" : "";
    if (f == "date") return shown_date(e.date);
    if (f == "name") return e.name;
    if (f == "desc") return e.description;
    return human_size(e.size);
  };
  auto header = [](const std::string& f) -> std::string {
    if (f == "current") return "C";
    std::string h = f;
    for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return h;
  };
  auto width = [](const std::string& f) -> int {
    // Column widths: a uuid, the `*` mark, "YYYY-MM-DD HH:MM:SS", a human size like "1023.9M".
    static const std::map<std::string, int> kWidth = {
        {"uuid", 36}, {"parent_uuid", 36}, {"current", 1}, {"date", 19}, {"size", 7}};
    auto it = kWidth.find(f);
    return it == kWidth.end() ? 0 : it->second;
  };
  auto line = [&](const std::function<std::string(const std::string&)>& text) {
    std::string out;
    for (size_t i = 0; i < fields.size(); ++i) {
      std::string v = text(fields[i]);
      // A name or description is free text: no newline may break the table.
      for (char& c : v)
        if (c == '\n' || c == '\r') c = ' ';
      if (i + 1 < fields.size() && static_cast<int>(v.size()) < width(fields[i]))
        v.resize(static_cast<size_t>(width(fields[i])), ' ');
      out += (i ? " " : "") + v;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::printf("%s\n", out.c_str());
  };
  if (!o->has("-H") && !o->has("--no-header")) line(header);
  for (const auto* e : rows) line([&](const std::string& f) { return cell(*e, f); });
  return 0;
}

int cmd_snapshot_switch(const Invocation& inv, const HostConfig& host) {
  auto o = parse(inv, {"--id"}, {"--skip-resume", "--skip-config", "--must-resume"});
  if (!o.ok()) return report(inv, o.error());
  auto id = uuid_opt(inv, *o, true);
  if (!id.ok()) return report(inv, id.error());
  auto t = load_locked(inv, host, true);
  if (!t.ok()) return report(inv, t.error());
  say(inv, "Switching CT " + t->ct.ctid() + " to snapshot " + *id);
  auto st =
      runtime::switch_snapshot(t->ct, *id, {o->has("--skip-resume"), o->has("--skip-config")});
  if (!st.ok()) return fail(inv, st.error(), t->ct.ctid());
  say(inv, "CT " + t->ct.ctid() + " switched to snapshot " + *id);
  return 0;
}

namespace {

// A command whose only option is --id: delete, umount.
int by_id(const Invocation& inv, const HostConfig& host,
          Status (*op)(const CtConfig&, const std::string&), const std::string& done) {
  auto o = parse(inv, {"--id"}, {});
  if (!o.ok()) return report(inv, o.error());
  auto id = uuid_opt(inv, *o, true);
  if (!id.ok()) return report(inv, id.error());
  auto t = load_locked(inv, host, true);
  if (!t.ok()) return report(inv, t.error());
  auto st = op(t->ct, *id);
  if (!st.ok()) return fail(inv, st.error(), t->ct.ctid());
  say(inv, "Snapshot " + *id + " of CT " + t->ct.ctid() + " " + done);
  return 0;
}

}  // namespace

int cmd_snapshot_delete(const Invocation& inv, const HostConfig& host) {
  return by_id(inv, host, runtime::delete_snapshot, "deleted");
}

int cmd_snapshot_mount(const Invocation& inv, const HostConfig& host) {
  auto o = parse(inv, {"--id", "--target"}, {});
  if (!o.ok()) return report(inv, o.error());
  auto id = uuid_opt(inv, *o, true);
  if (!id.ok()) return report(inv, id.error());
  if (!o->has("--target"))
    return report(inv, usage_error("snapshot-mount: --target DIR is required"));
  auto t = load_locked(inv, host, true);
  if (!t.ok()) return report(inv, t.error());
  auto st = runtime::mount_snapshot(t->ct, *id, o->get("--target"));
  if (!st.ok()) return fail(inv, st.error(), t->ct.ctid());
  say(inv, "Snapshot " + *id + " mounted read-only at " + o->get("--target"));
  return 0;
}

int cmd_snapshot_umount(const Invocation& inv, const HostConfig& host) {
  return by_id(inv, host, runtime::umount_snapshot, "unmounted");
}

}  // namespace berth::cli

namespace berth::cli {

int cmd_clone(const Invocation& inv, const HostConfig& host) {
  if (inv.args.size() < 2 || inv.args[0].empty() || inv.args[0][0] == '-' || inv.args[1].empty() ||
      inv.args[1][0] == '-')
    return report(inv, usage_error("clone: SRC and DST CT IDs expected"));
  auto src = resolve_ctid(host, inv.args[0]);
  if (!src.ok()) return report(inv, src.error());
  auto dst = validate_ctid(inv.args[1]);
  if (!dst.ok()) return report(inv, dst.error());
  runtime::CloneRequest req;
  req.src = *src;
  req.dst = *dst;
  for (size_t i = 2; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (i + 1 >= inv.args.size())
      return report(inv, usage_error("clone: invalid option or missing value `" + a + "`"));
    const std::string& v = inv.args[++i];
    if (a == "--snapshot") {
      auto u = storage::normalize_uuid(v);
      if (!u)
        return report(inv, Error::with_status(exitcode::kBadValue,
                                              "clone: --snapshot `" + v + "` is not a UUID"));
      req.snapshot = *u;
    } else if (a == "--hostname") {
      req.hostname = v;
    } else if (a == "--name") {
      req.name = v;
    } else if (a == "--ipadd") {
      req.ipadd.push_back(v);
    } else {
      return report(inv, usage_error("clone: invalid option `" + a + "`"));
    }
  }
  if (!CtConfig::load(host, *src).ok())
    return report(inv, Error::with_status(exitcode::kNoConfig, "CT " + *src + " does not exist"));
  auto lock_src = runtime::lock_ct(host, *src, inv.skiplock);
  if (!lock_src.ok()) return fail(inv, lock_src.error(), *src);
  auto lock_dst = runtime::lock_ct(host, *dst, inv.skiplock);
  if (!lock_dst.ok()) return fail(inv, lock_dst.error(), *dst);
  auto st = runtime::clone_ct(host, req, [&](const std::string& line) { say(inv, line); });
  if (!st.ok()) return fail(inv, st.error(), *src + " to " + *dst);
  return 0;
}

}  // namespace berth::cli
