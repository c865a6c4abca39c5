// Traffic counters: the host links' statistics through net/tc.h, the saved part in a state file.
#include "net/counters.h"

#include <unistd.h>

#include "core/conf_file.h"
#include "net/addr.h"
#include "net/netif.h"
#include "net/tc.h"

namespace berth::net {
namespace {

Result<Counters> link_counters(TrafficControl& tc, int ifindex) {
  BERTH_ASSIGN_OR_RETURN(LinkStats s, tc.link_stats(ifindex));
  return Counters{s.tx_bytes, s.tx_packets, s.rx_bytes, s.rx_packets};
}

}  // namespace

std::string counters_path(const CtConfig& ct) {
  return ct.host().paths().lib + "/netstat/" + ct.ctid();
}

Result<Counters> saved_counters(const CtConfig& ct) {
  std::string path = counters_path(ct);
  auto f = ConfFile::load(path);
  if (!f.ok()) {
    if (f.error().code() == ENOENT) return Counters{};
    return std::move(f).error();
  }
  return parse_counters(f->text()).context("read `" + path + "`");
}

bool counted_link(const CtConfig& ct, const LinkInfo& link) {
  const std::string& inst = ct.host().instance();
  if (link.name == host_ifname(inst, ct.ctid()) && link.alias == link_alias(inst, ct.ctid()))
    return true;
  // Bridged host ends: veths whose alias starts with the CT's NETIF prefix (their shaping ifbs
  // carry the same prefix but count the same packets again, so they are left out).
  return link.kind == "veth" && link.alias.rfind(netif_alias_prefix(inst, ct.ctid()), 0) == 0;
}

Result<std::optional<Counters>> live_counters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  std::vector<LinkInfo> links;
  if (ct.get_or("NETIF", "").empty()) {
    // No bridged veth (as detach_bridged: one left by a hand edit of a running CT goes with its
    // network namespace): the routed veth alone, asked for by its name. A listing of every link
    // of the host for each CT made `netstat` and berthd's pass over N VPSs cost N listings of N
    // links.
    BERTH_ASSIGN_OR_RETURN(auto routed, nl.find_link(host_ifname(ct.host().instance(), ct.ctid())));
    if (routed) links.push_back(std::move(*routed));
  } else {
    BERTH_ASSIGN_OR_RETURN(links, nl.list_links());
  }
  std::optional<Counters> total;
  std::optional<TrafficControl> tc;
  for (const auto& l : links) {
    if (!counted_link(ct, l)) continue;
    if (!tc) {
      BERTH_ASSIGN_OR_RETURN(TrafficControl t, TrafficControl::open());
      tc.emplace(std::move(t));
    }
    auto c = link_counters(*tc, l.ifindex);
    if (!c.ok()) {
      if (c.error().code() == ENODEV) continue;  // removed since the listing
      return std::move(c).error();
    }
    if (!total) total = Counters{};
    *total += *c;
  }
  return total;
}

Result<Counters> total_counters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(Counters total, saved_counters(ct));
  BERTH_ASSIGN_OR_RETURN(auto live, live_counters(ct));
  if (live) total += *live;
  return total;
}

Status bank_counters(const CtConfig& ct, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(name));
  if (!link || !counted_link(ct, *link)) return {};
  BERTH_ASSIGN_OR_RETURN(TrafficControl tc, TrafficControl::open());
  BERTH_ASSIGN_OR_RETURN(Counters live, link_counters(tc, link->ifindex));
  BERTH_ASSIGN_OR_RETURN(Counters total, saved_counters(ct));
  total += live;
  BERTH_RETURN_IF_ERROR(make_dirs(ct.host().paths().lib + "/netstat", 0755));
  // Written as the run directory's files are, without an fsync (temporary file, rename): a
  // crash of the host loses a running VPS's counters since its start anyway (they are the
  // kernel's until banked), and a crash within the writeback interval after a stop loses that
  // run's the same way; the file is always the old total or the new one. The fsync cost a stop
  // 0.3-1 ms: it queued behind the flushes of the VPS's disk image, which the stop's unmount
  // makes at the same time on the same host file system.
  return write_run_file(counters_path(ct), format_counters(total), 0644)
      .context("save traffic counters");
}

Status forget_counters(const CtConfig& ct) {
  std::string path = counters_path(ct);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove `" + path + "`");
  return {};
}

}  // namespace berth::net
