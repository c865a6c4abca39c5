// Passing one file descriptor over a unix socket (SCM_RIGHTS), for the sync protocol of start and
// exec and for the /proc server's helper children. Plain system calls only: async-signal-safe, so
// a child forked from a multi-threaded process may call it.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace berth::sys {

// sendmsg(2) of `len` bytes of `data` with `fd` attached, retried on EINTR, MSG_NOSIGNAL.
// Returns what sendmsg returns (-1 with errno on failure).
ssize_t send_with_fd(int sock, const void* data, size_t len, int fd);

}  // namespace berth::sys
