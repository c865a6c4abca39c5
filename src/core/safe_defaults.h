// The limits no CT runs without (docs/security/limits.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth {

// The value a CT gets for `key` when neither its config nor berth.conf has one (CtConfig::get's
// last step): PHYSPAGES (256 MiB), SWAPPAGES (512 MiB), NUMPROC (512), NUMPTY (64),
// INOTIFY_INSTANCES (128) and INOTIFY_WATCHES (65536), so that no CT runs without a bound on RAM,
// processes (the host's pid space), ptys and inotify objects. "unlimited" in a config is an
// explicit choice and is kept. The values are those of the default sample, ve-vswap-256m.
std::optional<std::string> safe_default(std::string_view key);

// The sample `create` uses without --config when berth.conf has no CONFIGFILE (as vz.conf's).
inline constexpr std::string_view kDefaultConfigSample = "vswap-256m";

}  // namespace berth
