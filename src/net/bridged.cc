// Bridged veths: host end in the bridge, CT end named and addressed as NETIF says.
#include "net/bridged.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "core/exit_codes.h"
#include "net/counters.h"
#include "net/netif.h"
#include "net/netlink.h"
#include "net/shaper.h"

namespace berth::net {
namespace {

struct Plan {
  std::string prefix;  // alias prefix of this CT's bridged host ends
  std::vector<Netif> entries;
};

Result<Plan> plan_of(const CtConfig& ct) {
  Plan p;
  p.prefix = netif_alias_prefix(ct.host().instance(), ct.ctid());
  BERTH_ASSIGN_OR_RETURN(p.entries, parse_netif(ct.get_or("NETIF", "")));
  // A hand-written entry without host_ifname gets vzctl's default name, as vzctl does at start.
  for (auto& n : p.entries) {
    if (n.host_ifname.empty()) {
      BERTH_ASSIGN_OR_RETURN(n.host_ifname, generate_host_ifname(p.entries, ct.ctid(), n.ifname));
    }
  }
  return p;
}

// A bridged host end of this CT: a veth with its alias (its shaping ifb and the routed veth's ifb
// carry aliases below the same prefix, but are not veths).
bool is_ours(const LinkInfo& l, const std::string& prefix) {
  return l.kind == "veth" && l.alias.rfind(prefix, 0) == 0;
}

// NETIF's MAC (any case; "" means "whatever the kernel chose") against a link's.
bool same_mac(const std::string& want, const std::string& have) {
  if (want.empty()) return true;
  if (want.size() != have.size()) return false;
  for (size_t i = 0; i < want.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(want[i])) !=
        std::toupper(static_cast<unsigned char>(have[i])))
      return false;
  return true;
}

Error veth_error(std::string what) { return Error::with_status(exitcode::kVeth, std::move(what)); }

// ifindex of the entry's bridge (0 when it names none); an error when it is missing or no bridge.
Result<int> bridge_of(Netlink& nl, const Netif& n) {
  if (n.bridge.empty()) return 0;
  BERTH_ASSIGN_OR_RETURN(auto br, nl.find_link(n.bridge));
  if (!br) return veth_error("bridge `" + n.bridge + "` does not exist");
  if (br->kind != "bridge") return veth_error("`" + n.bridge + "` is not a bridge");
  return br->ifindex;
}

Status check(Netlink& nl, const Plan& p) {
  for (const auto& n : p.entries) {
    auto bridge = bridge_of(nl, n);
    if (!bridge.ok()) return std::move(bridge).error();
    BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(n.host_ifname));
    if (link && !is_ours(*link, p.prefix))
      return veth_error("host interface name `" + n.host_ifname + "` is in use by another link");
  }
  return {};
}

// Delete links by name and wait until they are gone (a dying netns may hold a pair a moment).
// With ct, each link's traffic counts go to ct's saved counters first (net/counters.h).
Status delete_and_wait(Netlink& nl, const std::vector<std::string>& names, const CtConfig* ct) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (const auto& name : names) {
    if (ct) (void)bank_counters(*ct, name);  // best effort: the link goes either way
    while (true) {
      BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(name));
      if (!link) break;
      (void)remove_shaping(name, link->alias);  // its ifb, if shaped
      (void)nl.delete_link(link->ifindex);
      if (std::chrono::steady_clock::now() > deadline)
        return Error::from_errno(EBUSY, "remove host link `" + name + "`");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return {};
}

// One veth of an entry; the caller's guard owns the host end from its creation.
Status make_one(Netlink& nl, const Netif& n, pid_t init, BridgedLinks& guard,
                const std::string& instance, const std::string& ctid) {
  BERTH_ASSIGN_OR_RETURN(int bridge, bridge_of(nl, n));
  BERTH_RETURN_IF_ERROR(
      nl.create_veth(n.host_ifname, n.ifname, init, n.host_mac, n.mac).status(exitcode::kVeth));
  guard.add(n.host_ifname);
  BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(n.host_ifname));
  if (!link) return veth_error("veth `" + n.host_ifname + "` vanished after creation");
  BERTH_RETURN_IF_ERROR(
      nl.set_alias(link->ifindex, netif_alias(instance, ctid, n.ifname)).status(exitcode::kVeth));
  if (bridge) BERTH_RETURN_IF_ERROR(nl.set_master(link->ifindex, bridge).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(nl.set_up(link->ifindex).status(exitcode::kVeth));
  BERTH_ASSIGN_OR_RETURN(Netlink inside, Netlink::open_in_netns_of(init));
  BERTH_ASSIGN_OR_RETURN(auto peer, inside.find_link(n.ifname));
  if (!peer) return veth_error("find `" + n.ifname + "` in the CT");
  return inside.set_up(peer->ifindex).status(exitcode::kVeth);
}

// The host link of n is there as n says: name, bridge, host MAC, and the CT end's MAC.
bool matches(Netlink& nl, Netlink& inside, const LinkInfo& host, const Netif& n) {
  if (host.name != n.host_ifname) return false;
  if (!same_mac(n.host_mac, host.mac)) return false;
  auto bridge = bridge_of(nl, n);
  if (!bridge.ok() || host.master != *bridge) return false;
  auto peer = inside.find_link(n.ifname);
  if (!peer.ok() || !*peer) return false;
  return same_mac(n.mac, (*peer)->mac);
}

}  // namespace

BridgedLinks& BridgedLinks::operator=(BridgedLinks&& o) noexcept {
  if (this != &o) {
    names_ = std::move(o.names_);
    o.names_.clear();
  }
  return *this;
}

BridgedLinks::~BridgedLinks() {
  if (names_.empty()) return;
  auto nl = Netlink::open();
  if (nl.ok()) (void)delete_and_wait(*nl, names_, nullptr);  // a failed start: nothing to count
}

Status check_bridged(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(Plan p, plan_of(ct));
  if (p.entries.empty()) return {};
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  return check(nl, p);
}

Result<BridgedLinks> attach_bridged(const CtConfig& ct, pid_t init) {
  BERTH_ASSIGN_OR_RETURN(Plan p, plan_of(ct));
  BridgedLinks guard;
  if (p.entries.empty()) return guard;
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_RETURN_IF_ERROR(check(nl, p));
  // Links of this CT left by a killed start or stop go first.
  BERTH_RETURN_IF_ERROR(detach_bridged(ct).status(exitcode::kVeth));
  for (const auto& n : p.entries)
    BERTH_RETURN_IF_ERROR(make_one(nl, n, init, guard, ct.host().instance(), ct.ctid())
                              .context("set up veth `" + n.ifname + "`"));
  return guard;
}

Result<std::vector<std::string>> adopt_bridged(
    const CtConfig& ct, const std::vector<std::pair<std::string, std::string>>& restored) {
  std::vector<std::string> taken;
  BERTH_ASSIGN_OR_RETURN(Plan p, plan_of(ct));
  if (p.entries.empty()) return taken;
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_RETURN_IF_ERROR(detach_bridged(ct).status(exitcode::kVeth));
  BERTH_RETURN_IF_ERROR(check(nl, p));
  for (const auto& r : restored) {
    const std::string& tmp = r.first;
    const std::string& ifname = r.second;
    auto n = std::find_if(p.entries.begin(), p.entries.end(),
                          [&](const Netif& e) { return e.ifname == ifname; });
    if (n == p.entries.end()) continue;
    BERTH_ASSIGN_OR_RETURN(int bridge, bridge_of(nl, *n));
    BERTH_ASSIGN_OR_RETURN(auto link, nl.find_link(tmp));
    if (!link) return veth_error("the restored veth `" + tmp + "` of `" + ifname + "` is gone");
    auto what = "take the restored veth of `" + ifname + "` as `" + n->host_ifname + "`";
    BERTH_RETURN_IF_ERROR(nl.rename_link(link->ifindex, n->host_ifname, n->host_mac)
                              .status(exitcode::kVeth)
                              .context(what));
    taken.push_back(tmp);
    BERTH_RETURN_IF_ERROR(
        nl.set_alias(link->ifindex, netif_alias(ct.host().instance(), ct.ctid(), n->ifname))
            .status(exitcode::kVeth)
            .context(what));
    if (bridge)
      BERTH_RETURN_IF_ERROR(
          nl.set_master(link->ifindex, bridge).status(exitcode::kVeth).context(what));
    BERTH_RETURN_IF_ERROR(nl.set_up(link->ifindex).status(exitcode::kVeth).context(what));
  }
  return taken;
}

Status detach_bridged(const CtConfig& ct) {
  // A CT without NETIF entries has no bridged veth to take down (one left by a hand edit of a
  // running CT goes with the CT's network namespace): the host's links are not listed for it.
  if (ct.get_or("NETIF", "").empty()) return {};
  std::string prefix = netif_alias_prefix(ct.host().instance(), ct.ctid());
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_ASSIGN_OR_RETURN(auto links, nl.list_links());
  std::vector<std::string> ours;
  for (const auto& l : links)
    if (is_ours(l, prefix)) ours.push_back(l.name);
  return delete_and_wait(nl, ours, &ct).context("remove bridged veths");
}

Status update_bridged(const CtConfig& ct, pid_t init) {
  BERTH_ASSIGN_OR_RETURN(Plan p, plan_of(ct));
  BERTH_ASSIGN_OR_RETURN(Netlink nl, Netlink::open());
  BERTH_RETURN_IF_ERROR(check(nl, p));
  BERTH_ASSIGN_OR_RETURN(Netlink inside, Netlink::open_in_netns_of(init));
  BERTH_ASSIGN_OR_RETURN(auto links, nl.list_links());
  std::vector<std::string> stale;
  std::vector<const Netif*> missing;
  for (const auto& n : p.entries) missing.push_back(&n);
  for (const auto& l : links) {
    if (!is_ours(l, p.prefix)) continue;
    std::string ifname = l.alias.substr(p.prefix.size());
    auto it = std::find_if(missing.begin(), missing.end(),
                           [&](const Netif* n) { return n->ifname == ifname; });
    if (it != missing.end() && matches(nl, inside, l, **it)) {
      missing.erase(it);
      continue;
    }
    stale.push_back(l.name);
  }
  BERTH_RETURN_IF_ERROR(delete_and_wait(nl, stale, &ct).status(exitcode::kVeth));
  // The CT end of a removed pair goes with it, but a changed entry's CT end may be renamed
  // back only after the kernel finished: wait until its name is free inside.
  BridgedLinks guard;
  for (const Netif* n : missing) {
    for (int i = 0; i < 300; ++i) {
      auto peer = inside.find_link(n->ifname);
      if (!peer.ok() || !*peer) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    BERTH_RETURN_IF_ERROR(make_one(nl, *n, init, guard, ct.host().instance(), ct.ctid())
                              .context("set up veth `" + n->ifname + "`"));
  }
  guard.release();
  return {};
}

}  // namespace berth::net
