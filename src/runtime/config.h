// The entry of every operation: a VPS's configuration, loaded and validated as one typed model
// (core/ct_model.h) before anything touches the kernel. Front-ends (cli/, the coming daemon/ and
// oci/) call load_config() first; create, set and start call it again on the config they are
// about to act on, so a hand-edited bad value fails with exit 21 naming the key and leaves nothing.
#pragma once

#include <string>

#include "core/ct_config.h"
#include "core/ct_model.h"
#include "core/error.h"

namespace berth::runtime {

// Parse and validate ct's configuration (CTID.conf over berth.conf).
Result<CtModel> load_config(const CtConfig& ct);
// Read <conf_dir>/<ctid>.conf, then as above. A missing config is exit 14 (kNoConfig).
Result<CtModel> load_config(const HostConfig& host, const std::string& ctid);

}  // namespace berth::runtime
