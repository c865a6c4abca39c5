// Shared between the watcher's client side (client.cc) and the watcher (server.cc).
#pragma once

#include <string>

#include "core/error.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
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

// The exclusive lock `<run>/<name>` (created 0600); without wait, exit 9 when held.
Result<sys::FileLock> lock_run_file(const HostConfig& host, const char* name, bool wait);

// <log_dir>/monitor.log: the watcher's own messages and its teardown workers' output.
std::string log_path(const HostConfig& host);

}  // namespace berth::monitor
