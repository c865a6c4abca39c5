// exec, exec2, exec3, enter, runscript (console: cmd_console.cc).
#include <cstdio>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "runtime/exec.h"
#include "runtime/script.h"

namespace berth::cli {
namespace {

Result<CtConfig> load_running_ct(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty())
    return Error::with_status(exitcode::kBadArgument, inv.command + ": CT ID or name expected");
  BERTH_ASSIGN_OR_RETURN(std::string ctid, resolve_ctid(host, inv.args[0]));
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok()) return Error::with_status(exitcode::kNoConfig, "CT " + ctid + " does not exist");
  return ct;
}

}  // namespace

int cmd_exec(const Invocation& inv, const HostConfig& host) {
  auto ct = load_running_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  runtime::ExecRequest req;
  req.argv.assign(inv.args.begin() + 1, inv.args.end());
  if (req.argv.empty())
    return report(inv,
                  Error::with_status(exitcode::kBadArgument, inv.command + ": command expected"));
  req.via_shell = inv.command != "exec3";
  req.script_on_stdin = req.via_shell && req.argv.size() == 1 && req.argv[0] == "-";
  auto rc = runtime::exec(*ct, req);
  if (!rc.ok()) {
    Error e = std::move(rc).error();
    int code = report(inv, e.context(inv.command + " in CT " + ct->ctid()));
    // The command itself could not be run (not found): exec says 8, exec2/3 keep its code.
    if (code == exitcode::kCommandNotExecutable || code == exitcode::kCommandNotFound)
      return inv.command == "exec" ? exitcode::kExecFailed : code;
    return code;
  }
  if (inv.command == "exec") return *rc == 0 ? exitcode::kOk : exitcode::kExecFailed;
  return *rc;
}

int cmd_enter(const Invocation& inv, const HostConfig& host) {
  auto ct = load_running_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  runtime::ExecRequest req;
  req.pty = true;
  req.via_shell = true;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    if (inv.args[i] == "--exec") {
      req.argv.assign(inv.args.begin() + static_cast<long>(i) + 1, inv.args.end());
      if (req.argv.empty())
        return report(inv,
                      Error::with_status(exitcode::kBadArgument, "enter: --exec needs a command"));
      break;
    }
    return report(inv, Error::with_status(exitcode::kBadArgument,
                                          "enter: invalid option `" + inv.args[i] + "`"));
  }
  std::fprintf(stderr, "entered into CT %s\n", ct->ctid().c_str());
  auto rc = runtime::exec(*ct, req);
  if (!rc.ok()) return report(inv, Error(rc.error()).context("enter CT " + ct->ctid()));
  std::fprintf(stderr, "exited from CT %s\n", ct->ctid().c_str());
  return *rc;
}

int cmd_runscript(const Invocation& inv, const HostConfig& host) {
  auto ct = load_running_ct(inv, host);
  if (!ct.ok()) return report(inv, ct.error());
  if (inv.args.size() != 2)
    return report(inv, Error::with_status(exitcode::kBadArgument,
                                          "runscript: CTID and a script file expected"));
  auto rc = runtime::run_script(*ct, inv.args[1]);
  if (!rc.ok()) return report(inv, Error(rc.error()).context("runscript CT " + ct->ctid()));
  return *rc;
}

}  // namespace berth::cli
