// set: edit a CT's parameters, apply what can be applied to a running CT, save with --save.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cli/cli.h"
#include "cli/ct_options.h"
#include "core/exit_codes.h"
#include "core/samples.h"
#include "dist/files.h"
#include "dist/net_config.h"
#include "dist/users.h"
#include "net/routed.h"
#include "net/shaper.h"
#include "net/network.h"
#include "runtime/exec.h"
#include "runtime/ct_limits.h"
#include "runtime/lifecycle.h"
#include "state/status.h"

namespace berth::cli {
namespace {

bool changed(const ConfigEdit& e, std::string_view key) {
  return std::find(e.changed_keys.begin(), e.changed_keys.end(), key) != e.changed_keys.end();
}

// In-CT configuration for the keys that have it (hostname and /etc/hosts, DNS) and --userpasswd.
Status apply_inside(const CtConfig& ct, const ConfigEdit& edit, bool running) {
  std::string hostname = ct.hostname();
  // /etc/hosts names the first address: a new first address rewrites it.
  bool host_ch = changed(edit, "HOSTNAME") || (changed(edit, "IP_ADDRESS") && !hostname.empty());
  bool dns_ch = changed(edit, "NAMESERVER") || changed(edit, "SEARCHDOMAIN");
  bool live = running && (host_ch || dns_ch);
  if (!live && edit.userpasswd.empty()) return {};
  std::string ip = dist::first_address(ct.get_or("IP_ADDRESS", ""));
  // `inherit`: the host's values, read here, before entering the CT.
  BERTH_ASSIGN_OR_RETURN(auto host_resolv, dist::read_if_exists("/etc/resolv.conf"));
  auto ns = dist::resolve_inherit(ct.list("NAMESERVER"), host_resolv.value_or(""), true);
  auto sd = dist::resolve_inherit(ct.list("SEARCHDOMAIN"), host_resolv.value_or(""), false);
  return runtime::run_in_ct(ct, [&]() -> Status {
    if (live && host_ch && !hostname.empty()) {
      std::string uts = hostname.substr(0, 64);
      if (::sethostname(uts.c_str(), uts.size()) != 0) return Error::from_errno(errno, "sethostname");
      BERTH_RETURN_IF_ERROR(dist::set_hostname(hostname, "", ip));
    }
    if (live && dns_ch) BERTH_RETURN_IF_ERROR(dist::set_dns(ns, sd));
    for (const auto& [user, pass] : edit.userpasswd)
      BERTH_RETURN_IF_ERROR(dist::set_userpasswd(user, pass).status(exitcode::kPasswordFailed));
    return {};
  });
}

// The addresses next has and ct had not, checked against the host (net/routed.h).
Status check_new_addresses(const CtConfig& ct, const CtConfig& next) {
  auto before = net::parse_ip_list(ct.get_or("IP_ADDRESS", ""));
  BERTH_ASSIGN_OR_RETURN(auto after, net::parse_ip_list(next.get_or("IP_ADDRESS", "")));
  // A hand-broken old list: every address is new.
  auto plan = net::plan_addresses(before.ok() ? *before : std::vector<net::IpAddr>(), after);
  return net::check_routed_addresses(next, plan.add);
}

}  // namespace

int cmd_set(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty()) return report(inv, Error::with_status(exitcode::kBadArgument, "set: CT ID or name expected"));
  auto ctid = resolve_ctid(host, inv.args[0]);
  if (!ctid.ok()) return report(inv, ctid.error());
  auto loaded = CtConfig::load(host, *ctid);
  if (!loaded.ok())
    return report(inv, Error::with_status(exitcode::kNoConfig, "set CT " + *ctid + ": config file does not exist"));
  CtConfig& ct = *loaded;
  std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
  auto opts = parse_ct_options(OptionContext::kSet, rest);
  if (!opts.ok()) return report(inv, Error(opts.error()).context("set CT " + *ctid));
  if (opts->items.empty() && !opts->reset_ub)
    return report(inv, Error::with_status(exitcode::kBadArgument, "set CT " + *ctid + ": no parameters to set"));
  auto lock = runtime::lock_ct(host, *ctid, inv.skiplock);
  if (!lock.ok()) return report(inv, Error(lock.error()).context("set CT " + *ctid));

  ConfFile edited = ct.conf();
  if (auto sample = opts->last("applyconfig")) {
    // vzctl's --applyconfig: the sample's keys, except the CT's identity, then the other options.
    auto text = load_sample(host, *sample);
    if (!text.ok()) return report(inv, Error(text.error()).context("set CT " + *ctid));
    ConfFile sc = ConfFile::parse(*text);
    for (const auto& key : sc.keys()) {
      if (key == "HOSTNAME" || key == "IP_ADDRESS" || key == "IP_ADDRESS_FORCED" || key == "OSTEMPLATE" || key == "VE_ROOT" || key == "VE_PRIVATE")
        continue;
      edited.set(key, *sc.get(key));
    }
  }
  auto edit = apply_ct_options(*opts, *ctid, edited);
  if (!edit.ok()) return report(inv, Error(edit.error()).context("set CT " + *ctid));
  for (const char* k : {"NAME", "OSTEMPLATE"})
    if (changed(*edit, k) && !opts->save)
      return report(inv, Error::with_status(exitcode::kBadArgument, "set CT " + *ctid + ": --" +
                                                                       std::string(k == std::string("NAME") ? "name" : "ostemplate") +
                                                                       " needs --save"));
  std::string old_name = ct.name();
  std::string new_name = edited.get_or("NAME", "");
  if (new_name != old_name && !new_name.empty()) {
    auto other = resolve_ctid(host, new_name);
    if (other.ok() && *other != *ctid)
      return report(inv, Error::with_status(exitcode::kName, "set CT " + *ctid + ": name `" + new_name + "` is used by CT " + *other));
  }
  auto status = state::query_status(ct);
  if (!status.ok()) return report(inv, Error(status.error()).context("set CT " + *ctid));

  std::erase_if(edit->not_enforced, [](const std::string& k) { return runtime::enforced_on_host(k); });
  if (auto w = not_enforced_warning(*edit); !w.empty()) std::fprintf(stderr, "%s\n", w.c_str());
  // What cannot change on the running CT: vzctl's restart-only keys, and limits the kernel
  // would not take live (found while applying, below). --setmode restart restarts the CT after
  // saving, ignore only saves, and by default each is named in a warning.
  std::vector<std::string> not_live;
  if (status->running)
    for (const auto& k : edit->need_restart) not_live.push_back(k + ": cannot change on a running CT");

  // Apply to the CT as it will be (the edited config), then save.
  CtConfig next(host, *ctid, edited);
  // New addresses of a stopped CT against the host as it is now (71/78, nothing saved). A running
  // CT's are checked by update_network, right before its routes are made; start checks again.
  if (!status->running && changed(*edit, "IP_ADDRESS")) {
    auto st = check_new_addresses(ct, next);
    if (!st.ok()) return report(inv, Error(st.error()).context("set CT " + *ctid));
  }
  // --ipadd/--ipdel/--netif_* on a running CT: routes, proxy entries, veths, in-CT addresses and
  // anti-spoofing filters, live.
  if (status->running && (changed(*edit, "IP_ADDRESS") || changed(*edit, "NETIF"))) {
    auto net_st = net::update_network(next, status->init_pid);
    if (!net_st.ok()) return report(inv, Error(net_st.error()).context("set CT " + *ctid));
  }
  // --rate on a running CT (and the links a first --ipadd or a --netif_add just made): the qdiscs, live.
  if (status->running && (changed(*edit, "RATE") || changed(*edit, "IP_ADDRESS") || changed(*edit, "NETIF"))) {
    auto shape_st = net::apply_shaping(next);
    if (!shape_st.ok()) return report(inv, Error(shape_st.error()).context("set CT " + *ctid));
  }
  if (status->running) {
    std::vector<std::string> notes;
    auto res_st = runtime::apply_live_limits(ct, next, edit->changed_keys, not_live, notes);
    for (const auto& n : notes) std::fprintf(stderr, "Warning: %s\n", n.c_str());
    if (!res_st.ok()) return report(inv, Error(res_st.error()).context("set CT " + *ctid));
  }
  bool restart = status->running && !not_live.empty() && opts->setmode == "restart";
  if (status->running && opts->setmode.empty())
    for (const auto& k : not_live)
      std::fprintf(stderr, "Warning: unable to apply %s; restart the CT, or use --setmode restart\n", k.c_str());
  auto st = apply_inside(next, *edit, status->running);
  if (!st.ok()) return report(inv, Error(st.error()).context("set CT " + *ctid));
  if (opts->save) {
    auto saved = edited.save(ct.conf_path());
    if (!saved.ok()) return report(inv, Error(saved.error()).context("set CT " + *ctid).status(exitcode::kConfigSave));
    if (new_name != old_name) {
      std::string dir = host.paths().names_dir;
      if (!old_name.empty()) ::unlink((dir + "/" + old_name).c_str());
      if (!new_name.empty()) {
        (void)make_dirs(dir, 0755);
        std::string link = dir + "/" + new_name;
        ::unlink(link.c_str());
        if (::symlink(("../conf/" + *ctid + ".conf").c_str(), link.c_str()) != 0)
          return report(inv, Error::from_errno(errno, "create name link `" + link + "`").status(exitcode::kName));
        say(inv, "Name " + new_name + " assigned");
      }
    }
    say(inv, "CT configuration saved to " + ct.conf_path());
  }
  if (restart) {
    auto s1 = runtime::stop(next, {});
    if (s1.ok()) s1 = runtime::start(next, {});
    if (!s1.ok()) return report(inv, Error(s1.error()).context("restart CT " + *ctid));
  }
  return 0;
}

}  // namespace berth::cli
