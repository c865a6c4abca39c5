// Thin wrappers for the process calls glibc has no function for (pidfd_open, pidfd_send_signal,
// close_range): each returns Result, so no raw ::syscall is needed above sys/.
#pragma once

#include <sys/types.h>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::sys {

// pidfd_open(2) of pid.
Result<UniqueFd> pidfd_open(pid_t pid);
// pidfd_send_signal(2), no siginfo.
Status pidfd_send_signal(int pidfd, int sig);
// close_range(2) of [first, last]; flags as the syscall (0, CLOSE_RANGE_CLOEXEC or
// CLOSE_RANGE_UNSHARE). Plain system call: safe in a child between clone and exec.
Status close_range(unsigned first, unsigned last, unsigned flags);

}  // namespace berth::sys
