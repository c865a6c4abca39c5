// Which init a CT's root file system boots: it decides what /proc must be (systemd refuses a /proc
// that is not procfs), how start --wait learns that the boot is over (systemd's READY=1
// notification or busybox's marker file) and which signal asks it to power off.
#pragma once

#include <string_view>

namespace berth::isolation {

enum class InitKind { kMissing, kSystemd, kBusybox, kOther };

std::string_view init_kind_name(InitKind k);  // "missing", "systemd", "busybox", "other"

// By the name of the file /sbin/init resolves to. The lookup stays inside the root at root_fd
// (openat2 RESOLVE_IN_ROOT: the CT's symlinks cannot lead out of it) and opens nothing (O_PATH),
// so a hostile template cannot make the host read or block on anything. Host side.
InitKind init_kind(int root_fd);

// The same from a resolved path's last component ("systemd" → kSystemd). Pure.
InitKind init_kind_of_name(std::string_view resolved_path);

}  // namespace berth::isolation
