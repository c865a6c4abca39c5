// System calls glibc has no function for, as plain functions that a child forked from a
// multi-threaded process may call before it execs or exits: no allocation, no lock; they return
// what the system call returns (-1 and errno on failure), like libc's own wrappers.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace berth::sys::raw {

// fork(2) as a bare clone(SIGCHLD): no atfork handlers (they may take locks another thread of the
// parent held at the fork).
pid_t fork();

// A new, detached instance of the file system fstype (fsopen, fsconfig CREATE, fsmount) with the
// MOUNT_ATTR_* attrs; the mount's fd (O_CLOEXEC). procfs takes the pid namespace of the caller.
int new_detached_mount(const char* fstype, uint64_t attrs);

// openat2(2) with these flags and RESOLVE_* bits.
int openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve);

}  // namespace berth::sys::raw
