// Masking /proc and /sys inside a CT: hide host-wide files, make kernel knobs read-only.
//
// Owns the lists (as data, for tests and docs) and applying them with bind mounts. The runtime
// mounts /proc and /sys first; this only adds mounts on top. Which files are hidden follows
// Docker's masked/readonly paths, and /proc/sys stays writable under net/ as LXC's proc:mixed.
//
// In a user-namespaced CT the kernel already refuses most of these files to CT root; the masks
// matter most for a privileged CT (LOCAL_UID=0). There, CT root keeps CAP_SYS_ADMIN and could
// unmount them: a privileged CT is only as safe as its root user, as with LXC.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace berth::isolation {

// Inside the CT's /proc view (ubc/proc_view.h): the directory where its own procfs is mounted.
// The view's server (procsrv/) serves the same name.
inline constexpr const char* kProcRealDir = ".real";

struct ProcMaskPlan {
  std::vector<std::string> null_files;  // /dev/null bound over each file
  std::vector<std::string> empty_dirs;  // an empty read-only tmpfs (one, bound) on each directory
  std::vector<std::string> read_only;   // bound onto itself and remounted read-only, in order
  std::vector<std::string> writable_again;  // under a read_only path, bound again read-write
};

// The plan for a CT. in_userns: the CT has its own user namespace (then /proc/kmsg is left alone:
// the kernel refuses it without CAP_SYSLOG in the initial namespace, and a /dev/null in its place
// would make rsyslog's imklog spin on EOF). Pure.
ProcMaskPlan proc_mask_plan(bool in_userns);

// Child side, after pivot_root (paths are absolute inside the CT), /proc and /sys mounted.
// root: prefix for every path ("" inside the CT; tests and integration tests may point it
// elsewhere). Paths that do not exist are skipped. On failure, mounts made so far stay (they are
// in the CT's mount namespace and go away with it).
Status apply_proc_mask(const ProcMaskPlan& plan, const std::string& root = "");

// apply_proc_mask(proc_mask_plan(in_userns)).
Status mask_proc(bool in_userns = false);

// Child side, after mask_proc: put the beancounter server's view of the CT's /proc (view_fd, a
// detached mount; ubc/proc_view.h) at /proc and move the CT's procfs, masks included, under it
// to /proc/.real (kProcRealDir). view_fd < 0: nothing to do. Any failure leaves the plain procfs at
// /proc (accounting must not stop a CT from starting); returns whether the view is in place.
bool attach_proc_view(int view_fd);

// The files of the beancounter server's view that the "files" mode (runtime/proc_mode.h) binds
// over the CT's own procfs: /proc stays procfs (systemd, procps and sshd check that), and these
// show the CT's own figures. /proc/user_beancounters cannot exist on procfs: that mode has the
// block at /run/berth/user_beancounters only.
inline constexpr const char* kProcViewFiles[] = {"meminfo", "loadavg", "cpuinfo"};

struct ProcFile {
  std::string name;  // one of kProcViewFiles
  int fd = -1;       // a detached mount of the server's file (open_tree), or -1
};

// Child side, after mask_proc (or on a new procfs in a repair): move each detached mount onto
// /proc/<name>. A file that cannot be attached keeps the procfs one (accounting must not stop a
// CT from starting). Returns how many were attached.
int attach_proc_files(const std::vector<ProcFile>& files);

}  // namespace berth::isolation
