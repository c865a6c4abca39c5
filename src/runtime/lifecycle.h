// The VPS lifecycle: create, start, stop, mount, umount, destroy. The ONLY place that knows the
// order of operations (ARCHITECTURE.md section 2). Every function takes the CT's lock itself
// (unless skiplock) and leaves nothing behind on failure.
#pragma once

#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "sys/lock.h"

namespace berth::runtime {

// The per-CT lock (exit 9 when held by another command). skip: --skiplock.
Result<sys::FileLock> lock_ct(const HostConfig& host, const std::string& ctid, bool skip);

struct StartOptions {
  bool wait = false;   // wait until the CT's boot finished (busybox: /run/berth-ready)
  bool force = false;  // start a DISABLED CT
  unsigned wait_timeout = 120;
};
Status start(const CtConfig& ct, const StartOptions& opts);

struct StopOptions {
  bool fast = false;         // kill at once, no graceful halt
  bool skip_umount = false;  // leave VE_ROOT mounted
};
Status stop(const CtConfig& ct, const StopOptions& opts);

Status mount(const CtConfig& ct);
Status umount(const CtConfig& ct);

// Make the private area and write conf (a config already filled with the create options) as
// <ctid>.conf; allocates LOCAL_UID/LOCAL_GID host-wide when not given and registers the range in
// /etc/subuid and /etc/subgid (id_ranges.h); destroy removes it. conf is written last, atomically:
// a CT exists once its config exists.
Status create(const HostConfig& host, const std::string& ctid, ConfFile conf);
// A privileged CT (LOCAL_UID=0: no user namespace) keeps CAP_SYS_ADMIN of the host's user
// namespace; on a stock kernel its root can lift its /proc and /sys masks and write host sysctls
// (kernel.core_pattern, ...): it is host root. Refused (exit 12, one line) unless the admin has
// recorded PRIVILEGED_TRUSTED="yes" (--i-trust-this-vps) in its config. Called by create and start.
inline constexpr const char* kTrustKey = "PRIVILEGED_TRUSTED";
Status check_privileged_trusted(const CtConfig& ct);

// Remove private area and VE_ROOT dir, rename the config to .destroyed, drop the name link.
Status destroy(const CtConfig& ct);

// Repair what a killed command left: a cgroup with no init (killed mid-start) is emptied and
// removed. Called by start/stop/destroy before they act.
Status repair(const CtConfig& ct);

std::string console_log_path(const CtConfig& ct);

}  // namespace berth::runtime
