// procsrv/: the /proc server of a Berth instance (a service process, `berth ubc --serve`), and
// this, its client: what runtime/ uses to start it, keep it, find the CT's mounts in it, stop it.
// The server's own code is server.h; what it serves is computed by the ubc/ library.
//
// /proc/user_beancounters for the inside of a CT: one FUSE server per Berth instance.
//
// A stock kernel lets nobody add a name to procfs' root, and a bind mount needs an existing
// target, so the CT's /proc is a directory of this server that links every name to the CT's
// real procfs and adds user_beancounters (ubc/proc_view.h). The same block is also at
// /run/berth/user_beancounters (mode 0400, owned by the CT's root), a mount of
// <run>/ubcfs/<CTID>. Both are computed on every read from the CT's cgroup counters
// (ubc/collect.h), so they are never stale, and no process runs per CT.
//
// Lifetime: `berth start` calls ensure_server() (spawns the server when none is mounted, under
// the instance's lock <run>/ubcfs.lock) and holds a shared "user" lock (<run>/ubcfs.users) until
// the CT has its mount (start clones the file's mount with open_tree, the child attaches it).
// The server exits and unmounts when no CT of the instance runs: `berth stop` asks it to
// (stop_server_if_idle) and it checks by itself every 2 s; both only act while no start holds
// the user lock.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "core/error.h"
#include "core/host_config.h"
#include "core/unique_fd.h"

namespace berth::procsrv {

// Host path of the CT's file in the server's mount.
std::string served_path(const HostConfig& host, const std::string& ctid);
// Host path of the CT's /proc view in the server's mount (proc_view.h).
std::string served_proc_path(const HostConfig& host, const std::string& ctid);

// After a live change of a running CT's limits (`berth set`): the server computes the CT's files
// (meminfo, cpuinfo, user_beancounters) anew at their next open, instead of serving one up to
// CtSlots::kFresh old. A stamp file (ubc::limits_stamp_path, a new text each time) the server
// reads at each open; best effort (without it the files follow within kFresh).
void limits_changed(const HostConfig& host, const std::string& ctid);

// A start in progress: while held, the server does not exit. Dropped without commit() (the
// start failed), it ends the server again if no CT runs.
class ServerUse {
 public:
  ServerUse() = default;
  ServerUse(const HostConfig* host, UniqueFd fd) : host_(host), fd_(std::move(fd)) {}
  ServerUse(ServerUse&& o) noexcept
      : host_(std::exchange(o.host_, nullptr)), fd_(std::move(o.fd_)), revived_(o.revived_) {}
  ServerUse& operator=(ServerUse&&) = delete;
  ~ServerUse();
  void commit() { host_ = nullptr; }
  // A new server replaced one that had died: running CTs' /proc views are dead
  // (runtime/proc_repair.h).
  bool revived() const { return revived_; }
  void set_revived() { revived_ = true; }

 private:
  const HostConfig* host_ = nullptr;
  UniqueFd fd_;
  bool revived_ = false;
};

// A spawn of the server begun early in a start (begin_server) and waited for later
// (ensure_server): the server's exec and start-up run while the start mounts the CT's root and
// makes its cgroups. Empty when a server was already up or the spawn could not begin (then
// ensure_server does it all). Dropped unused, nothing waits: the new server exits by itself
// when no CT runs.
class PendingServer {
 public:
  PendingServer() = default;
  PendingServer(UniqueFd use, UniqueFd spawn_lock, UniqueFd ready, pid_t starter, bool revived)
      : use_(std::move(use)),
        spawn_lock_(std::move(spawn_lock)),
        ready_(std::move(ready)),
        starter_(starter),
        revived_(revived) {}
  PendingServer(PendingServer&& o) noexcept
      : use_(std::move(o.use_)),
        spawn_lock_(std::move(o.spawn_lock_)),
        ready_(std::move(o.ready_)),
        starter_(std::exchange(o.starter_, -1)),
        revived_(o.revived_) {}
  PendingServer& operator=(PendingServer&& o) noexcept;
  ~PendingServer() { reap(); }
  bool empty() const { return !ready_; }

 private:
  friend Result<ServerUse> ensure_server(const HostConfig& host, PendingServer pending);
  void reap();  // the short-lived starter process (it forks the server and exits at once)
  UniqueFd use_, spawn_lock_, ready_;
  pid_t starter_ = -1;
  bool revived_ = false;
};

// Begin the spawn of the server when none is up (under the same locks as ensure_server).
PendingServer begin_server(const HostConfig& host);

// Make sure the server runs (spawn it if needed, or wait for the spawn pending began) and keep it
// from exiting while the returned guard lives. An error means the CT starts without the file (the
// caller goes on).
Result<ServerUse> ensure_server(const HostConfig& host, PendingServer pending = {});

// The device of the server's mount while a server runs, 0 when none does (or its mount is not
// there yet): a CT's /proc on that device is served by the live server. Asks the server nothing.
dev_t live_server_dev(const HostConfig& host);

// After a stop: when no CT of the instance runs and no start is in progress, end the server and
// wait (bounded) until it has unmounted.
void stop_server_if_idle(const HostConfig& host);

}  // namespace berth::procsrv
