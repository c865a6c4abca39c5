// The watcher's hidden commands (monitor/server.h): `_monitor` is the watcher itself,
// `_teardown CTID [--restart]` its worker after a CT's init ended by itself.
#include "cli/cli.h"
#include "core/exit_codes.h"
#include "monitor/server.h"
#include "runtime/ct_ops.h"

namespace berth::cli {

int cmd_monitor(const Invocation& inv, const HostConfig& host) {
  if (!inv.args.empty())
    return report(inv, Error::with_status(exitcode::kBadArgument, "_monitor takes no argument"));
  return monitor::serve(host, &cli::main);
}

// Stop's teardown of a CT whose init has exited (a poweroff or reboot inside), then for a
// reboot a start. Nothing when the CT runs again by the time the lock is ours (another command
// restarted it): the teardown is for the dead init only.
int cmd_teardown(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty() || inv.args.size() > 2 ||
      (inv.args.size() == 2 && inv.args[1] != "--restart"))
    return report(inv, Error::with_status(exitcode::kBadArgument, "_teardown CTID [--restart]"));
  bool restart = inv.args.size() == 2;
  auto st = runtime::teardown_dead_init(host, inv.args[0], restart);
  return st.ok() ? 0 : report(inv, st.error());
}

}  // namespace berth::cli
