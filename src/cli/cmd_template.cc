#include "cli/cli.h"

namespace berth::cli {

int cmd_template(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "template: not implemented yet"));
}

}  // namespace berth::cli
