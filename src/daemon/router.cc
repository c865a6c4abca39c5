#include "daemon/router.h"

namespace berth::daemon {
namespace {

struct Entry {
  const char* method;
  const char* pattern;
  RouteId id;
};

constexpr Entry kRoutes[] = {
    {"GET", "/v1/openapi.json", RouteId::kOpenapi},
    {"POST", "/v1/login", RouteId::kLogin},
    {"POST", "/v1/logout", RouteId::kLogout},
    {"GET", "/v1/whoami", RouteId::kWhoami},
    {"GET", "/v1/cts", RouteId::kCtList},
    {"POST", "/v1/cts", RouteId::kCtCreate},
    {"GET", "/v1/cts/{ctid}", RouteId::kCtGet},
    {"PATCH", "/v1/cts/{ctid}", RouteId::kCtPatch},
    {"DELETE", "/v1/cts/{ctid}", RouteId::kCtDelete},
    {"POST", "/v1/cts/{ctid}/start", RouteId::kCtStart},
    {"POST", "/v1/cts/{ctid}/stop", RouteId::kCtStop},
    {"POST", "/v1/cts/{ctid}/restart", RouteId::kCtRestart},
    {"POST", "/v1/cts/{ctid}/reinstall", RouteId::kCtReinstall},
    {"POST", "/v1/cts/{ctid}/password", RouteId::kCtPassword},
    {"GET", "/v1/cts/{ctid}/stats", RouteId::kCtStats},
    {"GET", "/v1/cts/{ctid}/console", RouteId::kCtConsole},
    {"GET", "/v1/cts/{ctid}/snapshots", RouteId::kSnapshotList},
    {"POST", "/v1/cts/{ctid}/snapshots", RouteId::kSnapshotTake},
    {"POST", "/v1/cts/{ctid}/snapshots/{id}/switch", RouteId::kSnapshotSwitch},
    {"DELETE", "/v1/cts/{ctid}/snapshots/{id}", RouteId::kSnapshotDelete},
    {"GET", "/v1/cts/{ctid}/backups", RouteId::kBackupList},
    {"POST", "/v1/cts/{ctid}/backups", RouteId::kBackupTake},
    {"POST", "/v1/cts/{ctid}/backups/{id}/restore", RouteId::kBackupRestore},
    {"DELETE", "/v1/cts/{ctid}/backups/{id}", RouteId::kBackupDelete},
    {"POST", "/v1/cts/{ctid}/migrate", RouteId::kCtMigrate},
    {"GET", "/v1/jobs", RouteId::kJobList},
    {"GET", "/v1/jobs/{id}", RouteId::kJobGet},
    {"DELETE", "/v1/jobs/{id}", RouteId::kJobCancel},
    {"GET", "/v1/events", RouteId::kEvents},
    {"GET", "/v1/host", RouteId::kHost},
    {"GET", "/v1/templates", RouteId::kTemplates},
    {"GET", "/v1/audit", RouteId::kAudit},
    {"GET", "/metrics", RouteId::kMetrics},
};

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 1;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    out.push_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

bool match(std::string_view pattern, std::string_view path,
           std::map<std::string, std::string>& params) {
  auto ps = segments(pattern), xs = segments(path);
  if (ps.size() != xs.size()) return false;
  params.clear();
  for (size_t i = 0; i < ps.size(); ++i) {
    if (ps[i].size() > 2 && ps[i].front() == '{') {
      if (xs[i].empty()) return false;
      params[std::string(ps[i].substr(1, ps[i].size() - 2))] = std::string(xs[i]);
    } else if (ps[i] != xs[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

RouteResult route(std::string_view method, std::string_view path) {
  RouteResult r;
  if (path.empty() || path[0] != '/') return r;
  std::map<std::string, std::string> params;
  for (const auto& e : kRoutes) {
    if (!match(e.pattern, path, params)) continue;
    r.path_exists = true;
    r.allow.emplace_back(e.method);
    if (method == e.method && !r.match) r.match = RouteMatch{e.id, params};
  }
  // HEAD is GET without the body.
  if (!r.match && method == "HEAD")
    for (const auto& e : kRoutes)
      if (std::string_view(e.method) == "GET" && match(e.pattern, path, params))
        r.match = RouteMatch{e.id, params};
  return r;
}

}  // namespace berth::daemon
