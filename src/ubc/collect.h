// Beancounters of running CTs, read from the kernel: the CT's cgroup counters (v1 or v2, through
// cgroups::Backend and a few extra counter files) and counts taken from its processes (fds,
// locks, ptys, sockets of its network namespace). maxheld of the rows the kernel keeps no peak
// for is carried across reads in a small state file per CT (<run>/ubc/<CTID>.maxheld), reset
// when the CT's init changes (a new start).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cgroups/backend.h"
#include "core/ct_config.h"
#include "core/error.h"
#include "ubc/model.h"

namespace berth::ubc {

// Counts from the CT's processes (tgids) and its init's namespaces (pure parsing helpers are
// below, unit-tested). ct_root: the host uid and gid of the CT's root, as which its /dev/pts is
// looked up (ct_access.h).
void count_processes(const std::vector<pid_t>& tgids, pid_t init, Raw& raw,
                     std::pair<uid_t, gid_t> ct_root);

// The rows counted from the CT's processes: the costly part of a block (a walk of every fd
// directory of the CT), which the server keeps for a while per CT (ct_slots.h).
struct ProcessCounts {
  uint64_t locked_bytes = 0, privvm_bytes = 0;
  uint64_t numfile = 0, numflock = 0, numpty = 0, numtcpsock = 0, numothersock = 0;
};
ProcessCounts count_ct_processes(const CtConfig& ct, pid_t init);

// The directory of the CT's group in the hierarchy that has the controller (v2: the one).
std::optional<std::string> controller_group_dir(const cgroups::Backend& cg,
                                                const std::string& group,
                                                const std::string& controller);
std::optional<std::string> memory_group_dir(const cgroups::Backend& cg, const std::string& group);

// The block of a running CT; error with exit kNotRunning when it does not run.
Result<Block> read_block(const CtConfig& ct);
// The block of the running CT whose init is `init`: the kernel's counters now, with counts.
Result<Block> block_with(const CtConfig& ct, pid_t init, const ProcessCounts& counts);

// Parsers of /proc text, exposed for tests.
// /proc/<pid>/status "VmLck:     12 kB" -> bytes; 0 when absent.
uint64_t status_kb(std::string_view status, std::string_view key);
// Lines of /proc/locks held by one of pids (sorted); "->" waiter lines are not locks.
uint64_t count_locks(std::string_view proc_locks, const std::vector<pid_t>& sorted_pids);
// "TCP: inuse 3 orphan 0 ..." -> the value after `field` on the line starting with `proto:`.
uint64_t sockstat_value(std::string_view sockstat, std::string_view proto, std::string_view field);

}  // namespace berth::ubc
