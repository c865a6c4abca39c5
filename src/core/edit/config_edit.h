// Config changes: the one place that turns a change of a VPS's configuration, named as vzctl
// names its options ("ipadd", "numproc", "netif_add", ... without dashes) with a value in vzctl's
// syntax, into the lines of CTID.conf, the way vzctl 4.x saves them (native units,
// barrier:limit, lists merged with the key's old value). Every value goes through the one parser
// of its kind (core/values/, core/units.h). Front-ends map their input to a list of changes:
// cli/ct_options.h from argv, the coming daemon from JSON. Pure (no syscalls, no files).
//
// Errors are one line naming the change and the value, with vzctl's exit status: 20 for an
// unknown change, 21 for a bad value, 71 for a bad IP address, 131 for a bad name.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/conf_file.h"
#include "core/error.h"

namespace berth::edit {

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

// Validate every change and write it into conf, in order; on any error conf is left untouched
// (the edit is made on a copy). ctid expands nothing in the saved file ($VEID stays literal) but
// names generated veth devices (host_ifname veth<CTID>.<n>). Values are refused if they would
// break a shell-sourced config: quotes, backquotes, backslashes, `$` (except $VEID / ${VEID} in
// root and private) and control characters. Changes that are not config keys (config,
// applyconfig, applyconfig_map, skip_arpdetect, offline-resize) are validated only; userpasswd
// goes to ConfigEdit::userpasswd. Errors name the change as its option, e.g. "--ram: ...".
Result<ConfigEdit> apply_changes(const std::vector<std::pair<std::string, std::string>>& changes,
                                 std::string_view ctid, ConfFile& conf);

// Keys Berth saves but does not enforce on a stock kernel (see ConfigEdit::not_enforced).
bool is_not_enforced_key(std::string_view key);
// The one warning line of a command for edit.not_enforced ("" when there are none):
// "Warning: KMEMSIZE, TCPSNDBUF: saved but not enforced on this kernel".
std::string not_enforced_warning(const ConfigEdit& edit);
// A sample config or template name: letters, digits, '.', '_', '-', '+'; not starting with '.'
// or '-'; at most 255 characters.
bool is_sample_name(std::string_view s);
// "invalid value `V`" or "invalid value `V` (why)" (V with control characters escaped), exit 21
// unless status is given.
Error bad_value(std::string_view value, std::string_view why = {}, int status = 21);
// e with its message made one line (control characters escaped), same exit status.
Error one_line(Error e);

}  // namespace berth::edit
