// Traffic counters: the host link's statistics through net/tc.h, the saved part in a state file.
#include "net/counters.h"

#include <unistd.h>

#include "core/conf_file.h"
#include "net/addr.h"
#include "net/netlink.h"
#include "net/tc.h"

namespace berth::net {

std::string counters_path(const CtConfig& ct) { return ct.host().paths().lib + "/netstat/" + ct.ctid(); }

Result<Counters> saved_counters(const CtConfig& ct) {
  std::string path = counters_path(ct);
  auto f = ConfFile::load(path);
  if (!f.ok()) {
    if (f.error().code() == ENOENT) return Counters{};
    return std::move(f).error();
  }
  return parse_counters(f->text()).context("read `" + path + "`");
}

Result<std::optional<Counters>> live_counters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(host_ifname(ct.host().instance(), ct.ctid())));
  if (!link || link->alias != link_alias(ct.host().instance(), ct.ctid())) return std::optional<Counters>();
  BERTH_ASSIGN_OR_RETURN(TrafficControl tc, TrafficControl::open());
  BERTH_ASSIGN_OR_RETURN(LinkStats s, tc.link_stats(link->ifindex));
  return std::optional<Counters>(Counters{s.tx_bytes, s.tx_packets, s.rx_bytes, s.rx_packets});
}

Result<Counters> total_counters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(Counters total, saved_counters(ct));
  BERTH_ASSIGN_OR_RETURN(auto live, live_counters(ct));
  if (live) total += *live;
  return total;
}

Status bank_counters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(auto live, live_counters(ct));
  if (!live) return {};
  BERTH_ASSIGN_OR_RETURN(Counters total, saved_counters(ct));
  total += *live;
  BERTH_RETURN_IF_ERROR(make_dirs(ct.host().paths().lib + "/netstat", 0755));
  return write_file_atomic(counters_path(ct), format_counters(total), 0644).context("save traffic counters");
}

Status forget_counters(const CtConfig& ct) {
  std::string path = counters_path(ct);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno(errno, "remove `" + path + "`");
  return {};
}

}  // namespace berth::net
