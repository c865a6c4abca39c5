#include "isolation/staging.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "core/exit_codes.h"
#include "sys/kernel.h"
#include "sys/process.h"

namespace berth::isolation {
namespace {

int g_staging = -1;

constexpr unsigned long kNoExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// The helper's side: its own namespace, the tmpfs over dir with what a CT's child needs, then
// that tmpfs as its root (the host's mounts of the copy detached). Runs in the helper clone.
bool build_staging(const std::string& dir) {
  sys::Kernel& k = sys::kernel();
  if (::unshare(CLONE_NEWNS) != 0) return false;
  // Nothing done here may reach the host's namespace, nor anything of the host's come in later.
  if (!k.mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr).ok()) return false;
  if (!k.mount("berth-staging", dir, "tmpfs", kNoExec, "mode=755,size=16k,nr_inodes=16").ok())
    return false;
  for (const char* d : {"/proc", "/sys", "/dev", kStagingAttachDir})
    if (::mkdir((dir + d).c_str(), 0755) != 0) return false;
  if (!k.mount("proc", dir + "/proc", "proc", kNoExec, nullptr).ok()) return false;
  if (!k.mount("sysfs", dir + "/sys", "sysfs", kNoExec | MS_RDONLY, nullptr).ok()) return false;
  // Not recursive: the host's /dev/pts, /dev/shm and the like stay out.
  if (!k.mount("/dev", dir + "/dev", nullptr, MS_BIND, nullptr).ok()) return false;
  if (!k.mount(nullptr, dir, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | kNoExec, nullptr).ok())
    return false;
  if (::chdir(dir.c_str()) != 0) return false;
  if (!k.pivot_root(".", ".").ok()) return false;
  if (!k.umount(".", MNT_DETACH).ok()) return false;
  return ::chdir("/") == 0;
}

struct StagingJob {
  const std::string* dir;
  int ns = -1;  // the helper's namespace, opened into the file table it shares with its maker
};

int staging_helper(void* arg) {
  auto* job = static_cast<StagingJob*>(arg);
  if (!build_staging(*job->dir)) return exitcode::kSystem;
  job->ns = ::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  return job->ns >= 0 ? exitcode::kOk : exitcode::kSystem;
}

}  // namespace

Result<UniqueFd> make_staging_namespace(const std::string& scratch_dir) {
  // The helper shares this process's memory and file table and this process waits meanwhile
  // (sys::clone_vfork_files): no page tables copied, no address space torn down at its end, and
  // the namespace it opens is ours when it has ended. (A watcher at its start has one thread.)
  StagingJob job{&scratch_dir};
  pid_t pid = sys::clone_vfork_files(staging_helper, &job);
  if (pid < 0) return Error::from_errno(errno, "make the staging mount namespace");
  UniqueFd ns(job.ns);
  int st = 0;
  while (::waitpid(pid, &st, __WALL) < 0 && errno == EINTR) {}
  if (!ns || !WIFEXITED(st) || WEXITSTATUS(st) != exitcode::kOk)
    return Error::from_errno(EPROTO, "make the staging mount namespace");
  return ns;
}

int staging_namespace() { return g_staging; }
void set_staging_namespace(int fd) { g_staging = fd; }

Result<InStaging> InStaging::enter(int staging_fd) {
  UniqueFd home(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!home) return Error::from_errno(errno, "open `/proc/self/ns/mnt`");
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cwd) return Error::from_errno(errno, "open the working directory");
  // A process with another thread cannot change its mount namespace (EINVAL): a thread just
  // joined (start's begin_cgroup) may not have ended in the kernel yet (a join returns before
  // the thread lets go of the process's file system context). Bounded: ~20 ms.
  for (int tries = 0;; ++tries) {
    if (::setns(staging_fd, CLONE_NEWNS) == 0) break;
    if (errno != EINVAL || tries >= 200)
      return Error::from_errno(errno, "enter the staging mount namespace");
    ::usleep(100);
  }
  return InStaging(std::move(home), std::move(cwd));
}

void InStaging::leave() {
  if (!home_) return;
  // setns makes the namespace's root our root and cwd: the old cwd comes back from its fd.
  if (::setns(home_.get(), CLONE_NEWNS) != 0 || ::fchdir(cwd_.get()) != 0)
    ::_exit(exitcode::kSystem);
  home_.reset();
  cwd_.reset();
}

}  // namespace berth::isolation
