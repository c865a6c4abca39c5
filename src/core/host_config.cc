#include "core/host_config.h"

#include <sys/stat.h>

#include <cstdlib>

namespace berth {

Status make_dirs(const std::string& path, unsigned mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + cur + "`");
    pos = next;
  }
  return {};
}

std::optional<PathLayout> parse_path_layout(std::string_view s) {
  if (s.empty() || s == "berth") return PathLayout::kBerth;
  if (s == "openvz") return PathLayout::kOpenvz;
  return std::nullopt;
}

Result<HostConfig> HostConfig::load() {
  const char* env = std::getenv("BERTH_ROOT");
  const char* layout = std::getenv("BERTH_PATH_LAYOUT");
  return load_at(env && *env ? env : "/", layout ? layout : "");
}

namespace {

// The file at path, or an empty one when it does not exist.
Result<ConfFile> load_optional(const std::string& path) {
  auto f = ConfFile::load(path);
  if (f.ok()) return std::move(f).value();
  if (f.error().code() == ENOENT) return ConfFile();
  return std::move(f).error().context("read global config").status(exitcode::kNoGlobalConfig);
}

}  // namespace

Result<HostConfig> HostConfig::load_at(std::string root, std::string_view layout_override) {
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (!root.empty() && root.front() != '/')
    return Error::invalid("BERTH_ROOT must be an absolute path: `" + root + "`",
                          exitcode::kNoGlobalConfig);
  HostConfig h;
  HostPaths& p = h.paths_;
  p.root = root;
  const std::string berth_conf = root + "/etc/berth/berth.conf";
  BERTH_ASSIGN_OR_RETURN(h.global_, load_optional(berth_conf));
  std::string layout_name(layout_override);
  if (layout_name.empty()) layout_name = h.global_.get_or("PATH_LAYOUT", "");
  auto layout = parse_path_layout(layout_name);
  if (!layout)
    return Error::invalid("PATH_LAYOUT must be `berth` or `openvz`, not `" + layout_name + "`",
                          exitcode::kNoGlobalConfig);
  p.layout = *layout;
  const bool ovz = p.layout == PathLayout::kOpenvz;
  p.etc = root + (ovz ? "/etc/vz" : "/etc/berth");
  p.global_conf = ovz ? p.etc + "/vz.conf" : berth_conf;
  p.conf_dir = p.etc + "/conf";
  p.names_dir = p.etc + "/names";
  p.lib = root + "/var/lib/berth";
  p.run = root + "/run/berth";
  p.log_dir = root + "/var/log/berth";
  if (ovz) {
    // vz.conf is what OpenVZ's tools edit: its keys win; berth.conf keeps Berth's own keys.
    BERTH_ASSIGN_OR_RETURN(ConfFile vz, load_optional(p.global_conf));
    for (const auto& key : h.global_.keys())
      if (!vz.has(key)) vz.set(key, *h.global_.get(key));
    h.global_ = std::move(vz);
  }
  auto path_key = [&](const char* key, const std::string& def) {
    auto v = h.global_.get(key);
    return v && !v->empty() ? h.host_path(*v) : def;
  };
  const std::string data = ovz ? root + "/vz" : p.lib;
  p.template_dir = path_key("TEMPLATE", data + "/template");
  p.cache_dir = p.template_dir + "/cache";
  p.lock_dir = path_key("LOCKDIR", ovz ? data + "/lock" : p.run + "/lock");
  p.dump_dir = path_key("DUMPDIR", data + "/dump");
  p.backup = path_key("BACKUP_DIR", p.lib + "/backup");
  h.instance_ = h.global_.get_or("CGROUP_PARENT", "berth");
  if (h.instance_.empty()) h.instance_ = "berth";
  return h;
}

std::string HostConfig::host_path(std::string_view value) const {
  const std::string& root = paths_.root;
  if (paths_.layout != PathLayout::kOpenvz || root.empty() || value.empty() || value.front() != '/')
    return std::string(value);
  if (value.size() > root.size() && value.substr(0, root.size()) == root &&
      value[root.size()] == '/')
    return std::string(value);
  return root + std::string(value);
}

std::string HostConfig::ct_conf_path(std::string_view ctid) const {
  return paths_.conf_dir + "/" + std::string(ctid) + ".conf";
}

// In the OpenVZ layout the defaults are written as OpenVZ wrote them (host_path reads them).
std::string HostConfig::default_ve_root() const {
  bool ovz = paths_.layout == PathLayout::kOpenvz;
  return global_.get_or("VE_ROOT", ovz ? "/vz/root/$VEID" : paths_.lib + "/root/$VEID");
}

std::string HostConfig::default_ve_private() const {
  bool ovz = paths_.layout == PathLayout::kOpenvz;
  return global_.get_or("VE_PRIVATE", ovz ? "/vz/private/$VEID" : paths_.lib + "/private/$VEID");
}

}  // namespace berth
