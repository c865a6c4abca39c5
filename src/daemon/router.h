// daemon/router: which handler a method and path name, and the path's parameters. A route is a
// pattern of segments ("/v1/cts/{ctid}/start"); a {param} matches one non-empty segment. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::daemon {

enum class RouteId {
  kOpenapi,
  kLogin,
  kLogout,
  kWhoami,
  kCtList,
  kCtCreate,
  kCtGet,
  kCtPatch,
  kCtDelete,
  kCtStart,
  kCtStop,
  kCtRestart,
  kCtReinstall,
  kCtPassword,
  kCtStats,
  kCtConsole,
  kSnapshotList,
  kSnapshotTake,
  kSnapshotSwitch,
  kSnapshotDelete,
  kBackupList,
  kBackupTake,
  kBackupRestore,
  kBackupDelete,
  kCtMigrate,
  kJobList,
  kJobGet,
  kJobCancel,
  kEvents,
  kHost,
  kTemplates,
  kAudit,
  kMetrics,
};

struct RouteMatch {
  RouteId id;
  std::map<std::string, std::string> params;
};

// What a method and path match: a route, a path that exists with other methods only (405), or
// nothing (404).
struct RouteResult {
  std::optional<RouteMatch> match;
  bool path_exists = false;        // some route has this path (for 405)
  std::vector<std::string> allow;  // the methods it has
};

RouteResult route(std::string_view method, std::string_view path);

}  // namespace berth::daemon
