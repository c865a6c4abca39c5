// CtStatus: what the kernel and the files say about one CT right now.
//
// Nothing here is cached in a state file that could go stale: a CT exists when its CTID.conf
// exists, is mounted when VE_ROOT is a mount point, and runs when its cgroup holds a process that
// is PID 1 of a PID namespace (its init). Any berth command can therefore find a CT left behind
// by a killed command (Berth keeps no resident process per VPS).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::state {

struct CtStatus {
  bool exists = false;                            // CTID.conf exists
  bool mounted = false;                           // VE_ROOT is mounted
  bool running = false;                           // its init is alive
  bool suspended = false;                         // a dump file exists for a stopped CT
  pid_t init_pid = 0;                             // host PID of the CT's init when running
  double uptime = 0;                              // seconds since start, when running
  std::optional<uint64_t> numproc;                // processes+threads in the CT, when running
  std::optional<std::array<double, 3>> laverage;  // filled by vzlist from ubc/loadavg.h
};

Result<CtStatus> query_status(const CtConfig&);

// What a command entering or ending a CT needs, for less: exists, running and init_pid only (no
// mount, dump, thread count or uptime), the scan of its processes ending at its init (the
// whole-CT scan of query_status reads the status of every process: a CT running 500 made each
// exec read 500 files).
Result<CtStatus> query_running(const CtConfig&);

}  // namespace berth::state
