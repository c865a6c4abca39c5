// The vzctl-compatible command line: `berth [flags] <command> <CTID|name> [options]`.
//
// cli.cc parses the global flags and dispatches to one function per command (cmd_*.cc). Commands
// are thin: they parse their options, call runtime/ (or template/), and turn an Error into one line
// on stderr plus vzctl's exit status. Only this layer prints errors.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"

namespace berth::cli {

struct Invocation {
  std::string prog = "berth";     // the name used in messages
  std::string command;            // e.g. "start"
  std::vector<std::string> args;  // everything after the command
  bool quiet = false;
  int verbose = 0;
  bool skiplock = false;
};

using CommandFn = int (*)(const Invocation&, const HostConfig&);

int main(int argc, char** argv);

// Print "<prog>: <message>" on stderr and return the error's exit status.
int report(const Invocation& inv, const Error& err);
// Print a progress/info line on stdout unless --quiet.
void say(const Invocation& inv, const std::string& line);

// Commands (one file each, or grouped by concern).
int cmd_create(const Invocation&, const HostConfig&);
int cmd_destroy(const Invocation&, const HostConfig&);
int cmd_start(const Invocation&, const HostConfig&);
int cmd_stop(const Invocation&, const HostConfig&);
int cmd_restart(const Invocation&, const HostConfig&);
int cmd_status(const Invocation&, const HostConfig&);
int cmd_mount(const Invocation&, const HostConfig&);
int cmd_umount(const Invocation&, const HostConfig&);
int cmd_set(const Invocation&, const HostConfig&);
int cmd_exec(const Invocation&, const HostConfig&);  // exec, exec2, exec3 (inv.command tells)
int cmd_enter(const Invocation&, const HostConfig&);
int cmd_runscript(const Invocation&, const HostConfig&);
int cmd_console(const Invocation&, const HostConfig&);
int cmd_list(const Invocation&, const HostConfig&);  // vzlist
int cmd_template(const Invocation&, const HostConfig&);
// backup, backup-list, backup-verify, backup-delete, restore (cmd_backup.cc)
int cmd_backup(const Invocation&, const HostConfig&);
int cmd_backup_list(const Invocation&, const HostConfig&);
int cmd_backup_verify(const Invocation&, const HostConfig&);
int cmd_backup_delete(const Invocation&, const HostConfig&);
int cmd_restore(const Invocation&, const HostConfig&);
// chkpnt, suspend, and restore/resume of a checkpoint (cmd_checkpoint.cc)
int cmd_chkpnt(const Invocation&, const HostConfig&);
int cmd_restore_checkpoint(const Invocation&, const HostConfig&);
int cmd_ubc(const Invocation&, const HostConfig&);      // ubc (vzubc)
int cmd_netstat(const Invocation&, const HostConfig&);  // netstat (vznetstat)
int cmd_snapshot(const Invocation&, const HostConfig&);
int cmd_snapshot_list(const Invocation&, const HostConfig&);
int cmd_snapshot_switch(const Invocation&, const HostConfig&);
int cmd_snapshot_delete(const Invocation&, const HostConfig&);
int cmd_snapshot_mount(const Invocation&, const HostConfig&);
int cmd_snapshot_umount(const Invocation&, const HostConfig&);
int cmd_clone(const Invocation&, const HostConfig&);
int cmd_migrate(const Invocation&, const HostConfig&);       // migrate (vzmigrate)
int cmd_migrate_recv(const Invocation&, const HostConfig&);  // _migrate-recv (hidden: ssh's end)
int cmd_monitor(const Invocation&, const HostConfig&);       // _monitor (hidden: the watcher)
int cmd_teardown(const Invocation&, const HostConfig&);      // _teardown (hidden: its worker)
int cmd_token(const Invocation&, const HostConfig&);         // token create|list|delete (berthd)

}  // namespace berth::cli
