// A running CT's /proc after its beancounter server died (killed, crashed): the view
// (ubc/proc_view.h) answers ENOTCONN for every name, which breaks everything in the CT that reads
// /proc. The next Berth command that needs the server (start of any CT of the instance, exec into
// this CT) brings a new server up and gives each such CT a new procfs, masked as at start, under a
// new view: the CT goes on running, its processes untouched.
#pragma once

#include "core/ct_config.h"
#include "core/error.h"
#include "core/host_config.h"

namespace berth::runtime {

// Whether the running CT whose init is init_pid has a /proc whose server is gone. A /proc (or,
// in the "files" mode, a /proc/meminfo) on the device of the instance's live server is alive
// without asking the server; otherwise a statfs through it asks.
bool proc_view_dead(const HostConfig& host, pid_t init_pid);

// Replace the dead /proc of a running CT (a new server must run: procsrv::ensure_server).
Status repair_proc_view(const CtConfig& ct, pid_t init_pid);

// For a checkpoint: CRIU cannot dump the server's FUSE mounts. The view (/proc is the server's)
// becomes a plain procfs, masked as at start; in the "files" mode the procfs stays (its open
// files, systemd's mountinfo, must stay valid) and only the server's files over it go; the
// beancounter file goes. switch_proc_back() puts them back (after the restore, or when the
// checkpoint failed).
Status switch_proc_to_plain(const CtConfig& ct, pid_t init_pid);
Status switch_proc_back(const CtConfig& ct, pid_t init_pid);

// Every running CT of the instance with a dead /proc, repaired; failures are warnings.
void repair_dead_proc_views(const HostConfig& host);

// For one CT about to be entered: when its /proc is dead, bring a server up and repair it.
void repair_proc_view_if_dead(const CtConfig& ct, pid_t init_pid);

}  // namespace berth::runtime
