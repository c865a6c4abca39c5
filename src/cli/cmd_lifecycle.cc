// create, destroy, start, stop, restart, status, mount, umount: thin front-ends over runtime/.
#include <cstdio>

#include "cli/cli.h"
#include "cli/ct_options.h"
#include "cli/list.h"
#include "core/exit_codes.h"
#include "core/safe_defaults.h"
#include "core/samples.h"
#include "dist/users.h"
#include "net/routed.h"
#include "runtime/exec.h"
#include "runtime/ct_limits.h"
#include "runtime/lifecycle.h"
#include "state/status.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) { return Error::with_status(exitcode::kBadArgument, what); }

// The CT argument of a command: a CTID or a name.
Result<std::string> ct_arg(const Invocation& inv) {
  if (inv.args.empty() || inv.args[0].empty() || inv.args[0][0] == '-')
    return usage_error(inv.command + ": CT ID or name expected");
  return inv.args[0];
}

// Load an existing CT for a command (exit 14 when it has no config).
Result<CtConfig> load_ct(const Invocation& inv, const HostConfig& host) {
  BERTH_ASSIGN_OR_RETURN(std::string arg, ct_arg(inv));
  BERTH_ASSIGN_OR_RETURN(std::string ctid, resolve_ctid(host, arg));
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok()) {
    if (ct.error().code() == ENOENT)
      return Error::with_status(exitcode::kNoConfig, "CT " + ctid + ": config file `" + host.ct_conf_path(ctid) + "` does not exist");
    return std::move(ct).error();
  }
  return ct;
}

// Flags of start/stop/restart; anything else is a usage error.
struct Flags {
  bool wait = false, force = false, fast = false, skip_umount = false;
};
Result<Flags> parse_flags(const Invocation& inv, std::initializer_list<std::string_view> allowed) {
  Flags f;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    std::string_view a = inv.args[i];
    bool ok = false;
    for (auto al : allowed) ok |= a == al;
    if (!ok) return usage_error(inv.command + ": invalid option `" + std::string(a) + "`");
    if (a == "--wait") f.wait = true;
    else if (a == "--force") f.force = true;
    else if (a == "--fast") f.fast = true;
    else if (a == "--skip-umount") f.skip_umount = true;
  }
  return f;
}

int run(const Invocation& inv, Status st, const std::string& ctid) {
  if (!st.ok()) {
    Error e = std::move(st).error();
    if (!ctid.empty()) e.context(inv.command + " CT " + ctid);
    return report(inv, e);
  }
  return 0;
}

}  // namespace

int cmd_create(const Invocation& inv, const HostConfig& host) {
  auto arg = ct_arg(inv);
  if (!arg.ok()) return report(inv, arg.error());
  auto ctid = validate_ctid(*arg);
  if (!ctid.ok()) return report(inv, ctid.error());
  std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
  auto opts = parse_ct_options(OptionContext::kCreate, rest);
  if (!opts.ok()) return report(inv, Error(opts.error()).context("create CT " + *ctid));

  auto lock = runtime::lock_ct(host, *ctid, inv.skiplock);
  if (!lock.ok()) return report(inv, Error(lock.error()).context("create CT " + *ctid));
  ConfFile conf;
  // Without --config: berth.conf's CONFIGFILE, or vz.conf's default sample when it names none (a
  // CT made without a sample would have no RAM, process or pty limit). CONFIGFILE="" means none;
  // start still fills the limit keys a config lacks (safe_default()).
  std::string sample =
      opts->last("config").value_or(host.global().get_or("CONFIGFILE", std::string(kDefaultConfigSample)));
  if (!sample.empty()) {
    auto text = load_sample(host, sample);
    if (!text.ok()) return report(inv, Error(text.error()).context("create CT " + *ctid));
    conf = ConfFile::parse(*text);
    conf.set("ORIGIN_SAMPLE", sample);
  }
  conf.set("VE_ROOT", host.default_ve_root());
  conf.set("VE_PRIVATE", host.default_ve_private());
  if (!conf.has("OSTEMPLATE")) conf.set("OSTEMPLATE", host.global().get_or("DEF_OSTEMPLATE", "busybox"));
  conf.set("VE_LAYOUT", host.global().get_or("VE_LAYOUT", "overlay"));
  auto edit = apply_ct_options(*opts, *ctid, conf);
  if (!edit.ok()) return report(inv, Error(edit.error()).context("create CT " + *ctid));
  // The addresses against the host as it is now (71/78, nothing created); start checks again.
  if (auto addrs = net::parse_ip_list(conf.get_or("IP_ADDRESS", "")); !addrs.ok()) {
    return report(inv, Error(addrs.error()).context("create CT " + *ctid));
  } else if (auto st = net::check_routed_addresses(CtConfig(host, *ctid, conf), *addrs); !st.ok()) {
    return report(inv, Error(st.error()).context("create CT " + *ctid));
  }
  std::erase_if(edit->not_enforced, [](const std::string& k) { return runtime::enforced_on_host(k); });
  if (auto w = not_enforced_warning(*edit); !w.empty()) std::fprintf(stderr, "%s\n", w.c_str());
  std::string ve_private = CtConfig(host, *ctid, conf).ve_private();
  say(inv, "Creating CT private area (" + conf.get_or("OSTEMPLATE", "") + ")");
  auto st = runtime::create(host, *ctid, std::move(conf));
  if (!st.ok()) return run(inv, std::move(st), *ctid);
  // No disk quota yet (DISKSPACE is saved but not enforced): say so once, for a CT that was made.
  std::fprintf(stderr, "Warning: no disk quota: CT %s can fill the host file system that holds `%s`\n", ctid->c_str(),
               ve_private.c_str());
  say(inv, "CT private area was created");
  if (!edit->userpasswd.empty()) {
    auto ct = CtConfig::load(host, *ctid);
    if (!ct.ok()) return run(inv, std::move(ct).error(), *ctid);
    auto pw = runtime::run_in_ct(*ct, [&]() -> Status {
      for (const auto& [user, pass] : edit->userpasswd)
        BERTH_RETURN_IF_ERROR(dist::set_userpasswd(user, pass).status(exitcode::kPasswordFailed));
      return {};
    });
    if (!pw.ok()) return run(inv, std::move(pw), *ctid);
  }
  return 0;
}

int cmd_destroy(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  if (inv.args.size() > 1) return report(inv, usage_error("destroy: unexpected argument `" + inv.args[1] + "`"));
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  say(inv, "Destroying CT private area: " + ct->ve_private());
  int rc = run(inv, runtime::destroy(*ct), ct->ctid());
  if (rc == 0) say(inv, "CT private area was destroyed");
  return rc;
}

int cmd_start(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  auto f = parse_flags(inv, {"--wait", "--force", "--skip-fsck", "--skip-remount"});
  if (!f.ok()) return report(inv, f.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  say(inv, "Starting CT " + ct->ctid() + " ...");
  int rc = run(inv, runtime::start(*ct, {f->wait, f->force}), ct->ctid());
  if (rc == 0) say(inv, "CT start in progress...");
  return rc;
}

int cmd_stop(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  auto f = parse_flags(inv, {"--fast", "--skip-umount"});
  if (!f.ok()) return report(inv, f.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  say(inv, "Stopping CT " + ct->ctid() + " ...");
  int rc = run(inv, runtime::stop(*ct, {f->fast, f->skip_umount}), ct->ctid());
  if (rc == 0) say(inv, "CT was stopped");
  return rc;
}

int cmd_restart(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  auto f = parse_flags(inv, {"--wait", "--force", "--fast", "--skip-umount", "--skip-fsck", "--skip-remount"});
  if (!f.ok()) return report(inv, f.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  auto s = state::query_status(*ct);
  if (!s.ok()) return run(inv, std::move(s).error(), ct->ctid());
  if (s->running) {
    say(inv, "Restarting CT " + ct->ctid());
    int rc = run(inv, runtime::stop(*ct, {f->fast, false}), ct->ctid());
    if (rc) return rc;
  }
  say(inv, "Starting CT " + ct->ctid() + " ...");
  int rc = run(inv, runtime::start(*ct, {f->wait, f->force}), ct->ctid());
  if (rc == 0) say(inv, "CT start in progress...");
  return rc;
}

int cmd_status(const Invocation& inv, const HostConfig& host) {
  auto arg = ct_arg(inv);
  if (!arg.ok()) return report(inv, arg.error());
  auto ctid = resolve_ctid(host, *arg);
  if (!ctid.ok()) return report(inv, ctid.error());
  // A CT without a config still has a status: "deleted".
  auto loaded = CtConfig::load(host, *ctid);
  CtConfig ct = loaded.ok() ? std::move(loaded).value() : CtConfig(host, *ctid, ConfFile());
  auto s = state::query_status(ct);
  if (!s.ok()) return run(inv, std::move(s).error(), *ctid);
  std::printf("%s\n", format_status_line(*ctid, *s).c_str());
  return 0;
}

int cmd_mount(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  int rc = run(inv, runtime::mount(*ct), ct->ctid());
  if (rc == 0) say(inv, "CT is mounted");
  return rc;
}

int cmd_umount(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  int rc = run(inv, runtime::umount(*ct), ct->ctid());
  if (rc == 0) say(inv, "CT is unmounted");
  return rc;
}

}  // namespace berth::cli
