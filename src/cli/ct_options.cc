// The option table of `create` / `set` and argv parsing with CLI11: argv -> the list of config
// changes (core/edit/config_edit.h applies them). Option names, short aliases and the
// command-line rules follow vzctl 4.x src/vzctl-actions.c (set_opt[], parse_create_opt(),
// check_set_opt()).
#include "cli/ct_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <set>

#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/units.h"

namespace berth::cli {
namespace {

using edit::bad_value;
using edit::one_line;

enum class Scope { kBoth, kCreateOnly, kSetOnly };

struct OptionSpec {
  const char* cli;        // CLI11 names, e.g. "-p,--numproc"
  const char* canonical;  // item name: the config change it maps to (core/edit/config_edit.h)
  bool flag;
  Scope scope;
};

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> kTable = {
      // Action flags and modes: not config items.
      {"--save", "save", true, Scope::kSetOnly},
      {"--force", "force", true, Scope::kSetOnly},
      {"--reset_ub", "reset_ub", true, Scope::kSetOnly},
      {"--setmode", "setmode", false, Scope::kSetOnly},
      {"--applyconfig", "applyconfig", false, Scope::kSetOnly},
      {"--applyconfig_map", "applyconfig_map", false, Scope::kSetOnly},
      {"--skip_arpdetect", "skip_arpdetect", true, Scope::kSetOnly},
      {"--offline-resize,--offline", "offline-resize", true, Scope::kSetOnly},
      // Create only.
      {"--config", "config", false, Scope::kCreateOnly},
      {"--layout,--ve_layout,--velayout", "layout", false, Scope::kCreateOnly},
      {"--local_uid", "local_uid", false, Scope::kCreateOnly},
      {"--local_gid", "local_gid", false, Scope::kCreateOnly},
      // The admin's word that a CT without a user namespace (LOCAL_UID=0) may run: it is host root.
      {"--i-trust-this-vps", "i-trust-this-vps", true, Scope::kBoth},
      // Misc.
      {"--ostemplate", "ostemplate", false, Scope::kBoth},
      {"--onboot", "onboot", false, Scope::kBoth},
      {"--bootorder", "bootorder", false, Scope::kBoth},
      {"--root", "root", false, Scope::kBoth},
      {"--private", "private", false, Scope::kBoth},
      {"--mount_opts", "mount_opts", false, Scope::kBoth},
      {"--userpasswd", "userpasswd", false, Scope::kBoth},
      {"--disabled", "disabled", false, Scope::kBoth},
      {"--name", "name", false, Scope::kBoth},
      {"--description", "description", false, Scope::kBoth},
      {"--stop-timeout", "stop-timeout", false, Scope::kBoth},
      // Network.
      {"--ipadd,--ip", "ipadd", false, Scope::kBoth},
      {"--ipadd_force,--ipadd-force", "ipadd_force", false, Scope::kBoth},
      {"--ipdel", "ipdel", false, Scope::kBoth},
      {"--hostname", "hostname", false, Scope::kBoth},
      {"--nameserver", "nameserver", false, Scope::kBoth},
      {"--searchdomain", "searchdomain", false, Scope::kBoth},
      {"--netif_add", "netif_add", false, Scope::kBoth},
      {"--netif_del", "netif_del", false, Scope::kBoth},
      {"--ifname", "ifname", false, Scope::kBoth},
      {"--mac", "mac", false, Scope::kBoth},
      {"--host_ifname", "host_ifname", false, Scope::kBoth},
      {"--host_mac", "host_mac", false, Scope::kBoth},
      {"--bridge", "bridge", false, Scope::kBoth},
      {"--mac_filter", "mac_filter", false, Scope::kBoth},
      {"--netdev_add", "netdev_add", false, Scope::kBoth},
      {"--netdev_del", "netdev_del", false, Scope::kBoth},
      {"--netfilter", "netfilter", false, Scope::kBoth},
      {"--iptables", "iptables", false, Scope::kBoth},
      {"--rate", "rate", false, Scope::kBoth},
      {"--ratebound", "ratebound", false, Scope::kBoth},
      // VSwap memory.
      {"--ram", "ram", false, Scope::kBoth},
      {"--swap", "swap", false, Scope::kBoth},
      {"--vm_overcommit", "vm_overcommit", false, Scope::kBoth},
      // UBC (vzctl's short aliases are the getopt letters of src/include/vzctl_param.h).
      {"-p,--numproc", "numproc", false, Scope::kBoth},
      {"--numtcpsock", "numtcpsock", false, Scope::kBoth},
      {"--numothersock", "numothersock", false, Scope::kBoth},
      {"--vmguarpages", "vmguarpages", false, Scope::kBoth},
      {"-k,--kmemsize", "kmemsize", false, Scope::kBoth},
      {"--tcpsndbuf", "tcpsndbuf", false, Scope::kBoth},
      {"-b,--tcprcvbuf", "tcprcvbuf", false, Scope::kBoth},
      {"--othersockbuf", "othersockbuf", false, Scope::kBoth},
      {"--dgramrcvbuf", "dgramrcvbuf", false, Scope::kBoth},
      {"--oomguarpages", "oomguarpages", false, Scope::kBoth},
      {"-l,--lockedpages", "lockedpages", false, Scope::kBoth},
      {"--privvmpages", "privvmpages", false, Scope::kBoth},
      {"--shmpages", "shmpages", false, Scope::kBoth},
      {"-n,--numfile", "numfile", false, Scope::kBoth},
      {"-f,--numflock", "numflock", false, Scope::kBoth},
      {"-t,--numpty", "numpty", false, Scope::kBoth},
      {"-i,--numsiginfo", "numsiginfo", false, Scope::kBoth},
      {"-x,--dcachesize", "dcachesize", false, Scope::kBoth},
      {"-e,--numiptent", "numiptent", false, Scope::kBoth},
      {"--physpages", "physpages", false, Scope::kBoth},
      {"--swappages", "swappages", false, Scope::kBoth},
      {"--avnumproc", "avnumproc", false, Scope::kBoth},
      {"--meminfo", "meminfo", false, Scope::kBoth},
      // Per-user inotify limits of the CT's user namespace (Berth's; docs/security/limits.md).
      {"--inotify_instances", "inotify_instances", false, Scope::kBoth},
      {"--inotify_watches", "inotify_watches", false, Scope::kBoth},
      // CPU.
      {"--cpuunits", "cpuunits", false, Scope::kBoth},
      {"--cpuweight", "cpuweight", false, Scope::kBoth},
      {"--cpulimit", "cpulimit", false, Scope::kBoth},
      {"--cpus", "cpus", false, Scope::kBoth},
      {"--cpumask", "cpumask", false, Scope::kBoth},
      {"--nodemask", "nodemask", false, Scope::kBoth},
      // Disk.
      {"--diskquota", "diskquota", false, Scope::kBoth},
      {"--diskspace", "diskspace", false, Scope::kBoth},
      {"--diskinodes", "diskinodes", false, Scope::kBoth},
      {"--quotatime", "quotatime", false, Scope::kBoth},
      {"--quotaugidlimit", "quotaugidlimit", false, Scope::kBoth},
      // Security and devices.
      {"--capability", "capability", false, Scope::kBoth},
      {"--devnodes", "devnodes", false, Scope::kBoth},
      {"--devices", "devices", false, Scope::kBoth},
      {"--pci_add", "pci_add", false, Scope::kBoth},
      {"--pci_del", "pci_del", false, Scope::kBoth},
      {"--features", "features", false, Scope::kBoth},
      // I/O.
      {"--ioprio", "ioprio", false, Scope::kBoth},
      {"--iolimit", "iolimit", false, Scope::kBoth},
      {"--iopslimit", "iopslimit", false, Scope::kBoth},
  };
  return kTable;
}

Error syntax(std::string what) { return Error::invalid(std::move(what), exitcode::kBadArgument); }

// The first token CLI11 could not use: an unknown option or an extra argument.
Error leftover_error(const std::vector<std::string>& remaining) {
  for (size_t i = 0; i < remaining.size(); ++i) {
    const std::string& t = remaining[i];
    if (t == "--") {
      if (i + 1 < remaining.size()) return syntax("extra argument `" + remaining[i + 1] + "`");
      continue;
    }
    if (t.size() > 1 && t.front() == '-')
      return syntax("unknown option `" + t.substr(0, t.find('=')) + "`");
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
      if (o.has("name"))
        return Error::invalid("unable to use --name without --save", exitcode::kName);
      if (o.has("ostemplate")) return syntax("unable to use --ostemplate without --save");
      if (o.has("stop-timeout")) return syntax("unable to use --stop-timeout without --save");
      if (o.force) return syntax("--force is useless without --save");
      if (o.setmode == "restart") return syntax("--setmode restart needs --save");
    }
    if (o.has("offline-resize") && !o.has("diskspace"))
      return syntax("option --offline-resize can only be used with --diskspace");
  }
  if (o.has("nodemask") && !o.has("cpumask")) return syntax("option --nodemask requires --cpumask");
  if (o.last("cpumask") == "auto" && !o.has("nodemask"))
    return syntax("--cpumask auto requires --nodemask");
  size_t ifnames = o.all("ifname").size();
  if (ifnames > 1)
    return Error::invalid("multiple use of --ifname is not allowed", exitcode::kBadValue);
  for (const char* f : {"mac", "host_ifname", "host_mac", "bridge", "mac_filter"}) {
    if (o.has(f) && ifnames == 0) return syntax(std::string("option --") + f + " needs --ifname");
    if (o.all(f).size() > 1)
      return Error::invalid(std::string("multiple use of --") + f + " is not allowed",
                            exitcode::kBadValue);
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
      if ((name == "config" || name == "applyconfig") && !edit::is_sample_name(value))
        return one_line(std::move(bad_value(value, "not a sample config name").context(dashed)));
      out.items.emplace_back(spec.canonical, std::move(value));
    }
  }
  BERTH_RETURN_IF_ERROR(check_rules(ctx, out));
  return out;
}

Result<ConfigEdit> apply_ct_options(const CtOptions& opts, std::string_view ctid, ConfFile& conf) {
  return edit::apply_changes(opts.items, ctid, conf);
}

}  // namespace berth::cli
