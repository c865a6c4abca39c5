// The staging mount namespace a CT's first process is cloned from.
//
// clone(CLONE_NEWNS) copies every mount of the caller's namespace. Cloned from the host's, a CT's
// child copies two mounts per running CT (its disk and its root), only to detach them all again
// after pivot_root: the copy and the detach grow with the number of running CTs (clone_child
// 1.7 -> 5.1 ms, set_up_mounts 2.5 -> 7.4 ms from the first to the thousandth), and until the
// detach the copy holds the other CTs' disks (a stop waiting to unmount one waits for it).
//
// The staging namespace holds four mounts whatever runs on the host: a read-only tmpfs as its
// root, with /proc and /sys (read-only) of the host (so a CT's user namespace may mount its own:
// the kernel wants a fully visible one in the namespace), the host's /dev bound without its
// submounts (the device nodes a CT in a user namespace gets bound), and an empty kStagingAttachDir
// where the child attaches its CT's root. Nothing in it belongs to a CT, so no CT can pin
// another's.
//
// The watcher makes it once (monitor/server.cc) and hands its fd to the workers it forks; a
// process without one clones from its own namespace as before.
#pragma once

#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::isolation {

// Where a child cloned from the staging namespace attaches the CT's root.
inline constexpr const char* kStagingAttachDir = "/ct";

// A new staging namespace, made by a short-lived helper process that mounts its tmpfs over
// `scratch_dir` (an existing directory; the host's own mount there is not touched, the helper
// works on a private copy) and pivots into it. The fd is close-on-exec.
Result<UniqueFd> make_staging_namespace(const std::string& scratch_dir);

// The staging namespace this process clones CTs from (-1: none). Not owned.
int staging_namespace();
void set_staging_namespace(int fd);

// The calling (single-threaded) process in the staging namespace until leave() or destruction,
// then back in the namespace and working directory it had. While inside, no host path means
// anything: only clone the child, then leave. A process that cannot go back ends at once (it
// must not go on with the host's paths resolving elsewhere).
class InStaging {
 public:
  static Result<InStaging> enter(int staging_fd);
  InStaging(InStaging&&) noexcept = default;
  InStaging& operator=(InStaging&&) = delete;
  InStaging(const InStaging&) = delete;
  InStaging& operator=(const InStaging&) = delete;
  ~InStaging() { leave(); }
  void leave();

 private:
  InStaging(UniqueFd home, UniqueFd cwd) : home_(std::move(home)), cwd_(std::move(cwd)) {}
  UniqueFd home_, cwd_;
};

}  // namespace berth::isolation
