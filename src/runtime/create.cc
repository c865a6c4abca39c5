// create and destroy: the private area and the config, in an order a kill at any point can
// be recovered from (the config is written last on create and renamed last on destroy).
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/ct_model.h"
#include "core/exit_codes.h"
#include "core/safe_defaults.h"
#include "core/samples.h"
#include "dist/family.h"
#include "dist/users.h"
#include "net/addr.h"
#include "net/counters.h"
#include "net/filter.h"
#include "net/network.h"
#include "net/routed.h"
#include "runtime/create.h"
#include "runtime/checkpoint.h"
#include "runtime/exec.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "runtime/id_ranges.h"
#include "runtime/lifecycle.h"
#include "runtime/migrate.h"
#include "runtime/pipeline.h"
#include "runtime/snapshot.h"
#include "state/status.h"
#include "storage/disk.h"
#include "storage/root.h"
#include "sys/close_behind.h"
#include "sys/fs.h"
#include "template/cache.h"
#include "template/debian.h"
#include "template/info.h"
#include "template/unpack.h"

namespace berth::runtime {

Result<sys::FileLock> lock_ct(const HostConfig& host, const std::string& ctid, bool skip) {
  if (skip) return sys::FileLock();
  return sys::FileLock::acquire(host.paths().lock_dir + "/" + ctid + ".lck", false, "CT " + ctid);
}

namespace {

// The CT's files come from the template layer: the cached archive (simfs) or the shared unpacked
// tree (overlay).
storage::TemplateSource template_source() {
  storage::TemplateSource src;
  src.unpacked = [](const HostConfig& host, std::string_view name) {
    return tmpl::ensure_unpacked(host, name);
  };
  src.unpack_into = [](const HostConfig& host, std::string_view name, const std::string& dest,
                       uint32_t uid, uint32_t gid) -> Status {
    BERTH_ASSIGN_OR_RETURN(std::string archive, tmpl::find_cache_archive(host, name));
    return tmpl::unpack_archive(archive, dest, uid, gid).status(exitcode::kCreatePrivate);
  };
  return src;
}

}  // namespace

namespace {

// OSTEMPLATE to the cache name it means (OpenVZ short names: "debian-12" is
// debian-12-x86_64-minimal), and DISTRIBUTION from the archive's own os-release ("debian-12"), so
// that a cache named foo.tar.gz holding Debian gets Debian's family (dist::family_from_ostemplate
// reads DISTRIBUTION as it reads OSTEMPLATE). A DISTRIBUTION given by the user is kept.
Status resolve_ostemplate(const HostConfig& host, ConfFile& conf) {
  auto given = conf.get("OSTEMPLATE");
  if (!given || given->empty()) return {};
  BERTH_ASSIGN_OR_RETURN(std::string name,
                         tmpl::resolve_template_name(host, *given, tmpl::host_machine()));
  conf.set("OSTEMPLATE", name);
  if (conf.has("DISTRIBUTION")) return {};
  BERTH_ASSIGN_OR_RETURN(std::string archive, tmpl::find_cache_archive(host, name));
  tmpl::TemplateEntry entry;
  entry.name = name;
  entry.archive_path = archive;
  auto os = tmpl::template_os_release(entry);
  if (!os.ok() || !*os) return {};  // no os-release: the name and the root decide, as before
  ConfFile rel = ConfFile::parse(**os);
  std::string id = rel.get_or("ID", "");
  // An ID the families do not know ("neon") is named by its first known ID_LIKE word ("ubuntu").
  if (dist::family_from_ostemplate(id) == dist::Family::kDefault) {
    for (const std::string& like : split_words(rel.get_or("ID_LIKE", "")))
      if (dist::family_from_ostemplate(like) != dist::Family::kDefault) {
        id = like;
        break;
      }
  }
  if (id.empty()) return {};
  std::string version = rel.get_or("VERSION_ID", "");
  conf.set("DISTRIBUTION", version.empty() ? id : id + "-" + version);
  return {};
}

}  // namespace

Status create(const HostConfig& host, const std::string& ctid, ConfFile conf) {
  BERTH_RETURN_IF_ERROR(resolve_ostemplate(host, conf));
  BERTH_RETURN_IF_ERROR(
      validate_config(CtConfig(host, ctid, conf)));  // every value, before anything is made
  std::string conf_path = host.ct_conf_path(ctid);
  if (sys::path_exists(conf_path))
    return Error::with_status(exitcode::kPrivateExists, "CT already exists");
  BERTH_RETURN_IF_ERROR(make_dirs(host.paths().conf_dir, 0755));
  std::string name = conf.get_or("NAME", "");
  if (!name.empty()) {
    auto other = ctid_by_name(host, name);
    if (other.ok() && *other != ctid)
      return Error::with_status(exitcode::kName,
                                "name `" + name + "` is already used by CT " + *other);
  }
  // The range is reserved host-wide (all instances, /etc/subuid and /etc/subgid) and registered
  // there before anything is made, so a concurrent create anywhere on the host skips it.
  std::optional<FixedIds> fixed;
  if (conf.has("LOCAL_UID")) {
    if (!conf.has("LOCAL_GID")) conf.set("LOCAL_GID", *conf.get("LOCAL_UID"));
    fixed =
        FixedIds{static_cast<uint32_t>(std::strtoul(conf.get("LOCAL_UID")->c_str(), nullptr, 10)),
                 static_cast<uint32_t>(std::strtoul(conf.get("LOCAL_GID")->c_str(), nullptr, 10))};
  }
  BERTH_ASSIGN_OR_RETURN(uint32_t base, reserve_id_range(host, ctid, fixed));
  ScopeExit unregister([&] { (void)release_id_range(host, ctid); });
  if (!fixed) {
    conf.set("LOCAL_UID", std::to_string(base));
    conf.set("LOCAL_GID", std::to_string(base));
  }
  CtConfig ct(host, ctid, conf);
  BERTH_RETURN_IF_ERROR(check_privileged_trusted(ct));
  BERTH_RETURN_IF_ERROR(storage::create_private(ct, template_source()));
  auto saved = conf.save(conf_path);
  if (!saved.ok()) {
    (void)storage::destroy_private(ct);
    return std::move(saved).error().status(exitcode::kConfigSave);
  }
  unregister.dismiss();
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

Result<bool> remove_unfinished_create(const HostConfig& host, const std::string& ctid) {
  if (sys::path_exists(host.ct_conf_path(ctid))) return false;
  // The paths new_ct_config() gives a create (not its sample: a broken one must not stop this).
  ConfFile conf;
  conf.set("VE_ROOT", host.default_ve_root());
  conf.set("VE_PRIVATE", host.default_ve_private());
  conf.set("VE_LAYOUT", host.global().get_or("VE_LAYOUT", "overlay"));
  CtConfig ct(host, ctid, conf);
  if (storage::finished_private_exists(ct)) return false;
  bool removed = false;
  if (storage::unfinished_private(ct)) {
    BERTH_RETURN_IF_ERROR(storage::destroy_private(ct));
    removed = true;
  }
  if (id_range_registered(host, ctid)) {
    BERTH_RETURN_IF_ERROR(release_id_range(host, ctid).status(exitcode::kDeleteFailed));
    removed = true;
  }
  return removed;
}

Result<ConfFile> new_ct_config(const HostConfig& host,
                               const std::optional<std::string>& sample_arg) {
  ConfFile conf;
  std::string sample =
      sample_arg.value_or(host.global().get_or("CONFIGFILE", std::string(kDefaultConfigSample)));
  if (!sample.empty()) {
    BERTH_ASSIGN_OR_RETURN(std::string text, load_sample(host, sample));
    conf = ConfFile::parse(text);
    conf.set("ORIGIN_SAMPLE", sample);
  }
  conf.set("VE_ROOT", host.default_ve_root());
  conf.set("VE_PRIVATE", host.default_ve_private());
  if (!conf.has("OSTEMPLATE"))
    conf.set("OSTEMPLATE", host.global().get_or("DEF_OSTEMPLATE", "busybox"));
  conf.set("VE_LAYOUT", host.global().get_or("VE_LAYOUT", "overlay"));
  return conf;
}

Status create_ct(const HostConfig& host, const std::string& ctid, CreateRequest req,
                 const Say& say) {
  CtConfig ct(host, ctid, req.conf);
  BERTH_RETURN_IF_ERROR(validate_config(ct));
  // The disk quota: simfs cannot have one here, image must have one (exit 21, nothing made).
  BERTH_RETURN_IF_ERROR(storage::check_simfs_quota(ct));
  BERTH_ASSIGN_OR_RETURN(bool disk, storage::wants_disk(ct));
  if (disk)
    std::erase_if(req.not_enforced,
                  [](const std::string& k) { return k == "DISKSPACE" || k == "DISKINODES"; });
  // The addresses against the host as it is now (71/78, nothing created); start checks again.
  BERTH_ASSIGN_OR_RETURN(auto addrs, net::parse_ip_list(req.conf.get_or("IP_ADDRESS", "")));
  BERTH_RETURN_IF_ERROR(net::check_routed_addresses(ct, addrs));
  if (auto w = not_enforced_warning(req.not_enforced); !w.empty())
    std::fprintf(stderr, "%s\n", w.c_str());
  std::string ve_private = ct.ve_private();
  BERTH_RETURN_IF_ERROR(resolve_ostemplate(host, req.conf));  // the full name in the message
  say("Creating CT private area (" + req.conf.get_or("OSTEMPLATE", "") + ")");
  BERTH_RETURN_IF_ERROR(create(host, ctid, std::move(req.conf)));
  // No disk (DISKSPACE unlimited): say so once, for a CT that was made.
  if (!disk)
    std::fprintf(stderr,
                 "Warning: no disk quota: CT %s can fill the host file system that holds `%s`\n",
                 ctid.c_str(), ve_private.c_str());
  say("CT private area was created");
  if (req.userpasswd.empty()) return {};
  BERTH_ASSIGN_OR_RETURN(CtConfig made, CtConfig::load(host, ctid));
  return run_in_ct(made, [&]() -> Status {
    for (const auto& [user, pass] : req.userpasswd)
      BERTH_RETURN_IF_ERROR(dist::set_userpasswd(user, pass).status(exitcode::kPasswordFailed));
    return {};
  });
}

Status check_privileged_trusted(const CtConfig& ct) {
  if (!ct.is_privileged() || ct.get_bool(kTrustKey, false)) return {};
  return Error::with_status(
      exitcode::kPermission,
      "LOCAL_UID=0 (no user namespace) makes the CT's root host root; refused without "
      "--i-trust-this-vps (" +
          std::string(kTrustKey) + "=\"yes\" in its config)");
}

namespace {

struct DestroyContext {
  const CtConfig& ct;
  state::CtStatus s;
  // The nf_tables socket that removed the CT's anti-spoofing elements closes on a thread of its
  // own while the disk, snapshots and ids go (its close waits for an RCU grace period:
  // sys/close_behind.h); wait_closes waits for it.
  sys::CloseBehind closes;
};

Status query_state(DestroyContext& c) {
  BERTH_ASSIGN_OR_RETURN(c.s, state::query_status(c.ct));
  if (!c.s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  if (c.s.running) return Error::with_status(exitcode::kRunning, "CT is running; stop it first");
  return {};
}

Status repair_leftovers(DestroyContext& c) {
  BERTH_RETURN_IF_ERROR(repair(c.ct));
  return check_no_snapshot_mounted(c.ct);
}

// Host links, routes and filters a killed stop may have left, and the anti-spoofing elements a
// stop keeps (net::remove_filters). A routed veth a stop left to the CT's dying network namespace
// is left to the kernel (net::detach_routed).
Status detach_network(DestroyContext& c) {
  return net::detach_network(c.ct).status(exitcode::kDeleteFailed);
}

// The instance's filter tables go with its last CT (kept between runs: net/filter.h). Before
// the config goes: a destroy killed after this point runs all of it again.
Status remove_instance_filters(DestroyContext& c) {
  auto ids = state::list_ctids(c.ct.host());
  if (!ids.ok() || !std::all_of(ids->begin(), ids->end(),
                                [&](const std::string& id) { return id == c.ct.ctid(); }))
    return {};
  return net::remove_instance_filters(c.ct.host()).status(exitcode::kDeleteFailed);
}

Status umount_root(DestroyContext& c) {
  return c.s.mounted ? storage::umount_root(c.ct) : Status{};
}

Status remove_snapshots(DestroyContext& c) {
  return remove_all_snapshots(c.ct).status(exitcode::kDeleteFailed);
}

Status destroy_private(DestroyContext& c) { return storage::destroy_private(c.ct); }

// A checkpoint of this CT (a suspended one, or a migration's staging) goes with it: a new CT
// of the same CTID must not look suspended nor start from another CT's processes.
Status remove_dumps(DestroyContext& c) {
  for (const std::string& d : {default_dumpdir(c.ct), default_dumpdir(c.ct) + "-migrate"})
    if (sys::path_exists(d))
      BERTH_RETURN_IF_ERROR(sys::remove_tree(d).status(exitcode::kDeleteFailed));
  return {};
}

// Traffic counters, the id ranges registered for other tools, a killed receive's mark, the name.
Status release_ids(DestroyContext& c) {
  const CtConfig& ct = c.ct;
  BERTH_RETURN_IF_ERROR(net::forget_counters(ct).status(exitcode::kDeleteFailed));
  BERTH_RETURN_IF_ERROR(release_id_range(ct.host(), ct.ctid()).status(exitcode::kDeleteFailed));
  forget_killed_receive(ct.host(), ct.ctid());
  std::string name = ct.name();
  if (!name.empty()) {
    std::string link = ct.host().paths().names_dir + "/" + name;
    auto target = ctid_by_name(ct.host(), name);
    if (target.ok() && *target == ct.ctid()) ::unlink(link.c_str());
  }
  return {};
}

Status remove_config(DestroyContext& c) {
  std::string conf = c.ct.conf_path();
  if (::rename(conf.c_str(), (conf + ".destroyed").c_str()) != 0)
    return Error::from_errno(errno, "rename `" + conf + "`").status(exitcode::kDeleteFailed);
  return {};
}

Status wait_closes(DestroyContext& c) {
  c.closes.wait();
  return {};
}

constexpr std::array<Step<DestroyContext>, 11> kDestroySteps{{
    {"query_state", query_state},
    {"repair_leftovers", repair_leftovers},
    {"detach_network", detach_network},
    {"remove_instance_filters", remove_instance_filters},
    {"umount_root", umount_root},
    {"remove_snapshots", remove_snapshots},
    {"destroy_private", destroy_private},
    {"remove_dumps", remove_dumps},
    {"release_ids", release_ids},
    {"remove_config", remove_config},
    {"wait_closes", wait_closes},
}};

}  // namespace

std::vector<std::string> destroy_step_names() { return step_names<DestroyContext>(kDestroySteps); }

Status destroy(const CtConfig& ct) {
  DestroyContext c{ct, {}};
  return run_pipeline<DestroyContext>("destroy", kDestroySteps, c);
}

}  // namespace berth::runtime
