// The VPS seccomp filter: allow everything except a short list of host-wide operations.
//
// Owns the blocklist (as data, so it can be checked without loading) and loading it with
// libseccomp. A VPS is a whole OS, so the filter is default-allow: it only refuses what a CT must
// never do to the host (kexec, modules, raw I/O, setting the host clock, ...). It does not filter
// mount(2) or clone flags; user namespaces and capabilities (caps.h) handle those.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace berth::isolation {

struct BlockedSyscall {
  std::string name;      // libseccomp's syscall name
  int errno_value;       // returned instead of running the call (EPERM or ENOSYS)
  bool privileged_only;  // only for CTs without a user namespace (LOCAL_UID=0)
  std::string why;       // one line, for docs and `berth` debug output
};

// Every entry of the filter, privileged-only ones included. Pure.
std::vector<BlockedSyscall> default_blocklist();

// The entries that apply to a CT: all of them when privileged, else the non-privileged ones.
std::vector<BlockedSyscall> blocklist_for(bool privileged);

// Child side, after mounts and before drop_caps(). Loads the filter for the native architecture
// and its 32-bit companions (x86_64: i386 and x32), so old-ABI calls are filtered too. Does NOT
// set no_new_privs (setuid su/sudo must work in a VPS); loading therefore needs CAP_SYS_ADMIN in
// the current user namespace, and must come before the final capability drop. Names unknown to
// the installed libseccomp are skipped. Nothing to undo on failure (a filter is never half-loaded).
// The filter is built once per process (libseccomp's build and its probes of the kernel's
// seccomp API cost about a millisecond) and kept: a fork inherits it.
Status load_seccomp_filter(bool privileged);

// The BPF program load_seccomp_filter loads (built on first use, then the same).
Result<std::vector<sock_filter>> seccomp_program(bool privileged);

// Loads a program from seccomp_program (made before, e.g. by a parent that shares its memory);
// makes no allocation on success.
Status load_seccomp_program(const std::vector<sock_filter>& prog);

// Makes the program of one kind ready in this process's memory: from cache_dir (the host's run
// directory; "" for none), where a program this executable built before is kept, else built (and
// kept there). Host side only, before any namespace of a CT is entered: cache_dir is a host path.
// A process that shares or forks this memory (exec's joiner, a start's child) then finds it.
Status prepare_seccomp_program(bool privileged, const std::string& cache_dir);

// Drops the programs this process holds (tests: the next use reads or builds them again).
void forget_seccomp_programs();

// Both kinds: the watcher does it once at its start, so the starts its forks run load a ready
// program in the CT's child.
Status prepare_seccomp_filters(const std::string& cache_dir = "");

}  // namespace berth::isolation
