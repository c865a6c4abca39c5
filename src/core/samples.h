// Sample configs ve-<name>.conf-sample shipped with Berth (etc/samples), compiled in.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"

namespace berth {

// (file name, text) of every shipped sample; generated at build time.
const std::vector<std::pair<std::string, std::string>>& builtin_samples();

// The text of ve-<name>.conf-sample: the file in <conf_dir> if present, else the shipped one,
// which is then written to <conf_dir> for the admin to edit. Unknown: exit 82 ("config copy").
Result<std::string> load_sample(const HostConfig& host, const std::string& name);

}  // namespace berth
