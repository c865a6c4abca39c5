// FileLock: an flock(2) on a lock file, released when the owner goes away (also when the process
// is killed, so a killed command never leaves a CT locked).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::sys {

class FileLock {
 public:
  FileLock() = default;
  // Exclusive lock; when wait is false and the lock is held: Error with exit status 9. A lock
  // whose taker is gone (killed) but that a child of it still holds, through its copy of the
  // taker's file table, while that child ends, is waited for (at most kGoneOwnerWait): a tool or
  // helper started just before the command was killed tears its copy of the command's memory down
  // before it closes its files, and the next command found the CT "locked" by nobody.
  static Result<FileLock> acquire(const std::string& path, bool wait, const std::string& what);
  bool held() const { return fd_.valid(); }

  static constexpr int kGoneOwnerWaitMs = 3000;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// The pid /proc/locks shows for the flock(2) held on the file dev_major:dev_minor:ino (lines like
// "1: FLOCK  ADVISORY  WRITE 4242 08:01:123 0 EOF"; a waiter's "1: -> FLOCK ..." is not the
// holder). 0 when the process that took it is gone (the kernel has no pid to show); nullopt when
// no such lock is listed.
std::optional<pid_t> flock_owner(std::string_view proc_locks, unsigned dev_major,
                                 unsigned dev_minor, unsigned long ino);

}  // namespace berth::sys
