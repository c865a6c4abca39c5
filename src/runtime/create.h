// The `create` operation as a front-end calls it: the config a new VPS starts from, and the
// create itself with its checks, warnings and in-CT passwords. lifecycle.h's create() makes the
// private area and writes the config; this is the whole operation around it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/conf_file.h"
#include "core/error.h"
#include "core/host_config.h"
#include "runtime/set.h"

namespace berth::runtime {

// The config of a new CT before its create options: the keys of a sample (the given one, else
// berth.conf's CONFIGFILE, else vz.conf's default; CONFIGFILE="" means none; start still fills
// the limit keys a config lacks), ORIGIN_SAMPLE, VE_ROOT and VE_PRIVATE ($VEID literal),
// OSTEMPLATE (DEF_OSTEMPLATE, default busybox) unless the sample has one, VE_LAYOUT.
Result<ConfFile> new_ct_config(const HostConfig& host, const std::optional<std::string>& sample);

struct CreateRequest {
  ConfFile conf;                          // new_ct_config() with the create options applied
  std::vector<std::string> not_enforced;  // keys saved that a stock kernel may not enforce
  std::vector<std::pair<std::string, std::string>> userpasswd;  // set inside once created
};

// Validate the config, check its addresses against the host as it is now (71/78, nothing
// made), create the CT (lifecycle.h create()), then set the passwords inside. The caller holds
// the CT's lock.
Status create_ct(const HostConfig& host, const std::string& ctid, CreateRequest req,
                 const Say& say);

// What a create (or clone) of ctid killed before it wrote the config left behind, removed: its
// private area's .tmp (a disk mounted there, its loop device) or the area still marked as being
// created, and its id range in /etc/subuid and /etc/subgid. The paths are the defaults a create
// gets (berth.conf's VE_PRIVATE; a killed create with --private elsewhere is not found). Nothing
// is removed when ctid has a config, or a finished private area without one (someone's files,
// owned by that id range). True when something was removed. The caller holds the CT's lock.
Result<bool> remove_unfinished_create(const HostConfig& host, const std::string& ctid);

}  // namespace berth::runtime
