#include "cli/cli.h"

namespace berth::cli {

int cmd_set(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "set: not implemented yet"));
}

}  // namespace berth::cli
