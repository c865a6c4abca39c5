// Test doubles for the kernel seam (sys/kernel.h) and the cgroup backend (cgroups/backend.h):
// they do nothing to the machine, record every call in one shared journal, in order, and can be
// told to fail a call with an errno. Unit tests install FakeKernel with sys::KernelOverride and
// put FakeCgroups into a context, run steps, and compare the journal (ARCHITECTURE.md section 6).
#pragma once

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/backend.h"
#include "sys/kernel.h"

namespace berth::fakes {

// One ordered record of what the fakes were asked to do, e.g. "umount /ve/root",
// "cgroup create inst/101", "clone_child".
struct Journal {
  std::vector<std::string> calls;
  // Calls to fail: by 1-based position in `calls` (fail_at) or by the first call whose record
  // starts with a prefix (fail_on). The failed call is recorded too, with " -> failed".
  size_t fail_at = 0;
  std::string fail_on;
  int fail_errno = EIO;

  // Record `call`; returns the errno it must fail with, or 0.
  int record(std::string call);
  // The records from the first one starting with `prefix` on (empty if none).
  std::vector<std::string> from(const std::string& prefix) const;
};

class FakeKernel : public sys::Kernel {
 public:
  explicit FakeKernel(Journal& j) : j_(j) {}

  // The mounts mounts_under() reports below a path (default: just the path itself).
  std::vector<std::string> submounts;

  Result<UniqueFd> open_tree(const std::string& path, unsigned flags) override;
  Status move_mount(int from_fd, const std::string& to) override;
  Status mount_setattr(int fd, const std::string& path, unsigned at_flags,
                       const sys::MountAttr& attr) override;
  Result<UniqueFd> fsopen(const std::string& fstype) override;
  Status fsconfig_set(int fs_fd, const std::string& key, const std::string& value) override;
  Status fsconfig_create(int fs_fd) override;
  Result<UniqueFd> fsmount(int fs_fd, uint64_t attrs) override;
  // Recorded as "mount <fstype, else source, else -> on <target>[ bind][ slave][ rec][ ro]".
  Status mount(const char* source, const std::string& target, const char* fstype,
               unsigned long flags, const char* data) override;
  Status umount(const std::string& path, int flags) override;
  std::vector<std::string> mounts_under(const std::string& path) override;
  Status pivot_root(const std::string& new_root, const std::string& put_old) override;
  // Runs nothing: returns a child with a pid no real process can have (above PID_MAX_LIMIT), so
  // that its kill_and_reap comes back here.
  Result<sys::ChildProcess> clone_child(sys::NsOwner owner, uint64_t flags, int cgroup_fd,
                                        const std::function<int()>& fn) override;
  Status write_id_maps(pid_t pid, uint32_t uid_base, uint32_t gid_base, uint32_t count) override;
  void kill_and_reap(pid_t pid, int pidfd) override;

  static constexpr pid_t kFirstPid = 1 << 30;

 private:
  Status call(std::string what);
  Result<UniqueFd> fd_call(std::string what);
  Journal& j_;
  pid_t next_pid_ = kFirstPid;
};

// A cgroup backend with no hierarchy: "v1" (no clone into a cgroup), every call journaled.
class FakeCgroups : public cgroups::Backend {
 public:
  explicit FakeCgroups(Journal& j) : j_(j) {}
  const char* name() const override { return "v1"; }
  Status create(const std::string& rel) override;
  Result<UniqueFd> open_for_clone(const std::string& rel) override;
  Status attach(const std::string& rel, pid_t pid) override;
  std::vector<pid_t> pids(const std::string&) const override { return {}; }
  Status kill_all(const std::string& rel) override;
  Status remove(const std::string& rel) override;
  bool exists(const std::string&) const override { return false; }
  Status delegate(const std::string& rel, uid_t uid, gid_t gid) override;
  Status limit_nesting(const std::string& rel, int64_t descendants, int64_t depth) override;
  Status set_devices(const std::string& rel, const std::vector<std::string>& allow) override;
  Status apply(const std::string& rel, const cgroups::Resources& r) override;
  cgroups::Stats stats(const std::string&) const override { return {}; }
  std::vector<Hierarchy> hierarchies() const override { return {}; }
  bool delegates(const Hierarchy&) const override { return false; }

 private:
  Status call(std::string what);
  Journal& j_;
};

}  // namespace berth::fakes
