// Anti-spoofing filters of a CT, in nftables (through libnftables, no iptables), on the host side:
//
//   table inet berth-<instance>            routed mode, shared by the instance's CTs: one base
//     map ports (ifname : verdict)         chain (prerouting, raw) looks the incoming interface
//     chain antispoof (prerouting, raw)    up in `ports` and jumps to the chain of the CT whose
//     chain ct_<ctid>                      host end it is; that chain drops packets whose source
//                                          is not one of the CT's IP_ADDRESS entries (IPv6 also
//                                          link-local and ::, which neighbour discovery needs).
//   table arp berth-<instance>-<ctid>      routed mode: ARP from the veth must give one of the
//     set v4, chain antispoof (input)      CT's IPv4 addresses as sender address.
//   table bridge berth-<instance>-<ctid>   bridged veths with mac_filter=on: frames coming in from
//     chain macfilter (prerouting)         the host end must carry the NETIF entry's mac as source.
//
// The shared table makes the cost of a forwarded packet one map lookup whatever the number of
// CTs (a table per CT in the prerouting hook cost every packet of the host one chain per CT:
// bench/README.md). A CT's part of it (its chain and its map element) is made, replaced and
// removed in one nft transaction; the instance's lock file nft.lck orders those transactions, so
// the table goes with its last CT. The per-CT arp and bridge tables see only ARP to the host and
// frames of bridges with filtered ports. Rules match interface names, so they can be in place
// before the veth exists. Everything is owned: removed on stop, on a failed start and on
// destroy. The rule text is pure (unit-tested); applying needs CAP_NET_ADMIN.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/addr.h"

namespace berth::net {

// "berth-<instance>-<ctid>" (the CT's arp and bridge tables) and "berth-<instance>" (the shared
// inet table), with characters nft does not take in a name replaced by '_'.
std::string filter_table(std::string_view instance, std::string_view ctid);
std::string shared_table(std::string_view instance);
// The CT's chain in the shared table: "ct_<ctid>".
std::string ct_chain(std::string_view ctid);

// The routed filter of a CT: its chain and map element in the shared table (made if missing)
// and its arp table, replaced in one transaction. host_ifname must not be empty.
std::string antispoof_script(const std::string& shared, const std::string& table, const std::string& chain,
                             const std::string& host_ifname, const std::vector<IpAddr>& addrs);
// Removes the routed filter of a CT: its arp table, and its part of the shared table as
// `shared_listing` (`nft list table inet <shared>`, "" when there is none) shows it; the whole
// shared table when no other CT's element is left in it.
std::string unfilter_script(const std::string& shared, const std::string& table, const std::string& chain,
                            const std::string& host_ifname, const std::string& shared_listing);
// The bridge table; ports: (host_ifname, allowed source MAC) of each filtered veth (none: only
// removes the table).
std::string macfilter_script(const std::string& table, const std::vector<std::pair<std::string, std::string>>& ports);

// Make the CT's filters match its IP_ADDRESS and NETIF (what it does not need is removed).
Status apply_filters(const CtConfig& ct);
// Remove every filter of ct (absent is fine).
Status remove_filters(const CtConfig& ct);

// Runs an nft script in the caller's network namespace; errors carry nft's message (exit 130).
// output: what nft printed (for `list` commands).
Status run_nft(const std::string& script, std::string* output = nullptr);

}  // namespace berth::net
