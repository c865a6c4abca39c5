// CPU and NUMA node lists of a VPS's configuration: CPUMASK and NODEMASK ("0-2,7", "all"; CPUMASK
// also "auto"), vzctl's bitmap_parse() form. One parser; it writes the list back normalized
// (sorted, ranges merged, "all" when every bit is set). Pure; unit-tested.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace berth::values {

inline constexpr unsigned kMaxCpus = 4096;  // vzctl's CPUMASK/NODEMASK bitmap size

struct CpuMask {
  enum class Kind { kAll, kAuto, kList };
  Kind kind = Kind::kAll;
  std::string list;  // normalized "0-2,7" for kList

  // The kernel's cpuset form: "" for all (the parent's set), the list otherwise; "" for auto.
  std::string cpuset() const { return kind == Kind::kList ? list : std::string(); }
  // The saved form: "all", "auto" or the list.
  std::string text() const;
};

// "0-2,7" normalized, or "all" when it names all nbits bits (or is "all"). Errors (exit 21):
// "invalid value `V` (list like 0-2,7 expected)" and "(number too large)".
Result<std::string> normalize_bitmap(std::string_view v, unsigned nbits = kMaxCpus);
// A CPUMASK (allow_auto) or NODEMASK value.
Result<CpuMask> parse_cpumask(std::string_view v, bool allow_auto);

}  // namespace berth::values
