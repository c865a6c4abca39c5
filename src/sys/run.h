// Running a host tool (no shell) and collecting what it printed: busybox's own listing for the
// busybox template, e2fsprogs for a VPS's disk (storage/disk.h).
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace berth::sys {

struct ToolOutput {
  int status = 0;   // exit status; 128+signal when killed
  std::string out;  // stdout (and stderr when asked)
};

// Run args (args[0] a path; no PATH search) with stdin from /dev/null, its stdout collected, and
// its stderr too when with_stderr (else inherited). It dies with the calling process (a killed
// command leaves no tool running on a CT's disk image). An error only when it cannot be run or
// waited for: the exit status is the caller's to judge.
Result<ToolOutput> run_tool(const std::vector<std::string>& args, bool with_stderr);

}  // namespace berth::sys
