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

Result<HostConfig> HostConfig::load() {
  const char* env = std::getenv("BERTH_ROOT");
  return load_at(env && *env ? env : "/");
}

Result<HostConfig> HostConfig::load_at(std::string root) {
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (!root.empty() && root.front() != '/')
    return Error::invalid("BERTH_ROOT must be an absolute path: `" + root + "`",
                          exitcode::kNoGlobalConfig);
  HostConfig h;
  HostPaths& p = h.paths_;
  p.root = root;
  p.etc = root + "/etc/berth";
  p.global_conf = p.etc + "/berth.conf";
  p.conf_dir = p.etc + "/conf";
  p.names_dir = p.etc + "/names";
  p.lib = root + "/var/lib/berth";
  p.run = root + "/run/berth";
  p.log_dir = root + "/var/log/berth";
  auto g = ConfFile::load(p.global_conf);
  if (g.ok()) {
    h.global_ = std::move(g).value();
  } else if (g.error().code() != ENOENT) {
    return std::move(g).error().context("read global config").status(exitcode::kNoGlobalConfig);
  }
  auto rooted = [&](const char* key, const std::string& def) {
    auto v = h.global_.get(key);
    return v && !v->empty() ? *v : def;
  };
  p.template_dir = rooted("TEMPLATE", p.lib + "/template");
  p.cache_dir = p.template_dir + "/cache";
  p.lock_dir = rooted("LOCKDIR", p.run + "/lock");
  p.dump_dir = rooted("DUMPDIR", p.lib + "/dump");
  h.instance_ = rooted("CGROUP_PARENT", "berth");
  return h;
}

std::string HostConfig::ct_conf_path(std::string_view ctid) const {
  return paths_.conf_dir + "/" + std::string(ctid) + ".conf";
}

std::string HostConfig::default_ve_root() const {
  return global_.get_or("VE_ROOT", paths_.lib + "/root/$VEID");
}

std::string HostConfig::default_ve_private() const {
  return global_.get_or("VE_PRIVATE", paths_.lib + "/private/$VEID");
}

}  // namespace berth
