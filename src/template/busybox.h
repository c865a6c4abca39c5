// The built-in `busybox` OS template: a minimal root built locally from Debian's busybox-static,
// with no network, in well under a second.
//
// Owns the template's file list and its init contract with Berth's runtime (texts in
// templates/busybox/, embedded by busybox_files.h):
//   - busybox init (/sbin/init) reads /etc/inittab: ::sysinit runs /etc/init.d/rcS, ::shutdown
//     runs /etc/init.d/rcK; no getty, nothing respawns, init stays PID 1.
//   - Berth mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /run and writes /etc/hostname,
//     /etc/hosts, /etc/resolv.conf before init; rcS sets the hostname, brings up lo, runs every
//     executable /etc/berth/start.d/*.sh in order and touches /run/berth-ready as its last action.
//   - SIGUSR2 to init (what `berth stop` and busybox `poweroff` send) runs rcK, kills the rest and
//     calls reboot(2), which ends the CT's PID namespace.
// The cache logic (lookup, unpack) is cache.h's.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"

namespace berth::tmpl {

inline constexpr char kBusyboxTemplate[] = "busybox";
inline constexpr char kBusyboxBinary[] = "/bin/busybox";

// <cache_dir>/busybox.tar.gz, where build_busybox_template() writes.
std::string busybox_archive_path(const HostConfig&);

// Builds <cache_dir>/busybox.tar.gz from /bin/busybox (package busybox-static; a dynamically linked
// busybox is refused, it would not run in the CT): /bin/busybox and a symlink for every applet of
// `busybox --list-full`, /sbin/init -> ../bin/busybox, the /etc files of templates/busybox/, an
// empty /etc/resolv.conf, /etc/os-release (ID=busybox), /etc/shadow with root locked ("!", 0600),
// empty dirs /proc /sys /dev /run /tmp (1777) /root (0700) /var/log /var/tmp /home /mnt
// /etc/berth/start.d, /var/run -> ../run and /etc/mtab -> ../proc/self/mounts, plus kHostExtras
// (`nft`) and the libraries it links when the host has it; all owned by 0:0,
// every mtime that of /bin/busybox, so rebuilding gives the same bytes. Written with libarchive
// from memory (no staging dir) to a temp file in the cache dir, fsync'ed, then renamed into place.
// Idempotent: does nothing if a `busybox` cache archive of any suffix exists, unless force, which
// rebuilds and removes the other-suffix `busybox` archives (they would shadow ours in lookup).
// Host side; runs /bin/busybox twice (applet list, version). Errors: 3 (busybox missing, I/O).
Status build_busybox_template(const HostConfig&, bool force);

// Host programs copied into the template with their libraries when the host has them.
inline constexpr const char* kHostExtras[] = {"/usr/sbin/nft"};

// The absolute library paths in `ldd PROGRAM` output (the loader included; vdso and "not found"
// lines dropped). Exposed for tests.
std::vector<std::string> parse_ldd(std::string_view ldd_output);

// The applet paths of `busybox --list-full` output, validated (relative, no "..") and sorted;
// "linuxrc" and "bin/busybox" are dropped. Exposed for tests.
std::vector<std::string> parse_applet_list(std::string_view list_full_output);
// Relative symlink target from applet path to bin/busybox: "bin/sh" -> "busybox",
// "sbin/init" -> "../bin/busybox", "usr/bin/[" -> "../../bin/busybox".
std::string applet_link_target(std::string_view applet_path);

}  // namespace berth::tmpl
