// File access for inside-CT actions: read optional files, replace them keeping mode and owner.
//
// These run INSIDE the CT (after pivot_root or setns into its mount namespace), so symlinks in
// the paths resolve inside the CT, never on the host. Every path is `root + "/etc/..."`, where
// root is "" in production and a temporary directory in unit tests.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::dist {

// The file's text, or nullopt if it does not exist.
Result<std::optional<std::string>> read_if_exists(const std::string& path);

// Replace path atomically (core's write_file_atomic: tmp, fsync, rename). An existing file keeps
// its permission bits and owner; a new one gets new_mode and the caller's ids. A symlink at path is
// replaced by a regular file with the target's mode, as vzctl's scripts did (cp + mv). A regular
// file that already holds data is left as it is (a full disk does not fail an unchanged write).
Status replace_file(const std::string& path, std::string_view data, unsigned new_mode = 0644);

// The shadow-utils lock (/etc/.pwd.lock, fcntl write lock, as lckpwdf(3)) held while /etc/passwd,
// /etc/group and /etc/shadow are rewritten. Waits up to 15 seconds, like lckpwdf.
class PasswdLock {
 public:
  static Result<PasswdLock> acquire(const std::string& root);

 private:
  explicit PasswdLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

// Days since 1970-01-01 (the "last change" field of /etc/shadow).
long days_since_epoch();

}  // namespace berth::dist
