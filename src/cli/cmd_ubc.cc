// ubc (also run as vzubc): a running CT's beancounters from its cgroup counters, in
// /proc/user_beancounters' Version 2.5 layout (numproc, physpages, swappages).
#include <cstdio>

#include "cgroups/resources.h"
#include "cli/cli.h"
#include "core/exit_codes.h"
#include "runtime/ct_cgroup.h"
#include "runtime/status.h"

namespace berth::cli {

int cmd_ubc(const Invocation& inv, const HostConfig& host) {
  if (inv.args.size() != 1) return report(inv, Error::with_status(exitcode::kBadArgument, "ubc: one CT ID or name expected"));
  auto ctid = resolve_ctid(host, inv.args[0]);
  if (!ctid.ok()) return report(inv, ctid.error());
  auto ct = CtConfig::load(host, *ctid);
  if (!ct.ok()) return report(inv, Error::with_status(exitcode::kNoConfig, "ubc CT " + *ctid + ": config file does not exist"));
  auto status = runtime::query_status(*ct);
  if (!status.ok()) return report(inv, Error(status.error()).context("ubc CT " + *ctid));
  if (!status->running) return report(inv, Error::with_status(exitcode::kNotRunning, "ubc CT " + *ctid + ": CT is not running"));
  auto cg = runtime::cgroup_backend();
  if (!cg.ok()) return report(inv, Error(cg.error()).context("ubc CT " + *ctid));
  std::fputs(cgroups::format_beancounters(*ctid, (*cg)->stats(runtime::ct_group_of(*ct))).c_str(), stdout);
  return 0;
}

}  // namespace berth::cli
