#include "daemon/api.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>

#include "core/conf_file.h"
#include "core/ct_config.h"
#include "core/edit/config_edit.h"
#include "core/exit_codes.h"
#include "daemon/limits_map.h"
#include "daemon/metrics.h"
#include "monitor/client.h"
#include "state/ct_cgroup.h"
#include "sys/fs.h"
#include "template/cache.h"

extern char** environ;

namespace berth::daemon {
namespace {

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

Response bad_request(const std::string& what, int code = exitcode::kBadArgument) {
  return error_response(400, code, what);
}

std::string client_ip(const Request& req) {
  size_t colon = req.from.rfind(':');
  return colon == std::string::npos ? req.from : req.from.substr(0, colon);
}

bool read_all(int fd, std::string& out, size_t max) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    if (out.size() < max) out.append(buf, static_cast<size_t>(n));
  }
}

std::string mime_of(const std::string& path) {
  auto ends = [&](const char* s) {
    std::string_view x(s);
    return path.size() >= x.size() && path.compare(path.size() - x.size(), x.size(), x) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  if (ends(".woff2")) return "font/woff2";
  return "application/octet-stream";
}

}  // namespace

Response not_found_ct(const std::string& ctid) {
  return error_response(404, exitcode::kNoConfig, "CT " + ctid.substr(0, 16) + " does not exist");
}

Response forbidden(const std::string& what) {
  return error_response(403, exitcode::kPermission, what);
}

Result<Json> body_json(const Request& req) {
  if (req.body.empty()) return Json::object();
  auto j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::with_status(exitcode::kBadArgument, "the body is not a JSON object");
  return j;
}

WorkerResult run_worker(const HostConfig& host, const std::string& exe,
                        const std::vector<std::string>& args, const std::string& input,
                        bool via_watcher) {
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {exitcode::kSystem, "pipe"};
  if (::pipe2(in, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return {exitcode::kSystem, "pipe"};
  }
  std::vector<std::string> argv{"berthd", "_worker"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string text;
  int status = exitcode::kSystem;
  if (via_watcher) {
    ::close(in[1]);
    const int stdio[3] = {in[0], out[1], out[1]};
    auto rc = monitor::run_in_worker(host, argv, stdio);
    ::close(in[0]);
    ::close(out[1]);
    // The worker has exited; what it wrote is in the pipe (a few lines).
    struct pollfd p {
      out[0], POLLIN, 0
    };
    if (::poll(&p, 1, 2000) > 0) read_all(out[0], text, 65536);
    ::close(out[0]);
    if (!rc) return {exitcode::kSystem, "the VPS watcher cannot run (see berthd's log)"};
    status = *rc;
  } else {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    std::vector<char*> av;
    for (auto& a : argv) av.push_back(a.data());
    av.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, av.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    if (rc == 0) {
      size_t off = 0;
      while (off < input.size()) {
        ssize_t w = ::write(in[1], input.data() + off, input.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += static_cast<size_t>(w);
      }
    }
    ::close(in[1]);
    if (rc == 0) read_all(out[0], text, 65536);
    ::close(out[0]);
    if (rc != 0) return {exitcode::kSystem, "start a worker: " + std::string(std::strerror(rc))};
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    status = WIFEXITED(ws) ? WEXITSTATUS(ws) : exitcode::kSystem;
  }
  if (status == 0) return {0, ""};
  // The last JSON line is the result; anything else is context for the log.
  std::string message = "the operation failed";
  size_t end = text.size();
  while (end > 0) {
    size_t start = text.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = text.substr(start, end - start);
    auto j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
      message = j["error"].value("message", message);
      status = j["error"].value("code", status);
      break;
    }
    if (start == 0) break;
    end = start - 1;
  }
  return {status, message};
}

Api::Api(const HostConfig& host, ApiOptions opts, EventHub& hub, History& history, View& view,
         JobStore& jobs)
    : host_(host), opts_(std::move(opts)), hub_(hub), history_(history), view_(view), jobs_(jobs) {}

std::shared_ptr<const auth::TokenStore> Api::tokens() {
  std::string path = auth::TokenStore::path(host_);
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  std::lock_guard<std::mutex> g(tokens_mu_);
  bool changed =
      !tokens_ ||
      (exists && (st.st_mtim.tv_sec != tokens_mtime_.tv_sec ||
                  st.st_mtim.tv_nsec != tokens_mtime_.tv_nsec || st.st_ino != tokens_ino_)) ||
      (!exists && tokens_ino_ != 0);
  if (changed) {
    auto s = auth::TokenStore::load(path);
    // A broken file grants nothing (and is reported in the log once per change).
    if (!s.ok()) std::fprintf(stderr, "berthd: %s\n", s.error().message().c_str());
    tokens_ = std::make_shared<const auth::TokenStore>(s.ok() ? *s : auth::TokenStore());
    tokens_mtime_ = exists ? st.st_mtim : timespec{};
    tokens_ino_ = exists ? st.st_ino : 0;
  }
  return tokens_;
}

std::variant<auth::Principal, Response> Api::authenticate(const Request& req) {
  if (req.unix_root) return auth::Principal{"root", true, {}};
  std::string ip = client_ip(req);
  std::string authz = req.header("authorization");
  if (!authz.empty()) {
    // A valid token always works (a 256-bit token cannot be guessed, and customers behind one
    // address must not lock each other out); wrong ones count as failed logins of the address,
    // and once it is limited they get 429 instead of 401.
    const std::string prefix = "Bearer ";
    auto store = tokens();
    const auth::TokenEntry* e =
        authz.rfind(prefix, 0) == 0 ? store->by_token(authz.substr(prefix.size())) : nullptr;
    if (!e) {
      if (int64_t wait = limiter_.retry_after(ip, now_s()); wait > 0) {
        Response r = error_response(429, exitcode::kPermission,
                                    "too many failed logins from this address; retry later");
        r.headers.emplace_back("Retry-After", std::to_string(wait));
        return r;
      }
      limiter_.record_failure(ip, now_s());
      return error_response(401, exitcode::kPermission, "invalid token");
    }
    return auth::principal_of(*e);
  }
  std::string cookie = cookie_value(req.header("cookie"), "berth_session");
  if (!cookie.empty()) {
    auto s = sessions_.find(cookie, now_s());
    if (!s)
      return error_response(401, exitcode::kPermission, "the session has ended; log in again");
    auto store = tokens();
    const auth::TokenEntry* e = store->find(s->user);
    if (!e) {
      sessions_.remove(cookie);
      return error_response(401, exitcode::kPermission, "the session's token was deleted");
    }
    if (req.method != "GET" && req.method != "HEAD") {
      if (!auth::equal_const_time(req.header("x-csrf-token"), s->csrf))
        return forbidden("missing or wrong X-CSRF-Token");
      // Defence in depth next to the token: a browser's cross-site request says where it
      // came from.
      if (!same_origin(req.header("origin"), req.header("host")))
        return forbidden("the Origin is not this host's");
    }
    return auth::principal_of(*e);
  }
  Response r = error_response(401, exitcode::kPermission, "authentication required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

void Api::audit(const Request& req, const std::string& who, const std::string& action,
                const std::string& ctid, const std::string& result) {
  Json line{{"t", now_s()},     {"who", who},   {"from", req.from},
            {"action", action}, {"ctid", ctid}, {"result", result}};
  std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> g(audit_mu_);
  (void)make_dirs(host_.paths().log_dir, 0755);
  int fd = ::open((host_.paths().log_dir + "/berthd-audit.log").c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

Response Api::handle(const Request& req) {
  ++requests_;
  if (req.method == "GET" || req.method == "HEAD") {
    if (req.path == "/" || req.path.rfind("/panel/", 0) == 0) return serve_static(req);
  }
  RouteResult rr = route(req.method, req.path);
  if (!rr.match) {
    if (rr.path_exists) {
      std::string allow;
      for (const auto& m : rr.allow) allow += (allow.empty() ? "" : ", ") + m;
      Response r = error_response(405, exitcode::kBadArgument, "method not allowed");
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    return error_response(404, exitcode::kBadArgument, "no such endpoint");
  }
  const RouteMatch& m = *rr.match;
  if (m.id == RouteId::kOpenapi) {
    Response r;
    r.body = opts_.openapi;
    return r;
  }
  if (m.id == RouteId::kLogin) return login(req);
  if (m.id == RouteId::kLogout) return logout(req);
  auto auth = authenticate(req);
  if (auto* r = std::get_if<Response>(&auth)) return *r;
  return dispatch(req, m, std::get<auth::Principal>(auth));
}

Response Api::login(const Request& req) {
  std::string ip = client_ip(req);
  if (int64_t wait = limiter_.retry_after(ip, now_s()); wait > 0) {
    Response r = error_response(429, exitcode::kPermission,
                                "too many failed logins from this address; retry later");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  const Json& b = *body;
  auto store = tokens();
  const auth::TokenEntry* e = nullptr;
  if (b.contains("token") && b["token"].is_string() && b.size() == 1) {
    e = store->by_token(b["token"].get<std::string>());
  } else if (b.contains("user") && b.contains("password") && b["user"].is_string() &&
             b["password"].is_string() && b.size() == 2) {
    std::string user = b["user"], pw = b["password"];
    if (user.size() <= 64 && pw.size() <= 1024) e = store->by_password(user, pw);
  } else {
    return bad_request("login: {\"token\"} or {\"user\",\"password\"} expected");
  }
  if (!e) {
    limiter_.record_failure(ip, now_s());
    audit(req, "-", "login", "", "failed");
    return error_response(401, exitcode::kPermission, "wrong token or password");
  }
  auto s = sessions_.create(e->name, now_s());
  if (!s) return error_response(500, exitcode::kSystem, "no session");
  audit(req, e->name, "login", "", "ok");
  Json cts = e->admin ? Json(nullptr) : Json::array();
  for (const auto& c : e->cts) cts.push_back(std::atoi(c.c_str()));
  Response r = Response::json(
      200, {{"csrf", s->csrf}, {"user", e->name}, {"admin", e->admin}, {"cts", cts}});
  r.headers.emplace_back("Set-Cookie", "berth_session=" + s->cookie +
                                           "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                                           std::to_string(SessionStore::kMaxAgeS));
  return r;
}

Response Api::logout(const Request& req) {
  std::string cookie = cookie_value(req.header("cookie"), "berth_session");
  if (!cookie.empty()) {
    auto s = sessions_.find(cookie, now_s());
    if (s && !auth::equal_const_time(req.header("x-csrf-token"), s->csrf))
      return forbidden("missing or wrong X-CSRF-Token");
    sessions_.remove(cookie);
  }
  Response r = Response::empty(204);
  r.headers.emplace_back("Set-Cookie",
                         "berth_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
  return r;
}

Response Api::serve_static(const Request& req) {
  std::string rel = req.path == "/" ? "index.html" : req.path.substr(7);
  if (rel.empty()) rel = "index.html";
  // No way out of the panel's directory: plain names only, no dot segments, no hidden files.
  if (rel.find("..") != std::string::npos || rel.find("//") != std::string::npos || rel[0] == '/' ||
      rel.find("/.") != std::string::npos || rel[0] == '.')
    return error_response(404, exitcode::kBadArgument, "no such file");
  std::string path = opts_.panel_dir + "/" + rel;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return error_response(404, exitcode::kBadArgument, "no such file");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024) {
    ::close(fd);
    return error_response(404, exitcode::kBadArgument, "no such file");
  }
  Response r;
  read_all(fd, r.body, 16 * 1024 * 1024);
  ::close(fd);
  r.content_type = mime_of(path);
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                         "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

std::variant<auth::Principal, Response> Api::authorize_stream(const Request& req,
                                                              const std::string& ctid) {
  auto a = authenticate(req);
  if (auto* r = std::get_if<Response>(&a)) return *r;
  auto& who = std::get<auth::Principal>(a);
  // The console: a page of another site must not open a terminal with the user's cookie (a
  // websocket is not bound by the same-origin policy; the browser sends the Origin).
  if (!ctid.empty() && !same_origin(req.header("origin"), req.header("host")))
    return forbidden("the Origin is not this host's");
  if (!ctid.empty()) {
    auto snap = view_.snapshot();
    if (!who.may_see(ctid) || !snap->count(ctid)) return not_found_ct(ctid);
  }
  return who;
}

Response Api::dispatch(const Request& req, const RouteMatch& m, const auth::Principal& who) {
  std::string ctid;
  if (auto it = m.params.find("ctid"); it != m.params.end()) {
    ctid = it->second;
    // Not a CTID, not the caller's, or no such CT: the same 404, so a customer learns nothing
    // about other customers' CTs.
    if (!validate_ctid(ctid).ok() || !who.may_see(ctid)) return not_found_ct(ctid);
    // The view may be a poll behind the files: a CT made or destroyed since (by the CLI, by a
    // job) is read again now (one access(2) per request).
    auto snap = view_.snapshot();
    bool exists = ::access(host_.ct_conf_path(ctid).c_str(), F_OK) == 0;
    if (exists != (snap->count(ctid) > 0)) view_.refresh(ctid);
    if (!view_.snapshot()->count(ctid)) return not_found_ct(ctid);
  }
  switch (m.id) {
    case RouteId::kWhoami: return whoami(req, who);
    case RouteId::kCtList: return ct_list(who);
    case RouteId::kCtGet: return ct_get(ctid, who);
    case RouteId::kCtCreate: return ct_create(req, who);
    case RouteId::kCtPatch: return ct_patch(req, ctid, who);
    case RouteId::kCtDelete: return ct_delete(req, ctid, who);
    case RouteId::kCtStart: return ct_power(req, "start", ctid, who);
    case RouteId::kCtStop: return ct_power(req, "stop", ctid, who);
    case RouteId::kCtRestart: return ct_power(req, "restart", ctid, who);
    case RouteId::kCtReinstall: return ct_reinstall(req, ctid, who);
    case RouteId::kCtPassword: return ct_password(req, ctid, who);
    case RouteId::kCtStats: return ct_stats(req, ctid);
    case RouteId::kSnapshotList:
    case RouteId::kSnapshotTake:
    case RouteId::kSnapshotSwitch:
    case RouteId::kSnapshotDelete: return snapshots_route(req, m, ctid, who);
    case RouteId::kBackupList:
    case RouteId::kBackupTake:
    case RouteId::kBackupRestore:
    case RouteId::kBackupDelete: return backups_route(req, m, ctid, who);
    case RouteId::kCtMigrate: return ct_migrate(req, ctid, who);
    case RouteId::kCtConsole:
      return error_response(400, exitcode::kBadArgument, "the console needs a websocket upgrade");
    case RouteId::kEvents:
      return error_response(400, exitcode::kBadArgument, "events are a text/event-stream");
    case RouteId::kJobList:
    case RouteId::kJobGet:
    case RouteId::kJobCancel: return jobs_route(req, m, who);
    case RouteId::kHost: return who.admin ? host_info() : forbidden("the host is the operator's");
    case RouteId::kTemplates: return templates();
    case RouteId::kAudit:
      return who.admin ? audit_list(req) : forbidden("the audit log is the operator's");
    case RouteId::kMetrics: {
      if (!who.admin) return forbidden("metrics are the operator's");
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics_text();
      return r;
    }
    default: return error_response(404, exitcode::kBadArgument, "no such endpoint");
  }
}

Response Api::whoami(const Request& req, const auth::Principal& who) {
  Json cts = who.admin ? Json(nullptr) : Json::array();
  for (const auto& c : who.cts) cts.push_back(std::atoi(c.c_str()));
  Json out{{"user", who.user}, {"admin", who.admin}, {"cts", cts}};
  // A panel opened in a new tab has the cookie but not the token: it gets it here. Only for a
  // request the cookie authenticated (a bearer token wins in authenticate()).
  if (!req.unix_root && req.header("authorization").empty()) {
    std::string cookie = cookie_value(req.header("cookie"), "berth_session");
    if (auto s = cookie.empty() ? std::nullopt : sessions_.find(cookie, now_s()))
      out["csrf"] = s->csrf;
  }
  return Response::json(200, out);
}

Response Api::ct_list(const auth::Principal& who) {
  auto snap = view_.snapshot();
  if (who.admin) {
    std::lock_guard<std::mutex> g(list_mu_);
    if (list_snap_ != snap) {
      Json arr = Json::array();
      for (const auto& [id, c] : *snap) arr.push_back(ct_json(c, false));
      list_body_ = arr.dump(-1, ' ', false, Json::error_handler_t::replace);
      list_snap_ = snap;
    }
    Response r;
    r.body = list_body_;
    return r;
  }
  Json arr = Json::array();
  for (const auto& [id, c] : *snap)
    if (who.may_see(id)) arr.push_back(ct_json(c, false));
  return Response::json(200, arr);
}

Response Api::ct_get(const std::string& ctid, const auth::Principal& who) {
  auto snap = view_.snapshot();
  auto it = snap->find(ctid);
  if (it == snap->end()) return not_found_ct(ctid);
  return Response::json(200, ct_json(it->second, who.admin));
}

Response Api::ct_create(const Request& req, const auth::Principal& who) {
  if (!who.admin) return forbidden("creating CTs is the operator's");
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  const Json& b = *body;
  if (!b.contains("ctid") || !(b["ctid"].is_number_integer() || b["ctid"].is_string()))
    return bad_request("create: ctid is required");
  std::string raw = b["ctid"].is_string() ? b["ctid"].get<std::string>()
                                          : std::to_string(b["ctid"].get<int64_t>());
  auto ctid = validate_ctid(raw);
  if (!ctid.ok()) return error_response(ctid.error());
  auto changes = create_changes(b);
  if (!changes.ok()) return error_response(changes.error());
  // Check every value now, so a bad one is a 400 and not a failed job.
  ConfFile scratch;
  if (auto e = edit::apply_changes(*changes, *ctid, scratch); !e.ok())
    return error_response(e.error());
  if (::access(host_.ct_conf_path(*ctid).c_str(), F_OK) == 0)
    return error_response(409, exitcode::kPrivateExists, "CT " + *ctid + " exists");
  if (jobs_.busy(*ctid))
    return error_response(409, exitcode::kLocked, "CT " + *ctid + " has a job running");
  auto job = jobs_.submit(kJobCreate, *ctid, who.user, b);
  audit(req, who.user, "create", *ctid, job.ok() ? "job" : "failed");
  if (!job.ok()) return error_response(job.error());
  return Response::json(202, *job);
}

Response Api::ct_patch(const Request& req, const std::string& ctid, const auth::Principal& who) {
  if (!who.admin) return forbidden("changing limits is the operator's");
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  auto changes = patch_changes(*body);
  if (!changes.ok()) return error_response(changes.error());
  Json in{{"changes", Json::array()}, {"save", true}};
  for (const auto& [k, v] : *changes) in["changes"].push_back({k, v});
  auto r = run_worker(host_, opts_.self_exe, {"set", ctid}, in.dump(), false);
  view_.refresh(ctid);
  audit(req, who.user, "set", ctid, r.exit_status == 0 ? "ok" : "failed: " + r.message);
  if (r.exit_status != 0)
    return error_response(http_status_of(r.exit_status), r.exit_status, r.message);
  return ct_get(ctid, who);
}

Response Api::ct_delete(const Request& req, const std::string& ctid, const auth::Principal& who) {
  if (!who.admin) return forbidden("destroying CTs is the operator's");
  return submit_job(req, who, kJobDestroy, ctid, Json::object(), "destroy");
}

Response Api::ct_power(const Request& req, const std::string& op, const std::string& ctid,
                       const auth::Principal& who) {
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  if (auto st = only_keys(*body, {"fast"}, op); !st.ok()) return error_response(st.error());
  if (body->contains("fast") && !(*body)["fast"].is_boolean())
    return bad_request(op + ": fast: true or false expected");
  bool fast = body->value("fast", false);
  if (jobs_.busy(ctid))
    return error_response(409, exitcode::kLocked, "CT " + ctid + " has a job running");
  std::vector<std::string> args{op, ctid};
  if (fast && op != "start") args.emplace_back("--fast");
  auto r = run_worker(host_, opts_.self_exe, args, "", op != "stop");
  view_.refresh(ctid);
  audit(req, who.user, op, ctid, r.exit_status == 0 ? "ok" : "failed: " + r.message);
  if (r.exit_status != 0)
    return error_response(http_status_of(r.exit_status), r.exit_status, r.message);
  return ct_get(ctid, who);
}

Response Api::ct_reinstall(const Request& req, const std::string& ctid,
                           const auth::Principal& who) {
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  if (auto st = only_keys(*body, {"ostemplate", "confirm"}, "reinstall"); !st.ok())
    return error_response(st.error());
  if (!body->contains("confirm") || (*body)["confirm"] != true)
    return bad_request("reinstall erases the CT's files: send \"confirm\": true");
  Json params = Json::object();
  if (body->contains("ostemplate")) {
    if (!(*body)["ostemplate"].is_string()) return bad_request("ostemplate: a string expected");
    std::string t = (*body)["ostemplate"];
    if (!tmpl::validate_template_name(t).ok() || !edit::is_sample_name(t))
      return bad_request("invalid template name", exitcode::kBadValue);
    params["ostemplate"] = t;
  }
  return submit_job(req, who, kJobReinstall, ctid, params, "reinstall");
}

Response Api::ct_password(const Request& req, const std::string& ctid, const auth::Principal& who) {
  auto body = body_json(req);
  if (!body.ok()) return error_response(body.error());
  auto changes = password_changes(*body);
  if (!changes.ok()) return error_response(changes.error());
  Json in{{"changes", Json::array()}, {"save", false}};
  for (const auto& [k, v] : *changes) in["changes"].push_back({k, v});
  auto r = run_worker(host_, opts_.self_exe, {"set", ctid}, in.dump(), false);
  // The password itself is never logged.
  audit(req, who.user, "password", ctid, r.exit_status == 0 ? "ok" : "failed: " + r.message);
  if (r.exit_status != 0)
    return error_response(http_status_of(r.exit_status), r.exit_status, r.message);
  return Response::empty(204);
}

Response Api::ct_stats(const Request& req, const std::string& ctid) {
  std::string range = "hour";
  if (auto it = req.query.find("range"); it != req.query.end()) range = it->second;
  if (range != "hour" && range != "day")
    return bad_request("range: hour or day", exitcode::kBadValue);
  Json pts = Json::array();
  for (const auto& p : history_.query(ctid, range))
    pts.push_back({{"t", p.t},
                   {"cpu_pct", p.cpu_pct},
                   {"mem_bytes", p.mem_bytes},
                   {"disk_bytes", p.disk_bytes},
                   {"net_rx_bytes", p.net_rx_bytes},
                   {"net_tx_bytes", p.net_tx_bytes},
                   {"ubc_failcnt", p.ubc_failcnt}});
  return Response::json(
      200,
      {{"range", range}, {"step_s", range == "day" ? kDayStepS : kHourStepS}, {"points", pts}});
}

Response Api::host_info() {
  struct utsname u {};
  ::uname(&u);
  auto [mem_total, mem_avail] = host_memory();
  struct statvfs sv {};
  uint64_t disk_total = 0, disk_free = 0;
  std::string lib = host_.paths().lib;
  if (::statvfs(lib.c_str(), &sv) == 0 || ::statvfs("/", &sv) == 0) {
    disk_total = sv.f_blocks * sv.f_frsize;
    disk_free = sv.f_bavail * sv.f_frsize;
  }
  auto snap = view_.snapshot();
  int running = 0;
  for (const auto& [id, c] : *snap) running += c.running;
  auto cg = state::cgroup_backend();
  return Response::json(200, {{"hostname", u.nodename},
                              {"kernel", u.release},
                              {"cgroup", cg.ok() ? (*cg)->name() : "unknown"},
                              {"cpus", ::sysconf(_SC_NPROCESSORS_ONLN)},
                              {"mem_total", mem_total},
                              {"mem_available", mem_avail},
                              {"disk_total", disk_total},
                              {"disk_free", disk_free},
                              {"cts_total", snap->size()},
                              {"cts_running", running}});
}

Response Api::templates() {
  auto list = tmpl::list_templates(host_);
  if (!list.ok()) return error_response(list.error());
  Json arr = Json::array();
  for (const auto& t : *list) arr.push_back({{"name", t.name}, {"size", t.size}});
  return Response::json(200, arr);
}

Response Api::audit_list(const Request& req) {
  size_t limit = 100;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    char* end = nullptr;
    unsigned long v = std::strtoul(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end || v == 0 || v > 1000)
      return bad_request("limit: 1 to 1000", exitcode::kBadValue);
    limit = v;
  }
  std::deque<Json> lines;
  std::lock_guard<std::mutex> g(audit_mu_);
  std::ifstream in(host_.paths().log_dir + "/berthd-audit.log");
  std::string line;
  while (std::getline(in, line)) {
    auto j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("ctid") && j["ctid"].is_string())
      j["ctid"] = j["ctid"].get<std::string>().empty()
                      ? Json(nullptr)
                      : Json(std::atoi(j["ctid"].get<std::string>().c_str()));
    lines.push_back(std::move(j));
    if (lines.size() > limit) lines.pop_front();
  }
  Json arr = Json::array();
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) arr.push_back(*it);
  return Response::json(200, arr);
}

Response Api::jobs_route(const Request& req, const RouteMatch& m, const auth::Principal& who) {
  if (m.id == RouteId::kJobList) {
    Json arr = Json::array();
    for (const auto& j : jobs_.list(who)) arr.push_back(public_job(j));
    return Response::json(200, arr);
  }
  std::string id = m.params.at("id");
  auto j = jobs_.get(id);
  if (!j || !who.may_see(j->value("ctid", "")))
    return error_response(404, exitcode::kNoConfig, "no job " + id.substr(0, 40));
  if (m.id == RouteId::kJobGet) return Response::json(200, public_job(*j));
  auto c = jobs_.cancel(id);
  audit(req, who.user, "cancel " + id, j->value("ctid", ""), c.ok() ? "requested" : "refused");
  if (!c.ok()) return error_response(c.error());
  return Response::json(202, *c);
}

bool Api::is_running(const std::string& ctid) {
  view_.refresh(ctid);
  auto snap = view_.snapshot();
  auto it = snap->find(ctid);
  return it != snap->end() && it->second.running;
}

std::string Api::metrics_text() {
  return render_metrics(*view_.snapshot(),
                        MetricsHost{hub_.subscribers(), requests_.load(), view_.last_pass_ms()});
}

}  // namespace berth::daemon
