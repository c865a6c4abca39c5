#include "daemon/http.h"

#include "core/exit_codes.h"

namespace berth::daemon {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out.push_back(c);
  }
  return true;
}

}  // namespace

std::string Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Response Response::json(int status, const Json& j) {
  Response r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

int http_status_of(int exit_status) {
  using namespace exitcode;
  switch (exit_status) {
    case kBadArgument:
    case kBadValue:
    case kBadIp:
    case kName:
    case kNoOsTemplate:
    case kTemplateNotFound:
    case kSetUbc: return kHttpBadRequest;
    case kPermission: return kHttpForbidden;
    case kNoConfig:
    case kPrivateNotFound:
    case kSnapshotNotFound:
    case kBackupNotFound: return kHttpNotFound;
    case kLocked:
    case kNotRunning:
    case kRunning:
    case kMounted:
    case kNotMounted:
    case kPrivateExists:
    case kIpInUse:
    case kStartDisabled:
    case kSnapshotExists:
    case kSnapshotMounted: return kHttpConflict;
    default: return kHttpServerError;
  }
}

std::string exit_status_name(int exit_status) {
  using namespace exitcode;
  switch (exit_status) {
    case kSetUbc: return "bad_limit";
    case kSystem: return "system";
    case kResource: return "resource";
    case kLocked: return "locked";
    case kPermission: return "forbidden";
    case kNoConfig: return "no_such_ct";
    case kBadArgument: return "bad_argument";
    case kBadValue: return "bad_value";
    case kNoOsTemplate: return "no_ostemplate";
    case kNotRunning: return "not_running";
    case kRunning: return "running";
    case kStopFailed: return "stop_failed";
    case kMounted: return "mounted";
    case kNotMounted: return "not_mounted";
    case kPrivateExists: return "exists";
    case kNoDiskSpace: return "no_disk_space";
    case kBadIp: return "bad_ip";
    case kPasswordFailed: return "password_failed";
    case kIpInUse: return "ip_in_use";
    case kTemplateNotFound: return "no_template";
    case kStartDisabled: return "start_disabled";
    case kName: return "bad_name";
    default: return "error";
  }
}

Response error_response(int http_status, int exit_status, const std::string& message) {
  std::string name = exit_status_name(exit_status);
  // Names of the HTTP-level errors that are no berth exit status of their own.
  if (http_status == 401) name = "unauthorized";
  if (http_status == 404 && exit_status == exitcode::kNoConfig) name = "not_found";
  if (http_status == 405) name = "method_not_allowed";
  if (http_status == 413) name = "too_large";
  if (http_status == 429) name = "rate_limited";
  if (http_status == 403 && exit_status == exitcode::kPermission) name = "forbidden";
  return Response::json(http_status,
                        {{"error", {{"code", exit_status}, {"name", name}, {"message", message}}}});
}

Response error_response(const Error& e) {
  int st = e.exit_status();
  return error_response(http_status_of(st), st, e.message());
}

bool split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (raw_path.empty() || raw_path[0] != '/') return false;
  if (!decode(raw_path, path, false)) return false;
  query.clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    size_t eq = kv.find('=');
    std::string k, v;
    if (!decode(kv.substr(0, eq), k, true)) return false;
    if (eq != std::string_view::npos && !decode(kv.substr(eq + 1), v, true)) return false;
    if (!k.empty()) query[k] = v;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return true;
}

}  // namespace berth::daemon
