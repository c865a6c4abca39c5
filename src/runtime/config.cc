// Loading and validating a VPS's configuration (see config.h).
#include "runtime/config.h"

#include "core/exit_codes.h"

namespace berth::runtime {

Result<CtModel> load_config(const CtConfig& ct) { return parse_model(ct); }

Result<CtModel> load_config(const HostConfig& host, const std::string& ctid) {
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok()) {
    Error e = std::move(ct).error();
    if (e.code() == ENOENT) e.status(exitcode::kNoConfig);
    return std::move(e.context("CT " + ctid));
  }
  return parse_model(*ct);
}

}  // namespace berth::runtime
