#include "sys/pidfd.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace berth::sys {

Result<UniqueFd> pidfd_open(pid_t pid) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) return Error::from_errno(errno, "pidfd_open " + std::to_string(pid));
  return fd;
}

Status pidfd_send_signal(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0)
    return Error::from_errno(errno, "pidfd_send_signal");
  return {};
}

Status close_range(unsigned first, unsigned last, unsigned flags) {
  if (::syscall(SYS_close_range, first, last, flags) != 0)
    return Error::from_errno(errno, "close_range");
  return {};
}

}  // namespace berth::sys
