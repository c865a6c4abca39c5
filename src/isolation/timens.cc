// The CT's own time namespace (see timens.h).
#include "isolation/timens.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/unique_fd.h"
#include "sys/fs.h"

namespace berth::isolation {

Status enter_own_time_namespace() {
  if (::unshare(CLONE_NEWTIME) != 0) {
    if (errno == EINVAL) return {};  // no time namespaces in this kernel
    return Error::from_errno(errno, "unshare time namespace");
  }
  // Offsets can only be set before a process enters the namespace: now. After the change to the
  // CT's root ids the process is not dumpable, which makes its /proc files the host root's: for
  // this write it is dumpable again (nothing of the CT runs yet; exec of init sets it anyway).
  int dumpable = ::prctl(PR_GET_DUMPABLE);
  ::prctl(PR_SET_DUMPABLE, 1);
  struct RestoreDumpable {
    int v;
    ~RestoreDumpable() { ::prctl(PR_SET_DUMPABLE, v); }
  } restore{dumpable < 0 ? 0 : dumpable};
  // Whole seconds of this process's start (it becomes init): init's start time, as the CT sees
  // it, is then the fraction of a second left over, never negative.
  auto start = sys::proc_start_time(::getpid());
  if (!start) return Error::from_errno(ESRCH, "read the start time of the CT's init");
  long long secs = static_cast<long long>(*start / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
  std::string offsets = "boottime " + std::to_string(-secs) + " 0\n";
  {
    UniqueFd fd(::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "open /proc/self/timens_offsets");
    if (::write(fd.get(), offsets.data(), offsets.size()) != static_cast<ssize_t>(offsets.size()))
      return Error::from_errno(errno, "set the CT's boot time");
  }
  UniqueFd ns(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::from_errno(errno, "open /proc/self/ns/time_for_children");
  if (::setns(ns.get(), CLONE_NEWTIME) != 0)
    return Error::from_errno(errno, "enter the CT's time namespace");
  return {};
}

bool other_time_namespace(pid_t pid) {
  struct stat mine, theirs;
  std::string p = "/proc/" + std::to_string(pid) + "/ns/time";
  if (::stat("/proc/self/ns/time", &mine) != 0 || ::stat(p.c_str(), &theirs) != 0) return false;
  return mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev;
}

}  // namespace berth::isolation
