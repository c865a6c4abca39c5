// What a CT's /proc is (config key PROC_BEANCOUNTERS), and the detached mounts of the instance's
// beancounter server (procsrv/) that make it:
//   "no"     the plain procfs (the block stays at /run/berth/user_beancounters);
//   "yes"    the server's view at /proc (ubc/proc_view.h): /proc/user_beancounters as on OpenVZ,
//            but statfs("/proc") says FUSE, which systemd refuses;
//   "files"  the CT's own procfs at /proc with the server's meminfo, loadavg and cpuinfo bound
//            over it (isolation::kProcViewFiles), as LXCFS does: what systemd, procps and sshd
//            need, and `free`, `top`, `uptime` and `nproc` show the CT's own figures;
//   unset, "auto"  "files" when the CT's init is systemd (isolation/init_kind.h), else "yes".
#pragma once

#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "core/unique_fd.h"
#include "isolation/init_kind.h"
#include "isolation/proc_mask.h"

namespace berth::runtime {

enum class ProcMode { kPlain, kView, kFiles };

// From PROC_BEANCOUNTERS and the init. Exit 21 for a value that is none of the above. Pure.
Result<ProcMode> proc_mode(const CtConfig& ct, isolation::InitKind init);

// The detached mounts the child (or a /proc repair) attaches for mode. Any that cannot be made is
// left invalid: the CT then has the procfs name (never an error).
struct ProcMounts {
  UniqueFd view;                           // kView: the whole view
  std::vector<UniqueFd> held;              // kFiles: one per isolation::kProcViewFiles
  std::vector<isolation::ProcFile> files;  // kFiles: name + fd (borrowed from held)
};
ProcMounts clone_proc_mounts(const CtConfig& ct, ProcMode mode);

}  // namespace berth::runtime
