// Shared between the server's client side (client.cc) and the server itself (server.cc).
#pragma once

#include "core/host_config.h"
#include "core/unique_fd.h"

namespace berth::procsrv {

inline constexpr const char* kReadyFdEnv = "BERTH_UBCFS_READY_FD";
inline constexpr const char* kSpawnLock = "ubcfs.lock";
inline constexpr const char* kUsersLock = "ubcfs.users";
inline constexpr const char* kServerLock =
    "ubcfs.server";  // held by the one server for its lifetime

// <run>/ubcfs: the server's mount point.
std::string mount_dir(const HostConfig& host);
// The server answers: its mount is there and a stat of it works.
bool server_alive(const HostConfig& host);
// Whether a server process exists (it holds kServerLock from before it mounts until it exits).
bool server_exists(const HostConfig& host);
// Whether any CT of the instance runs (state::any_ct_alive: on v2 one read whatever the number
// of CTs). Errors count as "yes".
bool any_ct_running(const HostConfig& host);
// The exclusive "no start in progress" lock, without waiting; false when a start holds it.
bool try_idle_lock(const HostConfig& host, UniqueFd& out);

}  // namespace berth::procsrv
