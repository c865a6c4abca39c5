#include "cli/cli.h"

namespace berth::cli {

int cmd_list(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "list: not implemented yet"));
}

}  // namespace berth::cli
