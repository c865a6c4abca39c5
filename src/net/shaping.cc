// Pure shaping and counting logic: RATE parsing, token-bucket sizes, ifb names, counter files.
#include "net/shaping.h"

#include <algorithm>
#include <cstdint>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::net {

uint64_t link_rate_kbit(const std::vector<RateEntry>& rates, std::string_view ct_ifname) {
  const RateEntry* any = nullptr;
  for (const auto& e : rates) {
    if (e.cls != kAllTrafficClass) continue;
    if (e.dev == ct_ifname) return e.kbit;
    if (e.dev == "*") any = &e;
  }
  return any ? any->kbit : 0;
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
  std::pair<const char*, uint64_t*> fields[] = {{"IN_BYTES", &c.bytes_in},
                                                {"IN_PACKETS", &c.packets_in},
                                                {"OUT_BYTES", &c.bytes_out},
                                                {"OUT_PACKETS", &c.packets_out}};
  for (auto& [key, dst] : fields) {
    auto v = f.get(key);
    if (!v) continue;
    auto n = values::parse_u64(*v);
    if (!n) return Error::invalid("bad " + std::string(key) + " `" + *v + "` in the counter file");
    *dst = *n;
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
