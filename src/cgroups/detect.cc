// detect_backend(): reads the host's cgroup mounts once and picks the v1 or v2 backend.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "cgroups/backend.h"
#include "cgroups/v1.h"
#include "cgroups/v2.h"
#include "sys/fs.h"

namespace berth::cgroups {

std::string ct_group(const std::string& instance, const std::string& ctid) {
  return instance + "/" + ctid;
}

namespace {

// Whether the mount at `mnt` with device `dev` ("major:minor" of mountinfo) is what the path shows
// now: a mount covered by a later one on the same or a parent path (bench/lifecycle puts a tmpfs
// with only the v1 hierarchies over /sys/fs/cgroup) stays in mountinfo but is out of reach.
bool visible(const std::string& mnt, const std::string& dev) {
  struct stat st;
  if (::stat(mnt.c_str(), &st) != 0) return false;
  return dev == std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
}

}  // namespace

Result<std::unique_ptr<Backend>> detect_backend() {
  BERTH_ASSIGN_OR_RETURN(std::string info, sys::read_file("/proc/self/mountinfo"));
  std::istringstream in(info);
  std::string line;
  std::vector<Backend::Hierarchy> v1;
  std::string v2_mount;
  while (std::getline(in, line)) {
    // id parent maj:min root mountpoint options optional... - fstype source superoptions
    std::istringstream ls(line);
    std::string id, parent, dev, root, mnt;
    ls >> id >> parent >> dev >> root >> mnt;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype, source, super;
    rest >> fstype >> source >> super;
    if (root != "/") continue;         // a bind of a sub-group, not the hierarchy root
    if (!visible(mnt, dev)) continue;  // covered by a later mount (a private cgroupfs over it)
    if (fstype == "cgroup2") {
      if (v2_mount.empty() || mnt == "/sys/fs/cgroup") v2_mount = mnt;
    } else if (fstype == "cgroup") {
      std::string opts;
      std::istringstream so(super);
      std::string o;
      while (std::getline(so, o, ',')) {
        if (o == "rw" || o == "ro" || o == "none" || o == "clone_children" || o == "noprefix" ||
            o == "xattr" || o.rfind("release_agent", 0) == 0 || o == "nsdelegate" ||
            o == "memory_recursiveprot" || o == "favordynmods")
          continue;
        if (!opts.empty()) opts += ",";
        opts += o;
      }
      bool dup = false;
      for (const auto& h : v1) dup |= h.options == opts;
      if (!dup) v1.push_back({mnt, opts});
    }
  }
  // cgroup2 on /sys/fs/cgroup is a v2 host even when a v1 hierarchy is mounted too: hosts that run
  // legacy (CentOS 7) containers mount a controller-less name=systemd one; taking v1 there would
  // leave every CT without a single controller. Otherwise v1 (hybrid) when a v1 hierarchy carries
  // a controller.
  bool v1_controllers = false;
  for (const auto& h : v1) {
    std::istringstream so(h.options);
    std::string o;
    while (std::getline(so, o, ',')) v1_controllers |= o.rfind("name=", 0) != 0 && o != "none";
  }
  if (!v2_mount.empty() && (v2_mount == "/sys/fs/cgroup" || !v1_controllers))
    return std::unique_ptr<Backend>(new V2Backend(v2_mount));
  if (!v1.empty()) return std::unique_ptr<Backend>(new V1Backend(std::move(v1), v2_mount));
  return Error::with_status(exitcode::kSystem, "no cgroup file system is mounted on this host");
}

}  // namespace berth::cgroups
