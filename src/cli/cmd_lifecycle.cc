// create, destroy, start, stop, restart, status, mount, umount: thin front-ends over runtime/.
#include <cstdio>

#include "cli/cli.h"
#include "cli/ct_options.h"
#include "cli/list.h"
#include "core/ct_model.h"
#include "core/exit_codes.h"
#include "core/values/text.h"
#include "runtime/create.h"
#include "runtime/ct_ops.h"
#include "runtime/checkpoint.h"
#include "runtime/lifecycle.h"
#include "runtime/migrate.h"
#include "runtime/snapshot.h"
#include "state/status.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) {
  return Error::with_status(exitcode::kBadArgument, what);
}

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
      return Error::with_status(
          exitcode::kNoConfig,
          "CT " + ctid + ": config file `" + host.ct_conf_path(ctid) + "` does not exist");
    return std::move(ct).error();
  }
  return ct;
}

// Flags of start/stop/restart; anything else is a usage error.
struct Flags {
  bool wait = false, force = false, fast = false, skip_umount = false;
  unsigned timeout = 120;  // --timeout SEC: how long start --wait waits (Berth's)
};
Result<Flags> parse_flags(const Invocation& inv, std::initializer_list<std::string_view> allowed) {
  Flags f;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    std::string_view a = inv.args[i];
    bool ok = false;
    for (auto al : allowed) ok |= a == al;
    if (ok && a == "--timeout") {
      std::string_view val = i + 1 < inv.args.size() ? std::string_view(inv.args[i + 1]) : "";
      auto v = values::parse_u64_max(val, 86400);
      if (!v || *v == 0) return usage_error(inv.command + ": --timeout needs seconds (1-86400)");
      f.timeout = static_cast<unsigned>(*v);
      ++i;
      continue;
    }
    if (!ok) return usage_error(inv.command + ": invalid option `" + std::string(a) + "`");
    if (a == "--wait")
      f.wait = true;
    else if (a == "--force")
      f.force = true;
    else if (a == "--fast")
      f.fast = true;
    else if (a == "--skip-umount")
      f.skip_umount = true;
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
  auto conf = runtime::new_ct_config(host, opts->last("config"));
  if (!conf.ok()) return report(inv, Error(conf.error()).context("create CT " + *ctid));
  runtime::CreateRequest req{std::move(*conf), {}, {}};
  auto edit = apply_ct_options(*opts, *ctid, req.conf);
  if (!edit.ok()) return report(inv, Error(edit.error()).context("create CT " + *ctid));
  req.not_enforced = std::move(edit->not_enforced);
  req.userpasswd = std::move(edit->userpasswd);
  auto st = runtime::create_ct(host, *ctid, std::move(req),
                               [&](const std::string& line) { say(inv, line); });
  if (!st.ok()) return report(inv, Error(st.error()).context("create CT " + *ctid));
  return 0;
}

int cmd_destroy(const Invocation& inv, const HostConfig& host) {
  auto ct = load_ct(inv, host);
  auto arg = ct_arg(inv);
  auto ctid = arg.ok() ? resolve_ctid(host, *arg) : Result<std::string>(arg.error());
  if (!ct.ok() && ct.error().exit_status() == exitcode::kNoConfig && ctid.ok()) {
    // No such CT; but a create of it killed before it wrote the config may have left its private
    // area's .tmp (a disk mounted there) and its id range: removed, and said so.
    auto lock = runtime::lock_ct(host, *ctid, inv.skiplock);
    if (!lock.ok()) return run(inv, std::move(lock).error(), *ctid);
    auto removed = runtime::remove_unfinished_create(host, *ctid);
    if (!removed.ok()) return run(inv, std::move(removed).error(), *ctid);
    if (*removed)
      return report(inv, Error::with_status(exitcode::kNoConfig,
                                            ct.error().message() +
                                                "; what an unfinished create of it had left "
                                                "(its private area, its id range) was removed"));
  }
  if (!ct.ok()) return report(inv, ct.error());
  if (inv.args.size() > 1)
    return report(inv, usage_error("destroy: unexpected argument `" + inv.args[1] + "`"));
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
  auto f = parse_flags(inv, {"--wait", "--timeout", "--force", "--skip-fsck", "--skip-remount"});
  if (!f.ok()) return report(inv, f.error());
  // A suspended CT (a checkpoint in DUMPDIR) goes on from where it was, as vzctl's start does.
  if (runtime::dump_complete(runtime::default_dumpdir(*ct)))
    return cmd_restore_checkpoint(inv, host);
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  // An online migration killed between its final dump and its commit: the CT goes on here
  // from that dump (the destination dropped its copy).
  auto recovered =
      runtime::recover_killed_migration(*ct, [&](const std::string& m) { say(inv, m); });
  if (!recovered.ok()) return run(inv, std::move(recovered).error(), ct->ctid());
  if (*recovered) {
    say(inv, "CT " + ct->ctid() + " runs again on this host");
    return 0;
  }
  say(inv, "Starting CT " + ct->ctid() + " ...");
  int rc = run(inv, runtime::start_ct(*ct, {f->wait, f->force, f->timeout}), ct->ctid());
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
  auto f = parse_flags(inv, {"--wait", "--timeout", "--force", "--fast", "--skip-umount",
                             "--skip-fsck", "--skip-remount"});
  if (!f.ok()) return report(inv, f.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  int rc = run(inv,
               runtime::restart_ct(*ct, f->fast, {f->wait, f->force, f->timeout},
                                   [&](const std::string& line) { say(inv, line); }),
               ct->ctid());
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
  const bool has_config = loaded.ok();
  CtConfig ct = has_config ? std::move(loaded).value() : CtConfig(host, *ctid, ConfFile());
  // A snapshot killed while the CT was frozen: thawed here, as by every command on the CT.
  if (has_config) (void)runtime::thaw_leftover(ct);
  auto s = state::query_status(ct);
  if (!s.ok()) return run(inv, std::move(s).error(), *ctid);
  // A CT whose init died while no watcher saw it (monitor/server.h) is torn down here as stop
  // would (stop of a CT that is not running only cleans what is left, else says 32), unless
  // another command holds its lock (a start in progress has a cgroup and no init yet).
  if (s->exists && !s->running) {
    if (auto lock = runtime::lock_ct(host, *ctid, false); lock.ok()) {
      auto st = runtime::stop(ct, {true, false});
      if (!st.ok() && st.error().exit_status() != exitcode::kNotRunning)
        (void)run(inv, std::move(st), *ctid);
      else if (st.ok())
        s = state::query_status(ct);
      if (!s.ok()) return run(inv, std::move(s).error(), *ctid);
    }
  }
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
