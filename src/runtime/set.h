// The `set` operation: apply a validated change of a VPS's configuration to the VPS as it is
// (live limits, addresses, veths, shaping, hostname and DNS inside, passwords) and save it.
//
// A front-end maps its input (argv, JSON) to a SetRequest: the CT's config with the changes made
// and what changed; apply_set() does the rest, in vzctl's order, and validates the whole edited
// config first (core/ct_model.h), before it touches anything. Not here: the option language
// (cli/ct_options.h), locking (the caller holds the CT's lock, runtime/lifecycle.h lock_ct()).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/conf_file.h"
#include "core/ct_config.h"
#include "core/error.h"

namespace berth::runtime {

struct SetRequest {
  ConfFile edited;                        // the CT's config with the changes made
  std::vector<std::string> changed_keys;  // config keys set or erased
  std::vector<std::string> need_restart;  // changed keys that cannot change on a running CT
  std::vector<std::string> not_enforced;  // keys saved that a stock kernel may not enforce
  std::vector<std::pair<std::string, std::string>> userpasswd;  // (user, password), never saved
  bool save = false;
  std::string setmode;  // "", "restart", "ignore"
};

// Progress lines for the user (the front-end decides whether and where to print them).
using Say = std::function<void(const std::string&)>;

// --applyconfig: the keys of sample ve-<name>.conf-sample into conf, except the CT's identity
// (HOSTNAME, IP_ADDRESS, IP_ADDRESS_FORCED, OSTEMPLATE, VE_ROOT, VE_PRIVATE).
Status merge_sample(const HostConfig& host, const std::string& sample, ConfFile& conf);

// Apply req to CT ct (its config before the change) and, with req.save, save it (and its name
// link). Warnings (not enforced, not applicable live) go to stderr as "Warning: ..." lines.
Status apply_set(const CtConfig& ct, const SetRequest& req, const Say& say);

// "Warning: KMEMSIZE, TCPSNDBUF: saved but not enforced on this kernel" for the keys of keys
// this host does not enforce; "" when there are none.
std::string not_enforced_warning(const std::vector<std::string>& keys);

}  // namespace berth::runtime
