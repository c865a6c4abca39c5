// The vzctl option language of `create` and `set` (vzctl(8)'s create and set options).
//
// Two steps, both pure (no syscalls, no files): parse_ct_options() turns argv into a list of
// (canonical option, value) pairs in argv order, using CLI11, and checks the rules that need only
// the command line (which options a context accepts, --reset_ub is exclusive, --name needs --save,
// --nodemask needs --cpumask...). apply_ct_options() validates every value and writes it into a
// ConfFile the way vzctl 4.x saves it (native units, barrier:limit, merged lists), and reports what
// changed so that the `set` command can apply it live and the `create` command can save it.
//
// Not owned here: locking, loading/saving CTID.conf, the names/ symlink of --name, --applyconfig and
// --config (copying a sample), --userpasswd (runs inside the CT), live application of anything.
//
// Every error is one line naming the option and the value, with vzctl's exit status: 20 for command
// line syntax (unknown option, missing value, extra argument, option not valid in this context),
// 21 for a bad value, 71 for a bad IP address, 131 for a bad name (or --name without --save).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/conf_file.h"
#include "core/error.h"

namespace berth::cli {

struct CtOptions {
  // Canonical option name without dashes ("ipadd" for --ip too, "numproc" for -p, "layout" for
  // --ve_layout), and its value ("" for flags), in argv order. --save, --force, --reset_ub and
  // --setmode are not items: they are the fields below.
  std::vector<std::pair<std::string, std::string>> items;
  bool save = false, force = false, reset_ub = false;
  std::string setmode;  // "", "restart", "ignore"

  bool has(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  std::optional<std::string> last(std::string_view name) const;
};

enum class OptionContext { kCreate, kSet };

// `create` accepts vzctl's create options (--ostemplate, --config, --layout/--ve_layout/--velayout,
// --local_uid, --local_gid, ...) and, as a Berth extension, every `set` parameter that writes the
// config (so `create 101 --ram 1G --ipadd 10.0.0.2` works). It refuses the set-only action options
// (--save, --force, --setmode, --reset_ub, --applyconfig, --applyconfig_map, --offline-resize,
// --skip_arpdetect). `set` refuses the create-only ones. Both exit 20.
Result<CtOptions> parse_ct_options(OptionContext ctx, const std::vector<std::string>& args);

struct ConfigEdit {
  std::vector<std::string> changed_keys;  // config keys set or erased, first-touch order, unique
  std::vector<std::pair<std::string, std::string>> userpasswd;  // (user, password); never saved
  // Keys that were set and are saved, but that a stock kernel cannot enforce (fine-grained UBCs,
  // MEMINFO, IPTABLES, ...). The caller warns once.
  std::vector<std::string> not_enforced;
  // Keys whose new value differs from the old one and that cannot change on a running CT
  // (vzctl's check_set_mode(): CAPABILITY, NETFILTER/IPTABLES, FEATURES, QUOTAUGIDLIMIT turned on
  // or off, DISK_QUOTA, MOUNT_OPTS).
  std::vector<std::string> need_restart;
};

// Validate every item and write it into conf; on any error conf is left untouched (the edit is
// made on a copy). ctid expands nothing in the saved file ($VEID stays literal) but names
// generated veth devices (host_ifname veth<CTID>.<n>). Values are refused if they would break a
// shell-sourced config: quotes, backquotes, backslashes, `$` (except $VEID / ${VEID} in --root and
// --private) and control characters. Items that are not config keys (config, applyconfig,
// applyconfig_map, skip_arpdetect, offline-resize) are validated only; userpasswd goes to
// ConfigEdit::userpasswd.
Result<ConfigEdit> apply_ct_options(const CtOptions& opts, std::string_view ctid, ConfFile& conf);

// Keys Berth saves but does not enforce on a stock kernel (see ConfigEdit::not_enforced).
bool is_not_enforced_key(std::string_view key);
// The one warning line of a command for edit.not_enforced ("" when there are none):
// "Warning: KMEMSIZE, TCPSNDBUF: saved but not enforced on this kernel".
std::string not_enforced_warning(const ConfigEdit& edit);

}  // namespace berth::cli
