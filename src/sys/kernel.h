// The kernel seam (ARCHITECTURE.md section 6): the calls whose ORDER is costly to get wrong go
// through sys::Kernel, so unit tests can run them against tests/fakes/fake_kernel.h and check
// the order without root. That is: the new mount API (open_tree, move_mount, mount_setattr,
// fsopen/fsconfig/fsmount), mount(2), umount and pivot_root; clone3 of the CT's processes and their
// user namespace id maps; killing a child we made. Everything else calls the plain sys/ wrappers
// (pidfd.h, fs.h, ...) directly: the whole OS is not behind this interface, only what the
// start/stop/exec pipelines order.
//
// kernel() is LinuxKernel (real syscalls) unless a test installs another with KernelOverride.
// Also the owner type of a mount, MountGuard (unmounted on destruction unless released).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "sys/process.h"

namespace berth::sys {

// mount_setattr(2)'s struct mount_attr, without the kernel header.
struct MountAttr {
  uint64_t set = 0;          // MOUNT_ATTR_* to set
  uint64_t clear = 0;        // MOUNT_ATTR_* to clear
  int userns_fd = -1;        // with MOUNT_ATTR_IDMAP
  uint64_t propagation = 0;  // MS_PRIVATE, MS_SLAVE, MS_SHARED or 0 (unchanged)
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // New mount API. Paths are absolute or relative to the cwd (AT_FDCWD); fds are owned by the
  // caller. `flags`/`at_flags` as the syscalls take them (OPEN_TREE_CLONE, AT_RECURSIVE, ...).
  virtual Result<UniqueFd> open_tree(const std::string& path, unsigned flags) = 0;
  // Attach the detached mount fd at `to` (MOVE_MOUNT_F_EMPTY_PATH).
  virtual Status move_mount(int from_fd, const std::string& to) = 0;
  // On fd (path empty: AT_EMPTY_PATH) or on path.
  virtual Status mount_setattr(int fd, const std::string& path, unsigned at_flags,
                               const MountAttr& attr) = 0;
  virtual Result<UniqueFd> fsopen(const std::string& fstype) = 0;
  virtual Status fsconfig_set(int fs_fd, const std::string& key, const std::string& value) = 0;
  virtual Status fsconfig_create(int fs_fd) = 0;
  virtual Result<UniqueFd> fsmount(int fs_fd, uint64_t attrs) = 0;
  // mount(2): source, fstype and data may be null (a bind, a propagation change).
  virtual Status mount(const char* source, const std::string& target, const char* fstype,
                       unsigned long flags, const char* data) = 0;
  virtual Status umount(const std::string& path, int flags) = 0;
  // The mount points at or below path, deepest first (the order umount_tree unmounts them in).
  virtual std::vector<std::string> mounts_under(const std::string& path) = 0;
  // pivot_root(new_root, put_old) (the caller has chdir'ed as it needs).
  virtual Status pivot_root(const std::string& new_root, const std::string& put_old) = 0;

  // clone3 (sys::clone_child_owned: the user namespace owned by `owner`).
  virtual Result<ChildProcess> clone_child(NsOwner owner, uint64_t flags, int cgroup_fd,
                                           const std::function<int()>& fn) = 0;
  // uid_map/gid_map of pid: inside 0 -> host base, count ids.
  virtual Status write_id_maps(pid_t pid, uint32_t uid_base, uint32_t gid_base, uint32_t count) = 0;
  // SIGKILL a child we made (through its pidfd when valid) and reap it.
  virtual void kill_and_reap(pid_t pid, int pidfd) = 0;
};

// The real kernel: every method is the syscall itself.
class LinuxKernel : public Kernel {
 public:
  Result<UniqueFd> open_tree(const std::string& path, unsigned flags) override;
  Status move_mount(int from_fd, const std::string& to) override;
  Status mount_setattr(int fd, const std::string& path, unsigned at_flags,
                       const MountAttr& attr) override;
  Result<UniqueFd> fsopen(const std::string& fstype) override;
  Status fsconfig_set(int fs_fd, const std::string& key, const std::string& value) override;
  Status fsconfig_create(int fs_fd) override;
  Result<UniqueFd> fsmount(int fs_fd, uint64_t attrs) override;
  Status mount(const char* source, const std::string& target, const char* fstype,
               unsigned long flags, const char* data) override;
  Status umount(const std::string& path, int flags) override;
  std::vector<std::string> mounts_under(const std::string& path) override;
  Status pivot_root(const std::string& new_root, const std::string& put_old) override;
  Result<ChildProcess> clone_child(NsOwner owner, uint64_t flags, int cgroup_fd,
                                   const std::function<int()>& fn) override;
  Status write_id_maps(pid_t pid, uint32_t uid_base, uint32_t gid_base, uint32_t count) override;
  void kill_and_reap(pid_t pid, int pidfd) override;
};

// The kernel this process talks to.
Kernel& kernel();

// Installs k as kernel() until destroyed (tests). Not thread-safe; nests.
class KernelOverride {
 public:
  explicit KernelOverride(Kernel& k);
  ~KernelOverride();
  KernelOverride(const KernelOverride&) = delete;
  KernelOverride& operator=(const KernelOverride&) = delete;

 private:
  Kernel* previous_;
};

// The errno of a failed kernel call under the caller's own words ("attach the CT's root on ..."):
// a module keeps its messages while the call goes through the seam.
inline Error reworded(const Error& e, std::string what) {
  return Error::from_errno(e.code(), std::move(what));
}

// Clone anchors: detached clones of directories this process clones below often. A
// non-recursive clone (open_tree OPEN_TREE_CLONE) of a path first walks every mount on the mount
// the path is on (the kernel's has_locked_children), and the file system holding BERTH_ROOT
// carries two mounts per running CT: at 1000 CTs a start's clones of the template and of its
// console log took ~1.2 ms. LinuxKernel::open_tree clones a path below an anchor from the anchor
// (a mount with nothing on it) when the result is the same file as the path names (an anchor
// whose directory was removed and made again is bypassed). The watcher anchors the unpacked
// templates and the log directory at its start; its workers keep them (monitor/server.cc).
// The fds are close-on-exec and live as long as the process.
void add_clone_anchor(const std::string& dir);
// The anchors' fds, in the order they were added, and new numbers for them (a worker moves them).
std::vector<int> clone_anchor_fds();
void set_clone_anchor_fds(const std::vector<int>& fds);

// A detached clone of the mount at path (open_tree OPEN_TREE_CLONE), or an invalid fd when the
// kernel refuses (callers for whom the clone is optional).
UniqueFd clone_mount_or_none(const std::string& path);

// Unmount path and every mount below it, deepest first (lazily when busy). Not mounted: no-op.
Status umount_tree(const std::string& path);

// Owner of a mount at a path: umount_tree() on destruction unless released.
class MountGuard {
 public:
  MountGuard() = default;
  explicit MountGuard(std::string path) : path_(std::move(path)) {}
  MountGuard(MountGuard&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  MountGuard& operator=(MountGuard&& o) noexcept;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() { reset(); }

  bool owns() const { return !path_.empty(); }
  void release() { path_.clear(); }
  void reset();

 private:
  std::string path_;
};

}  // namespace berth::sys
