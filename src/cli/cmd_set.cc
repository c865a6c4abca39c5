// set: map argv to a change of a CT's config and hand it to runtime::apply_set() (runtime/set.h),
// which validates, applies what can be applied to a running CT and saves with --save.
#include <algorithm>
#include <cstdio>

#include "cli/cli.h"
#include "cli/ct_options.h"
#include "core/exit_codes.h"
#include "runtime/lifecycle.h"
#include "runtime/set.h"

namespace berth::cli {
namespace {

bool changed(const ConfigEdit& e, std::string_view key) {
  return std::find(e.changed_keys.begin(), e.changed_keys.end(), key) != e.changed_keys.end();
}

}  // namespace

int cmd_set(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty())
    return report(inv, Error::with_status(exitcode::kBadArgument, "set: CT ID or name expected"));
  auto ctid = resolve_ctid(host, inv.args[0]);
  if (!ctid.ok()) return report(inv, ctid.error());
  auto loaded = CtConfig::load(host, *ctid);
  if (!loaded.ok())
    return report(inv, Error::with_status(exitcode::kNoConfig,
                                          "set CT " + *ctid + ": config file does not exist"));
  CtConfig& ct = *loaded;
  std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
  auto opts = parse_ct_options(OptionContext::kSet, rest);
  if (!opts.ok()) return report(inv, Error(opts.error()).context("set CT " + *ctid));
  if (opts->items.empty() && !opts->reset_ub)
    return report(inv, Error::with_status(exitcode::kBadArgument,
                                          "set CT " + *ctid + ": no parameters to set"));
  auto lock = runtime::lock_ct(host, *ctid, inv.skiplock);
  if (!lock.ok()) return report(inv, Error(lock.error()).context("set CT " + *ctid));

  runtime::SetRequest req;
  req.edited = ct.conf();
  if (auto sample = opts->last("applyconfig")) {
    // vzctl's --applyconfig: the sample's keys, except the CT's identity, then the other options.
    auto st = runtime::merge_sample(host, *sample, req.edited);
    if (!st.ok()) return report(inv, Error(st.error()).context("set CT " + *ctid));
  }
  auto edit = apply_ct_options(*opts, *ctid, req.edited);
  if (!edit.ok()) return report(inv, Error(edit.error()).context("set CT " + *ctid));
  for (const char* k : {"NAME", "OSTEMPLATE"})
    if (changed(*edit, k) && !opts->save)
      return report(inv, Error::with_status(
                             exitcode::kBadArgument,
                             "set CT " + *ctid + ": --" +
                                 std::string(k == std::string("NAME") ? "name" : "ostemplate") +
                                 " needs --save"));
  req.changed_keys = std::move(edit->changed_keys);
  req.need_restart = std::move(edit->need_restart);
  req.not_enforced = std::move(edit->not_enforced);
  req.userpasswd = std::move(edit->userpasswd);
  req.save = opts->save;
  req.setmode = opts->setmode;
  auto st = runtime::apply_set(ct, req, [&](const std::string& line) { say(inv, line); });
  if (!st.ok()) return report(inv, Error(st.error()).context("set CT " + *ctid));
  return 0;
}

}  // namespace berth::cli
