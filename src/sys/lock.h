// FileLock: an flock(2) on a lock file, released when the owner goes away (also when the process
// is killed, so a killed command never leaves a CT locked).
#pragma once

#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::sys {

class FileLock {
 public:
  FileLock() = default;
  // Exclusive lock; when wait is false and the lock is held: Error with exit status 9.
  static Result<FileLock> acquire(const std::string& path, bool wait, const std::string& what);
  bool held() const { return fd_.valid(); }

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace berth::sys
