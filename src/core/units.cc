#include "core/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace berth::units {
namespace {

Error bad(std::string_view s) {
  return Error::invalid("invalid value `" + std::string(s) + "`", exitcode::kBadValue);
}

}  // namespace

Result<uint64_t> parse_size(std::string_view s, uint64_t default_multiplier) {
  if (s == "unlimited") return kUnlimited;
  if (s.empty()) return bad(s);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  std::string_view num = s.substr(0, i), suffix = s.substr(i);
  if (num.empty() || num.front() == '.' || std::count(num.begin(), num.end(), '.') > 1)
    return bad(s);
  uint64_t mult = default_multiplier;
  if (!suffix.empty()) {
    if (suffix.size() != 1) return bad(s);
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'T': mult = 1ULL << 40; break;
      case 'G': mult = 1ULL << 30; break;
      case 'M': mult = 1ULL << 20; break;
      case 'K': mult = 1ULL << 10; break;
      case 'P': mult = kPageSize; break;
      case 'B': mult = 1; break;
      default: return bad(s);
    }
  }
  if (num.find('.') == std::string_view::npos) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec != std::errc() || p != num.data() + num.size()) return bad(s);
    if (mult != 0 && v > kUnlimited / mult) return bad(s);
    return v * mult;
  }
  double d = std::strtod(std::string(num).c_str(), nullptr);
  long double r = static_cast<long double>(d) * static_cast<long double>(mult);
  if (r >= static_cast<long double>(kUnlimited)) return bad(s);
  return static_cast<uint64_t>(r);
}

Result<uint64_t> parse_ubc_value(std::string_view s, Kind kind) {
  if (s == "unlimited") return kUnlimited;
  bool has_suffix = !s.empty() && std::isalpha(static_cast<unsigned char>(s.back()));
  switch (kind) {
    case Kind::kItems:
      if (has_suffix) return bad(s);
      return parse_size(s, 1);
    case Kind::kBytes: return parse_size(s, 1);
    case Kind::kPages: {
      if (!has_suffix) return parse_size(s, 1);
      BERTH_ASSIGN_OR_RETURN(uint64_t bytes, parse_size(s, 1));
      return (bytes + kPageSize - 1) / kPageSize;
    }
  }
  return bad(s);
}

Result<BarrierLimit> parse_barrier_limit(std::string_view s, Kind kind) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    BERTH_ASSIGN_OR_RETURN(uint64_t v, parse_ubc_value(s, kind));
    return BarrierLimit{v, v};
  }
  if (s.find(':', colon + 1) != std::string_view::npos) return bad(s);
  BERTH_ASSIGN_OR_RETURN(uint64_t b, parse_ubc_value(s.substr(0, colon), kind));
  BERTH_ASSIGN_OR_RETURN(uint64_t l, parse_ubc_value(s.substr(colon + 1), kind));
  if (b > l)
    return Error::invalid("barrier is above limit in `" + std::string(s) + "`",
                          exitcode::kBadValue);
  return BarrierLimit{b, l};
}

std::string format_value(uint64_t v) { return v == kUnlimited ? "unlimited" : std::to_string(v); }

std::string format_barrier_limit(const BarrierLimit& bl) {
  if (bl.barrier == bl.limit) return format_value(bl.barrier);
  return format_value(bl.barrier) + ":" + format_value(bl.limit);
}

std::string human_bytes(uint64_t bytes) {
  static const char* kSuffix[] = {"", "K", "M", "G", "T", "P"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024 && i < 5) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  if (i == 0 || v >= 100 || std::fabs(v - std::round(v)) < 0.05)
    std::snprintf(buf, sizeof buf, "%.0f%s", v, kSuffix[i]);
  else
    std::snprintf(buf, sizeof buf, "%.1f%s", v, kSuffix[i]);
  return buf;
}

}  // namespace berth::units
