#include "state/instance_owner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
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

// The first hierarchy's root ("" when the layout is unknown).
std::string first_hierarchy() {
  auto backend = cgroup_backend();
  if (!backend.ok()) return "";
  auto hier = (*backend)->hierarchies();
  if (hier.empty()) return "";
  return hier.front().mount;
}

// The instance's group in the first hierarchy ("" when the layout is unknown).
std::string instance_dir(const HostConfig& host) {
  std::string first = first_hierarchy();
  return first.empty() ? "" : first + "/" + host.instance();
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

Status claim_instance(const HostConfig& host, const std::string& ctid) {
  std::string dir = instance_dir(host);
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

Result<InstanceGate> InstanceGate::enter() {
  std::string first = first_hierarchy();
  if (first.empty()) return InstanceGate(UniqueFd{});
  UniqueFd fd(::open(first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return InstanceGate(UniqueFd{});  // nothing to lock: nothing shared to guard
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return InstanceGate(UniqueFd{});  // no flock there
    if (std::chrono::steady_clock::now() > deadline)
      return Error::with_status(
          exitcode::kLocked, "`" + first + "` stayed locked (flock) by another process for 10 s");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return InstanceGate(std::move(fd));
}

void mark_ct_group(const HostConfig& host, const std::string& ctid) {
  std::string dir = instance_dir(host);
  if (dir.empty()) return;
  std::string me = owner_name(host);
  (void)::setxattr((dir + "/" + ctid).c_str(), kOwnerXattr, me.data(), me.size(), 0);
}

Status check_ct_group_owner(const HostConfig& host, const std::string& ctid) {
  std::string dir = instance_dir(host);
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
