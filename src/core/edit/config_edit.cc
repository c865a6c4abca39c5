// Applying a list of config changes to a ConfFile: the dispatcher, the change table and the
// simple scalar changes (misc, paths, names, numbers). The saved forms follow vzctl 4.x
// src/lib/config.c store_*().
#include "core/edit/config_edit.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdio>

#include "core/ct_config.h"
#include "core/edit/internal.h"
#include "core/exit_codes.h"

namespace berth::edit {
namespace {

using detail::Edit;
using detail::Handler;
using values::join;

Status set_yesno(Edit& e, std::string_view key, std::string_view v) {
  if (v != "yes" && v != "no") return bad_value(v, "yes or no expected");
  return e.set(key, v);
}

Status set_ulong(Edit& e, std::string_view key, std::string_view v) {
  auto n = detail::parse_u64(v);
  if (!n || *n > static_cast<uint64_t>(LONG_MAX)) return bad_value(v, "a number expected");
  return e.set(key, std::to_string(*n));
}

Status set_uint_range(Edit& e, std::string_view key, std::string_view v, uint64_t lo, uint64_t hi) {
  auto n = detail::parse_u64(v);
  if (!n || *n < lo || *n > hi)
    return bad_value(v, std::to_string(lo) + ".." + std::to_string(hi) + " expected");
  return e.set(key, std::to_string(*n));
}

// A template, sample or similar file-name-like word: letters, digits, '.', '_', '-', '+'.
bool is_plain_word(std::string_view s) {
  if (s.empty() || s.size() > 255 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '+';
  });
}

Status handle_path(Edit& e, std::string_view key, std::string_view v) {
  if (v.empty() || v.front() != '/') return bad_value(v, "absolute path expected");
  for (const auto& part : detail::split_any(v, "/"))
    if (part == "..") return bad_value(v, "`..` not allowed");
  if (std::any_of(v.begin(), v.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
    return bad_value(v, "blanks not allowed");
  return e.set(key, v);  // $VEID stays literal, as vzctl's root_orig/private_orig
}

Status handle_name(Edit& e, std::string_view v) {
  BERTH_RETURN_IF_ERROR(validate_ct_name(v));
  return e.set("NAME", v);
}

Status handle_ostemplate(Edit& e, std::string_view v) {
  if (!is_plain_word(v)) return bad_value(v, "not a template name");
  return e.set("OSTEMPLATE", v);
}

Status handle_layout(Edit& e, std::string_view v) {
  if (v != "overlay" && v != "simfs" && v != "image")
    return bad_value(v, "overlay, image or simfs expected");
  return e.set("VE_LAYOUT", v);
}

Status handle_local_id(Edit& e, std::string_view key, std::string_view v) {
  auto n = detail::parse_u64(v);
  // The CT's id range [n, n + 65536) must fit in 32 bits; 0 = no user namespace.
  if (!n || *n + kIdRangeSize > (1ULL << 32)) return bad_value(v, "id base out of range");
  return e.set(key, std::to_string(*n));
}

Status handle_sample_name(Edit&, std::string_view v) {
  if (!is_plain_word(v)) return bad_value(v, "not a sample config name");
  return {};
}

Status handle_applyconfig_map(Edit&, std::string_view v) {
  if (v != "name") return bad_value(v, "only `name` is supported");
  return {};
}

Status handle_userpasswd(Edit& e, std::string_view v) {
  size_t colon = v.find(':');
  // Messages show the user only: a password never goes to a terminal or a log.
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == v.size())
    return Error::invalid("user:password expected", exitcode::kBadValue);
  std::string_view user = v.substr(0, colon), pass = v.substr(colon + 1);
  if (!is_plain_word(user)) return bad_value(user, "not a user name");
  if (std::any_of(pass.begin(), pass.end(), [](char c) { return c == '\n' || c == '\0'; }))
    return bad_value(user, "password contains a newline");
  e.out.userpasswd.emplace_back(std::string(user), std::string(pass));
  return {};
}

Status handle_description(Edit& e, std::string_view v) { return e.set("DESCRIPTION", v); }

Status handle_mount_opts(Edit& e, std::string_view v) {
  for (auto& o : detail::split_any(v, ","))
    if (!std::all_of(o.begin(), o.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '=' || c == '-';
        }))
      return bad_value(v, "mount option list expected");
  return e.set("MOUNT_OPTS", v);
}

// INOTIFY_INSTANCES, INOTIFY_WATCHES: the CT's user.max_inotify_* (1..INT_MAX, or unlimited).
Status set_inotify(Edit& e, std::string_view key, std::string_view v) {
  if (v == "unlimited") return e.set(key, "unlimited");
  return set_uint_range(e, key, v, 1, INT32_MAX);
}

Status handle_stop_timeout(Edit& e, std::string_view v) {
  return set_uint_range(e, "STOP_TIMEOUT", v, 0, INT32_MAX);
}

#define BERTH_KEYED(fn, key) [](Edit& e, std::string_view v) { return fn(e, key, v); }

struct ChangeSpec {
  const char* name;  // the change's name (vzctl's option name without dashes)
  Handler handler;   // nullptr: validated elsewhere (the --ifname fields) or not a config key
};

const std::vector<ChangeSpec>& change_table() {
  static const std::vector<ChangeSpec> kTable = {
      {"applyconfig", handle_sample_name},
      {"applyconfig_map", handle_applyconfig_map},
      {"skip_arpdetect", nullptr},
      {"offline-resize", nullptr},
      {"config", handle_sample_name},
      {"layout", handle_layout},
      {"local_uid", BERTH_KEYED(handle_local_id, "LOCAL_UID")},
      {"local_gid", BERTH_KEYED(handle_local_id, "LOCAL_GID")},
      // The admin's word that a CT without a user namespace (LOCAL_UID=0) may run: it is host root.
      {"i-trust-this-vps",
       [](Edit& e, std::string_view) { return e.set("PRIVILEGED_TRUSTED", "yes"); }},
      {"ostemplate", handle_ostemplate},
      {"onboot", BERTH_KEYED(set_yesno, "ONBOOT")},
      {"bootorder", BERTH_KEYED(set_ulong, "BOOTORDER")},
      {"root", BERTH_KEYED(handle_path, "VE_ROOT")},
      {"private", BERTH_KEYED(handle_path, "VE_PRIVATE")},
      {"mount_opts", handle_mount_opts},
      {"userpasswd", handle_userpasswd},
      {"disabled", BERTH_KEYED(set_yesno, "DISABLED")},
      {"name", handle_name},
      {"description", handle_description},
      {"stop-timeout", handle_stop_timeout},
      {"ipadd", detail::handle_ipadd},
      {"ipadd_force", detail::handle_ipadd_force},
      {"ipdel", detail::handle_ipdel},
      {"hostname", detail::handle_hostname},
      {"nameserver", detail::handle_nameserver},
      {"searchdomain", detail::handle_searchdomain},
      {"netif_add", detail::handle_netif_add},
      {"netif_del", detail::handle_netif_del},
      {"ifname", nullptr},
      {"mac", nullptr},
      {"host_ifname", nullptr},
      {"host_mac", nullptr},
      {"bridge", nullptr},
      {"mac_filter", nullptr},
      {"netdev_add", detail::handle_netdev_add},
      {"netdev_del", detail::handle_netdev_del},
      {"netfilter", detail::handle_netfilter},
      {"iptables", detail::handle_iptables},
      {"rate", detail::handle_rate},
      {"ratebound", BERTH_KEYED(set_yesno, "RATEBOUND")},
      {"ram", detail::handle_ram},
      {"swap", detail::handle_swap},
      {"vm_overcommit", detail::handle_vm_overcommit},
      {"numproc", BERTH_KEYED(detail::set_ubc, "NUMPROC")},
      {"numtcpsock", BERTH_KEYED(detail::set_ubc, "NUMTCPSOCK")},
      {"numothersock", BERTH_KEYED(detail::set_ubc, "NUMOTHERSOCK")},
      {"vmguarpages", BERTH_KEYED(detail::set_ubc, "VMGUARPAGES")},
      {"kmemsize", BERTH_KEYED(detail::set_ubc, "KMEMSIZE")},
      {"tcpsndbuf", BERTH_KEYED(detail::set_ubc, "TCPSNDBUF")},
      {"tcprcvbuf", BERTH_KEYED(detail::set_ubc, "TCPRCVBUF")},
      {"othersockbuf", BERTH_KEYED(detail::set_ubc, "OTHERSOCKBUF")},
      {"dgramrcvbuf", BERTH_KEYED(detail::set_ubc, "DGRAMRCVBUF")},
      {"oomguarpages", BERTH_KEYED(detail::set_ubc, "OOMGUARPAGES")},
      {"lockedpages", BERTH_KEYED(detail::set_ubc, "LOCKEDPAGES")},
      {"privvmpages", BERTH_KEYED(detail::set_ubc, "PRIVVMPAGES")},
      {"shmpages", BERTH_KEYED(detail::set_ubc, "SHMPAGES")},
      {"numfile", BERTH_KEYED(detail::set_ubc, "NUMFILE")},
      {"numflock", BERTH_KEYED(detail::set_ubc, "NUMFLOCK")},
      {"numpty", BERTH_KEYED(detail::set_ubc, "NUMPTY")},
      {"numsiginfo", BERTH_KEYED(detail::set_ubc, "NUMSIGINFO")},
      {"dcachesize", BERTH_KEYED(detail::set_ubc, "DCACHESIZE")},
      {"numiptent", BERTH_KEYED(detail::set_ubc, "NUMIPTENT")},
      {"physpages", BERTH_KEYED(detail::set_ubc, "PHYSPAGES")},
      {"swappages", BERTH_KEYED(detail::set_ubc, "SWAPPAGES")},
      {"avnumproc", BERTH_KEYED(detail::set_ubc, "AVNUMPROC")},
      {"meminfo", detail::handle_meminfo},
      {"inotify_instances", BERTH_KEYED(set_inotify, "INOTIFY_INSTANCES")},
      {"inotify_watches", BERTH_KEYED(set_inotify, "INOTIFY_WATCHES")},
      {"cpuunits", detail::handle_cpuunits},
      {"cpuweight", BERTH_KEYED(set_ulong, "CPUWEIGHT")},
      {"cpulimit", detail::handle_cpulimit},
      {"cpus", BERTH_KEYED(set_ulong, "CPUS")},
      {"cpumask", detail::handle_cpumask},
      {"nodemask", detail::handle_nodemask},
      {"diskquota", BERTH_KEYED(set_yesno, "DISK_QUOTA")},
      {"diskspace", detail::handle_diskspace},
      {"diskinodes", detail::handle_diskinodes},
      {"quotatime", BERTH_KEYED(set_ulong, "QUOTATIME")},
      {"quotaugidlimit", BERTH_KEYED(set_ulong, "QUOTAUGIDLIMIT")},
      {"capability", detail::handle_capability},
      {"devnodes", detail::handle_devnodes},
      {"devices", detail::handle_devices},
      {"pci_add", detail::handle_pci_add},
      {"pci_del", detail::handle_pci_del},
      {"features", detail::handle_features},
      {"ioprio", detail::handle_ioprio},
      {"iolimit", detail::handle_iolimit},
      {"iopslimit", detail::handle_iopslimit},
  };
  return kTable;
}

#undef BERTH_KEYED

const ChangeSpec* find_change(std::string_view name) {
  for (const auto& s : change_table())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace

bool is_sample_name(std::string_view s) { return is_plain_word(s); }

// Errors are one line: a value with a newline or other control character is shown escaped.
Error one_line(Error e) {
  std::string m = e.message();
  if (std::none_of(m.begin(), m.end(),
                   [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return e;
  return Error::invalid(values::printable(m), e.exit_status());
}

namespace {

// Keys a stock kernel cannot enforce: the fine-grained UBCs of the OpenVZ kernel (kernel memory,
// socket buffers and counts, dcache, iptables entries, guarantees...; cgroup v1's kmem limit is
// a no-op since Linux 5.16 and v2 has none), the pre-VSwap /proc/meminfo modes, the iptables
// module list (superseded by NETFILTER), PCI pass-through, CPUWEIGHT (legacy). NUMFILE and
// LOCKEDPAGES (rlimits), SHMPAGES (IPC sysctls) and NUMPTY (devpts max=) are enforced:
// runtime/ct_limits.h.
// DISKSPACE, DISKINODES and QUOTAUGIDLIMIT: no disk quota for the private area yet (overlay on
// the host's file system); `df` inside shows the host's file system.
constexpr std::array<std::string_view, 24> kNotEnforced = {
    "KMEMSIZE",  "PRIVVMPAGES", "NUMTCPSOCK",   "NUMOTHERSOCK",  "NUMFLOCK",   "NUMSIGINFO",
    "TCPSNDBUF", "TCPRCVBUF",   "OTHERSOCKBUF", "DGRAMRCVBUF",   "DCACHESIZE", "NUMIPTENT",
    "AVNUMPROC", "VMGUARPAGES", "OOMGUARPAGES", "VM_OVERCOMMIT", "MEMINFO",    "IPTABLES",
    "PCI",       "CPUWEIGHT",   "MOUNT_OPTS",   "DISKSPACE",     "DISKINODES", "QUOTAUGIDLIMIT"};

bool restart_needed(std::string_view key, const ConfFile& old, const ConfFile& now) {
  static constexpr std::array<std::string_view, 6> kRestart = {
      "CAPABILITY", "NETFILTER", "IPTABLES", "FEATURES", "DISK_QUOTA", "MOUNT_OPTS"};
  if (key == "QUOTAUGIDLIMIT") {  // only turning it on or off (vzctl check_set_ugidlimit())
    auto on = [](const std::optional<std::string>& v) { return v && !v->empty() && *v != "0"; };
    return on(old.get(key)) != on(now.get(key));
  }
  if (std::find(kRestart.begin(), kRestart.end(), key) == kRestart.end()) return false;
  return old.get(key) != now.get(key);
}

bool is_shell_safe(std::string_view key, std::string_view v) {
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '`') return false;
    if (c == '$') {
      bool path = key == "VE_ROOT" || key == "VE_PRIVATE";
      if (!path) return false;
      bool word_ends = i + 5 >= v.size() ||
                       !(std::isalnum(static_cast<unsigned char>(v[i + 5])) || v[i + 5] == '_');
      if (v.compare(i, 5, "$VEID") == 0 && word_ends)
        i += 4;
      else if (v.compare(i, 7, "${VEID}") == 0)
        i += 6;
      else
        return false;
    }
  }
  return true;
}

}  // namespace

bool is_not_enforced_key(std::string_view key) {
  return std::find(kNotEnforced.begin(), kNotEnforced.end(), key) != kNotEnforced.end();
}

std::string not_enforced_warning(const ConfigEdit& edit) {
  if (edit.not_enforced.empty()) return "";
  return "Warning: " + join(edit.not_enforced, ", ") + ": saved but not enforced on this kernel";
}

namespace detail {

Status Edit::set(std::string_view key, std::string_view value) {
  if (!is_shell_safe(key, value))
    return bad_value(value,
                     "quotes, `$`, backquotes, backslashes and control characters are not allowed");
  conf.set(key, value);
  touch(key);
  return {};
}

void Edit::erase(std::string_view key) {
  conf.erase(key);
  touch(key);
}

void Edit::touch(std::string_view key) {
  if (std::find(out.changed_keys.begin(), out.changed_keys.end(), key) == out.changed_keys.end())
    out.changed_keys.emplace_back(key);
}

}  // namespace detail

Result<ConfigEdit> apply_changes(const std::vector<std::pair<std::string, std::string>>& changes,
                                 std::string_view ctid, ConfFile& conf) {
  ConfigEdit out;
  ConfFile work = conf;
  Edit e{work, conf, ctid, out, {}};
  for (const auto& [name, value] : changes) {
    std::string dashed = "--" + name;
    if (name == "ifname")
      e.ifname_edit.ifname = value;
    else if (name == "mac")
      e.ifname_edit.mac = value;
    else if (name == "host_ifname")
      e.ifname_edit.host_ifname = value;
    else if (name == "host_mac")
      e.ifname_edit.host_mac = value;
    else if (name == "bridge")
      e.ifname_edit.bridge = value;
    else if (name == "mac_filter")
      e.ifname_edit.mac_filter = value;
    const ChangeSpec* spec = find_change(name);
    if (!spec) return Error::invalid("unknown option `" + dashed + "`", exitcode::kBadArgument);
    if (!spec->handler) continue;
    Status st = spec->handler(e, value);
    if (!st.ok()) return one_line(std::move(st).context(dashed).error());
  }
  if (Status st = detail::finish_ifname_edit(e); !st.ok()) return one_line(std::move(st).error());
  for (const auto& key : out.changed_keys) {
    if (is_not_enforced_key(key) && work.has(key)) out.not_enforced.push_back(key);
    if (restart_needed(key, conf, work)) out.need_restart.push_back(key);
  }
  conf = std::move(work);
  return out;
}

Error bad_value(std::string_view value, std::string_view why, int status) {
  std::string m = "invalid value `" + values::printable(value) + "`";
  if (!why.empty()) m += " (" + std::string(why) + ")";
  return Error::invalid(std::move(m), status);
}

}  // namespace berth::edit
