// runscript: run a host file as a shell script inside a running VPS. The file is read on the
// host and fed to the CT's shell on stdin (it never touches the CT's disk); the exit status is
// the script's. An unreadable file is exit 20 (kBadArgument), as vzctl.
#pragma once

#include <string>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::runtime {

Result<int> run_script(const CtConfig& ct, const std::string& path);

}  // namespace berth::runtime
