// Shared between the watcher's client side (client.cc) and the watcher (server.cc).
#pragma once

#include <sys/un.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
#include "monitor/client.h"
#include "sys/lock.h"

namespace berth::monitor {

inline constexpr const char* kMagic = "berth-monitor 1";
inline constexpr const char* kReadyFdEnv = "BERTH_MONITOR_READY_FD";
// Taken exclusively to connect to or spawn the watcher, and by the watcher to exit: a command
// never connects to a watcher that is on its way out.
inline constexpr const char* kSpawnLock = "monitor.lock";
// Held by the one watcher for its lifetime.
inline constexpr const char* kServerLock = "monitor.server";
inline constexpr size_t kMaxRequest = 64 * 1024;
// Set by spawn_serving's process for the watcher it execs: "<pid>", the worker it forked before,
// whose report pipe, command connection, listener and server lock it inherits (kFirstFds).
inline constexpr const char* kFirstEnv = "BERTH_MONITOR_FIRST";
// The inherited fds' numbers: listener, server lock, the worker's report pipe, its command.
inline constexpr int kFirstFds[4] = {3, 4, 5, 6};

// The exclusive lock `<run>/<name>` (created 0600); without wait, exit 9 when held.
Result<sys::FileLock> lock_run_file(const HostConfig& host, const char* name, bool wait);

// The AF_UNIX address of the watcher's socket at path (exit 1 when too long for one).
Result<struct sockaddr_un> socket_address(const std::string& path);

// <log_dir>/monitor.log: the watcher's own messages and its teardown workers' output.
std::string log_path(const HostConfig& host);

// No watcher runs: spawn the process that becomes it, which takes the server lock, listens on
// the socket, forks argv's worker (a fork of this process running self, as the watcher's
// workers do), answers "A" and then execs the watcher (server.cc, serve), which takes the
// worker over: its report, and its answer on the returned connection. The caller holds the
// spawn lock. An error, or a connection closed without "A": nothing ran (spawn the usual way).
Result<UniqueFd> spawn_serving(const HostConfig& host, const std::vector<std::string>& argv,
                               const int (&stdio)[3], RunInline self);

}  // namespace berth::monitor
