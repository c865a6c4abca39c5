// daemon/api: berthd's REST API (docs/api.md): authentication (unix socket root, bearer token,
// panel session + CSRF), authorisation against the CT a request names, validation, and the
// handlers, over the runtime through workers (worker.h) and jobs (jobs.h). Errors are JSON with
// the CLI's exit status (http.h). Streams (events, console) are served by server.cc after
// Api::authorize_stream().
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "auth/tokens.h"
#include "core/host_config.h"
#include "daemon/events.h"
#include "daemon/guard.h"
#include "daemon/history.h"
#include "daemon/http.h"
#include "daemon/jobs.h"
#include "daemon/router.h"
#include "daemon/view.h"

namespace berth::daemon {

struct ApiOptions {
  std::string self_exe;   // berthd's own binary (workers)
  std::string panel_dir;  // static files of the panel
  std::string openapi;    // the OpenAPI document (text)
};

class Api {
 public:
  Api(const HostConfig& host, ApiOptions opts, EventHub& hub, History& history, View& view,
      JobStore& jobs);

  Response handle(const Request& req);

  // For a stream route (events, console): the principal, or the error response to send.
  std::variant<auth::Principal, Response> authorize_stream(const Request& req,
                                                           const std::string& ctid);
  // Record a change in the audit log (file and GET /v1/audit).
  void audit(const Request& req, const std::string& who, const std::string& action,
             const std::string& ctid, const std::string& result);

  const HostConfig& host() const { return host_; }
  // Whether the CT runs, as the view saw it last (read again now).
  bool is_running(const std::string& ctid);
  std::string metrics_text();

 private:
  std::variant<auth::Principal, Response> authenticate(const Request& req);
  std::shared_ptr<const auth::TokenStore> tokens();
  Response dispatch(const Request& req, const RouteMatch& m, const auth::Principal& who);
  Response login(const Request& req);
  Response logout(const Request& req);
  Response serve_static(const Request& req);

  Response whoami(const Request& req, const auth::Principal& who);
  Response ct_list(const auth::Principal& who);
  Response ct_get(const std::string& ctid, const auth::Principal& who);
  Response ct_create(const Request& req, const auth::Principal& who);
  Response ct_patch(const Request& req, const std::string& ctid, const auth::Principal& who);
  Response ct_delete(const Request& req, const std::string& ctid, const auth::Principal& who);
  Response ct_power(const Request& req, const std::string& op, const std::string& ctid,
                    const auth::Principal& who);
  Response ct_reinstall(const Request& req, const std::string& ctid, const auth::Principal& who);
  Response ct_password(const Request& req, const std::string& ctid, const auth::Principal& who);
  Response ct_stats(const Request& req, const std::string& ctid);
  Response host_info();
  Response templates();
  Response audit_list(const Request& req);
  Response jobs_route(const Request& req, const RouteMatch& m, const auth::Principal& who);
  // Snapshots, backups, migration (api_data.cc).
  Response snapshots_route(const Request& req, const RouteMatch& m, const std::string& ctid,
                           const auth::Principal& who);
  Response backups_route(const Request& req, const RouteMatch& m, const std::string& ctid,
                         const auth::Principal& who);
  Response ct_migrate(const Request& req, const std::string& ctid, const auth::Principal& who);
  // Start a job on ctid (409 while another runs there) and audit it as action.
  Response submit_job(const Request& req, const auth::Principal& who, const std::string& kind,
                      const std::string& ctid, const Json& params, const std::string& action);

  const HostConfig& host_;
  ApiOptions opts_;
  EventHub& hub_;
  History& history_;
  View& view_;
  JobStore& jobs_;
  LoginLimiter limiter_;
  SessionStore sessions_;
  std::mutex tokens_mu_;
  std::shared_ptr<const auth::TokenStore> tokens_;
  struct timespec tokens_mtime_ {};
  ino_t tokens_ino_ = 0;
  std::mutex audit_mu_;
  // The operator's GET /v1/cts body for one snapshot (the list is the same until the next poll).
  std::mutex list_mu_;
  std::shared_ptr<const Snapshot> list_snap_;
  std::string list_body_;
  std::atomic<uint64_t> requests_{0};
};

// Shared by the handlers (api.cc, api_data.cc): the 404 of a CT the caller may not see (the
// same as for one that does not exist), the operator's 403, and the request body as a JSON
// object (an empty body is {}).
Response not_found_ct(const std::string& ctid);
Response forbidden(const std::string& what);
Result<Json> body_json(const Request& req);

// Run `berthd _worker args...` (through the watcher for start/restart) and return its exit status
// and result line's error (nullopt: success).
struct WorkerResult {
  int exit_status = 0;
  std::string message;
};
WorkerResult run_worker(const HostConfig& host, const std::string& exe,
                        const std::vector<std::string>& args, const std::string& input,
                        bool via_watcher);

}  // namespace berth::daemon
