// A CT's cgroup subtree, walked with directory fds. The CT's root may make sub-groups of its own
// (delegation): any number, any depth, names of up to 255 characters, so their paths can be far
// longer than PATH_MAX and no path-based call (open, rmdir, opendir) reaches them. The walk
// descends with openat(name) and climbs back with openat(".."), so it holds a constant number of
// fds whatever the depth, and never follows a name out of the subtree it started in (cgroupfs
// has no symlinks, and a rename inside cgroupfs keeps the parent).
//
// Host side, as the host's root. Nothing is left open after a call.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace berth::cgroups {

// Calls visit(dirfd) for dir and then each group below it (pre-order). With remove, each
// sub-group is rmdir'ed after its own sub-groups (post-order); dir itself is kept. Returns 0,
// or the errno of opening dir (ENOENT: no such group) or of the first rmdir that failed.
int walk_tree(const std::string& dir, const std::function<void(int dirfd)>& visit, bool remove);

// Thread-group leaders in dir and every group below it.
std::vector<pid_t> tree_procs(const std::string& dir);

// rmdir dir and every group below it, deepest first. 0 or an errno (ENOENT is success).
int remove_tree(const std::string& dir);

// Processes (cgroup.procs) of the group that dirfd names.
std::vector<pid_t> procs_at(int dirfd);

// Write value to file in the group dirfd names; false when it cannot be opened or written.
bool write_at(int dirfd, const char* file, const std::string& value);

}  // namespace berth::cgroups
