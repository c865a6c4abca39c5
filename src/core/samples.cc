#include "core/samples.h"

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include <fstream>
#include <sstream>

namespace berth {

Result<std::string> load_sample(const HostConfig& host, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos)
    return Error::with_status(exitcode::kConfigCopy, "invalid sample config name `" + name + "`");
  std::string file = "ve-" + name + ".conf-sample";
  std::string path = host.paths().conf_dir + "/" + file;
  if (std::ifstream in{path}) {
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  for (const auto& [n, t] : builtin_samples()) {
    if (n != file) continue;
    if (make_dirs(host.paths().conf_dir, 0755).ok()) (void)write_file_atomic(path, t, 0644);
    return t;
  }
  return Error::with_status(exitcode::kConfigCopy, "sample config `" + path + "` not found");
}

}  // namespace berth
