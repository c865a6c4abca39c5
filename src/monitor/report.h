// monitor/: the instance's watcher of CT inits (`berth _monitor`, server.h) and what the other
// layers use to reach it (client.h, this file).
//
// This file: the one thing a start run as the watcher's worker tells it back. The watcher gives
// each worker a pipe (its fd number in the environment, kReportFdEnv); runtime::start writes the
// CTID and the host PID of the init it made, so that when the worker exits and the init is
// reparented to the watcher (a child subreaper) the watcher knows whose init it is.
#pragma once

#include <sys/types.h>

#include <string>

namespace berth::monitor {

inline constexpr const char* kReportFdEnv = "BERTH_MONITOR_REPORT_FD";

// In a worker of the watcher: report "<ctid> <pid>\n". Elsewhere (no kReportFdEnv): nothing.
void report_init(const std::string& ctid, pid_t init);

// Whether this process is a worker of the watcher (kReportFdEnv is set).
bool in_worker();

}  // namespace berth::monitor
