// Private to core/edit/: the edit context the per-change handlers share, and the handlers.
//
// The handlers map a change to a config key, call the one parser of its kind (core/values/,
// core/units.h, core/ct_model.h) and merge the result with the key's old value as vzctl does.
// config_edit.cc owns the change table, the dispatch and the scalar changes; resources.cc the
// resource changes (UBC, VSwap, disk, CPU, I/O, capabilities, features, devices); network.cc the
// network changes (IP_ADDRESS, DNS, hostname, NETIF, NETDEV, RATE). Handlers return an Error
// whose message is "invalid value `V` (why)"; the dispatcher prefixes the option name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/edit/config_edit.h"
#include "core/conf_file.h"
#include "core/error.h"
#include "core/values/text.h"

namespace berth::edit::detail {

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

using edit::bad_value;

// The value rules are the config model's (core/values/): one rule per kind.
using values::is_valid_hostname;
using values::is_valid_ifname;
using values::join;
using values::parse_u64;
using values::printable;
using values::split_any;

// resources.cc
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

// network.cc
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

}  // namespace berth::edit::detail
