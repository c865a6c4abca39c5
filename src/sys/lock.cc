#include "sys/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "core/exit_codes.h"
#include "core/host_config.h"
#include "sys/fs.h"

namespace berth::sys {

std::optional<pid_t> flock_owner(std::string_view proc_locks, unsigned dev_major,
                                 unsigned dev_minor, unsigned long ino) {
  char want[64];
  std::snprintf(want, sizeof want, "%02x:%02x:%lu", dev_major, dev_minor, ino);
  std::istringstream in{std::string(proc_locks)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, kind, mode, access, pid, file;
    if (!(f >> id >> kind) || kind != "FLOCK") continue;  // a waiter's line: "->" then FLOCK
    if (!(f >> mode >> access >> pid >> file) || file != want) continue;
    pid_t v = -1;
    auto [end, ec] = std::from_chars(pid.data(), pid.data() + pid.size(), v);
    if (ec != std::errc() || end != pid.data() + pid.size() || v < 0) continue;
    return v;
  }
  return std::nullopt;
}

namespace {

// The process that took the lock on fd is gone (or a zombie, its files closed): what holds the
// lock now is a copy of its file table that is going away.
bool owner_gone(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  auto locks = read_file("/proc/locks");
  if (!locks.ok()) return false;
  auto owner = flock_owner(*locks, major(st.st_dev), minor(st.st_dev), st.st_ino);
  if (!owner) return false;
  if (*owner == 0) return true;
  auto stat = read_file("/proc/" + std::to_string(*owner) + "/stat");
  if (!stat.ok()) return true;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
}

}  // namespace

Result<FileLock> FileLock::acquire(const std::string& path, bool wait, const std::string& what) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) BERTH_RETURN_IF_ERROR(make_dirs(path.substr(0, slash), 0700));
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno(errno, "open lock file `" + path + "`");
  std::optional<std::chrono::steady_clock::time_point> gone_until;
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return Error::from_errno(errno, "lock `" + path + "`");
    // Held by a live command: locked. Held on by the copies of a gone command's file table:
    // waited for, as long as that is what holds it, and for kGoneOwnerWaitMs at most.
    auto now = std::chrono::steady_clock::now();
    if (!gone_until) gone_until = now + std::chrono::milliseconds(kGoneOwnerWaitMs);
    if (now >= *gone_until || !owner_gone(fd.get()))
      return Error::with_status(exitcode::kLocked, what + " is locked by another command");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return FileLock(std::move(fd));
}

}  // namespace berth::sys
