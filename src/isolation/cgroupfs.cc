#include "isolation/cgroupfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "sys/kernel.h"

namespace berth::isolation {
namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

std::string basename_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(part);
  return out;
}

Status mount_one(const char* src, const std::string& target, const char* type, unsigned long flags,
                 const std::string& data) {
  if (auto st =
          sys::kernel().mount(src, target, type, flags, data.empty() ? nullptr : data.c_str());
      !st.ok())
    return sys::reworded(st.error(), std::string("mount `") + type + "` on `" + target + "`");
  return {};
}

}  // namespace

CgroupFsPlan plan_cgroup_fs(bool v2, const std::vector<HostHierarchy>& hierarchies) {
  CgroupFsPlan plan;
  if (v2) {
    plan.entries.push_back({CgroupFsEntry::kMount, "", "cgroup2", ""});
    return plan;
  }
  plan.tmpfs_root = true;
  for (const auto& h : hierarchies) {
    if (h.options.empty()) continue;  // the unified hierarchy of a hybrid host
    std::string name = basename_of(h.mount);
    std::vector<std::string> opts = split_commas(h.options);
    bool named = h.options.rfind("name=", 0) == 0;
    plan.entries.push_back({CgroupFsEntry::kMount, name, "cgroup",
                            named ? "none," + h.options : h.options, h.read_only, h.mount});
    if (opts.size() > 1 && !named)
      for (const auto& c : opts)
        if (c != name) plan.entries.push_back({CgroupFsEntry::kSymlink, c, "", name});
  }
  return plan;
}

void bind_ct_groups(CgroupFsPlan& plan, const std::string& group, std::vector<UniqueFd>& keep) {
  sys::Kernel& k = sys::kernel();
  for (auto& e : plan.entries) {
    if (e.kind != CgroupFsEntry::kMount || e.fstype != "cgroup" || e.host_mount.empty()) continue;
    auto fd = k.open_tree(e.host_mount + "/" + group, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (!fd.ok()) continue;
    // Private: a host mount shared with others (systemd's are) must not propagate into the CT,
    // nor anything the CT mounts there out of it.
    uint64_t set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (e.read_only) set |= MOUNT_ATTR_RDONLY;
    sys::MountAttr attr{set, 0, -1, MS_PRIVATE};
    if (!k.mount_setattr(fd->get(), "", 0, attr).ok()) continue;
    e.bind_fd = fd->get();
    keep.push_back(std::move(fd).value());
  }
}

Status mount_cgroup_fs_from_child(const CgroupFsPlan& plan) {
  std::string root = kCgroupRoot;
  if (plan.tmpfs_root)
    BERTH_RETURN_IF_ERROR(
        mount_one("cgroup", root, "tmpfs", kFlags, "mode=755,size=64k,nr_inodes=256"));
  for (const auto& e : plan.entries) {
    std::string path = e.name.empty() ? root : root + "/" + e.name;
    if (e.kind == CgroupFsEntry::kSymlink) {
      if (::symlink(e.options.c_str(), path.c_str()) != 0 && errno != EEXIST)
        return Error::from_errno(errno, "symlink `" + path + "`");
      continue;
    }
    if (!e.name.empty() && ::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + path + "`");
    if (e.bind_fd >= 0) {
      if (auto st = sys::kernel().move_mount(e.bind_fd, path); !st.ok())
        return sys::reworded(st.error(), "attach the CT's group on `" + path + "`");
      continue;
    }
    BERTH_RETURN_IF_ERROR(mount_one("cgroup", path, e.fstype.c_str(),
                                    kFlags | (e.read_only ? MS_RDONLY : 0), e.options));
  }
  // The hierarchy dirs are fixed: nothing inside may add or remove one (systemd checks this too).
  if (plan.tmpfs_root)
    BERTH_RETURN_IF_ERROR(mount_one(nullptr, root, "tmpfs", MS_REMOUNT | MS_RDONLY | kFlags,
                                    "mode=755,size=64k,nr_inodes=256"));
  return {};
}

}  // namespace berth::isolation
