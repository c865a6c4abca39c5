// Inside-CT file helpers.
#include "dist/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "core/conf_file.h"
#include "sys/fs.h"

namespace berth::dist {

Result<std::optional<std::string>> read_if_exists(const std::string& path) {
  auto text = sys::read_file(path);
  if (text.ok()) return std::optional<std::string>(std::move(text).value());
  if (text.error().code() == ENOENT) return std::optional<std::string>();
  return std::move(text).error();
}

Status replace_file(const std::string& path, std::string_view data, unsigned new_mode) {
  struct stat st {};
  bool existed = ::stat(path.c_str(), &st) == 0;
  if (!existed && errno != ENOENT) return Error::from_errno(errno, "stat `" + path + "`");
  // The same text already there: nothing written. The tmp + rename needs a free block, and the
  // start of a CT whose disk its tenant filled must not fail on rewriting an unchanged
  // /etc/hostname. Only a regular file of exactly that size is read (never a tenant's huge one).
  struct stat lst {};
  if (existed && ::lstat(path.c_str(), &lst) == 0 && S_ISREG(lst.st_mode) &&
      static_cast<uint64_t>(lst.st_size) == data.size()) {
    auto text = sys::read_file(path);
    if (text.ok() && *text == data) return {};
  }
  unsigned mode = existed ? (st.st_mode & 07777) : new_mode;
  BERTH_RETURN_IF_ERROR(write_file_atomic(path, data, mode));
  // write_file_atomic creates the file as the caller (root); give it back to its old owner
  // (e.g. root:shadow for /etc/shadow). Until then it is root-owned with the old mode, which is
  // never more open than the final state.
  if (existed && (st.st_uid != ::geteuid() || st.st_gid != ::getegid()) &&
      ::lchown(path.c_str(), st.st_uid, st.st_gid) != 0)
    return Error::from_errno(errno, "chown `" + path + "`");
  return {};
}

Result<PasswdLock> PasswdLock::acquire(const std::string& root) {
  std::string path = root + "/etc/.pwd.lock";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  for (int tries = 0;; ++tries) {
    if (::fcntl(fd.get(), F_SETLK, &fl) == 0) break;
    if ((errno != EAGAIN && errno != EACCES) || tries >= 150)
      return Error::from_errno(errno, "lock `" + path + "`");
    ::usleep(100 * 1000);
  }
  return PasswdLock(std::move(fd));
}

long days_since_epoch() { return static_cast<long>(std::time(nullptr) / 86400); }

}  // namespace berth::dist
