#include "sys/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include "core/exit_codes.h"
#include "core/host_config.h"

namespace berth::sys {

Result<FileLock> FileLock::acquire(const std::string& path, bool wait, const std::string& what) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) BERTH_RETURN_IF_ERROR(make_dirs(path.substr(0, slash), 0700));
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno(errno, "open lock file `" + path + "`");
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK)
      return Error::with_status(exitcode::kLocked, what + " is locked by another command");
    return Error::from_errno(errno, "lock `" + path + "`");
  }
  return FileLock(std::move(fd));
}

}  // namespace berth::sys
