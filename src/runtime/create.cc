// create and destroy: the private area and the config, in an order a kill at any point can
// be recovered from (the config is written last on create and renamed last on destroy).
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/exit_codes.h"
#include "net/counters.h"
#include "net/network.h"
#include "runtime/ct_cgroup.h"
#include "runtime/lifecycle.h"
#include "runtime/status.h"
#include "storage/root.h"
#include "sys/fs.h"

namespace berth::runtime {

Result<sys::FileLock> lock_ct(const HostConfig& host, const std::string& ctid, bool skip) {
  if (skip) return sys::FileLock();
  return sys::FileLock::acquire(host.paths().lock_dir + "/" + ctid + ".lck", false, "CT " + ctid);
}

uint32_t first_free_range(const std::vector<uint32_t>& used, uint32_t first, uint32_t size) {
  uint64_t base = first;
  for (;;) {
    bool clash = std::any_of(used.begin(), used.end(), [&](uint32_t u) {
      return u != 0 && static_cast<uint64_t>(u) < base + size && base < static_cast<uint64_t>(u) + size;
    });
    if (!clash) return static_cast<uint32_t>(base);
    base += size;
    if (base + size > 0xFFFFFFFFULL) return 0;
  }
}

Result<uint32_t> allocate_id_range(const HostConfig& host) {
  std::vector<uint32_t> used;
  if (DIR* d = ::opendir(host.paths().conf_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() < 6 || n.compare(n.size() - 5, 5, ".conf") != 0) continue;
      auto f = ConfFile::load(host.paths().conf_dir + "/" + n);
      if (!f.ok()) continue;
      for (const char* key : {"LOCAL_UID", "LOCAL_GID"})
        if (auto v = f->get(key)) used.push_back(static_cast<uint32_t>(std::strtoul(v->c_str(), nullptr, 10)));
    }
    ::closedir(d);
  }
  uint32_t base = first_free_range(used, kDefaultLocalUid, kIdRangeSize);
  if (base == 0) return Error::with_status(exitcode::kResource, "no free user id range left");
  return base;
}

Status create(const HostConfig& host, const std::string& ctid, ConfFile conf) {
  std::string conf_path = host.ct_conf_path(ctid);
  if (sys::path_exists(conf_path)) return Error::with_status(exitcode::kPrivateExists, "CT already exists");
  BERTH_RETURN_IF_ERROR(make_dirs(host.paths().conf_dir, 0755));
  std::string name = conf.get_or("NAME", "");
  if (!name.empty()) {
    auto other = resolve_ctid(host, name);
    if (other.ok() && *other != ctid)
      return Error::with_status(exitcode::kName, "name `" + name + "` is already used by CT " + *other);
  }
  // Id ranges are handed out under one host-wide lock so two creates never pick the same one.
  auto alloc_lock = sys::FileLock::acquire(host.paths().lock_dir + "/idrange.lck", true, "id range allocation");
  if (!alloc_lock.ok()) return std::move(alloc_lock).error();
  if (!conf.has("LOCAL_UID")) {
    BERTH_ASSIGN_OR_RETURN(uint32_t base, allocate_id_range(host));
    conf.set("LOCAL_UID", std::to_string(base));
    conf.set("LOCAL_GID", std::to_string(base));
  } else if (!conf.has("LOCAL_GID")) {
    conf.set("LOCAL_GID", *conf.get("LOCAL_UID"));
  }
  CtConfig ct(host, ctid, conf);
  BERTH_RETURN_IF_ERROR(check_privileged_trusted(ct));
  BERTH_RETURN_IF_ERROR(storage::create_private(ct));
  auto saved = conf.save(conf_path);
  if (!saved.ok()) {
    (void)storage::destroy_private(ct);
    return std::move(saved).error().status(exitcode::kConfigSave);
  }
  storage::finish_private(ct);
  if (!name.empty()) {
    BERTH_RETURN_IF_ERROR(make_dirs(host.paths().names_dir, 0755));
    std::string link = host.paths().names_dir + "/" + name;
    ::unlink(link.c_str());
    if (::symlink(("../conf/" + ctid + ".conf").c_str(), link.c_str()) != 0)
      return Error::from_errno(errno, "create name link `" + link + "`").status(exitcode::kName);
  }
  return {};
}

Status check_privileged_trusted(const CtConfig& ct) {
  if (!ct.is_privileged() || ct.get_bool(kTrustKey, false)) return {};
  return Error::with_status(exitcode::kPermission,
                            "LOCAL_UID=0 (no user namespace) makes the CT's root host root; refused without "
                            "--i-trust-this-vps (" + std::string(kTrustKey) + "=\"yes\" in its config)");
}

Status destroy(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(CtStatus s, query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (s.running) return Error::with_status(exitcode::kRunning, "CT is running; stop it first");
  BERTH_RETURN_IF_ERROR(repair(ct));
  // Host links, routes and filters a killed stop may have left.
  BERTH_RETURN_IF_ERROR(net::detach_network(ct).status(exitcode::kDeleteFailed));
  if (s.mounted) BERTH_RETURN_IF_ERROR(storage::umount_root(ct));
  BERTH_RETURN_IF_ERROR(storage::destroy_private(ct));
  BERTH_RETURN_IF_ERROR(net::forget_counters(ct).status(exitcode::kDeleteFailed));
  std::string name = ct.name();
  if (!name.empty()) {
    std::string link = ct.host().paths().names_dir + "/" + name;
    auto target = resolve_ctid(ct.host(), name);
    if (target.ok() && *target == ct.ctid()) ::unlink(link.c_str());
  }
  std::string conf = ct.conf_path();
  if (::rename(conf.c_str(), (conf + ".destroyed").c_str()) != 0)
    return Error::from_errno(errno, "rename `" + conf + "`").status(exitcode::kDeleteFailed);
  return {};
}

}  // namespace berth::runtime
