// The watcher's hidden commands (monitor/server.h): `_monitor` is the watcher itself,
// `_teardown CTID [--restart]` its worker after a CT's init ended by itself.
#include "cli/cli.h"
#include "core/exit_codes.h"
#include "monitor/server.h"
#include "runtime/lifecycle.h"
#include "state/status.h"

namespace berth::cli {

int cmd_monitor(const Invocation& inv, const HostConfig& host) {
  if (!inv.args.empty())
    return report(inv, Error::with_status(exitcode::kBadArgument, "_monitor takes no argument"));
  return monitor::serve(host);
}

// Stop's teardown of a CT whose init has exited (a poweroff or reboot inside), then for a
// reboot a start. Nothing when the CT runs again by the time the lock is ours (another command
// restarted it): the teardown is for the dead init only.
int cmd_teardown(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty() || inv.args.size() > 2 ||
      (inv.args.size() == 2 && inv.args[1] != "--restart"))
    return report(inv, Error::with_status(exitcode::kBadArgument, "_teardown CTID [--restart]"));
  bool restart = inv.args.size() == 2;
  auto ct = CtConfig::load(host, inv.args[0]);
  if (!ct.ok()) return report(inv, ct.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), false);
  if (!lock.ok()) return report(inv, lock.error());
  auto s = state::query_status(*ct);
  if (!s.ok()) return report(inv, s.error());
  if (s->running) return 0;
  auto st = runtime::stop(*ct, {true, false});
  if (!st.ok() && st.error().exit_status() != exitcode::kNotRunning)
    return report(inv, Error(st.error()).context("stop CT " + ct->ctid()));
  if (!restart) return 0;
  st = runtime::start(*ct, {});
  if (!st.ok()) return report(inv, Error(st.error()).context("start CT " + ct->ctid()));
  return 0;
}

}  // namespace berth::cli
