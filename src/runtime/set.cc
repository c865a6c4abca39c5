// The `set` operation (see set.h): validate, check names and addresses, apply live, save.
#include "runtime/set.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/ct_model.h"
#include "core/exit_codes.h"
#include "core/samples.h"
#include "dist/files.h"
#include "dist/net_config.h"
#include "dist/network.h"
#include "dist/users.h"
#include "net/addr.h"
#include "net/network.h"
#include "net/routed.h"
#include "net/shaper.h"
#include "procsrv/client.h"
#include "runtime/ct_limits.h"
#include "runtime/exec.h"
#include "runtime/lifecycle.h"
#include "state/status.h"
#include "storage/disk.h"
#include "sys/fs.h"

namespace berth::runtime {
namespace {

bool changed(const SetRequest& r, std::string_view key) {
  return std::find(r.changed_keys.begin(), r.changed_keys.end(), key) != r.changed_keys.end();
}

// In-CT configuration for the keys that have it (hostname and /etc/hosts, DNS, the addresses in
// the distribution's network files) and passwords: live on a running CT; on a stopped one (when
// the config is saved) written into its private area, through the same in-CT functions.
Status apply_inside(const CtConfig& ct, const SetRequest& req, const state::CtStatus& status) {
  bool running = status.running;
  std::string hostname = ct.hostname();
  // /etc/hosts names the first address: a new first address rewrites it.
  bool host_ch = changed(req, "HOSTNAME") || (changed(req, "IP_ADDRESS") && !hostname.empty());
  bool dns_ch = changed(req, "NAMESERVER") || changed(req, "SEARCHDOMAIN");
  bool net_ch = changed(req, "IP_ADDRESS") || changed(req, "NETIF");
  bool files = (host_ch || dns_ch || net_ch) &&
               (running || (req.save && status.exists && sys::path_exists(ct.ve_private())));
  if (!files && req.userpasswd.empty()) return {};
  std::string ip = dist::first_address(ct.get_or("IP_ADDRESS", ""));
  // `inherit`: the host's values, read here, before entering the CT.
  BERTH_ASSIGN_OR_RETURN(auto host_resolv, dist::read_if_exists("/etc/resolv.conf"));
  auto ns = dist::resolve_inherit(ct.list("NAMESERVER"), host_resolv.value_or(""), true);
  auto sd = dist::resolve_inherit(ct.list("SEARCHDOMAIN"), host_resolv.value_or(""), false);
  BERTH_RETURN_IF_ERROR(run_in_ct(ct, [&]() -> Status {
    if (files && host_ch && !hostname.empty()) {
      std::string uts = hostname.substr(0, 64);
      if (running && ::sethostname(uts.c_str(), uts.size()) != 0)
        return Error::from_errno(errno, "sethostname");
      BERTH_RETURN_IF_ERROR(dist::set_hostname(hostname, "", ip));
    }
    if (files && dns_ch) BERTH_RETURN_IF_ERROR(dist::set_dns(ns, sd));
    if (files && net_ch)
      BERTH_RETURN_IF_ERROR(
          dist::set_ct_network(ct, {net::kCtIfname, net::kGatewayV4, net::kGatewayV6}));
    for (const auto& [user, pass] : req.userpasswd)
      BERTH_RETURN_IF_ERROR(dist::set_userpasswd(user, pass).status(exitcode::kPasswordFailed));
    return {};
  }));
  // systemd-resolved reads its servers when it starts: restart it if it runs.
  if (running && dns_ch && dist::uses_resolved(status.init_pid)) {
    ExecRequest restart{{"systemctl", "try-reload-or-restart", "systemd-resolved.service"}, false};
    auto rc = exec(ct, restart);
    if (!rc.ok() || *rc != 0)
      std::fprintf(stderr,
                   "Warning: systemd-resolved in CT %s was not restarted: it reads the new DNS "
                   "servers when it starts\n",
                   ct.ctid().c_str());
  }
  return {};
}

// The addresses next has and ct had not, checked against the host (net/routed.h).
Status check_new_addresses(const CtConfig& ct, const CtConfig& next) {
  auto before = net::parse_ip_list(ct.get_or("IP_ADDRESS", ""));
  BERTH_ASSIGN_OR_RETURN(auto after, net::parse_ip_list(next.get_or("IP_ADDRESS", "")));
  // A hand-broken old list: every address is new.
  auto plan = net::plan_addresses(before.ok() ? *before : std::vector<net::IpAddr>(), after);
  return net::check_routed_addresses(next, plan.add);
}

// The names/<name> link of a renamed CT.
Status relink_name(const CtConfig& ct, const std::string& old_name, const std::string& new_name,
                   const Say& say) {
  std::string dir = ct.host().paths().names_dir;
  if (!old_name.empty()) ::unlink((dir + "/" + old_name).c_str());
  if (new_name.empty()) return {};
  (void)make_dirs(dir, 0755);
  std::string link = dir + "/" + new_name;
  ::unlink(link.c_str());
  if (::symlink(("../conf/" + ct.ctid() + ".conf").c_str(), link.c_str()) != 0)
    return Error::from_errno(errno, "create name link `" + link + "`").status(exitcode::kName);
  say("Name " + new_name + " assigned");
  return {};
}

// --diskspace/--diskinodes: a disk grows online (running or mounted) or resizes offline
// (stopped); a simfs area cannot be limited here (21). Done before the config is saved, so a
// refused change leaves both as they were. A running CT's disk that cannot grow online (no
// CAP_SYS_RESOURCE) grows offline with --setmode restart: the CT is stopped here and true is
// returned (the caller starts it once the config is saved); without it, exit 12 and nothing
// changed.
Result<bool> apply_disk(const CtConfig& ct, const CtConfig& next, const SetRequest& req,
                        bool running, const Say& say) {
  bool space = changed(req, "DISKSPACE"), inodes = changed(req, "DISKINODES");
  if (!space && !inodes) return false;
  BERTH_RETURN_IF_ERROR(storage::check_simfs_quota(next));
  if (!storage::has_disk(ct)) return false;  // no disk (made unlimited): the warning says so
  BERTH_ASSIGN_OR_RETURN(storage::DiskRequest was, storage::disk_request(ct));
  BERTH_ASSIGN_OR_RETURN(storage::DiskRequest now, storage::disk_request(next));
  if (inodes && now.inodes != was.inodes)
    return Error::with_status(exitcode::kBadValue,
                              "the inode count of a disk is fixed when it is made (as a ploop "
                              "image's): DISKINODES cannot change");
  if (!space) return false;
  if (!now.bytes)
    return Error::with_status(exitcode::kBadValue,
                              "the CT has a disk: DISKSPACE must be a size, not unlimited");
  BERTH_ASSIGN_OR_RETURN(bool offline, storage::online_grow_impossible(ct, *now.bytes));
  if (!offline || !running) {
    BERTH_RETURN_IF_ERROR(storage::resize_disk(ct, *now.bytes));
    return false;
  }
  if (req.setmode != "restart")
    return Error::with_status(exitcode::kPermission,
                              "growing a running CT's disk needs CAP_SYS_RESOURCE, which this "
                              "host's root lacks: add --setmode restart (the CT is stopped, its "
                              "disk grown offline, and started again)");
  say("Restarting CT " + ct.ctid() +
      " to grow its disk offline (no CAP_SYS_RESOURCE here for an online grow)");
  BERTH_RETURN_IF_ERROR(stop(ct, {}).context("stop CT " + ct.ctid() + " to grow its disk"));
  if (auto st = storage::resize_disk(ct, *now.bytes); !st.ok()) {
    // The disk is as it was: the CT runs again as it did.
    (void)start(ct, {});
    return std::move(st).error();
  }
  return true;
}

}  // namespace

std::string not_enforced_warning(const std::vector<std::string>& keys) {
  std::string list;
  for (const auto& k : keys)
    if (!enforced_on_host(k)) list += (list.empty() ? "" : ", ") + k;
  return list.empty() ? "" : "Warning: " + list + ": saved but not enforced on this kernel";
}

Status merge_sample(const HostConfig& host, const std::string& sample, ConfFile& conf) {
  BERTH_ASSIGN_OR_RETURN(std::string text, load_sample(host, sample));
  ConfFile sc = ConfFile::parse(text);
  for (const auto& key : sc.keys()) {
    if (key == "HOSTNAME" || key == "IP_ADDRESS" || key == "IP_ADDRESS_FORCED" ||
        key == "OSTEMPLATE" || key == "VE_ROOT" || key == "VE_PRIVATE")
      continue;
    conf.set(key, *sc.get(key));
  }
  return {};
}

Status apply_set(const CtConfig& ct, const SetRequest& req, const Say& say) {
  const HostConfig& host = ct.host();
  // The config as it will be, whole (a sample's keys, hand-edited ones), before anything is
  // applied.
  CtConfig next(host, ct.ctid(), req.edited);
  BERTH_RETURN_IF_ERROR(validate_config(next));
  std::string old_name = ct.name();
  std::string new_name = next.name();
  if (new_name != old_name && !new_name.empty()) {
    auto other = ctid_by_name(host, new_name);
    if (other.ok() && *other != ct.ctid())
      return Error::with_status(exitcode::kName, "name `" + new_name + "` is used by CT " + *other);
  }
  BERTH_ASSIGN_OR_RETURN(state::CtStatus status, state::query_status(ct));
  BERTH_ASSIGN_OR_RETURN(bool stopped_for_disk, apply_disk(ct, next, req, status.running, say));
  // Stopped: everything else is applied as to a stopped CT, and the start below applies it all.
  if (stopped_for_disk) {
    BERTH_ASSIGN_OR_RETURN(status, state::query_status(ct));
  }

  std::vector<std::string> not_enforced = req.not_enforced;
  if (storage::has_disk(ct))
    std::erase_if(not_enforced,
                  [](const std::string& k) { return k == "DISKSPACE" || k == "DISKINODES"; });
  if (auto w = not_enforced_warning(not_enforced); !w.empty())
    std::fprintf(stderr, "%s\n", w.c_str());
  // What cannot change on the running CT: vzctl's restart-only keys, and limits the kernel
  // would not take live (found while applying, below). --setmode restart restarts the CT after
  // saving, ignore only saves, and by default each is named in a warning.
  std::vector<std::string> not_live;
  if (status.running)
    for (const auto& k : req.need_restart)
      not_live.push_back(k + ": cannot change on a running CT");

  // New addresses of a stopped CT against the host as it is now (71/78, nothing saved). A running
  // CT's are checked by update_network, right before its routes are made; start checks again.
  if (!status.running && changed(req, "IP_ADDRESS"))
    BERTH_RETURN_IF_ERROR(check_new_addresses(ct, next));
  // --ipadd/--ipdel/--netif_* on a running CT: routes, proxy entries, veths, in-CT addresses and
  // anti-spoofing filters, live.
  if (status.running && (changed(req, "IP_ADDRESS") || changed(req, "NETIF")))
    BERTH_RETURN_IF_ERROR(net::update_network(next, status.init_pid));
  // --rate on a running CT (and the links a first --ipadd or a --netif_add just made): the qdiscs,
  // live.
  if (status.running &&
      (changed(req, "RATE") || changed(req, "IP_ADDRESS") || changed(req, "NETIF")))
    BERTH_RETURN_IF_ERROR(net::apply_shaping(next));
  if (status.running) {
    std::vector<std::string> notes;
    auto res_st = apply_live_limits(ct, next, req.changed_keys, not_live, notes);
    // Its /proc/meminfo, cpuinfo and user_beancounters show the new limits at their next read.
    procsrv::limits_changed(ct.host(), ct.ctid());
    for (const auto& n : notes) std::fprintf(stderr, "Warning: %s\n", n.c_str());
    BERTH_RETURN_IF_ERROR(res_st);
  }
  bool restart = status.running && !not_live.empty() && req.setmode == "restart";
  if (status.running && req.setmode.empty())
    for (const auto& k : not_live)
      std::fprintf(stderr,
                   "Warning: unable to apply %s; restart the CT, or use --setmode restart\n",
                   k.c_str());
  BERTH_RETURN_IF_ERROR(apply_inside(next, req, status));
  if (req.save) {
    BERTH_RETURN_IF_ERROR(req.edited.save(ct.conf_path()).status(exitcode::kConfigSave));
    if (new_name != old_name) BERTH_RETURN_IF_ERROR(relink_name(ct, old_name, new_name, say));
    say("CT configuration saved to " + ct.conf_path());
  }
  if (restart) {
    auto st = stop(next, {});
    if (st.ok()) st = start(next, {});
    if (!st.ok()) return std::move(st).error().context("restart CT " + ct.ctid());
  }
  if (stopped_for_disk)
    BERTH_RETURN_IF_ERROR(
        start(next, {}).context("start CT " + ct.ctid() + " after its disk grew"));
  return {};
}

}  // namespace berth::runtime
