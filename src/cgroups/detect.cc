// detect_backend(): reads the host's cgroup mounts once and picks the v1 or v2 backend.
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <optional>
#include <sstream>

#include "cgroups/backend.h"
#include "cgroups/v1.h"
#include "cgroups/v2.h"
#include "core/conf_file.h"
#include "core/exit_codes.h"
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

namespace {

// What detection found: the v2 mount ("" none) and the v1 hierarchies (mount, options).
struct Layout {
  std::string v2_mount;
  std::vector<Backend::Hierarchy> v1;
};

Result<Layout> layout_from_mountinfo() {
  BERTH_ASSIGN_OR_RETURN(std::string info, sys::read_file("/proc/self/mountinfo"));
  std::istringstream in(info);
  std::string line;
  Layout out;
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
    if (fstype != "cgroup2" && fstype != "cgroup") continue;
    if (root != "/") continue;         // a bind of a sub-group, not the hierarchy root
    if (!visible(mnt, dev)) continue;  // covered by a later mount (a private cgroupfs over it)
    if (fstype == "cgroup2") {
      if (out.v2_mount.empty() || mnt == "/sys/fs/cgroup") out.v2_mount = mnt;
    } else {
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
      for (const auto& h : out.v1) dup |= h.options == opts;
      if (!dup) out.v1.push_back({mnt, opts});
    }
  }
  return out;
}

Result<std::unique_ptr<Backend>> backend_for(Layout l) {
  // cgroup2 on /sys/fs/cgroup is a v2 host even when a v1 hierarchy is mounted too: hosts that run
  // legacy (CentOS 7) containers mount a controller-less name=systemd one; taking v1 there would
  // leave every CT without a single controller. Otherwise v1 (hybrid) when a v1 hierarchy carries
  // a controller.
  bool v1_controllers = false;
  for (const auto& h : l.v1) {
    std::istringstream so(h.options);
    std::string o;
    while (std::getline(so, o, ',')) v1_controllers |= o.rfind("name=", 0) != 0 && o != "none";
  }
  if (!l.v2_mount.empty() && (l.v2_mount == "/sys/fs/cgroup" || !v1_controllers))
    return std::unique_ptr<Backend>(new V2Backend(l.v2_mount));
  if (!l.v1.empty()) return std::unique_ptr<Backend>(new V1Backend(std::move(l.v1), l.v2_mount));
  return Error::with_status(exitcode::kSystem, "no cgroup file system is mounted on this host");
}

// The cache's key: this boot and this mount namespace (a private one, as bench/lifecycle's, sees
// other mounts).
std::string cache_key() {
  auto boot = sys::read_file("/proc/sys/kernel/random/boot_id");
  struct stat ns;
  if (!boot.ok() || ::stat("/proc/self/ns/mnt", &ns) != 0) return "";
  std::string b = *boot;
  while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
  return b + " " + std::to_string(ns.st_ino);
}

std::string dev_of(const std::string& mnt) {
  struct stat st;
  return ::stat(mnt.c_str(), &st) == 0 ? std::to_string(st.st_dev) : "";
}

// A cgroup file system's root at mnt, on the device dev recorded with it.
bool still_there(const std::string& mnt, const std::string& dev) {
  struct statfs fs;
  if (::statfs(mnt.c_str(), &fs) != 0) return false;
  if (fs.f_type != CGROUP_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC) return false;
  return dev_of(mnt) == dev;
}

constexpr const char* kCacheMagic = "berth-cgroup-layout 1";
constexpr int kCacheSeconds = 60;  // a hierarchy mounted later is seen within this

std::optional<Layout> read_cache(const std::string& path, const std::string& key) {
  struct stat st;
  if (key.empty() || ::stat(path.c_str(), &st) != 0) return std::nullopt;
  if (std::time(nullptr) - st.st_mtime > kCacheSeconds || st.st_mtime > std::time(nullptr) + 5)
    return std::nullopt;
  auto text = sys::read_file(path);
  if (!text.ok()) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  if (!std::getline(in, line) || line != kCacheMagic) return std::nullopt;
  if (!std::getline(in, line) || line != "key " + key) return std::nullopt;
  Layout l;
  while (std::getline(in, line)) {
    // "2\t<mount>\t<dev>" or "1\t<mount>\t<dev>\t<options>"
    std::vector<std::string> f;
    std::istringstream ls(line);
    std::string part;
    while (std::getline(ls, part, '\t')) f.push_back(part);
    if (f.size() < 3 || !still_there(f[1], f[2])) return std::nullopt;
    if (f[0] == "2" && f.size() == 3) {
      l.v2_mount = f[1];
    } else if (f[0] == "1" && f.size() == 4) {
      l.v1.push_back({f[1], f[3]});
    } else {
      return std::nullopt;
    }
  }
  return l;
}

void write_cache(const std::string& path, const std::string& key, const Layout& l) {
  if (key.empty()) return;
  std::string text = std::string(kCacheMagic) + "\nkey " + key + "\n";
  auto bad = [](const std::string& s) { return s.find_first_of("\t\n") != std::string::npos; };
  if (!l.v2_mount.empty()) {
    if (bad(l.v2_mount)) return;
    text += "2\t" + l.v2_mount + "\t" + dev_of(l.v2_mount) + "\n";
  }
  for (const auto& h : l.v1) {
    if (bad(h.mount) || bad(h.options)) return;
    text += "1\t" + h.mount + "\t" + dev_of(h.mount) + "\t" + h.options + "\n";
  }
  (void)write_run_file(path, text);  // best effort: without it the next command detects again
}

}  // namespace

Result<std::unique_ptr<Backend>> detect_backend(const std::string& cache) {
  std::string key = cache.empty() ? "" : cache_key();
  if (!cache.empty())
    if (auto l = read_cache(cache, key)) return backend_for(std::move(*l));
  BERTH_ASSIGN_OR_RETURN(Layout l, layout_from_mountinfo());
  if (!cache.empty()) write_cache(cache, key, l);
  return backend_for(std::move(l));
}

}  // namespace berth::cgroups
