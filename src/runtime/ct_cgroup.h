// The cgroup backend of this process (detected once) and the CT's group name in it.
#pragma once

#include <string>

#include "cgroups/backend.h"
#include "core/ct_config.h"

namespace berth::runtime {

Result<cgroups::Backend*> cgroup_backend();
// "<instance>/<ctid>", the CT's group in every hierarchy.
std::string ct_group_of(const CtConfig& ct);

}  // namespace berth::runtime
