// The vzubc report as an operation: the beancounter blocks of running CTs (or of a
// /proc/user_beancounters text file, "-" for stdin), formatted as vzubc(8) shows them
// (ubc/view.h), and the stores of the relative (-r) and incremental (-i) modes under
// <run>/vzubc.store and <run>/vzubc.istore (or the directories the options name).
#pragma once

#include <string>

#include "core/error.h"
#include "core/host_config.h"
#include "ubc/view.h"

namespace berth::runtime {

// One screen of output for options o; with -r / -i, the stores are read and updated.
Result<std::string> vzubc_render(const HostConfig& host, const ubc::VzubcOptions& o);
// -c / -C: forget the stores (missing is fine).
void vzubc_clear_stores(const HostConfig& host, const ubc::VzubcOptions& o);

}  // namespace berth::runtime
