#include "daemon/jobs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "core/conf_file.h"
#include "core/ct_config.h"
#include "core/edit/config_edit.h"
#include "core/exit_codes.h"
#include "daemon/job_run.h"
#include "daemon/limits_map.h"
#include "monitor/client.h"
#include "runtime/create.h"
#include "runtime/lifecycle.h"
#include "state/status.h"
#include "sys/fs.h"

extern char** environ;

namespace berth::daemon {
namespace {

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

bool valid_id(const std::string& id) {
  if (id.size() != 18 || id.rfind("j-", 0) != 0) return false;
  return std::all_of(id.begin() + 2, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool pid_is_worker(pid_t pid) {
  if (pid <= 0) return false;
  auto cmd = sys::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmd.ok()) return false;
  return cmd->find(std::string("_worker\0job", 11)) != std::string::npos;
}

Status write_json(const std::string& file, const Json& j) {
  return write_file_atomic(file, j.dump(), 0600);
}

}  // namespace

bool is_final_state(const std::string& s) {
  return s == "done" || s == "failed" || s == "cancelled";
}

Json public_job(const Json& f) {
  Json j{{"id", f.value("id", "")},
         {"kind", f.value("kind", "")},
         {"ctid", std::atoi(f.value("ctid", "0").c_str())},
         {"state", f.value("state", "failed")},
         {"progress", f.value("progress", 0)},
         {"message", f.value("message", "")},
         {"error", f.contains("error") ? f["error"] : Json(nullptr)},
         {"started", f.value("started", int64_t{0})},
         {"ended", f.contains("ended") ? f["ended"] : Json(nullptr)},
         {"result", f.contains("result") ? f["result"] : Json(nullptr)}};
  return j;
}

JobStore::JobStore(const HostConfig& host, std::string self_exe)
    : host_(host), exe_(std::move(self_exe)) {}

std::string JobStore::dir_of(const HostConfig& host) { return host.paths().run + "/berthd/jobs"; }

std::string JobStore::file_of(const std::string& id) const {
  return dir_of(host_) + "/" + id + ".json";
}

std::optional<Json> JobStore::read(const std::string& id) const {
  if (!valid_id(id)) return std::nullopt;
  auto text = sys::read_file(file_of(id));
  if (!text.ok()) return std::nullopt;
  auto j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

Status JobStore::spawn(const std::string& file) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  std::string log = file + ".log";
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  // Its own session: a restart of berthd (or a signal to its process group) does not reach it.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  std::vector<std::string> args{"berthd", "_worker", "job", file};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe_.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error::from_errno(rc, "start the job's worker");
  std::lock_guard<std::mutex> g(mu_);
  children_.push_back(pid);
  return {};
}

Result<Json> JobStore::submit(const std::string& kind, const std::string& ctid,
                              const std::string& owner, const Json& params) {
  BERTH_RETURN_IF_ERROR(make_dirs(dir_of(host_), 0700));
  BERTH_ASSIGN_OR_RETURN(std::string rnd, auth::random_hex(8));
  std::string id = "j-" + rnd;
  Json f{{"id", id},           {"kind", kind},     {"ctid", ctid},  {"owner", owner},
         {"state", "queued"},  {"progress", 0},    {"message", ""}, {"error", nullptr},
         {"started", now_s()}, {"ended", nullptr}, {"pid", 0},      {"params", params}};
  std::string file = file_of(id);
  BERTH_RETURN_IF_ERROR(write_json(file, f));
  if (auto st = spawn(file); !st.ok()) {
    f["state"] = "failed";
    f["ended"] = now_s();
    f["error"] = {{"code", exitcode::kSystem}, {"message", st.error().message()}};
    (void)write_json(file, f);
    return std::move(st).error();
  }
  return public_job(f);
}

std::optional<Json> JobStore::get(const std::string& id) {
  auto f = read(id);
  if (!f) return std::nullopt;
  return *f;
}

std::vector<Json> JobStore::list(const auth::Principal& who) {
  std::vector<Json> out;
  DIR* d = ::opendir(dir_of(host_).c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() != 23 || n.substr(18) != ".json") continue;
    auto f = read(n.substr(0, 18));
    if (f && who.may_see(f->value("ctid", ""))) out.push_back(*f);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
    return a.value("started", int64_t{0}) > b.value("started", int64_t{0});
  });
  return out;
}

bool JobStore::busy(const std::string& ctid) {
  auto all = list(auth::Principal{"", true, {}});
  return std::any_of(all.begin(), all.end(), [&](const Json& j) {
    return j.value("ctid", "") == ctid && !is_final_state(j.value("state", ""));
  });
}

Result<Json> JobStore::cancel(const std::string& id) {
  auto f = read(id);
  if (!f) {
    std::string shown = id.size() > 40 ? id.substr(0, 40) : id;
    return Error::with_status(exitcode::kNoConfig, "no job " + shown);
  }
  if (is_final_state(f->value("state", "")))
    return Error::with_status(exitcode::kRunning, "job " + id + " has ended");
  int fd = ::open((file_of(id) + ".cancel").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno(errno, "cancel job " + id);
  ::close(fd);
  return public_job(*f);
}

void JobStore::poll(const std::function<void(const Json&)>& on_change) {
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = children_.begin(); it != children_.end();) {
      int status = 0;
      it = ::waitpid(*it, &status, WNOHANG) != 0 ? children_.erase(it) : std::next(it);
    }
  }
  DIR* d = ::opendir(dir_of(host_).c_str());
  if (!d) return;
  std::vector<std::string> ids;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() == 23 && n.substr(18) == ".json") ids.push_back(n.substr(0, 18));
  }
  ::closedir(d);
  int64_t now = now_s();
  std::vector<std::pair<int64_t, std::string>> finals;
  for (const auto& id : ids) {
    auto text = sys::read_file(file_of(id));
    if (!text.ok()) continue;
    auto f = Json::parse(*text, nullptr, false);
    if (f.is_discarded() || !f.is_object()) continue;
    std::string state = f.value("state", "");
    if (!is_final_state(state)) {
      pid_t pid = f.value("pid", 0);
      // A worker writes its pid first thing; a queued job older than a minute never got one.
      bool lost = pid > 0 ? !pid_is_worker(pid) : now - f.value("started", now) > 60;
      if (lost) {
        // Read again: the worker may have written its end between our read and its exit.
        auto again = read(id);
        if (again && is_final_state(again->value("state", ""))) continue;
        f["state"] = "failed";
        f["ended"] = now;
        f["error"] = {{"code", exitcode::kSystem},
                      {"message", "the job was interrupted (its worker ended without a result)"}};
        (void)write_json(file_of(id), f);
        *text = f.dump();
      }
    } else {
      finals.emplace_back(f.value("ended", now), id);
      if (now - f.value("ended", now) > 86400) {
        ::unlink(file_of(id).c_str());
        ::unlink((file_of(id) + ".log").c_str());
        ::unlink((file_of(id) + ".cancel").c_str());
        continue;
      }
    }
    std::string& last = seen_[id];
    if (last != *text) {
      last = *text;
      on_change(f);
    }
  }
  if (finals.size() > 500) {
    std::sort(finals.begin(), finals.end());
    for (size_t i = 0; i + 500 < finals.size(); ++i) {
      ::unlink(file_of(finals[i].second).c_str());
      ::unlink((file_of(finals[i].second) + ".log").c_str());
      seen_.erase(finals[i].second);
    }
  }
}

// ---- the worker side ----

void JobRun::update(const std::string& state, int progress, const std::string& message) {
  f["state"] = state;
  f["progress"] = progress;
  f["message"] = message;
  if (is_final_state(state)) f["ended"] = now_s();
  (void)write_json(file, f);
}

bool JobRun::cancel_requested() const { return ::access((file + ".cancel").c_str(), F_OK) == 0; }

bool JobRun::safe_point() {
  if (const char* d = std::getenv(kJobDelayEnv)) {
    long ms = std::atol(d);
    for (long t = 0; t < ms && !cancel_requested(); t += 100)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!cancel_requested()) return false;
  update("cancelled", f.value("progress", 0), "cancelled before any change");
  return true;
}

int JobRun::fail(const Error& e) {
  f["error"] = {{"code", e.exit_status()}, {"message", e.message()}};
  update("failed", f.value("progress", 0), "failed");
  return e.exit_status();
}

Status start_via_watcher(const HostConfig& host, const std::string& ctid, bool skiplock) {
  std::vector<std::string> argv{"berthd", "_worker", "start", ctid};
  if (skiplock) argv.emplace_back("--skiplock");
  auto rc = monitor::run_in_worker(host, argv);
  if (!rc) return Error::with_status(exitcode::kSystem, "start CT " + ctid + ": no watcher");
  if (*rc != 0) return Error::with_status(*rc, "start CT " + ctid + " failed (see the job log)");
  return {};
}

Result<LockedCt> lock_and_load(const HostConfig& host, const std::string& ctid) {
  BERTH_ASSIGN_OR_RETURN(sys::FileLock lock, runtime::lock_ct(host, ctid, false));
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok()) return Error::with_status(exitcode::kNoConfig, "CT " + ctid + " does not exist");
  return LockedCt{std::move(lock), std::move(ct).value()};
}

Result<bool> stop_for_job(JobRun& run, const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.running && !s.mounted) return false;
  run.update("running", 20, "stopping");
  auto st = runtime::stop(ct, {true, false});
  if (!st.ok() && st.error().exit_status() != exitcode::kNotRunning)
    return Error(st.error()).context("stop CT " + ct.ctid());
  return s.running;
}

namespace {

int job_create(const HostConfig& host, JobRun& run, const std::string& ctid, const Json& p) {
  auto changes = create_changes(p);
  if (!changes.ok()) return run.fail(changes.error());
  if (run.safe_point()) return 0;
  auto lock = runtime::lock_ct(host, ctid, false);
  if (!lock.ok()) return run.fail(lock.error());
  run.update("running", 10, "creating the private area");
  auto conf = runtime::new_ct_config(host, std::nullopt);
  if (!conf.ok()) return run.fail(conf.error());
  runtime::CreateRequest req{std::move(*conf), {}, {}};
  auto edit = edit::apply_changes(*changes, ctid, req.conf);
  if (!edit.ok()) return run.fail(edit.error());
  req.not_enforced = std::move(edit->not_enforced);
  req.userpasswd = std::move(edit->userpasswd);
  auto st = runtime::create_ct(host, ctid, std::move(req),
                               [&](const std::string& line) { run.update("running", 50, line); });
  if (!st.ok()) return run.fail(Error(st.error()).context("create CT " + ctid));
  if (p.value("start", false)) {
    *lock = sys::FileLock();
    run.update("running", 80, "starting");
    if (auto s = start_via_watcher(host, ctid); !s.ok()) return run.fail(s.error());
  }
  run.update("done", 100, "created");
  return 0;
}

int job_destroy(const HostConfig& host, JobRun& run, const std::string& ctid) {
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  const CtConfig& ct = locked->ct;
  auto was = stop_for_job(run, ct);
  if (!was.ok()) return run.fail(was.error());
  run.update("running", 60, "destroying");
  if (auto st = runtime::destroy(ct); !st.ok())
    return run.fail(Error(st.error()).context("destroy CT " + ctid));
  run.update("done", 100, "destroyed");
  return 0;
}

int job_reinstall(const HostConfig& host, JobRun& run, const std::string& ctid, const Json& p) {
  std::string tmpl = p.value("ostemplate", "");
  if (run.safe_point()) return 0;
  auto locked = lock_and_load(host, ctid);
  if (!locked.ok()) return run.fail(locked.error());
  const CtConfig& ct = locked->ct;
  ConfFile conf = ct.conf();
  if (!tmpl.empty()) {
    auto edit = edit::apply_changes({{"ostemplate", tmpl}}, ctid, conf);
    if (!edit.ok()) return run.fail(edit.error());
  }
  auto was = stop_for_job(run, ct);
  if (!was.ok()) return run.fail(was.error());
  bool was_running = *was;
  run.update("running", 40, "removing the old files");
  if (auto st = runtime::destroy(ct); !st.ok())
    return run.fail(Error(st.error()).context("reinstall CT " + ctid));
  run.update("running", 60, "creating from " + (tmpl.empty() ? ct.ostemplate() : tmpl));
  runtime::CreateRequest req{std::move(conf), {}, {}};
  auto st = runtime::create_ct(host, ctid, std::move(req),
                               [&](const std::string& line) { run.update("running", 70, line); });
  if (!st.ok()) return run.fail(Error(st.error()).context("reinstall CT " + ctid));
  if (was_running) {
    locked->lock = sys::FileLock();
    run.update("running", 85, "starting");
    if (auto s2 = start_via_watcher(host, ctid); !s2.ok()) return run.fail(s2.error());
  }
  run.update("done", 100, "reinstalled");
  return 0;
}

}  // namespace

int run_job(const HostConfig& host, const std::string& file) {
  auto text = sys::read_file(file);
  if (!text.ok()) return exitcode::kSystem;
  JobRun run{file, Json::parse(*text, nullptr, false)};
  if (run.f.is_discarded() || !run.f.is_object()) return exitcode::kSystem;
  run.f["pid"] = ::getpid();
  run.update("running", 0, "started");
  std::string kind = run.f.value("kind", "");
  std::string ctid = run.f.value("ctid", "");
  Json params = run.f.contains("params") ? run.f["params"] : Json::object();
  if (kind == kJobCreate) return job_create(host, run, ctid, params);
  if (kind == kJobDestroy) return job_destroy(host, run, ctid);
  if (kind == kJobReinstall) return job_reinstall(host, run, ctid, params);
  if (int rc = 0; run_data_job(host, run, kind, ctid, params, rc)) return rc;
  return run.fail(Error::with_status(exitcode::kBadArgument, "unknown job kind"));
}

}  // namespace berth::daemon
