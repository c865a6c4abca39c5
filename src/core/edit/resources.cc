// Resource changes of a config (core/edit/config_edit.h): UBC barrier:limit pairs, VSwap
// --ram/--swap, disk quota, CPU, I/O, capabilities, features, netfilter, devices, PCI. Values are
// written as vzctl 4.x stores them (src/lib/config.c store_ub(), store_dq(), store_cpu(),
// store_io(), store_cap(), store_dev(), store_devnodes()): native units, lists merged with the old
// value of the key.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/edit/internal.h"
#include "core/ct_model.h"
#include "core/units.h"
#include "core/values/bitmap.h"
#include "core/values/devices.h"

namespace berth::edit::detail {
namespace {

// units:: errors already read "invalid value `V`"; keep them and add nothing.
Status set_vswap(Edit& e, std::string_view key, std::string_view v) {
  // --ram/--swap take bytes (suffixes allowed); saved as "0:<pages>", rounding up (parse_vswap()).
  BERTH_ASSIGN_OR_RETURN(uint64_t bytes, units::parse_size(v, 1));
  if (bytes == units::kUnlimited) return e.set(key, "0:unlimited");
  return e.set(key, "0:" + std::to_string((bytes + units::kPageSize - 1) / units::kPageSize));
}

// soft[:hard] for DISKSPACE (divisor 1024: KB, suffixed sizes converted) and DISKINODES
// (divisor 1: items, a suffix multiplies). `unlimited` (vzctl's parse_dq() refuses it) is how a
// CT says it has no disk: an overlay CT without an image, a simfs CT (storage/disk.h).
Status set_quota_pair(Edit& e, std::string_view key, std::string_view v, uint64_t divisor) {
  auto parts = split_any(v, ":");
  if (parts.empty() || parts.size() > 2 || v.front() == ':' || v.back() == ':' ||
      std::count(v.begin(), v.end(), ':') > 1)
    return bad_value(v, "soft[:hard] expected");
  uint64_t vals[2];
  for (size_t i = 0; i < parts.size(); ++i) {
    auto r = units::parse_size(parts[i], divisor);
    if (!r.ok()) return bad_value(v);
    vals[i] = *r == units::kUnlimited ? *r : *r / divisor;
  }
  if (parts.size() == 1) vals[1] = vals[0];
  if (vals[0] > vals[1]) return bad_value(v, "soft limit is above hard limit");
  auto text = [](uint64_t x) {
    return x == units::kUnlimited ? std::string("unlimited") : std::to_string(x);
  };
  return e.set(key, text(vals[0]) + ":" + text(vals[1]));
}

// name:on|off lists (CAPABILITY, FEATURES) merged with the old value: new settings override,
// written in table order (vzctl build_cap_str() / features_mask2str()); unknown old entries kept.
template <size_t N>
Status set_onoff_list(Edit& e, std::string_view key, std::string_view v,
                      const std::array<std::string_view, N>& table, bool upper,
                      std::string_view what) {
  auto find = [&](std::string_view name) -> int {
    for (size_t i = 0; i < N; ++i) {
      if (table[i].size() != name.size()) continue;
      bool eq = true;
      for (size_t j = 0; j < name.size() && eq; ++j)
        eq = std::tolower(static_cast<unsigned char>(table[i][j])) ==
             std::tolower(static_cast<unsigned char>(name[j]));
      if (eq) return static_cast<int>(i);
    }
    return -1;
  };
  std::array<int, N> state{};  // 0 unset, 1 on, 2 off
  std::vector<std::string> unknown_old;
  for (const auto& tok : split_any(e.conf.get_or(key, ""), " \t,")) {
    size_t c = tok.rfind(':');
    int i = c == std::string::npos ? -1 : find(tok.substr(0, c));
    std::string_view mode = c == std::string::npos ? "" : std::string_view(tok).substr(c + 1);
    if (i < 0 || (mode != "on" && mode != "off"))
      unknown_old.push_back(tok);
    else
      state[i] = mode == "on" ? 1 : 2;
  }
  auto toks = split_any(v, " \t,");
  if (toks.empty()) return bad_value(v, std::string(what) + ":on|off expected");
  for (const auto& tok : toks) {
    size_t c = tok.rfind(':');
    if (c == std::string::npos) return bad_value(v, std::string(what) + ":on|off expected");
    std::string_view mode = std::string_view(tok).substr(c + 1);
    if (mode != "on" && mode != "off") return bad_value(v, std::string(what) + ":on|off expected");
    int i = find(tok.substr(0, c));
    if (i < 0) return bad_value(v, "unknown " + std::string(what) + " `" + tok.substr(0, c) + "`");
    state[i] = mode == "on" ? 1 : 2;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < N; ++i) {
    if (!state[i]) continue;
    std::string name(table[i]);
    for (auto& ch : name)
      ch = upper ? std::toupper(static_cast<unsigned char>(ch))
                 : std::tolower(static_cast<unsigned char>(ch));
    out.push_back(name + (state[i] == 1 ? ":on" : ":off"));
  }
  out.insert(out.end(), unknown_old.begin(), unknown_old.end());
  return e.set(key, join(out, " "));
}

// vzctl's cap_names[] (OpenVZ kernel numbering), then capabilities newer kernels added.
constexpr std::array<std::string_view, 43> kCaps = {"CHOWN",
                                                    "DAC_OVERRIDE",
                                                    "DAC_READ_SEARCH",
                                                    "FOWNER",
                                                    "FSETID",
                                                    "KILL",
                                                    "SETGID",
                                                    "SETUID",
                                                    "SETPCAP",
                                                    "LINUX_IMMUTABLE",
                                                    "NET_BIND_SERVICE",
                                                    "NET_BROADCAST",
                                                    "NET_ADMIN",
                                                    "NET_RAW",
                                                    "IPC_LOCK",
                                                    "IPC_OWNER",
                                                    "SYS_MODULE",
                                                    "SYS_RAWIO",
                                                    "SYS_CHROOT",
                                                    "SYS_PTRACE",
                                                    "SYS_PACCT",
                                                    "SYS_ADMIN",
                                                    "SYS_BOOT",
                                                    "SYS_NICE",
                                                    "SYS_RESOURCE",
                                                    "SYS_TIME",
                                                    "SYS_TTY_CONFIG",
                                                    "MKNOD",
                                                    "LEASE",
                                                    "AUDIT_WRITE",
                                                    "VE_ADMIN",
                                                    "SETFCAP",
                                                    "SETVEID",
                                                    "AUDIT_CONTROL",
                                                    "MAC_OVERRIDE",
                                                    "MAC_ADMIN",
                                                    "SYSLOG",
                                                    "WAKE_ALARM",
                                                    "BLOCK_SUSPEND",
                                                    "AUDIT_READ",
                                                    "PERFMON",
                                                    "BPF",
                                                    "CHECKPOINT_RESTORE"};

constexpr std::array<std::string_view, 8> kFeatures = {"sysfs", "nfs",   "sit",    "ipip",
                                                       "ppp",   "ipgre", "bridge", "nfsd"};

constexpr std::array<std::string_view, 26> kIptModules = {
    "ip_tables",        "iptable_filter", "iptable_mangle", "ipt_limit",    "ipt_multiport",
    "ipt_tos",          "ipt_TOS",        "ipt_REJECT",     "ipt_TCPMSS",   "ipt_tcpmss",
    "ipt_ttl",          "ipt_LOG",        "ipt_length",     "ip_conntrack", "ip_conntrack_ftp",
    "ip_conntrack_irc", "ipt_conntrack",  "ipt_state",      "ipt_helper",   "iptable_nat",
    "ip_nat_ftp",       "ip_nat_irc",     "ipt_REDIRECT",   "xt_mac",       "ipt_recent",
    "ipt_owner"};

// Merge "id:perms " entries (DEVNODES, DEVICES): old entries not named again, then the new ones;
// entries with no permissions are dropped; each written with a trailing blank, as vzctl does.
Status set_dev_list(Edit& e, std::string_view key,
                    const std::vector<std::pair<std::string, std::string>>& add) {
  std::vector<std::string> out;
  for (const auto& tok : split_any(e.conf.get_or(key, ""), " ")) {
    std::string id = tok.substr(0, tok.rfind(':'));
    bool renamed =
        std::any_of(add.begin(), add.end(), [&](const auto& a) { return a.first == id; });
    if (!renamed) out.push_back(tok);
  }
  for (const auto& [id, perms] : add)
    if (!perms.empty()) out.push_back(id + ":" + perms);
  std::string value;
  for (const auto& s : out) value += s + " ";
  return e.set(key, value);
}

Status set_word_list(Edit& e, std::string_view key, const std::vector<std::string>& add,
                     const std::vector<std::string>& del) {
  auto list = split_any(e.conf.get_or(key, ""), " \t");
  for (const auto& d : del) std::erase(list, d);
  for (const auto& a : add)
    if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
  return e.set(key, join(list, " "));
}

Result<std::vector<std::string>> parse_pci_list(std::string_view v) {
  std::vector<std::string> out;
  auto toks = split_any(v, " ");
  if (toks.empty()) return bad_value(v, "[domain:]bus:slot.func expected");
  for (const auto& tok : toks) {
    unsigned domain = 0, bus = 0, slot = 0, func = 0;
    int n = 0;
    if (std::sscanf(tok.c_str(), "%x:%x:%x.%u%n", &domain, &bus, &slot, &func, &n) != 4 ||
        static_cast<size_t>(n) != tok.size()) {
      domain = 0;
      if (std::sscanf(tok.c_str(), "%x:%x.%u%n", &bus, &slot, &func, &n) != 3 ||
          static_cast<size_t>(n) != tok.size())
        return bad_value(v, "[domain:]bus:slot.func expected");
    }
    if (domain > 0xffff || bus > 0xff || slot > 0x1f || func > 7)
      return bad_value(v, "PCI address out of range");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%u", domain, bus, slot, func);
    out.emplace_back(buf);
  }
  return out;
}

}  // namespace

Status set_ubc(Edit& e, std::string_view key, std::string_view v) {
  const UbcKey* it = find_ubc_key(key);
  if (!it) return bad_value(v, "unknown resource");
  BERTH_ASSIGN_OR_RETURN(units::BarrierLimit bl, units::parse_barrier_limit(v, it->kind));
  if (!it->alias.empty() && e.conf.has(it->alias)) e.erase(it->alias);
  return e.set(key, units::format_barrier_limit(bl));
}

Status handle_ram(Edit& e, std::string_view v) { return set_vswap(e, "PHYSPAGES", v); }
Status handle_swap(Edit& e, std::string_view v) { return set_vswap(e, "SWAPPAGES", v); }

Status handle_vm_overcommit(Edit& e, std::string_view v) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(d) || d < 0)
    return bad_value(v, "a non-negative number expected");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);  // conf_store_float()
  return e.set("VM_OVERCOMMIT", buf);
}

Status handle_meminfo(Edit& e, std::string_view v) {
  if (v == "none") return e.set("MEMINFO", v);
  size_t c = v.find(':');
  std::string_view mode = v.substr(0, c);
  uint64_t n = 0;
  if (c != std::string_view::npos) n = parse_u64(v.substr(c + 1)).value_or(0);
  if ((mode != "pages" && mode != "privvmpages") || n == 0)
    return bad_value(v, "none, pages:N or privvmpages:N expected");
  return e.set("MEMINFO", std::string(mode) + ":" + std::to_string(n));
}

Status handle_diskspace(Edit& e, std::string_view v) {
  return set_quota_pair(e, "DISKSPACE", v, 1024);
}
Status handle_diskinodes(Edit& e, std::string_view v) {
  return set_quota_pair(e, "DISKINODES", v, 1);
}

Status handle_cpuunits(Edit& e, std::string_view v) {
  auto n = parse_u64(v);
  if (!n || *n < 8 || *n > 500000) return bad_value(v, "8..500000 expected");
  return e.set("CPUUNITS", std::to_string(*n));
}

Status handle_cpulimit(Edit& e, std::string_view v) {
  // N or N%: percent of one CPU (200 = 200% = two CPUs), as vzctl(8) documents it.
  bool pct = !v.empty() && v.back() == '%';
  auto n = parse_u64(pct ? v.substr(0, v.size() - 1) : v);
  if (!n || *n > 100000000) return bad_value(v, "N or N% expected");
  return e.set("CPULIMIT", std::to_string(*n));
}

Status handle_cpumask(Edit& e, std::string_view v) {
  if (v == "auto") return e.set("CPUMASK", v);
  BERTH_ASSIGN_OR_RETURN(std::string s, values::normalize_bitmap(v));
  return e.set("CPUMASK", s);
}

Status handle_nodemask(Edit& e, std::string_view v) {
  BERTH_ASSIGN_OR_RETURN(std::string s, values::normalize_bitmap(v));
  return e.set("NODEMASK", s);
}

Status handle_ioprio(Edit& e, std::string_view v) {
  auto n = parse_u64(v);
  if (!n || *n > 7) return bad_value(v, "0..7 expected");
  return e.set("IOPRIO", std::to_string(*n));
}

Status handle_iolimit(Edit& e, std::string_view v) {
  // Command line: MB/s unless a suffix says otherwise; 0 or `unlimited` = no limit; saved in
  // bytes/s; more than INT_MAX (2 GB/s) is refused (parse_iolimit(), ERR_LONG_TRUNC).
  if (v == "unlimited") return e.set("IOLIMIT", "0");
  if (v.empty() || v.find('.') != std::string_view::npos) return bad_value(v, "N[BKMG] expected");
  auto r = units::parse_size(v, 1ULL << 20);
  if (!r.ok()) return bad_value(v, "N[BKMG] expected");
  if (*r > static_cast<uint64_t>(INT32_MAX)) return bad_value(v, "more than 2G per second");
  return e.set("IOLIMIT", std::to_string(*r));
}

Status handle_iopslimit(Edit& e, std::string_view v) {
  auto n = parse_u64(v);
  if (!n || *n > static_cast<uint64_t>(INT32_MAX)) return bad_value(v, "a number expected");
  return e.set("IOPSLIMIT", std::to_string(*n));
}

Status handle_capability(Edit& e, std::string_view v) {
  return set_onoff_list(e, "CAPABILITY", v, kCaps, true, "capability");
}

Status handle_features(Edit& e, std::string_view v) {
  return set_onoff_list(e, "FEATURES", v, kFeatures, false, "feature");
}

Status handle_netfilter(Edit& e, std::string_view v) {
  if (v != "disabled" && v != "stateless" && v != "stateful" && v != "full")
    return bad_value(v, "disabled, stateless, stateful or full expected");
  return e.set("NETFILTER", v);
}

Status handle_iptables(Edit& e, std::string_view v) {
  std::set<size_t> on;
  for (const auto& tok : split_any(v, " \t,")) {
    auto it = std::find(kIptModules.begin(), kIptModules.end(), tok);
    if (it == kIptModules.end()) return bad_value(v, "unknown iptables module `" + tok + "`");
    on.insert(static_cast<size_t>(it - kIptModules.begin()));
  }
  std::vector<std::string> out;
  for (size_t i : on) out.emplace_back(kIptModules[i]);
  return e.set("IPTABLES", join(out, " "));
}

// The entries of a --devnodes / --devices value, parsed by the config model's one parser
// (core/values/devices.h), as (id, saved permissions) pairs; "" permissions for none.
template <class Parse, class Id>
Result<std::vector<std::pair<std::string, std::string>>> dev_entries(std::string_view v,
                                                                     std::string_view form,
                                                                     Parse parse, Id id) {
  if (split_any(v, " \t").empty() || v == "none")
    return bad_value(v, std::string(form) + " expected");
  auto nodes = parse(v);
  if (!nodes.ok()) return bad_value(v, nodes.error().message());
  std::vector<std::pair<std::string, std::string>> add;
  for (const auto& n : *nodes)
    add.emplace_back(id(n),
                     n.access.none() && !n.access.quota ? "" : values::format_dev_access(n.access));
  return add;
}

Status handle_devnodes(Edit& e, std::string_view v) {
  // dev:[r][w][q] | dev:none, dev relative to /dev (net/tun). Whether the host has the node is
  // checked when it is created in the CT.
  BERTH_ASSIGN_OR_RETURN(auto add, dev_entries(v, "device:perms", values::parse_devnodes,
                                               [](const values::DevNode& n) { return n.path; }));
  return set_dev_list(e, "DEVNODES", add);
}

Status handle_devices(Edit& e, std::string_view v) {
  // b|c:major:minor|all:[r][w][q]|none (parse_devices_str()); loop devices (major 7) refused.
  auto id = [](const values::DevNode& n) {
    std::string s = values::format_device(n);
    return s.substr(0, s.rfind(':'));
  };
  BERTH_ASSIGN_OR_RETURN(auto add,
                         dev_entries(v, "b|c:major:minor|all:perms", values::parse_devices, id));
  auto nodes = values::parse_devices(v);
  for (const auto& n : *nodes)
    if (n.major == 7) return bad_value(v, "loop devices cannot be given to a CT");
  return set_dev_list(e, "DEVICES", add);
}

Status handle_pci_add(Edit& e, std::string_view v) {
  BERTH_ASSIGN_OR_RETURN(auto list, parse_pci_list(v));
  return set_word_list(e, "PCI", list, {});
}

Status handle_pci_del(Edit& e, std::string_view v) {
  BERTH_ASSIGN_OR_RETURN(auto list, parse_pci_list(v));
  return set_word_list(e, "PCI", {}, list);
}

}  // namespace berth::edit::detail
