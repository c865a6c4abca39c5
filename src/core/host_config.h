// HostConfig: where everything of one Berth instance lives, and the global config (berth.conf).
//
// All state is under BERTH_ROOT (default "/"): etc/berth/ for config, var/lib/berth/ for data,
// run/berth/ for locks and runtime state, var/log/berth/ for logs. Host-wide kernel objects are
// named after the instance's cgroup parent (CGROUP_PARENT in berth.conf, default "berth"), so
// two instances never touch each other's objects. berth.conf uses vz.conf's keys; per-CT keys
// found there are defaults for every CT.
//
// The OpenVZ path layout (PATH_LAYOUT="openvz" in berth.conf, or BERTH_PATH_LAYOUT=openvz in the
// environment; docs/openvz.md) puts the files OpenVZ's tools and scripts read where OpenVZ had
// them: <root>/etc/vz/vz.conf (the global config; berth.conf's keys fill in what it lacks),
// <root>/etc/vz/conf/<CTID>.conf and ve-<name>.conf-sample, <root>/etc/vz/names,
// /vz/private/$VEID, /vz/root/$VEID, <root>/vz/template/cache, <root>/vz/lock, <root>/vz/dump.
// Berth's own runtime files stay in var/lib/berth, run/berth and var/log/berth. Path values in
// those files are written as on an OpenVZ host ("/vz/private/$VEID") and read below BERTH_ROOT
// (host_path), so a test instance under /x uses /x/vz/... while the files read as OpenVZ's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/conf_file.h"
#include "core/error.h"

namespace berth {

enum class PathLayout { kBerth, kOpenvz };

// PATH_LAYOUT's values: "berth" (or empty) and "openvz"; nullopt for anything else.
std::optional<PathLayout> parse_path_layout(std::string_view s);

struct HostPaths {
  PathLayout layout = PathLayout::kBerth;
  std::string root;          // BERTH_ROOT, no trailing '/' ("" for "/")
  std::string etc;           // <root>/etc/berth (openvz: <root>/etc/vz)
  std::string global_conf;   // <etc>/berth.conf (openvz: <etc>/vz.conf)
  std::string conf_dir;      // <etc>/conf: <CTID>.conf, ve-<name>.conf-sample
  std::string names_dir;     // <etc>/names: <name> -> ../conf/<CTID>.conf
  std::string lib;           // <root>/var/lib/berth
  std::string template_dir;  // TEMPLATE, default <lib>/template (openvz: <root>/vz/template)
  std::string cache_dir;     // <template_dir>/cache
  std::string run;           // <root>/run/berth: per-CT state files
  std::string lock_dir;      // LOCKDIR, default <run>/lock (openvz: <root>/vz/lock)
  std::string dump_dir;      // DUMPDIR, default <lib>/dump (openvz: <root>/vz/dump)
  std::string log_dir;       // <root>/var/log/berth
  std::string backup;        // BACKUP_DIR, default <lib>/backup: the backup store (docs/storage.md)
};

class HostConfig {
 public:
  // Reads BERTH_ROOT and BERTH_PATH_LAYOUT from the environment and <root>/etc/berth/berth.conf
  // (absent file: defaults), then, in the OpenVZ layout, <root>/etc/vz/vz.conf over it.
  static Result<HostConfig> load();
  // layout_override: BERTH_PATH_LAYOUT's value ("" = as berth.conf says). Bad value: exit 10.
  static Result<HostConfig> load_at(std::string root, std::string_view layout_override = "");

  const HostPaths& paths() const { return paths_; }
  const ConfFile& global() const { return global_; }
  // Name of the instance's host-wide objects (cgroup parent dir), default "berth".
  const std::string& instance() const { return instance_; }

  std::string ct_conf_path(std::string_view ctid) const;
  // VE_ROOT / VE_PRIVATE defaults with $VEID kept literal (as written to a new CTID.conf).
  std::string default_ve_root() const;
  std::string default_ve_private() const;
  // A path value read from a config file, as a path on this host. In the OpenVZ layout an absolute
  // path not already below BERTH_ROOT is taken below it ("/vz/private/101" -> <root>/vz/...); in
  // Berth's layout values are used as written. Pure.
  std::string host_path(std::string_view value) const;

 private:
  HostPaths paths_;
  ConfFile global_;
  std::string instance_;
};

// Make a directory and its parents (mode for the ones created). Existing is fine.
Status make_dirs(const std::string& path, unsigned mode = 0755);

}  // namespace berth
