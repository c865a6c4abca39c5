// The vzctl option language of `create` and `set` (vzctl(8)'s create and set options).
//
// Two steps, both pure (no syscalls, no files): parse_ct_options() turns argv into a list of
// (canonical option, value) pairs in argv order, using CLI11, and checks the rules that need only
// the command line (which options a context accepts, --reset_ub is exclusive, --name needs --save,
// --nodemask needs --cpumask...). apply_ct_options() hands the items to the config model
// (core/edit/config_edit.h), which owns the grammar of every value and writes it into a ConfFile
// the way vzctl 4.x saves it, and reports what changed for runtime/'s create and set.
//
// Not owned here: locking, loading/saving CTID.conf, the names/ symlink of --name, --applyconfig
// and
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
#include "core/edit/config_edit.h"
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

// What a change did (core/edit/config_edit.h).
using edit::ConfigEdit;
using edit::is_not_enforced_key;
using edit::not_enforced_warning;

// The items of opts applied to conf by the config model (edit::apply_changes()).
Result<ConfigEdit> apply_ct_options(const CtOptions& opts, std::string_view ctid, ConfFile& conf);

}  // namespace berth::cli
