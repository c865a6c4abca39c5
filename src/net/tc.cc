// libnl-route-3 adapter for qdiscs, filters, actions, ifb links and link statistics. Every libnl
// object is owned by a unique_ptr with its put function; every libnl error becomes an Error.
#include "net/tc.h"

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include <memory>
#include <string>

#include "net/netlink.h"

namespace berth::net {
namespace {

template <class T, void (*F)(T*)>
struct Put {
  void operator()(T* p) const { F(p); }
};
using QdiscPtr = std::unique_ptr<rtnl_qdisc, Put<rtnl_qdisc, rtnl_qdisc_put>>;
using ClsPtr = std::unique_ptr<rtnl_cls, Put<rtnl_cls, rtnl_cls_put>>;
using ActPtr = std::unique_ptr<rtnl_act, Put<rtnl_act, rtnl_act_put>>;
using TcLinkPtr = std::unique_ptr<rtnl_link, Put<rtnl_link, rtnl_link_put>>;

constexpr uint32_t kIngressHandle = TC_HANDLE(0xffff, 0);
constexpr uint16_t kFilterPrio = 1;

Error tc_error(int err, std::string what) {
  return Error::from_errno(errno_of_nl(err), std::move(what));
}
std::string dev(int ifindex) { return "link #" + std::to_string(ifindex); }

// Deleting what is not there: ENOENT (ESRCH once through libnl) or, for a default root, EINVAL.
Status absent_ok(int err, std::string what) {
  if (err >= 0) return {};
  int e = errno_of_nl(err);
  if (e == ESRCH || e == EINVAL || e == ENOENT || e == ENODEV) return {};
  return tc_error(err, std::move(what));
}

// A qdisc object of ifindex at parent with handle and kind (kind may be null: any).
Result<QdiscPtr> make_qdisc(int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  QdiscPtr q(rtnl_qdisc_alloc());
  if (!q) return Error::from_errno(ENOMEM, "allocate qdisc");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), parent);
  if (handle) rtnl_tc_set_handle(TC_CAST(q.get()), handle);
  if (kind) {
    int err = rtnl_tc_set_kind(TC_CAST(q.get()), kind);
    if (err < 0) return tc_error(err, std::string("make ") + kind + " qdisc");
  }
  return q;
}

}  // namespace

Result<TrafficControl> TrafficControl::open() {
  nl_sock* s = nl_socket_alloc();
  if (!s) return Error::from_errno(ENOMEM, "allocate netlink socket");
  int err = nl_connect(s, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(s);
    return tc_error(err, "connect rtnetlink socket");
  }
  return TrafficControl(s);
}

TrafficControl::~TrafficControl() {
  if (sock_) nl_socket_free(sock_);
}

Status TrafficControl::create_ifb(std::string_view name) {
  TcLinkPtr link(rtnl_link_alloc());
  if (!link) return Error::from_errno(ENOMEM, "allocate link");
  std::string n(name);
  rtnl_link_set_name(link.get(), n.c_str());
  int err = rtnl_link_set_type(link.get(), "ifb");
  if (err >= 0) err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) return tc_error(err, "create ifb `" + n + "`");
  return {};
}

Result<LinkStats> TrafficControl::link_stats(int ifindex) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, ifindex, nullptr, &raw);
  TcLinkPtr link(raw);
  if (err < 0) return tc_error(err, "read counters of " + dev(ifindex));
  LinkStats s;
  s.rx_bytes = rtnl_link_get_stat(link.get(), RTNL_LINK_RX_BYTES);
  s.rx_packets = rtnl_link_get_stat(link.get(), RTNL_LINK_RX_PACKETS);
  s.tx_bytes = rtnl_link_get_stat(link.get(), RTNL_LINK_TX_BYTES);
  s.tx_packets = rtnl_link_get_stat(link.get(), RTNL_LINK_TX_PACKETS);
  return s;
}

Status TrafficControl::set_root_tbf(int ifindex, uint32_t rate_bytes, uint32_t burst_bytes,
                                    uint32_t limit_bytes) {
  BERTH_ASSIGN_OR_RETURN(QdiscPtr q, make_qdisc(ifindex, TC_H_ROOT, TC_HANDLE(1, 0), "tbf"));
  rtnl_qdisc_tbf_set_limit(q.get(), static_cast<int>(limit_bytes));
  rtnl_qdisc_tbf_set_rate(q.get(), static_cast<int>(rate_bytes), static_cast<int>(burst_bytes), 0);
  int err = rtnl_qdisc_add(sock_, q.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) return tc_error(err, "set rate limit (tbf) on " + dev(ifindex));
  return {};
}

Status TrafficControl::delete_root_qdisc(int ifindex) {
  BERTH_ASSIGN_OR_RETURN(QdiscPtr q, make_qdisc(ifindex, TC_H_ROOT, 0, nullptr));
  return absent_ok(rtnl_qdisc_delete(sock_, q.get()), "remove rate limit from " + dev(ifindex));
}

Status TrafficControl::redirect_ingress(int ifindex, int to_ifindex) {
  BERTH_ASSIGN_OR_RETURN(QdiscPtr q, make_qdisc(ifindex, TC_H_INGRESS, kIngressHandle, "ingress"));
  int err = rtnl_qdisc_add(sock_, q.get(), NLM_F_CREATE);
  if (err < 0 && errno_of_nl(err) != EEXIST)
    return tc_error(err, "add ingress qdisc to " + dev(ifindex));

  // u32 "match u32 0 0" (every packet) -> mirred egress redirect to the ifb; one fixed handle,
  // so a second call replaces the filter instead of stacking another.
  ClsPtr cls(rtnl_cls_alloc());
  ActPtr act(rtnl_act_alloc());
  if (!cls || !act) return Error::from_errno(ENOMEM, "allocate filter");
  rtnl_tc_set_ifindex(TC_CAST(cls.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(cls.get()), kIngressHandle);
  err = rtnl_tc_set_kind(TC_CAST(cls.get()), "u32");
  if (err < 0) return tc_error(err, "make u32 filter");
  rtnl_cls_set_prio(cls.get(), kFilterPrio);
  rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
  rtnl_u32_set_handle(cls.get(), 0x800, 0, 0x800);
  err = rtnl_u32_add_key_uint32(cls.get(), 0, 0, 0, 0);
  if (err >= 0) err = rtnl_u32_set_cls_terminal(cls.get());
  if (err < 0) return tc_error(err, "make u32 filter");
  err = rtnl_tc_set_kind(TC_CAST(act.get()), "mirred");
  if (err >= 0) err = rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  if (err >= 0) err = rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  if (err >= 0) err = rtnl_mirred_set_ifindex(act.get(), static_cast<uint32_t>(to_ifindex));
  if (err >= 0)
    err = rtnl_u32_add_action(cls.get(), act.get());  // the filter takes its own reference
  if (err < 0) return tc_error(err, "make redirect action");
  err = rtnl_cls_add(sock_, cls.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) return tc_error(err, "add redirect filter to " + dev(ifindex));
  return {};
}

Status TrafficControl::delete_ingress(int ifindex) {
  BERTH_ASSIGN_OR_RETURN(QdiscPtr q, make_qdisc(ifindex, TC_H_INGRESS, kIngressHandle, "ingress"));
  return absent_ok(rtnl_qdisc_delete(sock_, q.get()), "remove ingress qdisc from " + dev(ifindex));
}

}  // namespace berth::net
