// Each CT's own load average (see loadavg.h).
#include "ubc/loadavg.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <vector>

#include "core/ct_config.h"
#include "core/unique_fd.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "state/status.h"
#include "sys/fs.h"
#include "ubc/collect.h"

namespace berth::ubc {
namespace {

// Every task id in the group's subtree (v1 "tasks", v2 "cgroup.threads" of each directory).
void collect_tasks(const std::string& dir, const char* file, std::vector<pid_t>& out,
                   int depth = 0) {
  auto text = sys::read_file(dir + "/" + file);
  if (text.ok()) {
    std::istringstream in(*text);
    for (long t; in >> t;) out.push_back(static_cast<pid_t>(t));
  }
  if (depth > 32) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subs;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 &&
        std::strcmp(e->d_name, "..") != 0)
      subs.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& s : subs) collect_tasks(dir + "/" + s, file, out, depth + 1);
}

// Replaced whole (vzlist may read it at any time); no fsync: it is redone every 5 s.
void write_state(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return;
  bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

void fold_sample(LoadAvg& l, uint32_t active, double interval) {
  static constexpr double kMinutes[3] = {1, 5, 15};
  for (int i = 0; i < 3; ++i) {
    double e = std::exp(-interval / (60.0 * kMinutes[i]));
    l.avg[i] = l.avg[i] * e + static_cast<double>(active) * (1.0 - e);
  }
}

std::string render_loadavg(const LoadAvg& l, pid_t last_pid) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f %u/%u %d\n", l.avg[0], l.avg[1], l.avg[2],
                l.running, l.threads, static_cast<int>(last_pid));
  return buf;
}

std::string format_load_state(const LoadAvg& l) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%.6f %.6f %.6f %u %u\n", l.avg[0], l.avg[1], l.avg[2], l.running,
                l.threads);
  return buf;
}

std::optional<LoadAvg> parse_load_state(std::string_view text) {
  LoadAvg l;
  std::istringstream in{std::string(text)};
  if (!(in >> l.avg[0] >> l.avg[1] >> l.avg[2] >> l.running >> l.threads)) return std::nullopt;
  for (double a : l.avg)
    if (!(a >= 0) || !std::isfinite(a)) return std::nullopt;
  return l;
}

char stat_state(std::string_view stat) {
  size_t close = stat.rfind(')');  // the name may hold ')' and spaces: the last one ends it
  if (close == std::string_view::npos || close + 2 >= stat.size() || stat[close + 1] != ' ')
    return 0;
  return stat[close + 2];
}

std::string load_state_path(const HostConfig& host, const std::string& ctid) {
  return host.paths().run + "/ubc/" + ctid + ".loadavg";
}

std::string limits_stamp_path(const HostConfig& host, const std::string& ctid) {
  return host.paths().run + "/ubc/" + ctid + ".limits";
}

std::string load_heartbeat_path(const HostConfig& host) {
  return host.paths().run + "/ubc/sampled";
}

std::optional<std::array<double, 3>> saved_load(const HostConfig& host, const std::string& ctid) {
  std::string path = load_state_path(host, ctid);
  struct stat st;
  if (::stat(load_heartbeat_path(host).c_str(), &st) != 0 ||
      ::time(nullptr) - st.st_mtime > 3 * static_cast<time_t>(kLoadInterval))
    return std::nullopt;
  auto text = sys::read_file(path);
  if (!text.ok()) return std::nullopt;
  auto l = parse_load_state(*text);
  if (!l) return std::nullopt;
  return l->avg;
}

std::optional<std::vector<pid_t>> LoadSampler::known_tasks(const std::string& id,
                                                           const char* file) {
  std::string dir;
  pid_t init = 0;
  {
    std::lock_guard<std::mutex> hold(mutex_);
    auto it = ct_.find(id);
    if (it == ct_.end() || it->second.group_dir.empty()) return std::nullopt;
    dir = it->second.group_dir;
    init = it->second.init;
  }
  std::vector<pid_t> tasks;
  collect_tasks(dir, file, tasks);
  if (std::find(tasks.begin(), tasks.end(), init) == tasks.end()) return std::nullopt;
  return tasks;
}

// At 1000 CTs a round must stay cheap (it runs beside every CT's reads of its /proc): a CT
// sampled before is read from its group alone (no config, no status), and its state file is
// written only when its text changes (one heartbeat file says the round happened).
void LoadSampler::sample_all() {
  auto cg = state::cgroup_backend();
  auto ids = state::list_ctids(host_);
  if (!cg.ok() || !ids.ok()) return;
  if (!make_dirs(host_.paths().run + "/ubc", 0700).ok()) return;
  const char* file = std::string_view((*cg)->name()) == "v2" ? "cgroup.threads" : "tasks";
  std::set<std::string> listed(ids->begin(), ids->end());
  {
    // Destroyed CTs.
    std::lock_guard<std::mutex> hold(mutex_);
    for (auto it = ct_.begin(); it != ct_.end();)
      if (listed.count(it->first)) {
        ++it;
      } else {
        ::unlink(load_state_path(host_, it->first).c_str());
        ::unlink(limits_stamp_path(host_, it->first).c_str());
        it = ct_.erase(it);
      }
  }
  for (const auto& id : *ids) {
    std::optional<std::vector<pid_t>> tasks = known_tasks(id, file);
    pid_t init = 0;
    std::string group_dir;
    if (!tasks) {
      auto ct = CtConfig::load(host_, id);
      if (!ct.ok()) continue;
      auto st = state::query_status(*ct);
      if (!st.ok() || !st->running) {
        std::lock_guard<std::mutex> hold(mutex_);
        if (ct_.erase(id)) {
          ::unlink(load_state_path(host_, id).c_str());
          ::unlink(limits_stamp_path(host_, id).c_str());
        }
        continue;
      }
      auto dir = memory_group_dir(**cg, state::ct_group_of(*ct));
      if (!dir) continue;
      tasks.emplace();
      collect_tasks(*dir, file, *tasks);
      init = st->init_pid;
      group_dir = *dir;
    }
    uint32_t running = 0, active = 0;
    for (pid_t t : *tasks) {
      auto s = sys::read_file("/proc/" + std::to_string(t) + "/stat");
      char c = s.ok() ? stat_state(*s) : 0;
      if (c == 'R') ++running;
      if (c == 'R' || c == 'D') ++active;
    }
    std::string text;
    {
      std::lock_guard<std::mutex> hold(mutex_);
      Entry& e = ct_[id];
      if (!group_dir.empty()) {
        if (e.init != init) e = Entry{LoadAvg{}, init, {}, {}};
        e.group_dir = group_dir;
      }
      fold_sample(e.load, active, kLoadInterval);
      e.load.running = running;
      e.load.threads = static_cast<uint32_t>(tasks->size());
      text = format_load_state(e.load);
      if (text == e.written) continue;
      e.written = text;
    }
    write_state(load_state_path(host_, id), text);
  }
  // Files of CTs no longer running (stopped while no server ran, destroyed): their load state and
  // the stamp of their limits' last live change (procsrv::limits_changed).
  std::string dir = host_.paths().run + "/ubc";
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::pair<std::string, std::string>> files;  // name, CTID
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      for (std::string_view suffix : {std::string_view(".loadavg"), std::string_view(".limits")})
        if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix)
          files.emplace_back(name, name.substr(0, name.size() - suffix.size()));
    }
    ::closedir(d);
    std::vector<std::string> stale;
    {
      std::lock_guard<std::mutex> hold(mutex_);
      for (auto& [name, id] : files)
        if (!ct_.count(id)) stale.push_back(dir + "/" + name);
    }
    for (const auto& path : stale) ::unlink(path.c_str());
  }
  write_state(load_heartbeat_path(host_), std::to_string(::time(nullptr)) + "\n");
}

std::optional<LoadAvg> LoadSampler::get(const std::string& ctid) {
  std::lock_guard<std::mutex> hold(mutex_);
  auto it = ct_.find(ctid);
  if (it == ct_.end()) return std::nullopt;
  return it->second.load;
}

}  // namespace berth::ubc
