// monitor/server.h: the watcher of an instance (`berth _monitor`, spawned on demand by
// client.h's run_in_worker, as a fork of the command that becomes it or an exec): one process
// per Berth instance, none per CT.
//
// It is a child subreaper. Every start (start, restart, and its own restarts after a reboot)
// runs as its worker, so when the worker exits the CT's init is reparented to it, and waitpid
// tells how the init ended: reboot(2) inside a PID namespace kills its init with SIGHUP
// (restart) or SIGINT (halt, poweroff). It then runs `berth _teardown CTID [--restart]` as a
// worker: stop's whole teardown on the dead CT (cgroup, network and its counters, mount), and
// a start for a reboot. It holds each watched CT's network namespace, so the CT's veths (and
// their traffic counters) outlive its init until the teardown has banked them.
//
// CTs it did not start (started while no watcher ran) are adopted with a pidfd: their end is
// seen, not its cause, so a reboot inside them is a poweroff. More than kMaxReboots reboots of
// one CT within kRebootWindow stop it (logged), so a CT rebooting in a loop cannot make the
// watcher spin. It exits when no CT of the instance runs and nothing is in progress.
//
// It also holds each CT's console (the master of the pty bound on its /dev/console, handed over
// by start): read all the time, 4 KiB per wake-up and non-blocking, into
// <log_dir>/<CTID>.console.log (moved to .1 past 1 MiB), and relayed to one `berth console`.
//
// Once CTs stopped, and on its way out, it removes the idle loop devices their disks left
// (storage::remove_idle_loop_devices): off every command's path but the last stop's.
//
// Socket <run>/monitor.sock, mode 0600, and SO_PEERCRED uid 0 checked on every connection. It
// never opens a path inside a CT and reads nothing from a CT but wait statuses and the console,
// both bounded.
#pragma once

#include "core/host_config.h"

namespace berth::monitor {

inline constexpr int kMaxReboots = 5;
inline constexpr int kRebootWindowSeconds = 60;

// A program's command-line entry (main's argc/argv; returns the exit status).
using RunInline = int (*)(int argc, char** argv);

// Serve until idle or SIGTERM; returns the exit status. run_inline: the entry of the program the
// watcher runs (the berth binary's), so a worker for a command of this same program is a fork
// that calls it instead of an exec (nullptr: always exec).
int serve(const HostConfig& host, RunInline run_inline = nullptr);

}  // namespace berth::monitor
