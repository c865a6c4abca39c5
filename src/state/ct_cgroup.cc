#include "state/ct_cgroup.h"

#include <sys/stat.h>

#include <charconv>
#include <cstdlib>
#include <memory>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::state {

namespace {

// <BERTH_ROOT>/run/berth/cgroup-layout when that directory exists (as HostConfig finds the root).
std::string layout_cache_path() {
  const char* env = std::getenv("BERTH_ROOT");
  std::string root = env && *env ? env : "/";
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (!root.empty() && root.front() != '/') return "";
  std::string dir = root + "/run/berth";
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0) return "";
  return dir + "/cgroup-layout";
}

}  // namespace

Result<cgroups::Backend*> cgroup_backend() {
  static std::unique_ptr<cgroups::Backend> backend;
  if (!backend) {
    BERTH_ASSIGN_OR_RETURN(backend, cgroups::detect_backend(layout_cache_path()));
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

std::string entry_group(std::string_view backend, const std::string& group,
                        std::string_view cgroup_text) {
  if (backend != "v2") return group;
  // The unified hierarchy's line: "0::/<instance>/<ctid>/init.scope".
  for (const std::string& line : values::split_keep(cgroup_text, '\n')) {
    if (!line.starts_with("0::")) continue;
    std::string_view path = std::string_view(line).substr(3);
    std::string prefix = "/" + group + "/";
    if (!path.starts_with(prefix) || path.size() == prefix.size()) return group;
    std::string_view sub = path.substr(prefix.size());
    // Canonical from the kernel; refuse anything that is not plain names anyway.
    for (const std::string& name : values::split_keep(sub, '/'))
      if (name.empty() || name == "." || name == "..") return group;
    return group + "/" + std::string(sub);
  }
  return group;
}

}  // namespace berth::state
