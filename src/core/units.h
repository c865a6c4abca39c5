// Units of vzctl values: sizes with suffixes, barrier:limit pairs, `unlimited`
// (reference section 1.3 and 2.1). Pure functions; unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace berth::units {

inline constexpr uint64_t kUnlimited = 9223372036854775807ULL;  // LONG_MAX, as vzctl
inline constexpr uint64_t kPageSize = 4096;

// What the number of a UBC counts; decides what a suffix means.
enum class Kind { kBytes, kPages, kItems };

// Parse "512M", "2.2G", "100", "10P" (pages), "4096B", "unlimited". A bare number is multiplied by
// default_multiplier. Result in bytes (or in items when default_multiplier is 1 and no suffix).
// Errors (exit 21) for garbage, negative numbers and overflow.
Result<uint64_t> parse_size(std::string_view s, uint64_t default_multiplier = 1);

// A value in the native unit of kind: bytes for kBytes, pages for kPages (suffixed sizes are
// converted, rounding up), items for kItems (suffixes refused, as vzctl does for num*).
Result<uint64_t> parse_ubc_value(std::string_view s, Kind kind);

struct BarrierLimit {
  uint64_t barrier = kUnlimited;
  uint64_t limit = kUnlimited;
  bool operator==(const BarrierLimit&) const = default;
};

// "b:l" or "v" (both); each part as parse_ubc_value. barrier > limit is an error.
Result<BarrierLimit> parse_barrier_limit(std::string_view s, Kind kind);
// As vzctl writes: "v" when equal, else "b:l"; kUnlimited as "unlimited".
std::string format_barrier_limit(const BarrierLimit& bl);
std::string format_value(uint64_t v);

// Human form for vzubc-like output: 512M, 1.5G, "-" for 0/unlimited when dash_unlimited.
std::string human_bytes(uint64_t bytes);

}  // namespace berth::units
