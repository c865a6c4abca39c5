// Anti-spoofing filters of a CT, in nftables, on the host side. Two tables per instance, made
// once (by libnftables, antispoof_tables_script) and removed with the destroy of the instance's
// last CT:
//
//   table inet berth-<instance>            routed mode: the base chain drops a packet that comes
//     set ct_ports (ifname)                in from a CT's host veth end (ct_ports) unless its
//     set ct_addr4 (ifname . ipv4_addr)    (interface, source) pair is in ct_addr4 / ct_addr6
//     set ct_addr6 (ifname . ipv6_addr)    (IPv6 link-local and :: always pass: neighbour
//     chain ct_antispoof (prerouting, raw) discovery needs them).
//   table arp berth-<instance>             routed mode: ARP from a CT's veth must give one of the
//     sets ct_ports, ct_addr4              CT's IPv4 addresses as sender address.
//     chain ct_antispoof (input)
//   table bridge berth-<instance>-<ctid>   bridged veths with mac_filter=on: frames coming in from
//     chain macfilter (prerouting)         the host end must carry the NETIF entry's mac as source.
//
// A CT's routed filter is only set elements: added, replaced and removed in one nf_tables
// transaction sent straight over netlink (nft_netlink.h), so starting or stopping a CT costs the
// same whatever else the host's ruleset holds (libnftables reads all of it for a set change:
// seconds with a few hundred tables; bench/README.md, density). What a CT put in the sets is
// recorded in <run>/nft/<CTID>, so it is taken out without reading the sets; the instance's lock
// file nft.lck orders the changes. A forwarded packet costs a few set lookups whatever the number
// of CTs. Rules match interface names, so they can be in place before the veth exists.
// Everything is owned: a CT's elements are removed on stop, on a failed start and on destroy;
// the instance's tables on the destroy of its last CT. The rule text and the
// element changes are pure (unit-tested); applying needs CAP_NET_ADMIN.
//
// The layout of Berth before this one (a chain per CT in the inet table, an arp table per CT) is
// still removed when a CT that has it stops; it is looked for by name only.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/addr.h"
#include "net/nft_netlink.h"

namespace berth::net {

// "berth-<instance>-<ctid>" (the CT's arp and bridge tables) and "berth-<instance>" (the shared
// inet table), with characters nft does not take in a name replaced by '_'.
std::string filter_table(std::string_view instance, std::string_view ctid);
std::string shared_table(std::string_view instance);
// The CT's chain in the shared table: "ct_<ctid>".
std::string ct_chain(std::string_view ctid);

inline constexpr const char* kPortsSet = "ct_ports";
inline constexpr const char* kAddr4Set = "ct_addr4";
inline constexpr const char* kAddr6Set = "ct_addr6";
inline constexpr const char* kFilterChain = "ct_antispoof";

// The instance's inet and arp tables (named `shared`) with their sets and base chains; running it
// again keeps the sets' elements and rewrites the rules.
std::string antispoof_tables_script(const std::string& shared);

// What one CT has in the shared sets: its host veth end and its addresses ("" and none: nothing).
struct RoutedFilter {
  std::string host_ifname;
  std::vector<IpAddr> addrs;
};
// <run>/nft/<CTID>'s text: the interface on the first line, one address a line.
std::string routed_state_text(const RoutedFilter& f);
RoutedFilter parse_routed_state(std::string_view text);
// The one transaction that turns `had` into `want` in both tables' sets: what only `had` has is
// removed (added first, so a missing element is no error), everything of `want` added.
std::vector<nft::Change> routed_changes(const std::string& shared, const RoutedFilter& had,
                                        const RoutedFilter& want);

// Removes the routed filter of a CT of the old layout: its arp table, and its part of the inet
// table as `shared_listing` (`nft list table inet <shared>`, "" when there is none) shows it; the
// old dispatch (chain antispoof, map ports) when no other CT's element is left in it.
std::string unfilter_script(const std::string& shared, const std::string& table,
                            const std::string& chain, const std::string& host_ifname,
                            const std::string& shared_listing);
// The bridge table; ports: (host_ifname, allowed source MAC) of each filtered veth (none: only
// removes the table).
std::string macfilter_script(const std::string& table,
                             const std::vector<std::pair<std::string, std::string>>& ports);

// Make the CT's filters match its IP_ADDRESS and NETIF (what it does not need is removed).
Status apply_filters(const CtConfig& ct);
// Remove every filter of ct (absent is fine). The instance's two tables stay (empty sets between
// runs): making them is a libnftables script (several ms), and a start should not pay it again.
// keep_routed (stop): the CT's elements of those two tables stay too, with their record (see
// docs/runtime.md, "Stop"): they name its host interface, which is gone while it is stopped, and
// a start adds its elements again anyway (an element already there is fine to add). Deleting
// elements is what costs: the close of the netlink socket then waits for the kernel to free them
// (an RCU grace period, 8-20 ms here). Destroy and repair remove them.
Status remove_filters(const CtConfig& ct, bool keep_routed = false);
// The instance's two tables, unless a CT still has elements in them (<run>/nft not empty): for
// the destroy of the instance's last CT.
Status remove_instance_filters(const HostConfig& host);

// Runs an nft script in the caller's network namespace; errors carry nft's message (exit 130).
// output: what nft printed (for `list` commands).
Status run_nft(const std::string& script, std::string* output = nullptr);

// The table a checkpoint that ends its CT puts in the CT's network namespace: every packet in and
// out dropped (loopback too) from before the dump to the kill (runtime/checkpoint.cc).
inline constexpr const char* kCheckpointLockTable = "berth-checkpoint-lock";

// Adds that table (input and output base chains, policy drop) to the network namespace of
// process pid, from a throwaway thread that joins it (the caller stays where it is). Host root.
// Removed with nft::delete_table_in_netns_of (or with the namespace).
Status lock_netns_of(pid_t pid);

}  // namespace berth::net
