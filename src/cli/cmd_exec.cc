#include "cli/cli.h"

namespace berth::cli {

int cmd_exec(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "exec: not implemented yet"));
}

int cmd_enter(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "enter: not implemented yet"));
}

int cmd_runscript(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "runscript: not implemented yet"));
}

int cmd_console(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "console: not implemented yet"));
}

}  // namespace berth::cli
