// Private to ct_options*.cc: the edit context the per-option handlers share, and the handlers.
//
// ct_options.cc owns the option table, parsing and dispatch; ct_options_res.cc the resource
// options (UBC, VSwap, disk, CPU, I/O, capabilities, features, devices); ct_options_net.cc the
// network options (IP_ADDRESS, DNS, hostname, NETIF, NETDEV, RATE). Handlers return an Error
// whose message is "invalid value `V` (why)"; the dispatcher prefixes the option name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/ct_options.h"
#include "core/conf_file.h"
#include "core/error.h"

namespace berth::cli::detail {

// The --ifname edit of one call: --ifname names an existing (or just added) veth and --mac,
// --host_ifname, --host_mac, --bridge, --mac_filter change its fields (applied after all items).
struct IfnameEdit {
  std::optional<std::string> ifname, mac, host_ifname, host_mac, bridge, mac_filter;
  bool any_field() const { return mac || host_ifname || host_mac || bridge || mac_filter; }
};

struct Edit {
  ConfFile& conf;       // the working copy
  const ConfFile& old;  // the config before this call
  std::string_view ctid;
  ConfigEdit& out;
  IfnameEdit ifname_edit;
  bool nameserver_replaced = false;  // the first --nameserver of a call replaces the list
  bool searchdomain_replaced = false;

  // Set key after the shell-safety check (see apply_ct_options()); records it as changed.
  Status set(std::string_view key, std::string_view value);
  void erase(std::string_view key);
  void touch(std::string_view key);
};

using Handler = Status (*)(Edit&, std::string_view value);

// "invalid value `V`" or "invalid value `V` (why)", exit 21 unless status is given.
Error bad_value(std::string_view value, std::string_view why = {}, int status = 21);

// s with control characters escaped (\n, \t, \xNN), for one-line messages.
std::string printable(std::string_view s);
// Plain decimal numbers: no sign, no blanks, no suffix.
std::optional<uint64_t> parse_u64(std::string_view s);
// Split on any of seps, dropping empty pieces.
std::vector<std::string> split_any(std::string_view s, std::string_view seps);
std::string join(const std::vector<std::string>& v, std::string_view sep);
// A Linux interface name: 1..15 chars, no '/', ':', ',', ';', '=', blanks; not "." or "..".
bool is_valid_ifname(std::string_view s);
// RFC 1123 host name: dot-separated labels of 1..63 letters, digits, '-', not starting or ending
// with '-'; at most 253 chars.
bool is_valid_hostname(std::string_view s);

// ct_options_res.cc
Status set_ubc(Edit&, std::string_view key, std::string_view value);  // by key
Status handle_ram(Edit&, std::string_view);
Status handle_swap(Edit&, std::string_view);
Status handle_vm_overcommit(Edit&, std::string_view);
Status handle_meminfo(Edit&, std::string_view);
Status handle_diskspace(Edit&, std::string_view);
Status handle_diskinodes(Edit&, std::string_view);
Status handle_cpuunits(Edit&, std::string_view);
Status handle_cpulimit(Edit&, std::string_view);
Status handle_cpumask(Edit&, std::string_view);
Status handle_nodemask(Edit&, std::string_view);
Status handle_ioprio(Edit&, std::string_view);
Status handle_iolimit(Edit&, std::string_view);
Status handle_iopslimit(Edit&, std::string_view);
Status handle_capability(Edit&, std::string_view);
Status handle_features(Edit&, std::string_view);
Status handle_netfilter(Edit&, std::string_view);
Status handle_iptables(Edit&, std::string_view);
Status handle_devnodes(Edit&, std::string_view);
Status handle_devices(Edit&, std::string_view);
Status handle_pci_add(Edit&, std::string_view);
Status handle_pci_del(Edit&, std::string_view);

// ct_options_net.cc
Status handle_ipadd(Edit&, std::string_view);
Status handle_ipadd_force(Edit&, std::string_view);  // --ipadd, and saved in IP_ADDRESS_FORCED
Status handle_ipdel(Edit&, std::string_view);
Status handle_hostname(Edit&, std::string_view);
Status handle_nameserver(Edit&, std::string_view);
Status handle_searchdomain(Edit&, std::string_view);
Status handle_netif_add(Edit&, std::string_view);
Status handle_netif_del(Edit&, std::string_view);
Status handle_netdev_add(Edit&, std::string_view);
Status handle_netdev_del(Edit&, std::string_view);
Status handle_rate(Edit&, std::string_view);
// Applies Edit::ifname_edit after all items (exit 20 if the veth is not configured).
Status finish_ifname_edit(Edit&);
// "00:18:51:XX:XX:XX" with a random tail (OpenVZ's OUI, as vzctl's generate_mac()).
std::string generate_mac();
// Canonical form of a MAC (upper case) or nullopt if malformed or multicast.
std::optional<std::string> canonical_mac(std::string_view s);

}  // namespace berth::cli::detail
