// Pure parts of per-CT traffic shaping and counting: RATE / RATEBOUND as Virtuozzo 7's vzctl
// writes them, the token-bucket parameters a rate becomes, the name of a CT's ifb device, and
// the per-CT counter state file's text. No syscalls here; unit-tested.
//
// RATE="dev:class:kbit [dev:class:kbit ...]": `dev` a device name or `*` (any), `class` a
// network class number, `kbit` kilobits (1000 bit) per second, as tc counts them. Berth shapes
// each CT on the host end of its own veth, so the device that counts is the CT's interface:
// an entry naming that interface (venet0 for routed mode) wins over a `*` entry. Class 1 is all
// traffic (Virtuozzo's default networks_classes); other classes are saved but not enforced.
// A rate of 0 means no limit. The same rate limits both directions.
//
// RATEBOUND="yes|no": Virtuozzo lets an unbound CT borrow above its rate from the host device's
// TOTALRATE pool. Berth's CTs share no pool (one veth each), so RATE is always the ceiling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/values/rate.h"

namespace berth::net {

// The RATE value is the config model's (core/values/rate.h).
using values::format_rate_list;
using values::kAllTrafficClass;
using values::kMaxRateKbit;
using values::merge_rates;
using values::parse_rate_entry;
using values::parse_rate_list;
using values::RateEntry;
using values::unenforced_rates;

// The class-1 rate (kbit/s) of the interface the CT sees as ct_ifname; 0 when none applies.
uint64_t link_rate_kbit(const std::vector<RateEntry>& rates, std::string_view ct_ifname);

// A token bucket filter for one direction: rate in bytes/s, the bucket (burst) and the queue
// limit in bytes. The bucket holds 20 ms at the rate and at least 64 KiB, so a full-size GSO
// packet of a veth passes whole; the queue holds 100 ms beyond the bucket.
struct TbfParams {
  uint32_t rate_bytes = 0;
  uint32_t burst_bytes = 0;
  uint32_t limit_bytes = 0;
  bool operator==(const TbfParams&) const = default;
};
TbfParams tbf_params(uint64_t kbit);

// The CT's ifb device (its traffic towards the host is redirected there to be shaped): the host
// veth name host_veth ("vb...") with the prefix "vq", same length. Alias: link alias + ":ifb".
std::string ifb_ifname(std::string_view host_veth);
std::string ifb_alias(std::string_view link_alias);

// Traffic counters of one CT, from the CT's point of view: "in" is what it received.
struct Counters {
  uint64_t bytes_in = 0, packets_in = 0, bytes_out = 0, packets_out = 0;
  Counters& operator+=(const Counters& o);
  bool operator==(const Counters&) const = default;
};
// The counter state file: IN_BYTES=, IN_PACKETS=, OUT_BYTES=, OUT_PACKETS= lines (ConfFile
// syntax). Missing keys are 0; a malformed number is an error.
Result<Counters> parse_counters(std::string_view text);
std::string format_counters(const Counters& c);

}  // namespace berth::net
