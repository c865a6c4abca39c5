// Pure shaping and counting logic: RATE parsing, token-bucket sizes, ifb names, counter files.
#include "net/shaping.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "core/conf_file.h"
#include "core/exit_codes.h"

namespace berth::net {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  for (auto w : split(s, ' '))
    if (!w.empty()) out.push_back(w);
  return out;
}

bool to_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool is_ifname(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == ':' || c == ',' || c == ';' || c == '=' || c == '*' || c <= ' ' || c == 0x7f;
  });
}

Error bad_rate(std::string_view s, std::string_view why) {
  return Error::invalid("invalid rate `" + std::string(s) + "` (" + std::string(why) + ")", exitcode::kBadValue);
}

bool same_slot(const RateEntry& a, const RateEntry& b) { return a.dev == b.dev && a.cls == b.cls; }

}  // namespace

Result<RateEntry> parse_rate_entry(std::string_view s) {
  auto f = split(s, ':');
  if (f.size() != 3) return bad_rate(s, "dev:class:kbit expected");
  RateEntry e;
  if (f[0] != "*" && !is_ifname(f[0])) return bad_rate(s, "a device name or * expected");
  e.dev = std::string(f[0]);
  uint64_t cls = 0;
  if (!to_u64(f[1], cls) || cls > 0xffff) return bad_rate(s, "a class number expected");
  e.cls = static_cast<uint32_t>(cls);
  if (!to_u64(f[2], e.kbit)) return bad_rate(s, "kbit/s expected");
  if (e.kbit > kMaxRateKbit) return bad_rate(s, "at most " + std::to_string(kMaxRateKbit) + " kbit/s");
  return e;
}

Result<std::vector<RateEntry>> parse_rate_list(std::string_view s) {
  std::vector<RateEntry> out;
  for (auto w : words(s)) {
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

uint64_t link_rate_kbit(const std::vector<RateEntry>& rates, std::string_view ct_ifname) {
  const RateEntry* any = nullptr;
  for (const auto& e : rates) {
    if (e.cls != kAllTrafficClass) continue;
    if (e.dev == ct_ifname) return e.kbit;
    if (e.dev == "*") any = &e;
  }
  return any ? any->kbit : 0;
}

std::vector<std::string> unenforced_rates(const std::vector<RateEntry>& rates) {
  std::vector<std::string> out;
  for (const auto& e : rates)
    if (e.cls != kAllTrafficClass) out.push_back(format_rate_list({e}));
  return out;
}

TbfParams tbf_params(uint64_t kbit) {
  TbfParams p;
  uint64_t rate = std::min<uint64_t>(kbit * 1000 / 8, INT32_MAX);
  if (rate == 0) rate = 1;
  uint64_t burst = std::max<uint64_t>(rate / 50, 64 * 1024);
  uint64_t limit = burst + std::max<uint64_t>(rate / 10, 64 * 1024);
  p.rate_bytes = static_cast<uint32_t>(rate);
  p.burst_bytes = static_cast<uint32_t>(std::min<uint64_t>(burst, INT32_MAX));
  p.limit_bytes = static_cast<uint32_t>(std::min<uint64_t>(limit, INT32_MAX));
  return p;
}

std::string ifb_ifname(std::string_view host_veth) {
  std::string out(host_veth);
  if (out.size() >= 2) out.replace(0, 2, "vq");
  return out;
}

std::string ifb_alias(std::string_view link_alias) { return std::string(link_alias) + ":ifb"; }

Counters& Counters::operator+=(const Counters& o) {
  bytes_in += o.bytes_in;
  packets_in += o.packets_in;
  bytes_out += o.bytes_out;
  packets_out += o.packets_out;
  return *this;
}

Result<Counters> parse_counters(std::string_view text) {
  ConfFile f = ConfFile::parse(text);
  Counters c;
  std::pair<const char*, uint64_t*> fields[] = {
      {"IN_BYTES", &c.bytes_in}, {"IN_PACKETS", &c.packets_in}, {"OUT_BYTES", &c.bytes_out}, {"OUT_PACKETS", &c.packets_out}};
  for (auto& [key, dst] : fields) {
    auto v = f.get(key);
    if (v && !to_u64(*v, *dst)) return Error::invalid("bad " + std::string(key) + " `" + *v + "` in the counter file");
  }
  return c;
}

std::string format_counters(const Counters& c) {
  return format_conf_line("IN_BYTES", std::to_string(c.bytes_in)) + "\n" +
         format_conf_line("IN_PACKETS", std::to_string(c.packets_in)) + "\n" +
         format_conf_line("OUT_BYTES", std::to_string(c.bytes_out)) + "\n" +
         format_conf_line("OUT_PACKETS", std::to_string(c.packets_out)) + "\n";
}

}  // namespace berth::net
