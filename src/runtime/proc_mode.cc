#include "runtime/proc_mode.h"

#include "core/exit_codes.h"
#include "procsrv/client.h"
#include "sys/kernel.h"

namespace berth::runtime {

Result<ProcMode> proc_mode(const CtConfig& ct, isolation::InitKind init) {
  std::string v = ct.get_or("PROC_BEANCOUNTERS", "auto");
  if (v == "no") return ProcMode::kPlain;
  if (v == "yes") return ProcMode::kView;
  if (v == "files") return ProcMode::kFiles;
  if (v == "auto" || v.empty())
    return init == isolation::InitKind::kSystemd ? ProcMode::kFiles : ProcMode::kView;
  return Error::with_status(exitcode::kBadValue, "invalid value for PROC_BEANCOUNTERS: `" + v +
                                                     "` (yes, no, files or auto)");
}

ProcMounts clone_proc_mounts(const CtConfig& ct, ProcMode mode) {
  ProcMounts m;
  const std::string dir = procsrv::served_proc_path(ct.host(), ct.ctid());
  if (mode == ProcMode::kView) m.view = sys::clone_mount_or_none(dir);
  if (mode == ProcMode::kFiles) {
    for (const char* name : isolation::kProcViewFiles) {
      m.held.push_back(sys::clone_mount_or_none(dir + "/" + name));
      m.files.push_back({name, m.held.back().get()});
    }
  }
  return m;
}

}  // namespace berth::runtime
