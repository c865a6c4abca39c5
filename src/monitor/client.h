// monitor/client.h: how a command reaches the instance's watcher (server.h): spawn it when none
// runs, and run a start through it, so that the CT's init becomes the watcher's child.
//
// Protocol (SOCK_SEQPACKET on <run>/monitor.sock, 0600, root only), NUL-separated fields after
// "berth-monitor 1": "release CTID", "idle", "console CTID" (with the master fd) and "attach CTID"
// are one message with a one-byte answer (an attach keeps the connection; a release does not
// wait for it); for a
// run, the command sends one request ("run", argc, argv..., env...) with its fd 0, then its fds 1
// and 2 and an O_PATH fd of its own executable, one per message (SCM_RIGHTS). The watcher answers
// "A" once it has the request (the command then drops the spawn lock), runs the request in a worker
// (the same executable, same argv, env and fds 0-2) and answers the worker's exit status (4 bytes)
// when it exits. The worker prints what a direct run prints; the exit status is the worker's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"
#include "core/unique_fd.h"

namespace berth::monitor {

inline constexpr int kOwnStdio[3] = {0, 1, 2};

// <run>/monitor.sock
std::string socket_path(const HostConfig& host);

// Run argv (a whole berth command line: start or restart) as a worker of the watcher, spawning
// the watcher when none runs. Returns the worker's exit status, or nullopt when the command must
// run here (in a worker already, or the watcher cannot run: then a one-line warning was printed).
// stdio: the fds the worker gets as 0, 1 and 2 (berthd passes /dev/null and a pipe).
std::optional<int> run_in_worker(const HostConfig& host, const std::vector<std::string>& argv,
                                 const int (&stdio)[3] = kOwnStdio);

// What a watcher forked from this process runs (instead of an exec of `berth _monitor`): it
// serves host and returns the exit status. Set by the command line's main; a process that sets
// none (berthd) or runs threads when it spawns one gets the exec.
using WatcherEntry = int (*)(const HostConfig& host);
void set_watcher_entry(WatcherEntry entry);

// Before a command ends a CT's init itself (stop, restart): the watcher forgets the CT, so that
// init's end is not taken for a poweroff inside. Nothing when no watcher runs. Sent, not waited
// for: the watcher takes every queued request before it looks at an init's end.
void release(const HostConfig& host, const std::string& ctid);

// In start: give the CT's console pty master to the watcher, which reads it all the time into
// <log_dir>/<CTID>.console.log (bounded) and relays it to `berth console`. Nothing without one.
void hand_console(const HostConfig& host, const std::string& ctid, int master);

// `berth console`: the connection to the CT's console (after "A"): what the CT writes comes as
// messages, what is sent goes to the console's input. Errors: no watcher, no console held for
// the CT, or attached elsewhere (a second attach is refused).
Result<UniqueFd> attach_console(const HostConfig& host, const std::string& ctid);

// After a stop: when the watcher has nothing to watch and no CT of the instance runs, it exits;
// this waits (bounded) until it has. While a CT of the instance runs, the watcher is not asked.
void stop_if_idle(const HostConfig& host);

}  // namespace berth::monitor
