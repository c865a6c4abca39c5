// The option table of `create` / `set`, argv parsing with CLI11, and the apply dispatcher with
// the simple scalar options (misc, paths, names, numbers). Option names, short aliases and the
// command-line rules follow vzctl 4.x src/vzctl-actions.c (set_opt[], parse_create_opt(),
// check_set_opt()); the saved forms follow src/lib/config.c store_*().
#include "cli/ct_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <set>

#include "cli/ct_options_internal.h"
#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/units.h"

namespace berth::cli {
namespace {

using detail::bad_value;
using detail::Edit;
using detail::Handler;

enum class Scope { kBoth, kCreateOnly, kSetOnly };

struct OptionSpec {
  const char* cli;        // CLI11 names, e.g. "-p,--numproc"
  const char* canonical;  // item name
  bool flag;
  Scope scope;
  Handler handler;  // nullptr: validated elsewhere or not a config item
};

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
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '+';
  });
}

Status handle_path(Edit& e, std::string_view key, std::string_view v) {
  if (v.empty() || v.front() != '/') return bad_value(v, "absolute path expected");
  for (const auto& part : detail::split_any(v, "/"))
    if (part == "..") return bad_value(v, "`..` not allowed");
  if (std::any_of(v.begin(), v.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
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
  if (v != "overlay" && v != "simfs") return bad_value(v, "overlay or simfs expected");
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

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> kTable = {
      // Action flags and modes: not config items.
      {"--save", "save", true, Scope::kSetOnly, nullptr},
      {"--force", "force", true, Scope::kSetOnly, nullptr},
      {"--reset_ub", "reset_ub", true, Scope::kSetOnly, nullptr},
      {"--setmode", "setmode", false, Scope::kSetOnly, nullptr},
      {"--applyconfig", "applyconfig", false, Scope::kSetOnly, handle_sample_name},
      {"--applyconfig_map", "applyconfig_map", false, Scope::kSetOnly, handle_applyconfig_map},
      {"--skip_arpdetect", "skip_arpdetect", true, Scope::kSetOnly, nullptr},
      {"--offline-resize,--offline", "offline-resize", true, Scope::kSetOnly, nullptr},
      // Create only.
      {"--config", "config", false, Scope::kCreateOnly, handle_sample_name},
      {"--layout,--ve_layout,--velayout", "layout", false, Scope::kCreateOnly, handle_layout},
      {"--local_uid", "local_uid", false, Scope::kCreateOnly, BERTH_KEYED(handle_local_id, "LOCAL_UID")},
      {"--local_gid", "local_gid", false, Scope::kCreateOnly, BERTH_KEYED(handle_local_id, "LOCAL_GID")},
      // The admin's word that a CT without a user namespace (LOCAL_UID=0) may run: it is host root.
      {"--i-trust-this-vps", "i-trust-this-vps", true, Scope::kBoth,
       [](Edit& e, std::string_view) { return e.set("PRIVILEGED_TRUSTED", "yes"); }},
      // Misc.
      {"--ostemplate", "ostemplate", false, Scope::kBoth, handle_ostemplate},
      {"--onboot", "onboot", false, Scope::kBoth, BERTH_KEYED(set_yesno, "ONBOOT")},
      {"--bootorder", "bootorder", false, Scope::kBoth, BERTH_KEYED(set_ulong, "BOOTORDER")},
      {"--root", "root", false, Scope::kBoth, BERTH_KEYED(handle_path, "VE_ROOT")},
      {"--private", "private", false, Scope::kBoth, BERTH_KEYED(handle_path, "VE_PRIVATE")},
      {"--mount_opts", "mount_opts", false, Scope::kBoth, handle_mount_opts},
      {"--userpasswd", "userpasswd", false, Scope::kBoth, handle_userpasswd},
      {"--disabled", "disabled", false, Scope::kBoth, BERTH_KEYED(set_yesno, "DISABLED")},
      {"--name", "name", false, Scope::kBoth, handle_name},
      {"--description", "description", false, Scope::kBoth, handle_description},
      {"--stop-timeout", "stop-timeout", false, Scope::kBoth, handle_stop_timeout},
      // Network.
      {"--ipadd,--ip", "ipadd", false, Scope::kBoth, detail::handle_ipadd},
      {"--ipadd_force,--ipadd-force", "ipadd_force", false, Scope::kBoth, detail::handle_ipadd_force},
      {"--ipdel", "ipdel", false, Scope::kBoth, detail::handle_ipdel},
      {"--hostname", "hostname", false, Scope::kBoth, detail::handle_hostname},
      {"--nameserver", "nameserver", false, Scope::kBoth, detail::handle_nameserver},
      {"--searchdomain", "searchdomain", false, Scope::kBoth, detail::handle_searchdomain},
      {"--netif_add", "netif_add", false, Scope::kBoth, detail::handle_netif_add},
      {"--netif_del", "netif_del", false, Scope::kBoth, detail::handle_netif_del},
      {"--ifname", "ifname", false, Scope::kBoth, nullptr},
      {"--mac", "mac", false, Scope::kBoth, nullptr},
      {"--host_ifname", "host_ifname", false, Scope::kBoth, nullptr},
      {"--host_mac", "host_mac", false, Scope::kBoth, nullptr},
      {"--bridge", "bridge", false, Scope::kBoth, nullptr},
      {"--mac_filter", "mac_filter", false, Scope::kBoth, nullptr},
      {"--netdev_add", "netdev_add", false, Scope::kBoth, detail::handle_netdev_add},
      {"--netdev_del", "netdev_del", false, Scope::kBoth, detail::handle_netdev_del},
      {"--netfilter", "netfilter", false, Scope::kBoth, detail::handle_netfilter},
      {"--iptables", "iptables", false, Scope::kBoth, detail::handle_iptables},
      {"--rate", "rate", false, Scope::kBoth, detail::handle_rate},
      {"--ratebound", "ratebound", false, Scope::kBoth, BERTH_KEYED(set_yesno, "RATEBOUND")},
      // VSwap memory.
      {"--ram", "ram", false, Scope::kBoth, detail::handle_ram},
      {"--swap", "swap", false, Scope::kBoth, detail::handle_swap},
      {"--vm_overcommit", "vm_overcommit", false, Scope::kBoth, detail::handle_vm_overcommit},
      // UBC (vzctl's short aliases are the getopt letters of src/include/vzctl_param.h).
      {"-p,--numproc", "numproc", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMPROC")},
      {"--numtcpsock", "numtcpsock", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMTCPSOCK")},
      {"--numothersock", "numothersock", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMOTHERSOCK")},
      {"--vmguarpages", "vmguarpages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "VMGUARPAGES")},
      {"-k,--kmemsize", "kmemsize", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "KMEMSIZE")},
      {"--tcpsndbuf", "tcpsndbuf", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "TCPSNDBUF")},
      {"-b,--tcprcvbuf", "tcprcvbuf", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "TCPRCVBUF")},
      {"--othersockbuf", "othersockbuf", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "OTHERSOCKBUF")},
      {"--dgramrcvbuf", "dgramrcvbuf", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "DGRAMRCVBUF")},
      {"--oomguarpages", "oomguarpages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "OOMGUARPAGES")},
      {"-l,--lockedpages", "lockedpages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "LOCKEDPAGES")},
      {"--privvmpages", "privvmpages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "PRIVVMPAGES")},
      {"--shmpages", "shmpages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "SHMPAGES")},
      {"-n,--numfile", "numfile", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMFILE")},
      {"-f,--numflock", "numflock", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMFLOCK")},
      {"-t,--numpty", "numpty", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMPTY")},
      {"-i,--numsiginfo", "numsiginfo", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMSIGINFO")},
      {"-x,--dcachesize", "dcachesize", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "DCACHESIZE")},
      {"-e,--numiptent", "numiptent", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "NUMIPTENT")},
      {"--physpages", "physpages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "PHYSPAGES")},
      {"--swappages", "swappages", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "SWAPPAGES")},
      {"--avnumproc", "avnumproc", false, Scope::kBoth, BERTH_KEYED(detail::set_ubc, "AVNUMPROC")},
      {"--meminfo", "meminfo", false, Scope::kBoth, detail::handle_meminfo},
      // Per-user inotify limits of the CT's user namespace (Berth's; docs/security/limits.md).
      {"--inotify_instances", "inotify_instances", false, Scope::kBoth, BERTH_KEYED(set_inotify, "INOTIFY_INSTANCES")},
      {"--inotify_watches", "inotify_watches", false, Scope::kBoth, BERTH_KEYED(set_inotify, "INOTIFY_WATCHES")},
      // CPU.
      {"--cpuunits", "cpuunits", false, Scope::kBoth, detail::handle_cpuunits},
      {"--cpuweight", "cpuweight", false, Scope::kBoth, BERTH_KEYED(set_ulong, "CPUWEIGHT")},
      {"--cpulimit", "cpulimit", false, Scope::kBoth, detail::handle_cpulimit},
      {"--cpus", "cpus", false, Scope::kBoth, BERTH_KEYED(set_ulong, "CPUS")},
      {"--cpumask", "cpumask", false, Scope::kBoth, detail::handle_cpumask},
      {"--nodemask", "nodemask", false, Scope::kBoth, detail::handle_nodemask},
      // Disk.
      {"--diskquota", "diskquota", false, Scope::kBoth, BERTH_KEYED(set_yesno, "DISK_QUOTA")},
      {"--diskspace", "diskspace", false, Scope::kBoth, detail::handle_diskspace},
      {"--diskinodes", "diskinodes", false, Scope::kBoth, detail::handle_diskinodes},
      {"--quotatime", "quotatime", false, Scope::kBoth, BERTH_KEYED(set_ulong, "QUOTATIME")},
      {"--quotaugidlimit", "quotaugidlimit", false, Scope::kBoth, BERTH_KEYED(set_ulong, "QUOTAUGIDLIMIT")},
      // Security and devices.
      {"--capability", "capability", false, Scope::kBoth, detail::handle_capability},
      {"--devnodes", "devnodes", false, Scope::kBoth, detail::handle_devnodes},
      {"--devices", "devices", false, Scope::kBoth, detail::handle_devices},
      {"--pci_add", "pci_add", false, Scope::kBoth, detail::handle_pci_add},
      {"--pci_del", "pci_del", false, Scope::kBoth, detail::handle_pci_del},
      {"--features", "features", false, Scope::kBoth, detail::handle_features},
      // I/O.
      {"--ioprio", "ioprio", false, Scope::kBoth, detail::handle_ioprio},
      {"--iolimit", "iolimit", false, Scope::kBoth, detail::handle_iolimit},
      {"--iopslimit", "iopslimit", false, Scope::kBoth, detail::handle_iopslimit},
  };
  return kTable;
}

#undef BERTH_KEYED

const OptionSpec* find_spec(std::string_view canonical) {
  for (const auto& s : option_table())
    if (canonical == s.canonical) return &s;
  return nullptr;
}

Error syntax(std::string what) { return Error::invalid(std::move(what), exitcode::kBadArgument); }

// Errors are one line: a value with a newline or other control character is shown escaped.
Error one_line(Error e) {
  std::string m = e.message();
  if (std::none_of(m.begin(), m.end(),
                   [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return e;
  return Error::invalid(detail::printable(m), e.exit_status());
}

// The first token CLI11 could not use: an unknown option or an extra argument.
Error leftover_error(const std::vector<std::string>& remaining) {
  for (size_t i = 0; i < remaining.size(); ++i) {
    const std::string& t = remaining[i];
    if (t == "--") {
      if (i + 1 < remaining.size()) return syntax("extra argument `" + remaining[i + 1] + "`");
      continue;
    }
    if (t.size() > 1 && t.front() == '-') return syntax("unknown option `" + t.substr(0, t.find('=')) + "`");
    return syntax("extra argument `" + t + "`");
  }
  return syntax("bad arguments");
}

// vzctl's check_set_opt() and the --ifname rules of check_veth_param().
Status check_rules(OptionContext ctx, const CtOptions& o) {
  if (ctx == OptionContext::kSet) {
    if (o.reset_ub && (!o.items.empty() || o.save || o.force || !o.setmode.empty()))
      return syntax("option --reset_ub is exclusive");
    if (!o.save) {
      if (o.has("name")) return Error::invalid("unable to use --name without --save", exitcode::kName);
      if (o.has("ostemplate")) return syntax("unable to use --ostemplate without --save");
      if (o.has("stop-timeout")) return syntax("unable to use --stop-timeout without --save");
      if (o.force) return syntax("--force is useless without --save");
      if (o.setmode == "restart") return syntax("--setmode restart needs --save");
    }
    if (o.has("offline-resize") && !o.has("diskspace"))
      return syntax("option --offline-resize can only be used with --diskspace");
  }
  if (o.has("nodemask") && !o.has("cpumask")) return syntax("option --nodemask requires --cpumask");
  if (o.last("cpumask") == "auto" && !o.has("nodemask")) return syntax("--cpumask auto requires --nodemask");
  size_t ifnames = o.all("ifname").size();
  if (ifnames > 1) return Error::invalid("multiple use of --ifname is not allowed", exitcode::kBadValue);
  for (const char* f : {"mac", "host_ifname", "host_mac", "bridge", "mac_filter"}) {
    if (o.has(f) && ifnames == 0) return syntax(std::string("option --") + f + " needs --ifname");
    if (o.all(f).size() > 1)
      return Error::invalid(std::string("multiple use of --") + f + " is not allowed", exitcode::kBadValue);
  }
  return {};
}

}  // namespace

bool CtOptions::has(std::string_view name) const {
  return std::any_of(items.begin(), items.end(), [&](const auto& kv) { return kv.first == name; });
}

std::vector<std::string> CtOptions::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items)
    if (k == name) out.push_back(v);
  return out;
}

std::optional<std::string> CtOptions::last(std::string_view name) const {
  for (auto it = items.rbegin(); it != items.rend(); ++it)
    if (it->first == name) return it->second;
  return std::nullopt;
}

Result<CtOptions> parse_ct_options(OptionContext ctx, const std::vector<std::string>& args) {
  CLI::App app;
  app.set_help_flag();  // `-h` is not an option of vzctl set
  app.allow_extras(true);
  std::vector<std::pair<CLI::Option*, const OptionSpec*>> opts;
  for (const auto& spec : option_table()) {
    CLI::Option* o = spec.flag ? app.add_flag(spec.cli) : app.add_option(spec.cli);
    if (!spec.flag)
      o->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
    opts.emplace_back(o, &spec);
  }
  std::vector<std::string> rev(args.rbegin(), args.rend());  // CLI11 takes argv reversed
  try {
    app.parse(rev);
  } catch (const CLI::ArgumentMismatch& e) {
    std::string what = e.what();
    return one_line(syntax("option `" + what.substr(0, what.find(':')) + "` requires a value"));
  } catch (const CLI::ParseError& e) {
    return one_line(syntax(std::string("bad arguments: ") + e.what()));
  }
  if (!app.remaining().empty()) return one_line(leftover_error(app.remaining()));

  // Rebuild argv order across options: parse_order() lists the options as they were met, and
  // each option's results() holds its values in order.
  CtOptions out;
  std::vector<size_t> next(opts.size(), 0);
  for (CLI::Option* o : app.parse_order()) {
    auto it = std::find_if(opts.begin(), opts.end(), [&](const auto& p) { return p.first == o; });
    if (it == opts.end()) continue;
    const OptionSpec& spec = *it->second;
    size_t idx = static_cast<size_t>(it - opts.begin());
    std::string value;
    if (next[idx] < o->results().size()) value = o->results()[next[idx]];
    ++next[idx];
    std::string dashed = std::string("--") + spec.canonical;
    if (spec.scope == Scope::kCreateOnly && ctx == OptionContext::kSet)
      return syntax("option " + dashed + " is only valid for create");
    if (spec.scope == Scope::kSetOnly && ctx == OptionContext::kCreate)
      return syntax("option " + dashed + " is not valid for create");
    if (spec.flag) {
      if (value != "true") return syntax("option " + dashed + " takes no value");
      value.clear();
    }
    std::string_view name = spec.canonical;
    if (name == "save")
      out.save = true;
    else if (name == "force")
      out.force = true;
    else if (name == "reset_ub")
      out.reset_ub = true;
    else if (name == "setmode") {
      if (value != "restart" && value != "ignore")
        return one_line(std::move(bad_value(value, "restart or ignore expected").context(dashed)));
      out.setmode = value;
    } else {
      // Sample names are checked here already: callers open ve-<name>.conf-sample before apply.
      if ((name == "config" || name == "applyconfig") && !is_plain_word(value))
        return one_line(std::move(bad_value(value, "not a sample config name").context(dashed)));
      out.items.emplace_back(spec.canonical, std::move(value));
    }
  }
  BERTH_RETURN_IF_ERROR(check_rules(ctx, out));
  return out;
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
    "KMEMSIZE",     "PRIVVMPAGES", "NUMTCPSOCK",    "NUMOTHERSOCK", "NUMFLOCK",  "NUMSIGINFO", "TCPSNDBUF",
    "TCPRCVBUF",    "OTHERSOCKBUF", "DGRAMRCVBUF",  "DCACHESIZE",   "NUMIPTENT", "AVNUMPROC",  "VMGUARPAGES",
    "OOMGUARPAGES", "VM_OVERCOMMIT", "MEMINFO",      "IPTABLES",  "PCI",        "CPUWEIGHT",
    "MOUNT_OPTS",   "DISKSPACE",    "DISKINODES",   "QUOTAUGIDLIMIT"};

bool restart_needed(std::string_view key, const ConfFile& old, const ConfFile& now) {
  static constexpr std::array<std::string_view, 6> kRestart = {"CAPABILITY", "NETFILTER",  "IPTABLES",
                                                               "FEATURES",   "DISK_QUOTA", "MOUNT_OPTS"};
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
      bool word_ends =
          i + 5 >= v.size() || !(std::isalnum(static_cast<unsigned char>(v[i + 5])) || v[i + 5] == '_');
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
  std::string keys;
  for (const auto& k : edit.not_enforced) keys += (keys.empty() ? "" : ", ") + k;
  return "Warning: " + keys + ": saved but not enforced on this kernel";
}

namespace detail {

Status Edit::set(std::string_view key, std::string_view value) {
  if (!is_shell_safe(key, value))
    return bad_value(value, "quotes, `$`, backquotes, backslashes and control characters are not allowed");
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

Result<ConfigEdit> apply_ct_options(const CtOptions& opts, std::string_view ctid, ConfFile& conf) {
  ConfigEdit out;
  ConfFile work = conf;
  Edit e{work, conf, ctid, out, {}};
  for (const auto& [name, value] : opts.items) {
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
    const OptionSpec* spec = find_spec(name);
    if (!spec) return syntax("unknown option `" + dashed + "`");
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

namespace detail {

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

Error bad_value(std::string_view value, std::string_view why, int status) {
  std::string m = "invalid value `" + printable(value) + "`";
  if (!why.empty()) m += " (" + std::string(why) + ")";
  return Error::invalid(std::move(m), status);
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front()))) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string> split_any(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find_first_of(seps, i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

bool is_valid_ifname(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == ':' || c == ',' || c == ';' || c == '=' || c == '"' || c == '$' ||
           std::isspace(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) < 0x20;
  });
}

bool is_valid_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace detail
}  // namespace berth::cli
