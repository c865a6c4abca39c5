#include "state/instance_owner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "core/exit_codes.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"

namespace berth::state {
namespace {

// The instance's group in cg's first hierarchy ("" when it has none).
std::string instance_dir(const HostConfig& host, const cgroups::Backend& cg) {
  auto hier = cg.hierarchies();
  return hier.empty() ? "" : hier.front().mount + "/" + host.instance();
}

// The same in the host's layout ("" when it is unknown).
std::string instance_dir(const HostConfig& host) {
  auto backend = cgroup_backend();
  return backend.ok() ? instance_dir(host, **backend) : "";
}

// The claim on dir: nullopt when there is none (no group, no attribute, or no attributes here).
std::optional<std::string> read_claim(const std::string& dir) {
  char buf[PATH_MAX + 1];
  ssize_t n = ::getxattr(dir.c_str(), kOwnerXattr, buf, sizeof buf - 1);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

// Whether dir holds the group of a CT other than `except`.
bool has_other_ct_groups(const std::string& dir, const std::string& except) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR) continue;
    std::string ctid = ctid_from_conf_name(std::string(e->d_name) + ".conf");
    if (!ctid.empty() && ctid != except) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

Error owned_by(const HostConfig& host, const std::string& other) {
  return Error::with_status(
      exitcode::kLocked, "CGROUP_PARENT `" + host.instance() +
                             "` is the instance of the Berth root `" + other +
                             "`, which has VPSs: this root (`" + owner_name(host) +
                             "`) would take them for its own; give it a CGROUP_PARENT of its own "
                             "in `" +
                             host.paths().global_conf + "`");
}

}  // namespace

std::string owner_name(const HostConfig& host) {
  std::string root = host.paths().root.empty() ? "/" : host.paths().root;
  char buf[PATH_MAX];
  if (::realpath(root.c_str(), buf) != nullptr) return buf;
  return root;
}

Status check_instance_owner(const HostConfig& host) {
  std::string dir = instance_dir(host);
  if (dir.empty()) return {};
  auto claim = read_claim(dir);
  if (!claim) return {};
  std::string me = owner_name(host);
  if (*claim == me || !has_other_ct_groups(dir, "")) return {};
  return owned_by(host, *claim);
}

Status claim_instance(const HostConfig& host, const cgroups::Backend& cg, const std::string& ctid) {
  std::string dir = instance_dir(host, cg);
  if (dir.empty()) return {};
  std::string me = owner_name(host);
  if (::setxattr(dir.c_str(), kOwnerXattr, me.data(), me.size(), XATTR_CREATE) == 0) return {};
  if (errno != EEXIST) return {};  // no extended attributes on cgroups here: nothing to claim
  auto claim = read_claim(dir);
  if (!claim || *claim == me) return {};
  // A root whose groups are all gone (its claim outlived them): ours now.
  if (has_other_ct_groups(dir, ctid)) return owned_by(host, *claim);
  (void)::setxattr(dir.c_str(), kOwnerXattr, me.data(), me.size(), XATTR_REPLACE);
  return {};
}

Result<InstanceGate> InstanceGate::enter(const HostConfig& host, const cgroups::Backend& cg,
                                         bool make) {
  std::string dir = instance_dir(host, cg);
  if (dir.empty()) return InstanceGate(UniqueFd{});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline)
      return Error::with_status(exitcode::kLocked, "`" + dir + "` stayed locked for 10 s");
    if (make && ::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + dir + "`");
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT && make) {  // removed with another root's last CT meanwhile: again
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      return InstanceGate(UniqueFd{});  // no group (nothing to guard) or not ours to open
    }
    // Closed to host users (an older Berth made it 0755): nobody else can open it to hold it.
    struct stat held {};
    if (::fstat(fd.get(), &held) == 0 && (held.st_mode & 0777) != 0711)
      (void)::fchmod(fd.get(), 0711);
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) return InstanceGate(UniqueFd{});  // no flock on cgroups here
      if (std::chrono::steady_clock::now() > deadline)
        return Error::with_status(exitcode::kLocked, "`" + dir + "` stayed locked for 10 s");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    // Still the instance's group (not one removed with another root's last CT while we waited).
    struct stat now {};
    if (::stat(dir.c_str(), &now) == 0 && now.st_ino == held.st_ino && now.st_dev == held.st_dev)
      return InstanceGate(std::move(fd));
    if (!make) return InstanceGate(UniqueFd{});
  }
}

void mark_ct_group(const HostConfig& host, const cgroups::Backend& cg, const std::string& ctid) {
  std::string dir = instance_dir(host, cg);
  if (dir.empty()) return;
  std::string me = owner_name(host);
  (void)::setxattr((dir + "/" + ctid).c_str(), kOwnerXattr, me.data(), me.size(), 0);
}

Status check_ct_group_owner(const HostConfig& host, const cgroups::Backend& cg,
                            const std::string& ctid) {
  std::string dir = instance_dir(host, cg);
  if (dir.empty()) return {};
  auto owner = read_claim(dir + "/" + ctid);
  if (!owner || *owner == owner_name(host)) return {};  // ours, or made before the marks
  return Error::with_status(
      exitcode::kLocked,
      "the cgroup of CT " + ctid + " in CGROUP_PARENT `" + host.instance() +
          "` was made by the Berth root `" + *owner + "`, not by this one (`" + owner_name(host) +
          "`): give this root a CGROUP_PARENT of its own in `" + host.paths().global_conf + "`");
}

}  // namespace berth::state
