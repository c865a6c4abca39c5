// cgroup v1: one group per hierarchy (cpu, cpuacct, cpuset, memory, pids, blkio, devices,
// freezer, name=systemd, ...). Attaching a PID costs one write per hierarchy; the first write
// may stall for an RCU grace period, so callers overlap it with other work.
#pragma once

#include <string>
#include <vector>

#include "cgroups/backend.h"

namespace berth::cgroups {

// Whether the CT's root gets (may write below) its group in a v1 hierarchy with these options
// ("memory", "cpu,cpuacct", "name=systemd"). Pure.
bool delegated_inside_v1(const std::string& options);

class V1Backend : public Backend {
 public:
  V1Backend(std::vector<Hierarchy> h, std::string unified)
      : h_(std::move(h)), unified_(std::move(unified)) {}
  const char* name() const override { return "v1"; }
  Status create(const std::string& rel) override;
  Result<UniqueFd> open_for_clone(const std::string&) override { return UniqueFd(); }
  Status attach(const std::string& rel, pid_t pid) override;
  std::optional<SelfJoin> open_self_join(const std::string& rel) override;
  std::vector<pid_t> pids(const std::string& rel) const override;
  Status kill_all(const std::string& rel) override;
  Status remove(const std::string& rel) override;
  bool exists(const std::string& rel) const override;
  // Only the hierarchies delegated_inside_v1() names; the others stay the host's (read-only
  // inside).
  Status delegate(const std::string& rel, uid_t uid, gid_t gid) override;
  // v1 has no such limit: the memory hierarchy (whose ids are the scarce ones) is not delegated.
  Status limit_nesting(const std::string&, int64_t, int64_t) override { return {}; }
  Status set_devices(const std::string& rel, const std::vector<std::string>& allow) override;
  Status apply(const std::string& rel, const Resources& r) override;
  Stats stats(const std::string& rel) const override;
  std::vector<Hierarchy> hierarchies() const override { return h_; }
  std::string unified_mount() const override { return unified_; }
  bool delegates(const Hierarchy& h) const override { return delegated_inside_v1(h.options); }

 private:
  // The hierarchy used to list processes: pids, else freezer, else the first.
  const Hierarchy& primary() const;
  const Hierarchy* find(const std::string& controller) const;
  std::vector<Hierarchy> h_;
  std::string unified_;
};

// Shared by both backends.
std::vector<pid_t> read_procs(const std::string& dir);
// mkdir base/rel and its parents. fresh_leaf: rel's own group must be new (exit 9 if it exists:
// another command made it, Backend::create).
Status mkdir_group(const std::string& base, const std::string& rel, bool fresh_leaf = false);
// rmdir base/rel and every group the CT made below it (at any depth), retrying while the kernel
// finishes tearing down exited tasks; then base/<instance> if it became empty.
Status rmdir_group(const std::string& base, const std::string& rel);

}  // namespace berth::cgroups
