// Small file and /proc helpers that return Result (no throwing, no iostreams in hot paths).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::sys {

Result<std::string> read_file(const std::string& path);
// Write data to an existing file (cgroup knobs, uid_map): one write(2), no O_CREAT.
Status write_file(const std::string& path, std::string_view data);
bool path_exists(const std::string& path);
// Open `rel` (relative) beneath the root directory of process `pid` (/proc/<pid>/root), for the
// host looking into a CT: no symlink (the CT's own or a magic link) is followed and ".." cannot
// leave that root (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS).
// `flags` as for open(2), O_CLOEXEC added. ENOENT/ELOOP/EXDEV and the like come back as errors.
Result<UniqueFd> open_in_root_of(pid_t pid, const std::string& rel, int flags);
bool is_dir(const std::string& path);
// rm -rf without following symlinks or crossing into other mounts. Missing path is fine.
Status remove_tree(const std::string& path);
// mountpoints from /proc/self/mountinfo
bool is_mount_point(const std::string& path);
// A path field of /proc/*/mountinfo as a path: its octal escapes undone ("\040" is a space,
// "\011" a tab, "\012" a newline, "\134" a backslash). Pure.
std::string unescape_mountinfo(std::string_view s);
std::vector<std::string> mounts_under(const std::string& prefix);  // deepest first

// The fields of /proc/<pid>/stat (pid 0: /proc/self/stat) from field 3 on, as numbers (the
// state letter reads as 0): element i is field i + 3. The name before them may hold anything
// but its last ')'. nullopt if gone.
std::optional<std::vector<uint64_t>> proc_stat_fields(pid_t pid);
// /proc/<pid>/stat field 22 (start time in clock ticks since boot); nullopt if gone.
std::optional<uint64_t> proc_start_time(pid_t pid);
// What /proc/<pid>/status says of a process, read once: its threads ("Threads:", 1 when the
// line is missing) and the last value of NSpid with how many levels it has. nullopt if gone.
struct ProcStatus {
  uint64_t threads = 1;
  std::optional<std::pair<pid_t, int>> inner;
};
std::optional<ProcStatus> proc_status(pid_t pid);
// Last value of NSpid in /proc/<pid>/status and how many levels it has.
std::optional<std::pair<pid_t, int>> proc_inner_pid(pid_t pid);
// Seconds since boot (CLOCK_BOOTTIME: /proc/uptime's first number).
double uptime_seconds();
// Number of threads of pid (field "Threads:" of /proc/<pid>/status).
uint64_t proc_threads(pid_t pid);

}  // namespace berth::sys
