// Checkpoint and restore of a running CT with CRIU (vzctl chkpnt / restore, suspend / resume),
// and the memory pre-dumps an online migration takes while the CT runs (runtime/migrate.h).
//
// CRIU is driven through its RPC interface (checkpoint/criu_rpc.h: `criu swrk` over a socket
// pair, protobuf messages), never by parsing its text output. Its log is kept next to the dump
// (DUMPDIR/dump.log, restore.log, predump-N.log); on failure the last lines are printed.
//
// The dump directory of a CT is DUMPDIR/Dump.<CTID> by default (vzctl's name; --dumpfile DIR
// elsewhere). A CT stopped with a complete dump there is "suspended": status says so, and
// `start` and `resume` restore it.
//
// Every function here expects the caller to hold the CT's lock (lifecycle.h lock_ct).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::runtime {

// vzctl's stages: --suspend (freeze), --dump (write the state of a suspended CT), --kill (end
// a dumped CT), --resume (thaw a suspended CT, or a dumped one that was not killed). kAll is
// suspend + dump + kill, the default of `chkpnt` and of `suspend`.
enum class ChkpntStage { kAll, kSuspend, kDump, kKill, kResume };

struct ChkpntOptions {
  std::string dumpdir;  // empty: default_dumpdir(ct)
  ChkpntStage stage = ChkpntStage::kAll;
  // For the final dump of an online migration: the previous pre-dump's directory, relative to
  // dumpdir (CRIU's parent images: only pages changed since are written).
  std::string parent;
  bool leave_running = false;  // dump and let the CT go on (a dump for a copy; no kill)
};

struct ChkpntResult {
  std::string dumpdir;
  double frozen_ms = 0;  // from freeze to the end of the dump (or to the kill/thaw)
  double dump_ms = 0;    // CRIU's dump alone
  uint64_t bytes = 0;    // size of the images written
};

// Checkpoint a running CT. Refused with one line (and the CT left running) when CRIU is missing
// or cannot dump it (the reason CRIU gave, from its log).
Result<ChkpntResult> checkpoint(const CtConfig& ct, const ChkpntOptions& opts);

struct UndumpOptions {
  std::string dumpdir;  // empty: default_dumpdir(ct)
  // vzctl --undump: restore the processes frozen; --resume then thaws them. Default both.
  enum class Stage { kAll, kUndump, kResume } stage = Stage::kAll;
  bool keep_dump = false;  // keep the images after a successful restore (default: removed)
};

struct UndumpResult {
  double restore_ms = 0;  // CRIU's restore
  double total_ms = 0;    // from the start of the command's work to the CT running
  int init_pid = 0;
};

// Restore a stopped CT from its dump: mounts its root, sets up its cgroups, network and /proc
// view as start does, then CRIU restores the processes into them.
Result<UndumpResult> restore_checkpoint(const CtConfig& ct, const UndumpOptions& opts);

struct PreDumpResult {
  double ms = 0;
  uint64_t bytes = 0;  // pages written by this pre-dump
};
// A memory pre-dump of a running CT into dumpdir/<name> (the CT keeps running; CRIU's dirty page
// tracking from the parent, relative to dumpdir, when given).
Result<PreDumpResult> pre_dump(const CtConfig& ct, const std::string& dumpdir,
                               const std::string& name, const std::string& parent);

std::string default_dumpdir(const CtConfig& ct);
// CRIU's name of the CT's console tty, "tty[rdev:dev]" (hex), from the CT's mountinfo: the
// devpts mount at /dev/console. Empty when the console is no pty. Pure.
std::string console_tty_key_of(std::string_view mountinfo);
// CRIU before 4.2 restores a process whose session leader has exited with a helper that shares
// its parent's fs_struct, and the parent then cannot enter a mount namespace to bind a named
// unix socket (CRIU issue 2687): such a tree dumps but never restores. Pure helpers of the check
// chkpnt makes first (one line, the CT keeps running):
// whether CRIU `version` ("3.17.1") has that bug;
bool criu_has_session_helper_bug(std::string_view version);
// a process (pid, its session id) of the CT whose session leader is not one of the CT's
// processes, or 0;
pid_t orphaned_session_member(const std::vector<std::pair<pid_t, pid_t>>& pid_sid);
// the first named (not abstract, not unbound) socket path in a /proc/net/unix text, or "".
std::string named_unix_socket(std::string_view proc_net_unix);
// A complete dump (CRIU's inventory image and Berth's own record) is in dir.
bool dump_complete(const std::string& dir);

// What the kernel and CRIU here can do, for migration's compatibility check: empty when a
// checkpoint can be taken and restored, else the one-line reason.
std::string criu_unusable_reason();
std::string criu_version();  // "3.17.1", or empty without CRIU

}  // namespace berth::runtime
