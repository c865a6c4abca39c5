// Plain system call wrappers for forked children (see raw_calls.h).
#include "sys/raw_calls.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

// The new mount API's numbers, for headers that lack them.
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif

namespace berth::sys::raw {

pid_t fork() {
  return static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

int new_detached_mount(const char* fstype, uint64_t attrs) {
  int fs = static_cast<int>(::syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC));
  if (fs < 0) return -1;
  int mnt = -1;
  if (::syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
    mnt = static_cast<int>(::syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs));
  int err = errno;
  ::close(fs);
  errno = err;
  return mnt;
}

int openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

}  // namespace berth::sys::raw
