// The cgroup file system inside a CT: /sys/fs/cgroup shows the CT's own group as the root (the
// CT's cgroup namespace), so an init inside (systemd) finds its cgroups where it expects them and
// can manage the subtree Berth delegated to the CT's root.
//
// The plan is pure (built in the parent from the host's hierarchies, unit-tested); the mounts are
// made in the child after its cgroup namespace exists and after pivot_root.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::isolation {

struct CgroupFsEntry {
  enum Kind { kMount, kSymlink } kind = kMount;
  std::string name;    // below /sys/fs/cgroup ("" = /sys/fs/cgroup itself)
  std::string fstype;  // "cgroup" or "cgroup2" (kMount)
  std::string
      options;  // v1 mount data: "memory", "cpu,cpuacct", "none,name=systemd"; symlink target
  bool read_only = false;  // a hierarchy the CT's root does not own (not delegated)
  std::string host_mount;  // v1 (kMount): the host's mount of the hierarchy
  // v1: the CT's group of this hierarchy as a detached bind (bind_ct_groups), attached instead of
  // a new mount; -1: mounted in the child.
  int bind_fd = -1;
  bool operator==(const CgroupFsEntry&) const = default;
};

struct CgroupFsPlan {
  bool tmpfs_root =
      false;  // v1: a tmpfs on /sys/fs/cgroup holds one dir per hierarchy (read-only after)
  std::vector<CgroupFsEntry> entries;
};

// One host hierarchy: its mount point and its v1 options ("" for cgroup2).
struct HostHierarchy {
  std::string mount;
  std::string options;
  bool read_only = false;  // not delegated to the CT: mounted read-only inside
};

// v2 ("cgroup2" backend): cgroup2 straight on /sys/fs/cgroup. v1: a dir per hierarchy named as on
// the host (basename of its mount point), plus a symlink per controller of a co-mounted one
// (cpu -> cpu,cpuacct) when the host mount's name is the joined list. A hybrid host's unified
// hierarchy is not mounted: the CT has no group of its own there.
CgroupFsPlan plan_cgroup_fs(bool v2, const std::vector<HostHierarchy>& hierarchies);

// v1, parent side: each hierarchy's entry gets a detached bind of the CT's group `group` from the
// host's mount (private, nosuid, nodev, noexec, read-only where the entry is), whose fd is kept in
// `keep`. Inside the CT it is the same file system, rooted at the same group, as a mount made in
// the CT's cgroup namespace, and mountinfo shows it the same way (the kernel gives a cgroup mount's
// root relative to the reader's cgroup namespace); but a v1 mount walks every group of the host's
// unified hierarchy first (cgroup1_get_tree drains the offline ones), one group per CT on a
// hybrid host. An entry whose bind cannot be made is mounted in the child as before.
void bind_ct_groups(CgroupFsPlan& plan, const std::string& group, std::vector<UniqueFd>& keep);

// Child side, after pivot_root and with the CT's cgroup namespace in place.
Status mount_cgroup_fs_from_child(const CgroupFsPlan& plan);

}  // namespace berth::isolation
