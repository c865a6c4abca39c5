#include "cgroups/v2.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

#include "cgroups/v1.h"
#include "cgroups/tree.h"
#include "sys/fs.h"

namespace berth::cgroups {

// Enable in dir's subtree_control every controller dir has. One write per controller: a single
// "+a +b ..." write is all-or-nothing, so one refusal would leave the children with none.
// Refusals are ignored here; a limit that needs a missing controller fails when it is applied.
static void enable_controllers(const std::string& dir) {
  auto avail = sys::read_file(dir + "/cgroup.controllers");
  auto on = sys::read_file(dir + "/cgroup.subtree_control");
  if (!avail.ok()) return;
  std::istringstream in(*avail);
  std::string c;
  while (in >> c) {
    if (on.ok() && (" " + *on + " ").find(" " + c + " ") != std::string::npos) continue;
    (void)sys::write_file(dir + "/cgroup.subtree_control", "+" + c);
  }
}

Status V2Backend::create(const std::string& rel) {
  // Turn the controllers on down the path, so the CT's own group has them (and can delegate them
  // further to an init inside). The root too, as runc and crun do: on a host without systemd
  // nobody else does it, and the CT would get no controller at all.
  size_t slash = rel.find('/');
  std::string inst = rel.substr(0, slash);
  BERTH_RETURN_IF_ERROR(mkdir_group(mount_, inst));
  enable_controllers(mount_);
  enable_controllers(mount_ + "/" + inst);
  return mkdir_group(mount_, rel, true);
}

// Bounded as the CT's own nesting is (limit_nesting): depth and count.
static void collect_subgroups(const std::string& dir, const std::string& below, int depth,
                              std::vector<Backend::SubGroup>& out) {
  struct stat st {};
  if (depth > 64 || out.size() > 100000 || ::lstat(dir.c_str(), &st) != 0) return;
  auto on = sys::read_file(dir + "/cgroup.subtree_control");
  std::string controllers = on.ok() ? std::move(on).value() : "";
  while (!controllers.empty() && (controllers.back() == '\n' || controllers.back() == ' '))
    controllers.pop_back();
  out.push_back({below, controllers, st.st_uid, st.st_gid});
  DIR* dp = ::opendir(dir.c_str());
  if (dp == nullptr) return;
  std::vector<std::string> subs;
  while (const dirent* e = ::readdir(dp))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 &&
        std::strcmp(e->d_name, "..") != 0)
      subs.emplace_back(e->d_name);
  ::closedir(dp);
  for (const auto& n : subs)
    collect_subgroups(dir + "/" + n, below.empty() ? n : below + "/" + n, depth + 1, out);
}

std::vector<Backend::SubGroup> V2Backend::subgroups(const std::string& rel) const {
  std::vector<SubGroup> out;
  collect_subgroups(mount_ + "/" + rel, "", 0, out);
  return out;
}

Status V2Backend::set_subtree_control(const std::string& rel, const std::string& controllers) {
  std::istringstream in(controllers);
  std::string c;
  while (in >> c) {
    if (c.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
      return Error::with_status(exitcode::kBadValue, "bad cgroup controller name `" + c + "`");
    BERTH_RETURN_IF_ERROR(
        sys::write_file(mount_ + "/" + rel + "/cgroup.subtree_control", "+" + c)
            .context("enable the " + c + " controller for the sub-groups of `" + rel + "`"));
  }
  return {};
}

Result<UniqueFd> V2Backend::open_for_clone(const std::string& rel) {
  std::string dir = mount_ + "/" + rel;
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open cgroup `" + dir + "`");
  return fd;
}

Status V2Backend::attach(const std::string& rel, pid_t pid) {
  return sys::write_file(mount_ + "/" + rel + "/cgroup.procs", std::to_string(pid));
}

// The whole subtree: the CT may move its processes, its init too, into sub-groups.
std::vector<pid_t> V2Backend::pids(const std::string& rel) const {
  return tree_procs(mount_ + "/" + rel);
}

bool V2Backend::exists(const std::string& rel) const { return sys::is_dir(mount_ + "/" + rel); }

// SIGKILL every process in dir and its sub-groups (for kernels without cgroup.kill, < 5.14).
// A sub-group the CT froze itself is thawed: its tasks die only when they run.
static void kill_tree(const std::string& dir) {
  walk_tree(
      dir,
      [](int fd) {
        for (pid_t p : procs_at(fd)) ::kill(p, SIGKILL);
        (void)write_at(fd, "cgroup.freeze", "0");
      },
      false);
}

Status V2Backend::kill_all(const std::string& rel) {
  std::string dir = mount_ + "/" + rel;
  if (!sys::is_dir(dir)) return {};
  // cgroup.kill (5.14+) kills the whole subtree atomically. Without it, freeze the subtree so
  // nothing forks between reading the lists and the signals (a frozen task still dies of
  // SIGKILL), kill what is listed, and repeat until it is empty.
  bool have_kill = sys::write_file(dir + "/cgroup.kill", "1").ok();
  if (!have_kill) (void)sys::write_file(dir + "/cgroup.freeze", "1");
  for (int i = 0; i < 2000; ++i) {
    auto ev = sys::read_file(dir + "/cgroup.events");
    if (!ev.ok() || ev->find("populated 0") != std::string::npos) {
      if (!have_kill)
        (void)sys::write_file(dir + "/cgroup.freeze", "0");  // the group may be reused
      return {};
    }
    if (!have_kill) kill_tree(dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!have_kill) (void)sys::write_file(dir + "/cgroup.freeze", "0");
  return Error::from_errno(EBUSY, "kill processes of cgroup `" + rel + "`");
}

Status V2Backend::remove(const std::string& rel) { return rmdir_group(mount_, rel); }

Status V2Backend::limit_nesting(const std::string& rel, int64_t descendants, int64_t depth) {
  std::string dir = mount_ + "/" + rel;
  auto value = [](int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); };
  BERTH_RETURN_IF_ERROR(sys::write_file(dir + "/cgroup.max.descendants", value(descendants)));
  return sys::write_file(dir + "/cgroup.max.depth", value(depth));
}

Status V2Backend::delegate(const std::string& rel, uid_t uid, gid_t gid) {
  std::string dir = mount_ + "/" + rel;
  for (const char* f : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"})
    if (::chown((dir + f).c_str(), uid, gid) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "chown `" + dir + f + "`");
  return {};
}

}  // namespace berth::cgroups

namespace berth::cgroups {

Status V2Backend::apply(const std::string& rel, const Resources& r) {
  std::string dir = mount_ + "/" + rel;
  return apply_writes(v2_writes(r), [&](const std::string&) { return dir; });
}

Stats V2Backend::stats(const std::string& rel) const {
  Stats s;
  std::string d = mount_ + "/" + rel + "/";
  // memory.events "max": times usage hit memory.max (the closest to v1's failcnt).
  s.memory = {read_u64(d + "memory.current"), read_u64(d + "memory.peak"),
              read_limit(d + "memory.max"), read_keyed(d + "memory.events", "max")};
  s.swap = {read_u64(d + "memory.swap.current"), read_u64(d + "memory.swap.peak"),
            read_limit(d + "memory.swap.max"), read_keyed(d + "memory.swap.events", "max")};
  s.oom_kills = read_keyed(d + "memory.events", "oom_kill");
  s.pids.held = read_u64(d + "pids.current");
  s.pids.maxheld = sys::path_exists(d + "pids.peak") ? read_u64(d + "pids.peak") : s.pids.held;
  s.pids.limit = read_limit(d + "pids.max");
  s.pids.failcnt = read_keyed(d + "pids.events", "max");
  return s;
}

}  // namespace berth::cgroups
