// cgroup v2: one unified group; processes are created straight into it with
// clone3(CLONE_INTO_CGROUP), so no migration (and no v1 attach stall) happens at start.
#pragma once

#include <string>

#include "cgroups/backend.h"

namespace berth::cgroups {

class V2Backend : public Backend {
 public:
  explicit V2Backend(std::string mount) : mount_(std::move(mount)) {}
  const char* name() const override { return "v2"; }
  Status create(const std::string& rel) override;
  Result<UniqueFd> open_for_clone(const std::string& rel) override;
  Status attach(const std::string& rel, pid_t pid) override;
  std::vector<pid_t> pids(const std::string& rel) const override;
  Status kill_all(const std::string& rel) override;
  Status remove(const std::string& rel) override;
  bool exists(const std::string& rel) const override;
  Status delegate(const std::string& rel, uid_t uid, gid_t gid) override;
  Status limit_nesting(const std::string& rel, int64_t descendants, int64_t depth) override;
  Status set_devices(const std::string&, const std::vector<std::string>&) override {
    return Error::from_errno(ENOTSUP, "device rules on cgroup v2 (BPF device program)");
  }
  Status apply(const std::string& rel, const Resources& r) override;
  Stats stats(const std::string& rel) const override;
  std::vector<Hierarchy> hierarchies() const override { return {{mount_, ""}}; }
  bool delegates(const Hierarchy&) const override { return true; }
  std::vector<SubGroup> subgroups(const std::string& rel) const override;
  Status set_subtree_control(const std::string& rel, const std::string& controllers) override;

 private:
  std::string mount_;
};

}  // namespace berth::cgroups
