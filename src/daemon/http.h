// daemon/http: berthd's request and response as its handlers see them, free of the HTTP library
// (server.cc converts from and to Boost.Beast), so handlers, routing and validation are plain
// functions that unit tests call without a socket.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace berth::daemon {

using Json = nlohmann::json;

// HTTP statuses berthd answers (named, so no bare number reads as an exit status).
inline constexpr int kHttpOk = 200;
inline constexpr int kHttpAccepted = 202;
inline constexpr int kHttpNoContent = 204;
inline constexpr int kHttpBadRequest = 400;
inline constexpr int kHttpUnauthorized = 401;
inline constexpr int kHttpForbidden = 403;
inline constexpr int kHttpNotFound = 404;
inline constexpr int kHttpConflict = 409;
inline constexpr int kHttpServerError = 500;

// Bounds on what a client may send (server.cc enforces them while reading).
inline constexpr size_t kMaxBodyBytes = 64 * 1024;
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  // Where it came from: "unix" (the root socket, peer uid checked) or "ip:port".
  std::string from;
  bool unix_root = false;  // the unix socket, peer uid 0
  std::string header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra (Set-Cookie, ...)
  static Response json(int status, const Json& j);
  static Response empty(int status);
};

// The JSON error body: {"error": {"code": <exit status>, "name": "...", "message": "..."}}, with
// the HTTP status that matches the exit status (http_status_of).
Response error_response(const Error& e);
Response error_response(int http_status, int exit_status, const std::string& message);
// HTTP status for a berth exit status (docs/api.md: 400 bad input, 404 no such CT, 409 busy or
// wrong state, 500 system).
int http_status_of(int exit_status);
// Symbolic name of an exit status ("locked", "not_running", ...).
std::string exit_status_name(int exit_status);

// Split "/v1/cts?x=1&y=%20" into path and decoded query. false: bad percent-encoding, a NUL, or
// a path that is not absolute.
bool split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

}  // namespace berth::daemon
