// A CT's limits outside its cgroup files, and the cgroup limits with the host's facts filled in.
//
//   NUMFILE     "b:l" items -> RLIMIT_NOFILE soft b, hard l of every process of the CT
//   LOCKEDPAGES "b:l" pages -> RLIMIT_MEMLOCK soft b, hard l (bytes)
//   SHMPAGES    "b:l" pages -> the CT's IPC namespace: kernel.shmall = l (pages), kernel.shmmax
//               = l * page size (one segment may use it all); unlimited -> the kernel defaults
//   NUMPTY      "b:l" items -> max=l of the CT's own devpts instance (its pty count); at start a
//               mount option, live a remount inside the CT; unlimited -> the kernel's 1048576
//   INOTIFY_INSTANCES, INOTIFY_WATCHES  n -> user.max_inotify_instances / user.max_inotify_watches
//               of the CT's user namespace (per user inside the CT); not for a CT without a user
//               namespace (those sysctls would be the host's). The whole CT is also bounded by the
//               host's fs.inotify.max_user_{instances,watches}, as its user namespace is owned by
//               its LOCAL_UID (start.cc).
// OpenVZ counted NUMFILE and LOCKEDPAGES for the whole CT; a stock kernel only has per-process
// rlimits, so each process of the CT gets the limit (documented in README.md). Rlimits are set
// on the CT's init before it runs (inherited by everything it starts) and, on a live `set`, on
// every process of the CT's cgroup with prlimit(2). Without CAP_SYS_RESOURCE no hard limit can
// go above the one `berth` inherited: the value is clamped, and the caller says so once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/convert.h"
#include "core/ct_config.h"
#include "core/error.h"

namespace berth::runtime {

struct Rlimit {
  uint64_t soft = 0, hard = 0;  // RLIM_INFINITY = unlimited
  bool operator==(const Rlimit&) const = default;
};

struct ProcLimits {
  std::optional<Rlimit> nofile;
  std::optional<Rlimit> memlock;
  std::optional<uint64_t> shmall;             // pages
  std::optional<uint64_t> shmmax;             // bytes
  std::optional<uint64_t> pty_max;            // devpts max=
  std::optional<uint64_t> inotify_instances;  // user.max_inotify_instances of the CT's userns
  std::optional<uint64_t> inotify_watches;    // user.max_inotify_watches
  bool operator==(const ProcLimits&) const = default;
};

// The keys proc_limits_from() reads.
const std::vector<std::string_view>& proc_limit_keys();
// Pure. Error (exit 21, naming the key) for a bad value.
Result<ProcLimits> proc_limits_from(const cgroups::KeyLookup& get);
// Pure: want with the hard limit at most ceiling and the soft limit at most the hard one.
Rlimit clamp_rlimit(Rlimit want, uint64_t ceiling);
// One line per rlimit of pl above this process's hard limit (what the CT's init inherits):
// "NUMFILE 40000 is above the host's hard limit of 20000 open files; the CT gets 20000".
std::vector<std::string> rlimit_clamp_notes(const ProcLimits& pl);

// The rlimits (NUMFILE, LOCKEDPAGES) process pid has now; unset when it cannot be read. `exec`
// gives its command the CT's init's.
ProcLimits rlimits_of(pid_t pid);

// Child side, before exec of init: set the rlimits (clamped) on the calling process and the
// IPC sysctls of its IPC namespace (through /proc/sys/kernel, which follows the caller's ns).
Status apply_proc_limits_self(const ProcLimits& pl);
// Child side, right after it is root of the CT's new user namespace: the inotify sysctls of that
// namespace (/proc/sys/user follows the caller's user namespace, whichever procfs it goes
// through). Nothing for a CT without a user namespace (those sysctls would be the host's).
Status apply_userns_limits_self(const ProcLimits& pl);
// The same on a running CT: a short-lived child joins only the user namespace of its init.
Status apply_userns_limits_live(pid_t init, const ProcLimits& pl);

// Whether this host enforces a key that a stock kernel may lack (cli's not-enforced list):
// TCPSNDBUF/TCPRCVBUF on cgroup v1 with memory.kmem.tcp.limit_in_bytes. False for other keys.
bool enforced_on_host(std::string_view key);

// The CT's cgroup Resources (cgroups::resources_from_config) with io_device set to the disk that
// holds its private area. A note goes to `notes` when IOLIMIT/IOPSLIMIT are set but the private
// area has no block device (nothing can be throttled).
Result<cgroups::Resources> ct_resources(const CtConfig& ct,
                                        std::vector<std::string>* notes = nullptr);

// A live `set`: the limits whose keys differ between before and after, or were given again
// (`touched`: the running CT may have an unsaved value), go to the running CT at once (cgroup
// files, rlimits of each of its processes, its IPC sysctls). A value that cannot be applied to the
// running CT goes to `not_live` as "KEY: why" (the caller applies --setmode): a cgroup write the
// kernel refuses (memory below what the CT uses), an rlimit above a running process's hard limit
// (raising it needs CAP_SYS_RESOURCE). Other failures are errors.
Status apply_live_limits(const CtConfig& before, const CtConfig& after,
                         const std::vector<std::string>& touched,
                         std::vector<std::string>& not_live, std::vector<std::string>& notes);

}  // namespace berth::runtime
