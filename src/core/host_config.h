// HostConfig: where everything of one Berth instance lives, and the global config (berth.conf).
//
// All state is under BERTH_ROOT (default "/"): etc/berth/ for config, var/lib/berth/ for data,
// run/berth/ for locks and runtime state, var/log/berth/ for logs. Host-wide kernel objects are
// named after the instance's cgroup parent (CGROUP_PARENT in berth.conf, default "berth"), so
// two instances never touch each other's objects. berth.conf uses vz.conf's keys; per-CT keys
// found there are defaults for every CT.
#pragma once

#include <string>
#include <string_view>

#include "core/conf_file.h"
#include "core/error.h"

namespace berth {

struct HostPaths {
  std::string root;          // BERTH_ROOT, no trailing '/' ("" for "/")
  std::string etc;           // <root>/etc/berth
  std::string global_conf;   // <etc>/berth.conf
  std::string conf_dir;      // <etc>/conf: <CTID>.conf, ve-<name>.conf-sample
  std::string names_dir;     // <etc>/names: <name> -> ../conf/<CTID>.conf
  std::string lib;           // <root>/var/lib/berth
  std::string template_dir;  // TEMPLATE, default <lib>/template
  std::string cache_dir;     // <template_dir>/cache
  std::string run;           // <root>/run/berth: per-CT state files
  std::string lock_dir;      // LOCKDIR, default <run>/lock
  std::string dump_dir;      // DUMPDIR, default <lib>/dump
  std::string log_dir;       // <root>/var/log/berth
};

class HostConfig {
 public:
  // Reads BERTH_ROOT from the environment and <root>/etc/berth/berth.conf (absent file: defaults).
  static Result<HostConfig> load();
  static Result<HostConfig> load_at(std::string root);

  const HostPaths& paths() const { return paths_; }
  const ConfFile& global() const { return global_; }
  // Name of the instance's host-wide objects (cgroup parent dir), default "berth".
  const std::string& instance() const { return instance_; }

  std::string ct_conf_path(std::string_view ctid) const;
  // VE_ROOT / VE_PRIVATE defaults with $VEID kept literal (as written to a new CTID.conf).
  std::string default_ve_root() const;
  std::string default_ve_private() const;

 private:
  HostPaths paths_;
  ConfFile global_;
  std::string instance_;
};

// Make a directory and its parents (mode for the ones created). Existing is fine.
Status make_dirs(const std::string& path, unsigned mode = 0755);

}  // namespace berth
