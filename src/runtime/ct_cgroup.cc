#include "runtime/ct_cgroup.h"

#include <memory>

namespace berth::runtime {

Result<cgroups::Backend*> cgroup_backend() {
  static std::unique_ptr<cgroups::Backend> backend;
  if (!backend) {
    BERTH_ASSIGN_OR_RETURN(backend, cgroups::detect_backend());
  }
  return backend.get();
}

std::string ct_group_of(const CtConfig& ct) { return cgroups::ct_group(ct.host().instance(), ct.ctid()); }

}  // namespace berth::runtime
