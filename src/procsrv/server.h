// The /proc server process of an instance (`berth ubc --serve`, spawned by client.h's
// ensure_server): a FUSE file system at <run>/ubcfs with each CT's beancounter block and its /proc
// view (ubc/proc_view.h), computed by the ubc/ library on every read. Bounds on what one CT can
// make it do: ct_slots.h and docs/security/procsrv.md.
#pragma once

#include "core/host_config.h"

namespace berth::procsrv {

// Mounts, signals readiness on the fd named by BERTH_UBCFS_READY_FD, serves until idle or
// SIGTERM, unmounts. Returns the exit status.
int serve(const HostConfig& host);

}  // namespace berth::procsrv
