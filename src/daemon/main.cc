// berthd: the host daemon (REST API, events, metrics, the panel's files; docs/api.md).
//
//   berthd [--foreground] [--listen ADDR:PORT | --no-tls] [--socket PATH] [--panel-dir DIR]
//          [--cert FILE --key FILE] [--poll SECONDS] [--io-timeout SECONDS]
// berthd never forks into the background (systemd runs it as it is; --foreground is accepted for
// symmetry with the docs). Everything is under BERTH_ROOT as for `berth`. The same binary also
// runs the single-threaded helpers the daemon needs (worker.h): `_worker ...`, and, when berthd
// was the one to start the instance's watcher, `_monitor` and `_teardown`.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/exit_codes.h"
#include "core/host_config.h"
#include "daemon/api.h"
#include "daemon/events.h"
#include "daemon/history.h"
#include "daemon/jobs.h"
#include "daemon/openapi.h"
#include "daemon/server.h"
#include "daemon/view.h"
#include "daemon/worker.h"
#include "monitor/server.h"
#include "runtime/ct_ops.h"
#include "state/instance_owner.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

int usage() {
  std::fprintf(stderr,
               "usage: berthd [--foreground] [--listen ADDR:PORT | --no-tls] [--socket PATH]\n"
               "              [--panel-dir DIR] [--cert FILE --key FILE] [--poll SECONDS]\n"
               "              [--io-timeout SECONDS]\n");
  return berth::exitcode::kBadArgument;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace berth;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto host = HostConfig::load();
  if (!host.ok()) {
    std::fprintf(stderr, "berthd: %s\n", host.error().message().c_str());
    return host.error().exit_status();
  }
  // Another root's instance (the same CGROUP_PARENT) with VPSs: neither berthd nor its helpers
  // may act on them (state/instance_owner.h).
  if (auto owner = state::check_instance_owner(*host); !owner.ok()) {
    std::fprintf(stderr, "berthd: %s\n", owner.error().message().c_str());
    return owner.error().exit_status();
  }
  // The helpers (single-threaded, exec'ed by berthd or by the watcher it started).
  size_t first = 0;
  while (first < args.size() && (args[first] == "--quiet" || args[first] == "-q")) ++first;
  if (first < args.size()) {
    const std::string& cmd = args[first];
    std::vector<std::string> rest(args.begin() + static_cast<long>(first) + 1, args.end());
    if (cmd == "_worker") return daemon::worker_main(*host, rest);
    if (cmd == "_monitor") return monitor::serve(*host);
    if (cmd == "_teardown") {
      if (rest.empty() || rest.size() > 2) return exitcode::kBadArgument;
      auto st = runtime::teardown_dead_init(*host, rest[0], rest.size() == 2);
      if (st.ok()) return 0;
      std::fprintf(stderr, "berthd: %s\n", st.error().message().c_str());
      return st.error().exit_status();
    }
    // A start the watcher runs for `berth` is never sent here (it carries berth's executable).
    if (cmd == "start" || cmd == "restart") return exitcode::kBadArgument;
  }

  daemon::ServerOptions so;
  so.unix_path = host->paths().run + "/berthd.sock";
  so.tls_listen = ":8443";
  so.cert = host->paths().etc + "/berthd/cert.pem";
  so.key = host->paths().etc + "/berthd/key.pem";
  std::string panel = "/usr/local/share/berth/panel";
  if (const char* p = std::getenv("BERTH_PANEL_DIR")) panel = p;
  int poll_s = 10;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--foreground") continue;
    if (a == "--no-tls") {
      so.tls_listen.clear();
    } else if (a == "--listen" || a == "--socket" || a == "--panel-dir" || a == "--cert" ||
               a == "--key" || a == "--poll" || a == "--io-timeout") {
      const std::string* v = value();
      if (!v) return usage();
      if (a == "--listen") so.tls_listen = *v;
      if (a == "--socket") so.unix_path = *v;
      if (a == "--panel-dir") panel = *v;
      if (a == "--cert") so.cert = *v;
      if (a == "--key") so.key = *v;
      if (a == "--poll") poll_s = std::atoi(v->c_str());
      if (a == "--io-timeout") so.io_timeout_s = std::atoi(v->c_str());
    } else {
      return usage();
    }
  }
  if (poll_s < 1 || poll_s > 3600 || so.io_timeout_s < 1 || so.io_timeout_s > 3600) return usage();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  for (const auto& dir : {host->paths().run, host->paths().etc + "/berthd",
                          host->paths().lib + "/berthd", host->paths().log_dir}) {
    if (auto st = make_dirs(dir, 0700); !st.ok()) {
      std::fprintf(stderr, "berthd: %s\n", st.error().message().c_str());
      return st.error().exit_status();
    }
  }
  ::chmod((host->paths().etc + "/berthd").c_str(), 0700);
  if (!so.tls_listen.empty()) {
    if (auto st = daemon::ensure_certificate(so.cert, so.key); !st.ok()) {
      std::fprintf(stderr, "berthd: %s\n", st.error().message().c_str());
      return st.error().exit_status();
    }
  }

  daemon::EventHub hub;
  daemon::History history;
  if (auto st = history.open(host->paths().lib + "/berthd/history.db"); !st.ok())
    std::fprintf(stderr, "berthd: %s (no history)\n", st.error().message().c_str());
  daemon::JobStore jobs(*host, daemon::self_exe());
  daemon::View view(*host, history,
                    [&](const std::string& type, const std::string& ctid, const std::string& json) {
                      hub.publish(type, ctid, json);
                    });
  daemon::Api api(*host, {daemon::self_exe(), panel, std::string(daemon::openapi_document())}, hub,
                  history, view, jobs);
  // Jobs first: one that a previous berthd left running is recognised (or marked failed).
  jobs.poll([](const daemon::Json&) {});
  view.start(poll_s);
  std::thread job_poller([&] {
    while (!g_stop) {
      jobs.poll([&](const daemon::Json& j) {
        std::string ctid = j.value("ctid", "");
        hub.publish("job", ctid, daemon::public_job(j).dump());
        if (daemon::is_final_state(j.value("state", ""))) view.refresh(ctid);
      });
      for (int i = 0; i < 5 && !g_stop; ++i) ::usleep(100000);
    }
  });
  std::fprintf(stderr, "berthd: serving on %s%s%s\n", so.unix_path.c_str(),
               so.tls_listen.empty() ? "" : " and https://", so.tls_listen.c_str());
  auto st = daemon::serve(so, api, hub, g_stop);
  g_stop = true;
  job_poller.join();
  view.stop();
  if (!st.ok()) {
    std::fprintf(stderr, "berthd: %s\n", st.error().message().c_str());
    return st.error().exit_status();
  }
  return 0;
}
