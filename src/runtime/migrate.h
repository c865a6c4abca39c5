// Migration of a CT to another host over ssh: `berth migrate` / vzmigrate (docs/migration.md).
//
// The source runs `ssh -o BatchMode=yes [--ssh opts] HOST <remote berth> _migrate-recv`: one ssh
// channel carries the whole migration as frames (runtime/migrate_proto.h). The destination checks
// first (protocol, CTID free, template, addresses, CRIU for --online) and only then is anything
// stopped or copied. The CT's tree goes as `backup --export`'s zstd archive, written on the
// destination under import's rules (it is hostile input there).
//
// Exactly one host has the CT at every moment:
//  - the destination marks what it makes as incoming (<lib>/migrate-in/<CTID>) until the source
//    commits; a connection that ends before that (source killed, ssh gone) makes it stop and
//    remove its copy (kept stopped with --keep-dst), and a next receiver for that CTID removes
//    an incoming leftover a killed receiver left;
//  - the source records the migration (<lib>/migrate-out/<CTID>: destination, phase, whether it
//    ran) before it stops the CT; a failure before the commit starts it again here; a source
//    killed after it sent the commit is finished by the next `migrate` (the destination says the
//    CT is there: the source's copy is removed), and `start` refuses it meanwhile.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"
#include "runtime/set.h"

namespace berth::runtime {

struct MigrateOptions {
  std::string dest;                   // [user@]host
  std::vector<std::string> ssh_opts;  // --ssh "OPTS", split on blanks
  std::string remote_berth = "berth";
  bool online = false;
  bool keep_dst = false;    // leave the destination's copy (stopped) on failure
  bool remove_area = true;  // --remove-area no: keep the source, config renamed .migrated
  bool check_only = false;
  bool times = false;     // -t: per-phase times and bytes
  bool progress = false;  // a progress line on stderr (a terminal)
  // Asked at each point before the final freeze (online) or the stop (offline): true ends the
  // migration there as a failure does (the CT stays here, the destination drops its copy).
  // Past the freeze it is not asked again. Unset: never.
  std::function<bool()> cancelled;
  // Starts the CT here again after a failure (the lock is held by migrate). Unset: `berth
  // --skiplock start` as a child of this binary (the CLI); berthd's workers pass their own.
  std::function<Status(const std::string& ctid)> start_here;
};

// The caller holds nothing; migrate takes the CT's lock (20 when another command holds it).
Status migrate(const HostConfig& host, const std::string& ctid, const MigrateOptions& opts,
               const Say& say);

// The hidden `_migrate-recv`: speaks the protocol on in/out. Returns the exit status (a vzmigrate
// status); messages go to stderr (the source's terminal through ssh) and in the reply frames.
int migrate_receive(const HostConfig& host, int in, int out);

// destroy of a CT a killed receiver left here (a partial copy): its record of that receive goes
// with it (the next migration of the CTID would otherwise look for a copy that is gone).
void forget_killed_receive(const HostConfig& host, const std::string& ctid);

// The source's record of a migration that sent its commit and was killed before it removed its
// copy: "" when none, else the destination it went to (start refuses such a CT).
std::string migrated_away_to(const HostConfig& host, const std::string& ctid);
// An online migration killed between its final dump and its commit left the CT's processes
// only in that dump (the destination drops its copy when the link ends): restores the CT here
// from it. Returns false when there is no such migration to finish (nothing done). The caller
// holds the CT's lock.
Result<bool> recover_killed_migration(const CtConfig& ct, const Say& say);

}  // namespace berth::runtime
