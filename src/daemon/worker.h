// daemon/worker: berthd's operations on a CT, run in a fresh single-threaded process
// (`berthd _worker OP ...`, exec'ed right after fork), never in the multi-threaded daemon: the
// runtime forks and enters namespaces (ARCHITECTURE.md section 2). Starts run as workers of the
// instance's watcher (monitor/client.h), as `berth start` does, so the CT's init is its child.
//
// Each worker takes the CT's lock (the same lock file as the CLI: runtime::lock_ct), calls the
// runtime and prints one JSON line as its last line on stdout: {"ok":true} or
// {"error":{"code":N,"message":"..."}}; its exit status is the error's exit status.
//
//   _worker start CTID [--skiplock] | stop CTID [--fast] | restart CTID [--fast]
//   _worker set CTID            JSON on stdin: {"changes":[[option,value],...],"save":bool}
//   _worker job FILE            a job (jobs.h): create, destroy, reinstall, snapshot*,
//                               backup*, migrate; updates FILE
//   _worker shell CTID          a root shell on a new pty of the CT, relayed to fds 0/1 (a pty)
// Also the watcher's own hidden commands when berthd spawned it: `_monitor`, `_teardown`.
#pragma once

#include <string>
#include <vector>

#include "core/host_config.h"

namespace berth::daemon {

// argv after the program name; returns the exit status.
int worker_main(const HostConfig& host, const std::vector<std::string>& args);

// The path of the running binary (berthd's own, for its workers).
std::string self_exe();

// One JSON result line for an error / for success.
std::string result_line(int code, const std::string& message);

}  // namespace berth::daemon
