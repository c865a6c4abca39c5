// RATE parsing and writing (see rate.h).
#include "core/values/rate.h"

#include <algorithm>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::values {
namespace {

Error bad_rate(std::string_view s, std::string_view why) {
  return Error::invalid("invalid rate `" + printable(s) + "` (" + std::string(why) + ")",
                        exitcode::kBadValue);
}

bool same_slot(const RateEntry& a, const RateEntry& b) { return a.dev == b.dev && a.cls == b.cls; }

}  // namespace

Result<RateEntry> parse_rate_entry(std::string_view s) {
  auto f = split_keep(s, ':');
  if (f.size() != 3) return bad_rate(s, "dev:class:kbit expected");
  RateEntry e;
  if (f[0] != "*" && !is_valid_ifname(f[0])) return bad_rate(s, "a device name or * expected");
  e.dev = f[0];
  auto cls = parse_u64_max(f[1], 0xffff);
  if (!cls) return bad_rate(s, "a class number expected");
  e.cls = static_cast<uint32_t>(*cls);
  auto kbit = parse_u64(f[2]);
  if (!kbit) return bad_rate(s, "kbit/s expected");
  if (*kbit > kMaxRateKbit)
    return bad_rate(s, "at most " + std::to_string(kMaxRateKbit) + " kbit/s");
  e.kbit = *kbit;
  return e;
}

Result<std::vector<RateEntry>> parse_rate_list(std::string_view s) {
  std::vector<RateEntry> out;
  for (const auto& w : split_any(s, " \t")) {
    BERTH_ASSIGN_OR_RETURN(RateEntry e, parse_rate_entry(w));
    out = merge_rates(std::move(out), {e});
  }
  return out;
}

std::vector<RateEntry> merge_rates(std::vector<RateEntry> base, const std::vector<RateEntry>& add) {
  for (const auto& e : add) {
    std::erase_if(base, [&](const RateEntry& x) { return same_slot(x, e); });
    base.push_back(e);
  }
  return base;
}

std::string format_rate_list(const std::vector<RateEntry>& v) {
  std::string out;
  for (const auto& e : v) {
    if (!out.empty()) out += ' ';
    out += e.dev + ":" + std::to_string(e.cls) + ":" + std::to_string(e.kbit);
  }
  return out;
}

std::vector<std::string> unenforced_rates(const std::vector<RateEntry>& rates) {
  std::vector<std::string> out;
  for (const auto& e : rates)
    if (e.cls != kAllTrafficClass) out.push_back(format_rate_list({e}));
  return out;
}

}  // namespace berth::values
