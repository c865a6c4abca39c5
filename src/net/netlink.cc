// libnl-route-3 adapter: every libnl object is owned by a unique_ptr with its free function, and
// every libnl error becomes an Error with the matching errno.
#include "net/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/object.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>

#include "core/unique_fd.h"

namespace berth::net {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
IpAddr ip_of(nl_addr* a, int family) {
  IpAddr ip;
  ip.family = family;
  if (!a) return ip;
  unsigned len = nl_addr_get_len(a);
  if (len == (family == AF_INET6 ? 16u : 4u))
    std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(a), len);
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family, ip.bytes.data(), buf, sizeof buf)) ip.text = buf;
  return ip;
}

bool usable(nl_addr* a, int family) {
  return a && nl_addr_get_len(a) == (family == AF_INET6 ? 16u : 4u);
}

void put_addr(nl_addr* a) { nl_addr_put(a); }
void put_link(rtnl_link* l) { rtnl_link_put(l); }
void put_raddr(rtnl_addr* a) { rtnl_addr_put(a); }
void put_route(rtnl_route* r) { rtnl_route_put(r); }
void put_neigh(rtnl_neigh* n) { rtnl_neigh_put(n); }
void free_cache(nl_cache* c) { nl_cache_free(c); }
using AddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, put_addr>>;
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link, put_link>>;
using RAddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, put_raddr>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, put_route>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, Deleter<rtnl_neigh, put_neigh>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, free_cache>>;

Error nl_error(int err, std::string what) {
  return Error::from_errno(errno_of_nl(err), std::move(what));
}

AddrPtr make_addr(const IpAddr& ip, int prefix) {
  AddrPtr a(nl_addr_build(ip.family, ip.bytes.data(), ip.is_v6() ? 16 : 4));
  if (a) nl_addr_set_prefixlen(a.get(), prefix);
  return a;
}

std::string ifname_of(int ifindex) { return "link #" + std::to_string(ifindex); }

Result<nl_sock*> connect_here() {
  nl_sock* s = nl_socket_alloc();
  if (!s) return Error::from_errno(ENOMEM, "allocate netlink socket");
  int err = nl_connect(s, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(s);
    return nl_error(err, "connect rtnetlink socket");
  }
  return s;
}

LinkInfo info_of(rtnl_link* link) {
  LinkInfo info;
  info.ifindex = rtnl_link_get_ifindex(link);
  if (const char* n = rtnl_link_get_name(link)) info.name = n;
  if (const char* a = rtnl_link_get_ifalias(link)) info.alias = a;
  if (const char* k = rtnl_link_get_type(link)) info.kind = k;
  info.master = rtnl_link_get_master(link);
  nl_addr* ll = rtnl_link_get_addr(link);
  if (ll && nl_addr_get_len(ll) == 6) {
    const auto* b = static_cast<const unsigned char*>(nl_addr_get_binary_addr(ll));
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02X:%02X:%02X:%02X:%02X:%02X", b[0], b[1], b[2], b[3], b[4],
                  b[5]);
    info.mac = buf;
  }
  return info;
}

Status set_mac(rtnl_link* link, std::string_view mac) {
  if (mac.empty()) return {};
  std::string m(mac);
  nl_addr* raw = nullptr;
  int err = nl_addr_parse(m.c_str(), AF_LLC, &raw);
  AddrPtr a(raw);
  if (err < 0) return nl_error(err, "parse MAC address `" + m + "`");
  rtnl_link_set_addr(link, a.get());
  return {};
}

}  // namespace

int errno_of_nl(int nl_err) {
  switch (nl_err < 0 ? -nl_err : nl_err) {
    case NLE_EXIST: return EEXIST;
    case NLE_OBJ_NOTFOUND: return ESRCH;
    case NLE_NODEV: return ENODEV;
    case NLE_PERM: return EPERM;
    case NLE_INVAL: return EINVAL;
    case NLE_RANGE: return ERANGE;
    case NLE_BUSY: return EBUSY;
    case NLE_NOMEM: return ENOMEM;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_AGAIN: return EAGAIN;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_NOACCESS: return EACCES;
    case NLE_MSGSIZE: return EMSGSIZE;
    default: return EIO;
  }
}

Result<Netlink> Netlink::open() {
  BERTH_ASSIGN_OR_RETURN(nl_sock * s, connect_here());
  return Netlink(s);
}

Result<Netlink> Netlink::open_in_netns_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::from_errno(errno, "open `" + path + "`");
  // A socket stays in the namespace it was made in. setns(CLONE_NEWNET) changes only the calling
  // thread, so a throwaway thread makes the socket and the caller stays where it is.
  Result<nl_sock*> made = Error::from_errno(EIO, "join the CT's network namespace");
  std::thread t([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      made = Error::from_errno(errno, "join the CT's network namespace");
      return;
    }
    made = connect_here();
  });
  t.join();
  BERTH_ASSIGN_OR_RETURN(nl_sock * s, std::move(made));
  return Netlink(s);
}

Netlink& Netlink::operator=(Netlink&& o) noexcept {
  if (this != &o) {
    if (sock_) nl_socket_free(sock_);
    sock_ = o.sock_;
    o.sock_ = nullptr;
  }
  return *this;
}

Netlink::~Netlink() {
  if (sock_) nl_socket_free(sock_);
}

Result<std::optional<LinkInfo>> Netlink::find_link(std::string_view name) {
  rtnl_link* raw = nullptr;
  std::string n(name);
  int err = rtnl_link_get_kernel(sock_, 0, n.c_str(), &raw);
  LinkPtr link(raw);
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return std::optional<LinkInfo>();
  if (err < 0) return nl_error(err, "look up link `" + n + "`");
  return std::optional<LinkInfo>(info_of(link.get()));
}

Result<std::vector<LinkInfo>> Netlink::list_links() {
  nl_cache* raw = nullptr;
  int err = rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw);
  CachePtr cache(raw);
  if (err < 0) return nl_error(err, "list links");
  std::vector<LinkInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
    out.push_back(info_of(reinterpret_cast<rtnl_link*>(o)));
  return out;
}

Status Netlink::create_veth(std::string_view name, std::string_view peer_name, pid_t peer_pid,
                            std::string_view mac, std::string_view peer_mac) {
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) return Error::from_errno(ENOMEM, "allocate veth");
  std::string n(name), p(peer_name);
  rtnl_link_set_name(link.get(), n.c_str());
  rtnl_link* peer = rtnl_link_veth_get_peer(link.get());
  rtnl_link_set_name(peer, p.c_str());
  rtnl_link_set_ns_pid(peer, peer_pid);
  // One queue each way on both ends, asked for: the kernel's default gives a veth a queue per
  // possible CPU and then cuts the ones in use down to one on the registered device, which waits
  // for an RCU grace period (synchronize_net under the RTNL: 10-40 ms on the 2-vCPU test host
  // while another VPS's network namespace was being torn down, every start right after a stop).
  for (rtnl_link* end : {link.get(), peer}) {
    rtnl_link_set_num_tx_queues(end, 1);
    rtnl_link_set_num_rx_queues(end, 1);
  }
  Status macs = set_mac(link.get(), mac);
  if (macs.ok()) macs = set_mac(peer, peer_mac);
  rtnl_link_put(peer);
  BERTH_RETURN_IF_ERROR(macs.context("create veth `" + n + "`"));
  int err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) return nl_error(err, "create veth `" + n + "`");
  return {};
}

Status Netlink::set_master(int ifindex, int master_ifindex) {
  int err = rtnl_link_enslave_ifindex(sock_, master_ifindex, ifindex);
  if (err < 0)
    return nl_error(err, "add " + ifname_of(ifindex) + " to bridge " + ifname_of(master_ifindex));
  return {};
}

// One RTM_SETLINK of link ifindex with what set() puts in the change.
static Status change_link(nl_sock* sock, int ifindex, const std::function<void(rtnl_link*)>& set,
                          const std::function<std::string()>& what) {
  LinkPtr orig(rtnl_link_alloc()), change(rtnl_link_alloc());
  if (!orig || !change) return Error::from_errno(ENOMEM, "allocate link");
  rtnl_link_set_ifindex(orig.get(), ifindex);
  set(change.get());
  int err = rtnl_link_change(sock, orig.get(), change.get(), 0);
  if (err < 0) return nl_error(err, what());
  return {};
}

Status Netlink::set_alias(int ifindex, std::string_view alias) {
  std::string a(alias);
  return change_link(
      sock_, ifindex, [&](rtnl_link* l) { rtnl_link_set_ifalias(l, a.c_str()); },
      [&] { return "set alias of " + ifname_of(ifindex); });
}

Status Netlink::set_up(int ifindex) {
  return change_link(
      sock_, ifindex, [](rtnl_link* l) { rtnl_link_set_flags(l, IFF_UP); },
      [&] { return "bring up " + ifname_of(ifindex); });
}

Status Netlink::rename_link(int ifindex, std::string_view name, std::string_view mac) {
  LinkPtr orig(rtnl_link_alloc()), down(rtnl_link_alloc()), change(rtnl_link_alloc());
  if (!orig || !down || !change) return Error::from_errno(ENOMEM, "allocate link");
  rtnl_link_set_ifindex(orig.get(), ifindex);
  // The kernel renames only a link that is down (EBUSY otherwise).
  rtnl_link_unset_flags(down.get(), IFF_UP);
  int err = rtnl_link_change(sock_, orig.get(), down.get(), 0);
  if (err < 0) return nl_error(err, "take down " + ifname_of(ifindex));
  std::string n(name);
  rtnl_link_set_name(change.get(), n.c_str());
  BERTH_RETURN_IF_ERROR(set_mac(change.get(), mac).context("rename " + ifname_of(ifindex)));
  err = rtnl_link_change(sock_, orig.get(), change.get(), 0);
  if (err < 0) return nl_error(err, "rename " + ifname_of(ifindex) + " to `" + n + "`");
  return {};
}

Status Netlink::rename_live(int ifindex, std::string_view name) {
  std::string n(name);
  return change_link(
      sock_, ifindex, [&](rtnl_link* l) { rtnl_link_set_name(l, n.c_str()); },
      [&] { return "rename " + ifname_of(ifindex) + " to `" + n + "`"; });
}

Status Netlink::delete_link(int ifindex) {
  LinkPtr link(rtnl_link_alloc());
  if (!link) return Error::from_errno(ENOMEM, "allocate link");
  rtnl_link_set_ifindex(link.get(), ifindex);
  int err = rtnl_link_delete(sock_, link.get());
  if (err < 0) return nl_error(err, "delete " + ifname_of(ifindex));
  return {};
}

Status Netlink::add_address(int ifindex, const IpAddr& ip, int prefix, bool link_scope) {
  RAddrPtr a(rtnl_addr_alloc());
  AddrPtr local = make_addr(ip, prefix);
  if (!a || !local) return Error::from_errno(ENOMEM, "allocate address");
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), ip.family);
  int err = rtnl_addr_set_local(a.get(), local.get());
  if (err >= 0) {
    rtnl_addr_set_prefixlen(a.get(), prefix);
    if (ip.is_v6()) rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
    if (link_scope) rtnl_addr_set_scope(a.get(), RT_SCOPE_LINK);
    err = rtnl_addr_add(sock_, a.get(), NLM_F_EXCL);
  }
  if (err < 0) return nl_error(err, "add address " + ip.text + " to " + ifname_of(ifindex));
  return {};
}

Status Netlink::delete_address(int ifindex, const IpAddr& ip, int prefix) {
  RAddrPtr a(rtnl_addr_alloc());
  AddrPtr local = make_addr(ip, prefix);
  if (!a || !local) return Error::from_errno(ENOMEM, "allocate address");
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), ip.family);
  int err = rtnl_addr_set_local(a.get(), local.get());
  if (err >= 0) {
    rtnl_addr_set_prefixlen(a.get(), prefix);
    err = rtnl_addr_delete(sock_, a.get(), 0);
  }
  if (err < 0) return nl_error(err, "delete address " + ip.text + " from " + ifname_of(ifindex));
  return {};
}

Status Netlink::add_route(const IpAddr& dst, int prefix, int ifindex, const IpAddr* gw,
                          bool exclusive) {
  RoutePtr r(rtnl_route_alloc());
  AddrPtr d = make_addr(dst, prefix);
  if (!r || !d) return Error::from_errno(ENOMEM, "allocate route");
  rtnl_route_set_family(r.get(), dst.family);
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  rtnl_route_set_protocol(r.get(), RTPROT_STATIC);
  rtnl_route_set_scope(r.get(), gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  int err = rtnl_route_set_dst(r.get(), d.get());
  if (err < 0) return nl_error(err, "set route destination " + dst.text);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return Error::from_errno(ENOMEM, "allocate next hop");
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gw) {
    AddrPtr g = make_addr(*gw, gw->host_prefix());
    if (!g) {
      rtnl_route_nh_free(nh);
      return Error::from_errno(ENOMEM, "allocate gateway");
    }
    rtnl_route_nh_set_gateway(nh, g.get());
  }
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh from here
  err = rtnl_route_add(sock_, r.get(), NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0));
  std::string what =
      "add route " + dst.text + "/" + std::to_string(prefix) + " dev " + ifname_of(ifindex);
  if (err < 0) return nl_error(err, what);
  return {};
}

Status Netlink::delete_route(const IpAddr& dst, int prefix, int ifindex) {
  RoutePtr r(rtnl_route_alloc());
  AddrPtr d = make_addr(dst, prefix);
  if (!r || !d) return Error::from_errno(ENOMEM, "allocate route");
  rtnl_route_set_family(r.get(), dst.family);
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  int err = rtnl_route_set_dst(r.get(), d.get());
  if (err < 0) return nl_error(err, "set route destination " + dst.text);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return Error::from_errno(ENOMEM, "allocate next hop");
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_add_nexthop(r.get(), nh);
  err = rtnl_route_delete(sock_, r.get(), 0);
  if (err < 0) return nl_error(err, "delete route " + dst.text + "/" + std::to_string(prefix));
  return {};
}

namespace {

HostRoute host_route_of(rtnl_route* r, int family) {
  HostRoute hr;
  hr.family = family;
  hr.table = static_cast<int>(rtnl_route_get_table(r));
  hr.type = rtnl_route_get_type(r);
  nl_addr* dst = rtnl_route_get_dst(r);
  hr.dst = ip_of(usable(dst, family) ? dst : nullptr, family);
  hr.prefix = dst ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0;
  for (int i = 0; i < rtnl_route_get_nnexthops(r); ++i) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, i);
    if (!nh) continue;
    HostNexthop h;
    h.ifindex = rtnl_route_nh_get_ifindex(nh);
    nl_addr* gw = rtnl_route_nh_get_gateway(nh);
    if (usable(gw, family)) h.gateway = ip_of(gw, family);
    hr.nexthops.push_back(std::move(h));
  }
  return hr;
}

std::optional<HostAddress> host_address_of(rtnl_addr* a) {
  int family = rtnl_addr_get_family(a);
  nl_addr* local = rtnl_addr_get_local(a);
  if ((family != AF_INET && family != AF_INET6) || !usable(local, family)) return std::nullopt;
  return HostAddress{rtnl_addr_get_ifindex(a), ip_of(local, family),
                     static_cast<int>(rtnl_addr_get_prefixlen(a))};
}

std::optional<HostNeighbour> host_neighbour_of(rtnl_neigh* n) {
  int family = rtnl_neigh_get_family(n);
  nl_addr* dst = rtnl_neigh_get_dst(n);
  if ((family != AF_INET && family != AF_INET6) || !usable(dst, family)) return std::nullopt;
  return HostNeighbour{rtnl_neigh_get_ifindex(n), ip_of(dst, family), rtnl_neigh_get_state(n)};
}

// Sends msg and hands every object of the answer (a dump or one reply) to fn; the kernel's
// error (its errno, e.g. ENETUNREACH for a lookup with no route) as an Error.
Status query(nl_sock* sock, nl_msg* msg, const std::function<void(nl_object*)>& fn,
             const std::string& what) {
  int err = nl_send_auto(sock, msg);
  if (err < 0) return nl_error(err, what);
  std::unique_ptr<nl_cb, Deleter<nl_cb, nl_cb_put>> cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) return Error::from_errno(ENOMEM, what);
  struct State {
    const std::function<void(nl_object*)>* fn;
    int kernel_error = 0;
    bool finished = false;
  } state{&fn};
  nl_cb_set(
      cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* m, void* arg) -> int {
        nl_msg_parse(
            m, [](nl_object* o, void* a) { (*static_cast<State*>(a)->fn)(o); }, arg);
        return NL_OK;
      },
      &state);
  auto finish = [](nl_msg*, void* arg) -> int {
    static_cast<State*>(arg)->finished = true;
    return NL_STOP;
  };
  nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, finish, &state);
  nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, finish, &state);
  nl_cb_err(
      cb.get(), NL_CB_CUSTOM,
      [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
        auto* st = static_cast<State*>(arg);
        st->kernel_error = -e->error;
        st->finished = true;
        return NL_STOP;
      },
      &state);
  while (!state.finished) {
    err = nl_recvmsgs(sock, cb.get());
    if (state.kernel_error != 0) return Error::from_errno(state.kernel_error, what);
    if (err < 0) return nl_error(err, what);
  }
  return {};
}

using MsgPtr = std::unique_ptr<nl_msg, Deleter<nl_msg, nlmsg_free>>;

// A dump the kernel filters (the socket has NETLINK_GET_STRICT_CHK): the request header hdr and,
// when attr is not 0, one u32 attribute; fn gets the objects of that libnl kind.
template <class Hdr>
Status filtered_dump(nl_sock* sock, int type, Hdr hdr, int attr, uint32_t value, const char* kind,
                     const std::function<void(nl_object*)>& fn, const std::string& what) {
  MsgPtr msg(nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_DUMP));
  if (!msg || nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO) < 0 ||
      (attr && nla_put_u32(msg.get(), attr, value) < 0))
    return Error::from_errno(ENOMEM, what);
  return query(
      sock, msg.get(),
      [&](nl_object* o) {
        if (std::string_view(nl_object_get_type(o)) == kind) fn(o);
      },
      what);
}

// NETLINK_GET_STRICT_CHK on the socket while held: dump requests are checked strictly and their
// filters (ifindex, oif, table) applied by the kernel. libnl's own cache dumps send a short
// header the strict check refuses, so it is turned off again at once.
class StrictDumps {
 public:
  static Result<StrictDumps> on(nl_sock* sock) {
    int fd = nl_socket_get_fd(sock), one = 1;
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one) != 0)
      return Error::from_errno(errno, "filter netlink dumps");
    return StrictDumps(fd);
  }
  StrictDumps(StrictDumps&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  StrictDumps& operator=(StrictDumps&&) = delete;
  ~StrictDumps() {
    int zero = 0;
    if (fd_ >= 0) ::setsockopt(fd_, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &zero, sizeof zero);
  }

 private:
  explicit StrictDumps(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

Result<HostNet> Netlink::host_net_for(const IpAddr& a) {
  HostNet host;
  int family = a.family;
  // The kernel's own lookup: the local or broadcast entry when the host holds the address, the
  // route of the VPS that has it, the connected subnet it is in, or the default route.
  std::vector<int> devs;
  {
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK));
    if (!msg) return Error::from_errno(ENOMEM, "allocate route lookup");
    rtmsg rt{};
    rt.rtm_family = static_cast<unsigned char>(family);
    rt.rtm_dst_len = static_cast<unsigned char>(a.host_prefix());
    rt.rtm_flags = RTM_F_FIB_MATCH;
    if (nlmsg_append(msg.get(), &rt, sizeof rt, NLMSG_ALIGNTO) < 0 ||
        nla_put(msg.get(), RTA_DST, a.is_v6() ? 16 : 4, a.bytes.data()) < 0)
      return Error::from_errno(ENOMEM, "build route lookup");
    auto st = query(
        sock_, msg.get(),
        [&](nl_object* o) {
          if (std::string_view(nl_object_get_type(o)) != "route/route") return;
          host.routes.push_back(host_route_of(reinterpret_cast<rtnl_route*>(o), family));
        },
        "look up the route to " + a.text);
    // No route at all: nothing on the host knows the address.
    if (!st.ok() && st.error().code() != ENETUNREACH && st.error().code() != EHOSTUNREACH)
      return std::move(st).error();
  }
  // Reached through a gateway (no route the lookup found is on-link): no neighbour of the host
  // can be at the address and no route can use it as a gateway, but for one with an explicit
  // `onlink` gateway other than the matched route's own. The kernel walks its whole table for a
  // dump however it filters it (every VPS's route and neighbour on every start), so those two
  // dumps are left out then.
  bool through_gateway = !host.routes.empty();
  for (const auto& r : host.routes)
    for (const auto& nh : r.nexthops) {
      if (!nh.gateway) through_gateway = false;
      if (nh.ifindex > 0 && std::find(devs.begin(), devs.end(), nh.ifindex) == devs.end())
        devs.push_back(nh.ifindex);
    }
  // What the host has on those devices only (the kernel filters the dumps): their addresses
  // (the subnet's network and broadcast, the host's own), the routes through them (gateways),
  // their neighbours. A VPS's veth is such a device only when the address is routed to that VPS.
  BERTH_ASSIGN_OR_RETURN(StrictDumps strict, StrictDumps::on(sock_));
  for (int dev : devs) {
    for (int fam : {AF_INET, AF_INET6}) {
      ifaddrmsg ifa{};
      ifa.ifa_family = static_cast<unsigned char>(fam);
      ifa.ifa_index = static_cast<unsigned>(dev);
      BERTH_RETURN_IF_ERROR(filtered_dump(
          sock_, RTM_GETADDR, ifa, 0, 0, "route/addr",
          [&](nl_object* o) {
            auto* ad = reinterpret_cast<rtnl_addr*>(o);
            if (rtnl_addr_get_ifindex(ad) != dev) return;
            if (auto h = host_address_of(ad)) host.addresses.push_back(*h);
          },
          "list addresses"));
    }
    if (through_gateway) continue;
    rtmsg rt{};
    rt.rtm_family = static_cast<unsigned char>(family);
    BERTH_RETURN_IF_ERROR(filtered_dump(
        sock_, RTM_GETROUTE, rt, RTA_OIF, static_cast<uint32_t>(dev), "route/route",
        [&](nl_object* o) {
          host.routes.push_back(host_route_of(reinterpret_cast<rtnl_route*>(o), family));
        },
        "list routes"));
    ndmsg nd{};
    nd.ndm_family = static_cast<unsigned char>(family);
    BERTH_RETURN_IF_ERROR(filtered_dump(
        sock_, RTM_GETNEIGH, nd, NDA_IFINDEX, static_cast<uint32_t>(dev), "route/neigh",
        [&](nl_object* o) {
          auto* n = reinterpret_cast<rtnl_neigh*>(o);
          if (rtnl_neigh_get_ifindex(n) != dev) return;
          if (auto h = host_neighbour_of(n)) host.neighbours.push_back(*h);
        },
        "list neighbours"));
  }
  // The links all of that names, for their names and aliases.
  std::vector<int> wanted = devs;
  auto want = [&](int i) {
    if (i > 0 && std::find(wanted.begin(), wanted.end(), i) == wanted.end()) wanted.push_back(i);
  };
  for (const auto& r : host.routes)
    for (const auto& nh : r.nexthops) want(nh.ifindex);
  for (const auto& h : host.addresses) want(h.ifindex);
  for (const auto& n : host.neighbours) want(n.ifindex);
  for (int i : wanted) {
    rtnl_link* raw = nullptr;
    int err = rtnl_link_get_kernel(sock_, i, nullptr, &raw);
    LinkPtr link(raw);
    if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) continue;  // gone since
    if (err < 0) return nl_error(err, "look up link " + std::to_string(i));
    LinkInfo li = info_of(link.get());
    host.links.push_back({li.ifindex, li.name, li.alias});
  }
  return host;
}

Result<std::vector<IpAddr>> Netlink::host_routes_via(int ifindex) {
  // Only the routes through ifindex are read (the kernel filters the dump), not every VPS's.
  BERTH_ASSIGN_OR_RETURN(StrictDumps strict, StrictDumps::on(sock_));
  std::vector<IpAddr> out;
  for (int family : {AF_INET, AF_INET6}) {
    rtmsg rt{};
    rt.rtm_family = static_cast<unsigned char>(family);
    rt.rtm_table = RT_TABLE_MAIN;
    BERTH_RETURN_IF_ERROR(filtered_dump(
        sock_, RTM_GETROUTE, rt, RTA_OIF, static_cast<uint32_t>(ifindex), "route/route",
        [&](nl_object* o) {
          HostRoute r = host_route_of(reinterpret_cast<rtnl_route*>(o), family);
          if (r.table != RT_TABLE_MAIN || r.nexthops.size() != 1 ||
              r.nexthops[0].ifindex != ifindex)
            return;
          if (r.prefix != r.dst.host_prefix() || r.dst.text.empty()) return;
          out.push_back(r.dst);
        },
        "list routes"));
  }
  return out;
}

Result<HostNet> Netlink::host_net() {
  HostNet host;
  BERTH_ASSIGN_OR_RETURN(auto links, list_links());
  for (const auto& l : links) host.links.push_back({l.ifindex, l.name, l.alias});
  {
    nl_cache* raw = nullptr;
    int err = rtnl_addr_alloc_cache(sock_, &raw);
    CachePtr cache(raw);
    if (err < 0) return nl_error(err, "list addresses");
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
      if (auto h = host_address_of(reinterpret_cast<rtnl_addr*>(o))) host.addresses.push_back(*h);
  }
  for (int family : {AF_INET, AF_INET6}) {
    nl_cache* raw = nullptr;
    int err = rtnl_route_alloc_cache(sock_, family, 0, &raw);
    CachePtr cache(raw);
    if (err < 0) return nl_error(err, "list routes");
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
      host.routes.push_back(host_route_of(reinterpret_cast<rtnl_route*>(o), family));
  }
  {
    nl_cache* raw = nullptr;
    int err = rtnl_neigh_alloc_cache(sock_, &raw);
    CachePtr cache(raw);
    if (err < 0) return nl_error(err, "list neighbours");
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
      if (auto h = host_neighbour_of(reinterpret_cast<rtnl_neigh*>(o)))
        host.neighbours.push_back(*h);
  }
  return host;
}

Status Netlink::add_proxy_neigh(int ifindex, const IpAddr& ip) {
  NeighPtr n(rtnl_neigh_alloc());
  AddrPtr d = make_addr(ip, ip.host_prefix());
  if (!n || !d) return Error::from_errno(ENOMEM, "allocate neighbour");
  rtnl_neigh_set_ifindex(n.get(), ifindex);
  rtnl_neigh_set_family(n.get(), ip.family);
  rtnl_neigh_set_dst(n.get(), d.get());
  rtnl_neigh_set_flags(n.get(), NTF_PROXY);
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  int err = rtnl_neigh_add(sock_, n.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) return nl_error(err, "add proxy neighbour " + ip.text + " on " + ifname_of(ifindex));
  return {};
}

Status Netlink::delete_proxy_neigh(int ifindex, const IpAddr& ip) {
  NeighPtr n(rtnl_neigh_alloc());
  AddrPtr d = make_addr(ip, ip.host_prefix());
  if (!n || !d) return Error::from_errno(ENOMEM, "allocate neighbour");
  rtnl_neigh_set_ifindex(n.get(), ifindex);
  rtnl_neigh_set_family(n.get(), ip.family);
  rtnl_neigh_set_dst(n.get(), d.get());
  rtnl_neigh_set_flags(n.get(), NTF_PROXY);
  int err = rtnl_neigh_delete(sock_, n.get(), 0);
  if (err < 0)
    return nl_error(err, "delete proxy neighbour " + ip.text + " on " + ifname_of(ifindex));
  return {};
}

}  // namespace berth::net
