#include "cli/cli.h"

namespace berth::cli {

int cmd_create(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "create: not implemented yet"));
}

int cmd_destroy(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "destroy: not implemented yet"));
}

int cmd_start(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "start: not implemented yet"));
}

int cmd_stop(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "stop: not implemented yet"));
}

int cmd_restart(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "restart: not implemented yet"));
}

int cmd_status(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "status: not implemented yet"));
}

int cmd_mount(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "mount: not implemented yet"));
}

int cmd_umount(const Invocation& inv, const HostConfig&) {
  return report(inv, Error::with_status(3, "umount: not implemented yet"));
}

}  // namespace berth::cli
