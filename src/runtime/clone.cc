// clone: copy, move owners, reset identity, config last (runtime/clone.h).
#include "runtime/clone.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "core/ct_model.h"
#include "core/exit_codes.h"
#include "core/values/netif.h"
#include "runtime/id_ranges.h"
#include "runtime/lifecycle.h"
#include "runtime/snapshot.h"
#include "storage/disk.h"
#include "storage/idshift.h"
#include "storage/root.h"
#include "storage/snapshot.h"
#include "sys/fs.h"
#include "sys/process.h"

namespace berth::runtime {

std::string clone_hostname(const std::string& src_hostname, const std::string& dst) {
  if (src_hostname.empty()) return "ct" + dst;
  size_t dot = src_hostname.find('.');
  if (dot == std::string::npos) return src_hostname + "-" + dst;
  return src_hostname.substr(0, dot) + "-" + dst + src_hostname.substr(dot);
}

namespace {

// SRC's config turned into DST's (ids are set once reserved).
Result<ConfFile> clone_config(const HostConfig& host, const CtConfig& src, const CloneRequest& req,
                              const Say& say) {
  ConfFile conf = src.conf();
  conf.set("VE_ROOT", host.default_ve_root());
  conf.set("VE_PRIVATE", host.default_ve_private());
  conf.set("HOSTNAME", req.hostname ? *req.hostname : clone_hostname(src.hostname(), req.dst));
  if (req.name)
    conf.set("NAME", *req.name);
  else
    conf.erase("NAME");
  if (!req.ipadd.empty()) {
    std::string list;
    for (const auto& ip : req.ipadd) list += (list.empty() ? "" : " ") + ip;
    conf.set("IP_ADDRESS", list);
  } else if (!conf.get_or("IP_ADDRESS", "").empty()) {
    say("Note: IP_ADDRESS of CT " + src.ctid() +
        " not copied (a routed address cannot be on two CTs; give --ipadd)");
    conf.erase("IP_ADDRESS");
  }
  if (auto netif = conf.get("NETIF"); netif && !netif->empty()) {
    BERTH_ASSIGN_OR_RETURN(auto list, values::parse_netif(*netif));
    std::vector<values::Netif> fresh;
    for (auto n : list) {
      n.mac = values::generate_mac();
      if (!n.host_mac.empty()) n.host_mac = values::generate_mac();
      BERTH_ASSIGN_OR_RETURN(n.host_ifname, values::generate_host_ifname(fresh, req.dst, n.ifname));
      fresh.push_back(std::move(n));
    }
    conf.set("NETIF", values::format_netif(fresh));
  }
  return conf;
}

}  // namespace

Status clone_ct(const HostConfig& host, const CloneRequest& req, const Say& say) {
  auto t0 = std::chrono::steady_clock::now();
  BERTH_ASSIGN_OR_RETURN(CtConfig src, CtConfig::load(host, req.src));
  if (src.layout() == Layout::kPloop)
    return Error::with_status(exitcode::kPloopUnsupported, storage::ploop_message(src));
  if (sys::path_exists(host.ct_conf_path(req.dst)))
    return Error::with_status(exitcode::kPrivateExists, "CT " + req.dst + " already exists");
  if (req.name) {
    auto other = ctid_by_name(host, *req.name);
    if (other.ok())
      return Error::with_status(exitcode::kName,
                                "name `" + *req.name + "` is already used by CT " + *other);
  }
  const storage::SnapshotEntry* snap = nullptr;
  storage::SnapshotIndex idx;
  if (req.snapshot) {
    BERTH_ASSIGN_OR_RETURN(idx, list_snapshots(src));
    snap = idx.find(*req.snapshot);
    if (!snap)
      return Error::with_status(exitcode::kSnapshotNotFound,
                                "CT " + src.ctid() + " has no snapshot " + *req.snapshot);
  }
  BERTH_ASSIGN_OR_RETURN(ConfFile conf, clone_config(host, src, req, say));
  // A privileged SRC makes a privileged clone (its files hold host ids as they are).
  std::optional<FixedIds> fixed;
  if (src.is_privileged()) fixed = FixedIds{0, 0};
  BERTH_ASSIGN_OR_RETURN(uint32_t base, reserve_id_range(host, req.dst, fixed));
  ScopeExit unregister([&] { (void)release_id_range(host, req.dst); });
  conf.set("LOCAL_UID", std::to_string(base));
  conf.set("LOCAL_GID", std::to_string(base));
  CtConfig dst(host, req.dst, conf);
  BERTH_RETURN_IF_ERROR(validate_config(dst));
  BERTH_ASSIGN_OR_RETURN(std::string tmp, storage::begin_private(dst));
  ScopeExit undo([&] { (void)sys::remove_tree(tmp); });
  bool simfs = dst.layout() == Layout::kSimfs;
  const bool disk = storage::has_disk(src);
  std::string tree = simfs ? tmp : tmp + "/upper";
  if (disk) tree = tmp + "/disk/" + (dst.layout() == Layout::kImage ? "root" : "upper");
  if (simfs && ::rmdir(tmp.c_str()) != 0) return Error::from_errno(errno, "rmdir `" + tmp + "`");
  // A disk is copied as an image and mounted read-write in the .tmp for the changes below.
  std::string copy_to = disk ? tmp + "/disk.img" : tree;
  if (snap) {
    say("Copying snapshot " + snap->uuid + " of CT " + src.ctid());
    if (disk)
      BERTH_RETURN_IF_ERROR(
          storage::copy_image(snapshot_tree(src, *snap), copy_to).status(exitcode::kCloneFailed));
    else
      BERTH_RETURN_IF_ERROR(
          storage::copy_tree(snapshot_tree(src, *snap), copy_to).status(exitcode::kCloneFailed));
  } else {
    say("Copying the files of CT " + src.ctid());
    BERTH_ASSIGN_OR_RETURN(double pause,
                           (disk ? copy_ct_image(src, copy_to) : copy_ct_files(src, copy_to))
                               .status(exitcode::kCloneFailed));
    if (pause > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f", pause);
      say("CT " + src.ctid() + " was frozen for " + std::string(buf) + " ms while copied");
    }
  }
  ScopeExit release_disk([&] {
    if (disk) (void)storage::release_disk_at(tmp);
  });
  if (disk) {
    std::string mnt = tmp + "/disk";
    if (::mkdir(mnt.c_str(), 0700) != 0)
      return Error::from_errno(errno, "mkdir `" + mnt + "`").status(exitcode::kCloneFailed);
    BERTH_RETURN_IF_ERROR(storage::mount_image(copy_to, mnt).status(exitcode::kCloneFailed));
  }
  if (!simfs && !disk) {
    std::string work = tmp + "/work";
    if (::mkdir(work.c_str(), 0700) != 0)
      return Error::from_errno(errno, "mkdir `" + work + "`").status(exitcode::kCloneFailed);
  }
  if (dst.layout() == Layout::kOverlay) {
    char buf[PATH_MAX];
    std::string link = src.ve_private() + "/lower";
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n < 0)
      return Error::from_errno(errno, "read template link `" + link + "`")
          .status(exitcode::kCloneFailed);
    if (::symlink(std::string(buf, static_cast<size_t>(n)).c_str(), (tmp + "/lower").c_str()) != 0)
      return Error::from_errno(errno, "symlink template").status(exitcode::kCloneFailed);
  }
  if (!src.is_privileged() && src.local_uid() != base) {
    say("Moving owners from ids " + std::to_string(src.local_uid()) + "+ to " +
        std::to_string(base) + "+");
    BERTH_RETURN_IF_ERROR(storage::move_id_range(tree, src.local_uid(), src.local_gid(), base, base)
                              .status(exitcode::kCloneFailed));
  }
  BERTH_ASSIGN_OR_RETURN(storage::IdentityReset reset,
                         storage::reset_guest_identity(tree).status(exitcode::kCloneFailed));
  if (reset.machine_id) say("New /etc/machine-id");
  if (reset.ssh_keys_removed > 0)
    say("SSH host keys removed (" + std::to_string(reset.ssh_keys_removed) +
        " files): the guest makes new ones at its first start");
  sys::crash_point("clone_copied");
  if (disk) BERTH_RETURN_IF_ERROR(storage::release_disk_at(tmp).status(exitcode::kCloneFailed));
  BERTH_RETURN_IF_ERROR(storage::commit_private(dst));
  undo.dismiss();
  auto saved = conf.save(host.ct_conf_path(req.dst));
  if (!saved.ok()) {
    (void)storage::destroy_private(dst);
    return std::move(saved).error().status(exitcode::kConfigSave);
  }
  unregister.dismiss();
  storage::finish_private(dst);
  if (req.name) {
    BERTH_RETURN_IF_ERROR(make_dirs(host.paths().names_dir, 0755));
    std::string link = host.paths().names_dir + "/" + *req.name;
    ::unlink(link.c_str());
    if (::symlink(("../conf/" + req.dst + ".conf").c_str(), link.c_str()) != 0)
      return Error::from_errno(errno, "create name link `" + link + "`").status(exitcode::kName);
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  say("Cloned CT " + src.ctid() + " to " + req.dst + " in " + secs + " s");
  return {};
}

}  // namespace berth::runtime
