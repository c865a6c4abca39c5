#include "state/status.h"

#include <unistd.h>

#include "state/ct_cgroup.h"
#include "storage/root.h"
#include "sys/fs.h"

namespace berth::state {
namespace {

// The CT's init is the process that is PID 1 of a nested PID namespace.
bool is_ct_init(const sys::ProcStatus& ps) {
  return ps.inner && ps.inner->first == 1 && ps.inner->second > 1;
}

}  // namespace

Result<CtStatus> query_status(const CtConfig& ct) {
  CtStatus s;
  s.exists = sys::path_exists(ct.conf_path());
  s.mounted = storage::is_mounted(ct);
  // A complete checkpoint (runtime/checkpoint.h): its record is written last.
  // Or the final dump of an online migration (killed before its commit, or frozen right now).
  // Only a CT that does not run is suspended: looked at last (listings read every CT's status).
  auto suspended = [&ct] {
    const std::string dump = ct.host().paths().dump_dir + "/Dump." + ct.ctid();
    return sys::path_exists(dump + "/berth-dump.json") ||
           sys::path_exists(dump + "-migrate/final/berth-dump.json");
  };
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, cgroup_backend());
  std::string group = ct_group_of(ct);
  if (!cg->exists(group)) {
    s.suspended = suspended();
    return s;
  }
  uint64_t threads = 0;
  for (pid_t p : cg->pids(group)) {
    auto ps = sys::proc_status(p);
    if (!ps) continue;  // exited meanwhile
    threads += ps->threads;
    if (is_ct_init(*ps) && s.init_pid == 0) s.init_pid = p;
  }
  if (!s.init_pid) s.suspended = suspended();
  if (s.init_pid) {
    s.running = true;
    s.numproc = threads;
    if (auto start = sys::proc_start_time(s.init_pid)) {
      double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
      s.uptime = sys::uptime_seconds() - static_cast<double>(*start) / hz;
      if (s.uptime < 0) s.uptime = 0;
    }
  }
  return s;
}

Result<CtStatus> query_running(const CtConfig& ct) {
  CtStatus s;
  s.exists = sys::path_exists(ct.conf_path());
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, cgroup_backend());
  std::string group = ct_group_of(ct);
  for (pid_t p : cg->pids(group)) {
    auto ps = sys::proc_status(p);
    if (ps && is_ct_init(*ps)) {
      s.init_pid = p;
      s.running = true;
      break;
    }
  }
  return s;
}

}  // namespace berth::state
