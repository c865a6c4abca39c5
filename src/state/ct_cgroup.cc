#include "state/ct_cgroup.h"

#include <charconv>
#include <memory>

#include "core/exit_codes.h"

namespace berth::state {

Result<cgroups::Backend*> cgroup_backend() {
  static std::unique_ptr<cgroups::Backend> backend;
  if (!backend) {
    BERTH_ASSIGN_OR_RETURN(backend, cgroups::detect_backend());
  }
  return backend.get();
}

std::string ct_group_of(const CtConfig& ct) {
  return cgroups::ct_group(ct.host().instance(), ct.ctid());
}

Result<int64_t> numcgroup_of(const CtConfig& ct) {
  auto v = ct.get("NUMCGROUP");
  if (!v) return kDefaultNumCgroup;
  if (*v == "unlimited") return cgroups::kNoLimit;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < 0 || v->empty())
    return Error::with_status(exitcode::kBadValue,
                              "invalid value for NUMCGROUP: `" + *v + "` (a number or unlimited)");
  return n;
}

}  // namespace berth::state
