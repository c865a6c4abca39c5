// Anti-spoofing filters of a CT, in nftables (through libnftables, no iptables), on the host side:
//
//   table inet berth-<instance>-<ctid>     routed mode: packets coming in from the CT's veth
//     set v4, set v6                       (its host end) must carry one of the CT's IP_ADDRESS
//     chain antispoof (prerouting, raw)    entries as source (IPv6 also link-local and ::, which
//                                          neighbour discovery needs); others are dropped.
//   table arp berth-<instance>-<ctid>      routed mode: ARP from the veth must give one of the
//     set v4, chain antispoof (input)      CT's IPv4 addresses as sender address.
//   table bridge berth-<instance>-<ctid>   bridged veths with mac_filter=on: frames coming in from
//     chain macfilter (prerouting)         the host end must carry the NETIF entry's mac as source.
//
// One table per CT and family, so each is made, replaced and removed in one nft transaction and
// concurrent starts of different CTs never touch the same object. Rules match interface names,
// so they can be in place before the veth exists. Every table is owned: removed on stop, on a
// failed start, and on destroy. The rule text is pure (unit-tested); applying needs CAP_NET_ADMIN.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "net/addr.h"

namespace berth::net {

// "berth-<instance>-<ctid>", with characters nft does not take in a name replaced by '_'.
std::string filter_table(std::string_view instance, std::string_view ctid);

// The nft script that makes the routed table exactly this (replacing any old one atomically);
// host_ifname empty: a script that only removes the table.
std::string antispoof_script(const std::string& table, const std::string& host_ifname, const std::vector<IpAddr>& addrs);
// The same for the bridge table; ports: (host_ifname, allowed source MAC) of each filtered veth.
std::string macfilter_script(const std::string& table, const std::vector<std::pair<std::string, std::string>>& ports);

// Make both tables of ct match its IP_ADDRESS and NETIF (tables without rules are removed).
Status apply_filters(const CtConfig& ct);
// Remove both tables of ct (absent is fine).
Status remove_filters(const CtConfig& ct);

// Runs an nft script in the caller's network namespace; errors carry nft's message (exit 130).
// output: what nft printed (for `list` commands).
Status run_nft(const std::string& script, std::string* output = nullptr);

}  // namespace berth::net
