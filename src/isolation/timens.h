// The CT's own time namespace: its boot time is its start, so `uptime`, /proc/uptime, sysinfo(2)
// and the start times `ps` shows count from the CT's start, as on OpenVZ (the kernel shifts all
// of them by the namespace's CLOCK_BOOTTIME offset). The wall clock stays the host's.
#pragma once

#include <sys/types.h>

#include "core/error.h"

namespace berth::isolation {

// Child side, single-threaded, with CAP_SYS_ADMIN and CAP_SYS_TIME in its user namespace: make a
// time namespace whose CLOCK_BOOTTIME starts at (about) 0 now, and move into it, so what exec
// runs next (init) lives there. A kernel without time namespaces (before 5.6, or
// CONFIG_TIME_NS=n): nothing happens.
Status enter_own_time_namespace();

// Whether process pid is in another time namespace than the caller (exec joins it then).
bool other_time_namespace(pid_t pid);

}  // namespace berth::isolation
