#include "fake_kernel.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

namespace berth::fakes {

int Journal::record(std::string call) {
  bool fail = (fail_at != 0 && calls.size() + 1 == fail_at) ||
              (!fail_on.empty() && call.rfind(fail_on, 0) == 0);
  if (fail) {
    fail_on.clear();
    fail_at = 0;
    calls.push_back(call + " -> failed");
    return fail_errno;
  }
  calls.push_back(std::move(call));
  return 0;
}

std::vector<std::string> Journal::from(const std::string& prefix) const {
  for (size_t i = 0; i < calls.size(); ++i)
    if (calls[i].rfind(prefix, 0) == 0)
      return {calls.begin() + static_cast<std::ptrdiff_t>(i), calls.end()};
  return {};
}

Status FakeKernel::call(std::string what) {
  std::string name = what;
  if (int err = j_.record(std::move(what))) return Error::from_errno(err, name);
  return {};
}

// A real fd (of /dev/null) so that UniqueFd owners behave as with the kernel's.
Result<UniqueFd> FakeKernel::fd_call(std::string what) {
  BERTH_RETURN_IF_ERROR(call(std::move(what)));
  return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

Result<UniqueFd> FakeKernel::open_tree(const std::string& path, unsigned) {
  return fd_call("open_tree " + path);
}
Status FakeKernel::move_mount(int, const std::string& to) { return call("move_mount " + to); }
Status FakeKernel::mount_setattr(int, const std::string& path, unsigned, const sys::MountAttr&) {
  return call("mount_setattr " + path);
}
Result<UniqueFd> FakeKernel::fsopen(const std::string& fstype) {
  return fd_call("fsopen " + fstype);
}
Status FakeKernel::fsconfig_set(int, const std::string& key, const std::string& value) {
  return call("fsconfig " + key + "=" + value);
}
Status FakeKernel::fsconfig_create(int) { return call("fsconfig create"); }
Result<UniqueFd> FakeKernel::fsmount(int, uint64_t) { return fd_call("fsmount"); }
Status FakeKernel::mount(const char* source, const std::string& target, const char* fstype,
                         unsigned long flags, const char*) {
  std::string r = "mount " + std::string(fstype ? fstype : source ? source : "-") + " on " + target;
  if (flags & MS_BIND) r += " bind";
  if (flags & MS_SLAVE) r += " slave";
  if (flags & MS_REC) r += " rec";
  if (flags & MS_RDONLY) r += " ro";
  return call(std::move(r));
}

Status FakeKernel::umount(const std::string& path, int) { return call("umount " + path); }
std::vector<std::string> FakeKernel::mounts_under(const std::string& path) {
  return submounts.empty() ? std::vector<std::string>{path} : submounts;
}
Status FakeKernel::pivot_root(const std::string& new_root, const std::string&) {
  return call("pivot_root " + new_root);
}

Result<sys::ChildProcess> FakeKernel::clone_child(sys::NsOwner, uint64_t, int,
                                                  const std::function<int()>&) {
  BERTH_RETURN_IF_ERROR(call("clone_child"));
  return sys::ChildProcess(next_pid_++, UniqueFd());
}

Status FakeKernel::write_id_maps(pid_t pid, uint32_t uid_base, uint32_t, uint32_t count) {
  return call("write_id_maps " + std::to_string(pid) + " 0 " + std::to_string(uid_base) + " " +
              std::to_string(count));
}

void FakeKernel::kill_and_reap(pid_t pid, int) {
  (void)j_.record("kill_and_reap " + std::to_string(pid));
}

Status FakeCgroups::call(std::string what) {
  std::string name = what;
  if (int err = j_.record(std::move(what))) return Error::from_errno(err, name);
  return {};
}

Status FakeCgroups::create(const std::string& rel) { return call("cgroup create " + rel); }
Result<UniqueFd> FakeCgroups::open_for_clone(const std::string&) { return UniqueFd(); }
Status FakeCgroups::attach(const std::string& rel, pid_t pid) {
  return call("cgroup attach " + rel + " " + std::to_string(pid));
}
Status FakeCgroups::kill_all(const std::string& rel) { return call("cgroup kill_all " + rel); }
Status FakeCgroups::remove(const std::string& rel) { return call("cgroup remove " + rel); }
Status FakeCgroups::delegate(const std::string& rel, uid_t uid, gid_t) {
  return call("cgroup delegate " + rel + " " + std::to_string(uid));
}
Status FakeCgroups::limit_nesting(const std::string& rel, int64_t, int64_t) {
  return call("cgroup limit_nesting " + rel);
}
Status FakeCgroups::set_devices(const std::string& rel, const std::vector<std::string>&) {
  return call("cgroup set_devices " + rel);
}
Status FakeCgroups::apply(const std::string& rel, const cgroups::Resources&) {
  return call("cgroup apply " + rel);
}

}  // namespace berth::fakes
