// Listing the CTs of a host: a scan of conf_dir for <CTID>.conf files.
#include "state/inventory.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "state/ct_cgroup.h"
#include "sys/fs.h"

namespace berth::state {

std::string ctid_from_conf_name(std::string_view name) {
  constexpr std::string_view kSuffix = ".conf";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return "";
  auto ctid = validate_ctid(name.substr(0, name.size() - kSuffix.size()));
  return ctid.ok() ? *ctid : "";
}

Result<std::vector<std::string>> list_ctids(const HostConfig& host) {
  const std::string& dir = host.paths().conf_dir;
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return Error::from_errno(errno, "open config directory `" + dir + "`");
  }
  for (;;) {
    errno = 0;  // readdir() returns nullptr both at the end and on error
    struct dirent* e = ::readdir(d);
    if (e == nullptr) break;
    std::string ctid = ctid_from_conf_name(e->d_name);
    if (ctid.empty()) continue;
    // A directory or a dangling link named 101.conf is not a CT config.
    struct stat st;
    std::string path = dir + "/" + e->d_name;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back(std::move(ctid));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Error::from_errno(err, "read config directory `" + dir + "`");
  // validate_ctid() refuses leading zeros, so the numeric order is (length, text).
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

bool any_ct_alive(const HostConfig& host) {
  auto backend = cgroup_backend();
  if (!backend.ok()) return true;
  cgroups::Backend* cg = *backend;
  // A hybrid host's unified hierarchy: every CT's processes are cloned into its group there, so
  // the kernel says whether any runs (`populated`) without the listing below, which reads the
  // instance's group in a v1 hierarchy (1000 entries with 1000 running: a stop asked twice, at
  // its end). "0" is confirmed by the listing (a CT started before its group there was used).
  if (const std::string unified = cg->unified_mount(); !unified.empty()) {
    auto events = sys::read_file(unified + "/" + host.instance() + "/cgroup.events");
    if (events.ok() && events->find("populated 1") != std::string::npos) return true;
  }
  for (const auto& h : cg->hierarchies()) {
    std::string dir = h.mount + "/" + host.instance();
    if (std::string_view(cg->name()) == "v2") {
      auto events = sys::read_file(dir + "/cgroup.events");
      if (!events.ok()) {
        if (events.error().code() == ENOENT) return false;
        return true;
      }
      return events->find("populated 1") != std::string::npos;
    }
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) continue;
      return true;
    }
    bool alive = false, any = false;
    while (struct dirent* e = ::readdir(d)) {
      // A CT's group is a directory named by its CTID; the rest are the controllers' files.
      std::string ctid = ctid_from_conf_name(std::string(e->d_name) + ".conf");
      if (e->d_type != DT_DIR || ctid.empty()) continue;
      any = true;
      if (!cg->pids(cgroups::ct_group(host.instance(), ctid)).empty()) {
        alive = true;
        break;
      }
    }
    ::closedir(d);
    if (alive) return true;
    if (any) return false;  // every hierarchy holds the same groups: one looked at is enough
  }
  return false;
}

bool private_area_exists(const CtConfig& ct) {
  struct stat st;
  return ::stat(ct.ve_private().c_str(), &st) == 0;
}

}  // namespace berth::state
