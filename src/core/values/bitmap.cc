// CPU/node list parsing (see bitmap.h).
#include "core/values/bitmap.h"

#include <set>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::values {
namespace {

Error bad_list(std::string_view v, std::string_view why) {
  return Error::invalid("invalid value `" + printable(v) + "` (" + std::string(why) + ")",
                        exitcode::kBadValue);
}

}  // namespace

std::string CpuMask::text() const {
  switch (kind) {
    case Kind::kAll: return "all";
    case Kind::kAuto: return "auto";
    case Kind::kList: break;
  }
  return list;
}

Result<std::string> normalize_bitmap(std::string_view v, unsigned nbits) {
  if (v == "all") return std::string("all");
  constexpr std::string_view kForm = "list like 0-2,7 expected";
  if (v.empty() || v.back() == ',' || v.front() == ',' || v.find(",,") != std::string_view::npos)
    return bad_list(v, kForm);
  std::set<unsigned> bits;
  for (const auto& piece : split_any(v, ",")) {
    size_t dash = piece.find('-');
    auto lo = parse_u64(piece.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : parse_u64(piece.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) return bad_list(v, kForm);
    if (*hi >= nbits) return bad_list(v, "number too large");
    for (uint64_t b = *lo; b <= *hi; ++b) bits.insert(static_cast<unsigned>(b));
  }
  if (bits.size() == nbits) return std::string("all");
  std::string out;
  for (auto it = bits.begin(); it != bits.end();) {
    unsigned start = *it, end = *it;
    while (++it != bits.end() && *it == end + 1) end = *it;
    if (!out.empty()) out += ',';
    out += std::to_string(start);
    if (end != start) out += "-" + std::to_string(end);
  }
  return out;
}

Result<CpuMask> parse_cpumask(std::string_view v, bool allow_auto) {
  CpuMask m;
  if (allow_auto && v == "auto") {
    m.kind = CpuMask::Kind::kAuto;
    return m;
  }
  BERTH_ASSIGN_OR_RETURN(std::string list, normalize_bitmap(v));
  if (list != "all") {
    m.kind = CpuMask::Kind::kList;
    m.list = std::move(list);
  }
  return m;
}

}  // namespace berth::values
