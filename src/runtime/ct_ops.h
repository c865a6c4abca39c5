// The power operations as every front-end runs them (berth's start/stop/restart, the watcher's
// teardown, berthd's API): the checks around runtime::start()/stop() that are not the pipeline
// itself. The caller holds the CT's lock (lifecycle.h lock_ct()) and, for a start, runs as a
// worker of the watcher (monitor/client.h) so that the CT's init becomes its child.
#pragma once

#include <string>

#include "core/ct_config.h"
#include "core/error.h"
#include "runtime/lifecycle.h"
#include "runtime/set.h"

namespace berth::runtime {

// Refuse a CT that was migrated away and not cleaned up here (exit 105), else start it.
Status start_ct(const CtConfig& ct, const StartOptions& opts);

// Validate the config (a config that cannot start is refused before the running CT is stopped),
// stop the CT if it runs (fast: kill at once), then start it. say: "Restarting CT ...".
Status restart_ct(const CtConfig& ct, bool fast, const StartOptions& opts, const Say& say);

// The watcher's worker after a CT's init ended by itself (poweroff or reboot inside): takes the
// lock, tears the CT down as stop does, and for a reboot starts it again. Nothing when the CT
// runs again by the time the lock is held (another command restarted it).
Status teardown_dead_init(const HostConfig& host, const std::string& ctid, bool restart);

}  // namespace berth::runtime
