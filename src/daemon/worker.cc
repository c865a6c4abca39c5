#include "daemon/worker.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/ct_config.h"
#include "core/edit/config_edit.h"
#include "core/exit_codes.h"
#include "daemon/jobs.h"
#include "monitor/server.h"
#include "runtime/ct_ops.h"
#include "runtime/exec.h"
#include "runtime/lifecycle.h"
#include "runtime/migrate.h"
#include "runtime/set.h"

namespace berth::daemon {
namespace {

int finish(const Status& st) {
  if (st.ok()) {
    std::printf("%s\n", result_line(0, "").c_str());
    std::fflush(stdout);
    return 0;
  }
  std::printf("%s\n", result_line(st.error().exit_status(), st.error().message()).c_str());
  std::fflush(stdout);
  return st.error().exit_status();
}

Result<CtConfig> load(const HostConfig& host, const std::string& ctid) {
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok() && ct.error().code() == ENOENT)
    return Error::with_status(exitcode::kNoConfig, "CT " + ctid + " does not exist");
  return ct;
}

Status power(const HostConfig& host, const std::string& op, const std::string& ctid, bool fast,
             bool skiplock) {
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, load(host, ctid));
  BERTH_ASSIGN_OR_RETURN(auto lock, runtime::lock_ct(host, ct.ctid(), skiplock));
  runtime::StartOptions start{true, false, 60};
  if (op == "start") {
    // As `berth start`: an online migration killed after its final dump goes on here.
    BERTH_ASSIGN_OR_RETURN(bool recovered,
                           runtime::recover_killed_migration(ct, [](const std::string& line) {
                             std::fprintf(stderr, "%s\n", line.c_str());
                           }));
    if (recovered) return {};
    return runtime::start_ct(ct, start).context("start CT " + ctid);
  }
  if (op == "stop") return runtime::stop(ct, {fast, false}).context("stop CT " + ctid);
  return runtime::restart_ct(ct, fast, start, {}).context("restart CT " + ctid);
}

Status set(const HostConfig& host, const std::string& ctid) {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto j = nlohmann::json::parse(input, nullptr, false);
  if (j.is_discarded() || !j.contains("changes") || !j["changes"].is_array())
    return Error::with_status(exitcode::kBadArgument, "set: bad request");
  std::vector<std::pair<std::string, std::string>> changes;
  for (const auto& c : j["changes"]) {
    if (!c.is_array() || c.size() != 2 || !c[0].is_string() || !c[1].is_string())
      return Error::with_status(exitcode::kBadArgument, "set: bad change");
    changes.emplace_back(c[0].get<std::string>(), c[1].get<std::string>());
  }
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, load(host, ctid));
  BERTH_ASSIGN_OR_RETURN(auto lock, runtime::lock_ct(host, ct.ctid(), false));
  runtime::SetRequest req;
  req.edited = ct.conf();
  BERTH_ASSIGN_OR_RETURN(auto edit, edit::apply_changes(changes, ct.ctid(), req.edited));
  req.changed_keys = std::move(edit.changed_keys);
  req.need_restart = std::move(edit.need_restart);
  req.not_enforced = std::move(edit.not_enforced);
  req.userpasswd = std::move(edit.userpasswd);
  req.save = j.value("save", false);
  return runtime::apply_set(
             ct, req, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); })
      .context("set CT " + ctid);
}

int shell(const HostConfig& host, const std::string& ctid) {
  auto ct = load(host, ctid);
  if (!ct.ok()) return finish(std::move(ct).error());
  runtime::ExecRequest req;
  req.pty = true;
  req.via_shell = true;
  auto rc = runtime::exec(*ct, req);
  if (!rc.ok()) {
    std::fprintf(stderr, "berthd: %s\r\n", rc.error().message().c_str());
    return rc.error().exit_status();
  }
  return *rc;
}

}  // namespace

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/proc/self/exe");
}

std::string result_line(int code, const std::string& message) {
  if (code == 0) return R"({"ok":true})";
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int worker_main(const HostConfig& host, const std::vector<std::string>& args) {
  auto bad = [] {
    return finish(Error::with_status(exitcode::kBadArgument, "_worker: bad arguments"));
  };
  if (args.size() < 2) return bad();
  const std::string& op = args[0];
  if (op == "start" || op == "stop" || op == "restart") {
    bool fast = args.size() == 3 && args[2] == "--fast";
    // --skiplock: a job's migration, which holds the lock, starts the CT here again.
    bool skiplock = args.size() == 3 && op == "start" && args[2] == "--skiplock";
    if (args.size() > 3 || (args.size() == 3 && !fast && !skiplock)) return bad();
    return finish(power(host, op, args[1], fast, skiplock));
  }
  if (op == "set" && args.size() == 2) return finish(set(host, args[1]));
  if (op == "job" && args.size() == 2) return run_job(host, args[1]);
  if (op == "shell" && args.size() == 2) return shell(host, args[1]);
  return bad();
}

}  // namespace berth::daemon
