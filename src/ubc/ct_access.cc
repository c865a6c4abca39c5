// Reaching into a running CT without following its paths (see ct_access.h).
#include "ubc/ct_access.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <cstring>
#include <memory>
#include <string>

#include "core/exit_codes.h"
#include "sys/fd_passing.h"
#include "sys/raw_calls.h"

namespace berth::ubc {
namespace {

// Sends fd over sock (one byte of data with it). Async-signal-safe: used in a forked child.
bool send_fd(int sock, int fd) {
  const char byte = 'p';
  return sys::send_with_fd(sock, &byte, 1, fd) == 1;
}

int recv_fd(int sock) {
  char byte = 0;
  struct iovec iov {
    &byte, 1
  };
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

// The statuses of the two helper children below: the step that failed (the parent names it).
enum ProcfsStep : int {
  kMountFailed = 10,  // fsopen, fsconfig or fsmount
  kSendFailed = 13,
  kSetnsFailed = 20,
  kForkFailed = 21,
};

// In a process of the target pid namespace: a new procfs instance, detached, sent over sock.
// Plain system calls only (this runs in a child forked from a multi-threaded server).
[[noreturn]] void make_procfs_child(int sock) {
  int mnt = sys::raw::new_detached_mount(
      "proc", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (mnt < 0) ::_exit(kMountFailed);
  ::_exit(send_fd(sock, mnt) ? exitcode::kOk : kSendFailed);
}

int wait_exit(pid_t pid) {
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
}

}  // namespace

Result<UniqueFd> open_pidns_procfs(int pidfd) {
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
    return Error::from_errno(errno, "socketpair for the CT's procfs");
  UniqueFd mine(sp[0]), theirs(sp[1]);
  // procfs takes the pid namespace of the process that makes it (its active one, not the one for
  // its children): join it in a child, make the instance in a grandchild.
  pid_t child = sys::raw::fork();
  if (child < 0) return Error::from_errno(errno, "fork for the CT's procfs");
  if (child == 0) {
    if (::setns(pidfd, CLONE_NEWPID) != 0) ::_exit(kSetnsFailed);
    pid_t inner = sys::raw::fork();
    if (inner < 0) ::_exit(kForkFailed);
    if (inner == 0) make_procfs_child(theirs.get());
    ::_exit(wait_exit(inner));
  }
  theirs.reset();
  int rc = wait_exit(child);
  if (rc != 0)
    return Error::from_errno(
        EIO, "make a procfs of the CT's pid namespace (step " + std::to_string(rc) + ")");
  UniqueFd mnt(recv_fd(mine.get()));
  if (!mnt) return Error::from_errno(EIO, "receive the CT's procfs");
  struct statfs sf;
  if (::fstatfs(mnt.get(), &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC)
    return Error::from_errno(EIO, "the CT's procfs is not a procfs");
  UniqueFd dir(::openat(mnt.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open the CT's procfs");
  return dir;
}

FsIdsAs::FsIdsAs(uid_t uid, gid_t gid) {
  // setfsgid first: once the fsuid is not 0, changing the fsgid needs CAP_SETGID still (kept).
  // glibc's setfsuid/setfsgid are the bare system calls: per thread, not broadcast like setuid.
  old_gid_ = static_cast<gid_t>(::setfsgid(gid));
  old_uid_ = static_cast<uid_t>(::setfsuid(uid));
  // An invalid id changes nothing and returns the current one.
  ok_ = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == uid &&
        static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == gid;
}

FsIdsAs::~FsIdsAs() {
  ::setfsuid(old_uid_);
  ::setfsgid(old_gid_);
}

std::optional<uint64_t> count_ct_ptys(pid_t init, uid_t uid, gid_t gid) {
  // The CT's root through its init (a magic link of the host's procfs, not a CT path).
  std::string root_path = "/proc/" + std::to_string(init) + "/root";
  UniqueFd root(::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return std::nullopt;
  FsIdsAs as(uid, gid);
  if (!as.ok()) return std::nullopt;
  UniqueFd pts(sys::raw::openat2(root.get(), "dev/pts",
                                 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
  if (!pts) return std::nullopt;
  struct statfs sf;
  if (::fstatfs(pts.get(), &sf) != 0 || sf.f_type != DEVPTS_SUPER_MAGIC) return std::nullopt;
  DIR* d = ::fdopendir(pts.get());
  if (!d) return std::nullopt;
  static_cast<void>(pts.release());
  uint64_t n = 0;
  while (struct dirent* e = ::readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') ++n;
  ::closedir(d);
  return n;
}

Status drop_server_capabilities() {
  const cap_value_t keep[] = {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SETUID,
                              CAP_SETGID};
  int last = static_cast<int>(cap_max_bits()) - 1;
  for (int c = 0; c <= last; ++c) {
    if (std::find(std::begin(keep), std::end(keep), c) != std::end(keep)) continue;
    if (cap_get_bound(static_cast<cap_value_t>(c)) == 1 &&
        cap_drop_bound(static_cast<cap_value_t>(c)) != 0)
      return Error::from_errno(errno, "drop a capability from the bounding set");
  }
  std::unique_ptr<_cap_struct, int (*)(void*)> caps(cap_init(), cap_free);
  if (!caps) return Error::from_errno(errno, "cap_init");
  for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE})
    if (cap_set_flag(caps.get(), flag, static_cast<int>(std::size(keep)), keep, CAP_SET) != 0)
      return Error::from_errno(errno, "cap_set_flag");
  if (cap_set_proc(caps.get()) != 0)
    return Error::from_errno(errno, "set the server's capabilities");
  return {};
}

}  // namespace berth::ubc
