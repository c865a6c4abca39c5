// RATE, a VPS's traffic shaping rates, as Virtuozzo 7's vzctl writes them:
// RATE="dev:class:kbit [dev:class:kbit ...]", `dev` an interface name (text.h's rule) or `*`
// (any), `class` a network class number (0..65535), `kbit` kilobits (1000 bit) per second, 0 = no
// limit. What the rates mean on the host (which one applies, the token buckets) is net/shaping.h.
// Pure; unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::values {

struct RateEntry {
  std::string dev;    // "*" or an interface name
  uint32_t cls = 0;   // network class
  uint64_t kbit = 0;  // kilobits per second, 0 = no limit
  bool operator==(const RateEntry&) const = default;
};

inline constexpr uint32_t kAllTrafficClass = 1;
// libnl's token bucket takes the rate in bytes/s as an int: 2^31-1 bytes/s is ~17.2 Gbit/s.
inline constexpr uint64_t kMaxRateKbit = 17179869;

// One "dev:class:kbit"; a bad one is an error with exit 21 (vzctl's bad parameter value).
Result<RateEntry> parse_rate_entry(std::string_view s);
// RATE's value (blank separated); later entries for the same dev:class replace earlier ones.
Result<std::vector<RateEntry>> parse_rate_list(std::string_view s);
// Entries of `add` replace those of `base` with the same dev:class, in argv order (vzctl set).
std::vector<RateEntry> merge_rates(std::vector<RateEntry> base, const std::vector<RateEntry>& add);
std::string format_rate_list(const std::vector<RateEntry>& v);
// Entries Berth saves but does not enforce (classes other than 1), as "dev:class:kbit" strings.
std::vector<std::string> unenforced_rates(const std::vector<RateEntry>& rates);

}  // namespace berth::values
