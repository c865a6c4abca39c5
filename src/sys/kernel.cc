#include "sys/kernel.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sys/fs.h"

namespace berth::sys {
namespace {

LinuxKernel g_linux;
Kernel* g_kernel = &g_linux;

struct Anchor {
  std::string dir;
  int fd;
};
std::vector<Anchor>& anchors() {
  static std::vector<Anchor> a;
  return a;
}

bool same_file(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

// The clone of path from an anchor it is below, or an invalid fd.
UniqueFd clone_via_anchor(const std::string& path, unsigned flags) {
  if (!(flags & OPEN_TREE_CLONE) || (flags & AT_RECURSIVE)) return UniqueFd();
  for (const auto& a : anchors()) {
    if (path.size() <= a.dir.size() + 1 || path.compare(0, a.dir.size(), a.dir) != 0 ||
        path[a.dir.size()] != '/')
      continue;
    std::string rel = path.substr(a.dir.size() + 1);
    UniqueFd fd(static_cast<int>(::syscall(SYS_open_tree, a.fd, rel.c_str(), flags)));
    if (fd && same_file(fd.get(), path)) return fd;
  }
  return UniqueFd();
}

}  // namespace

void add_clone_anchor(const std::string& dir) {
  UniqueFd fd(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (fd) anchors().push_back({dir, fd.release()});
}

std::vector<int> clone_anchor_fds() {
  std::vector<int> fds;
  for (const auto& a : anchors()) fds.push_back(a.fd);
  return fds;
}

void set_clone_anchor_fds(const std::vector<int>& fds) {
  for (size_t i = 0; i < fds.size() && i < anchors().size(); ++i) anchors()[i].fd = fds[i];
}

Kernel& kernel() { return *g_kernel; }

KernelOverride::KernelOverride(Kernel& k) : previous_(std::exchange(g_kernel, &k)) {}
KernelOverride::~KernelOverride() { g_kernel = previous_; }

Result<UniqueFd> LinuxKernel::open_tree(const std::string& path, unsigned flags) {
  if (UniqueFd via = clone_via_anchor(path, flags)) return via;
  UniqueFd fd(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, path.c_str(), flags)));
  if (!fd) return Error::from_errno(errno, "open_tree `" + path + "`");
  return fd;
}

Status LinuxKernel::move_mount(int from_fd, const std::string& to) {
  if (::syscall(SYS_move_mount, from_fd, "", AT_FDCWD, to.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return Error::from_errno(errno, "move_mount to `" + to + "`");
  return {};
}

Status LinuxKernel::mount_setattr(int fd, const std::string& path, unsigned at_flags,
                                  const MountAttr& attr) {
  struct mount_attr a {};
  a.attr_set = attr.set;
  a.attr_clr = attr.clear;
  if (attr.userns_fd >= 0) a.userns_fd = static_cast<uint64_t>(attr.userns_fd);
  a.propagation = attr.propagation;
  int dirfd = fd >= 0 ? fd : AT_FDCWD;
  if (path.empty()) at_flags |= AT_EMPTY_PATH;
  if (::syscall(SYS_mount_setattr, dirfd, path.c_str(), at_flags, &a, sizeof a) != 0)
    return Error::from_errno(errno, "mount_setattr `" + path + "`");
  return {};
}

Result<UniqueFd> LinuxKernel::fsopen(const std::string& fstype) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_fsopen, fstype.c_str(), FSOPEN_CLOEXEC)));
  if (!fd) return Error::from_errno(errno, "fsopen " + fstype);
  return fd;
}

Status LinuxKernel::fsconfig_set(int fs_fd, const std::string& key, const std::string& value) {
  if (::syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
    return Error::from_errno(errno, "fsconfig " + key + "=`" + value + "`");
  return {};
}

Status LinuxKernel::fsconfig_create(int fs_fd) {
  if (::syscall(SYS_fsconfig, fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return Error::from_errno(errno, "fsconfig create");
  return {};
}

Result<UniqueFd> LinuxKernel::fsmount(int fs_fd, uint64_t attrs) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_fsmount, fs_fd, FSMOUNT_CLOEXEC, attrs)));
  if (!fd) return Error::from_errno(errno, "fsmount");
  return fd;
}

Status LinuxKernel::mount(const char* source, const std::string& target, const char* fstype,
                          unsigned long flags, const char* data) {
  if (::mount(source, target.c_str(), fstype, flags, data) != 0)
    return Error::from_errno(errno, std::string("mount `") +
                                        (fstype   ? fstype
                                         : source ? source
                                                  : "") +
                                        "` on `" + target + "`");
  return {};
}

Status LinuxKernel::umount(const std::string& path, int flags) {
  if (::umount2(path.c_str(), flags) != 0) return Error::from_errno(errno, "umount `" + path + "`");
  return {};
}

std::vector<std::string> LinuxKernel::mounts_under(const std::string& path) {
  return sys::mounts_under(path);
}

Status LinuxKernel::pivot_root(const std::string& new_root, const std::string& put_old) {
  if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) != 0)
    return Error::from_errno(errno, "pivot_root `" + new_root + "`");
  return {};
}

Result<ChildProcess> LinuxKernel::clone_child(NsOwner owner, uint64_t flags, int cgroup_fd,
                                              const std::function<int()>& fn) {
  return clone_child_owned(owner, flags, cgroup_fd, fn);
}

Status LinuxKernel::write_id_maps(pid_t pid, uint32_t uid_base, uint32_t gid_base, uint32_t count) {
  return sys::write_id_maps(pid, uid_base, gid_base, count);
}

void LinuxKernel::kill_and_reap(pid_t pid, int pidfd) {
  if (pidfd >= 0)
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  else
    ::kill(pid, SIGKILL);
  int status;
  while (::waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
}

UniqueFd clone_mount_or_none(const std::string& path) {
  auto fd = kernel().open_tree(path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  return fd.ok() ? std::move(fd).value() : UniqueFd();
}

Status umount_tree(const std::string& path) {
  for (const auto& m : kernel().mounts_under(path)) {
    auto st = kernel().umount(m, 0);
    if (st.ok() || st.error().code() == EINVAL || st.error().code() == ENOENT) continue;
    st = kernel().umount(m, MNT_DETACH);
    if (!st.ok() && st.error().code() != EINVAL) return st;
  }
  return {};
}

MountGuard& MountGuard::operator=(MountGuard&& o) noexcept {
  if (this != &o) {
    reset();
    path_ = std::exchange(o.path_, {});
  }
  return *this;
}

void MountGuard::reset() {
  if (path_.empty()) return;
  (void)umount_tree(path_);
  path_.clear();
}

}  // namespace berth::sys
