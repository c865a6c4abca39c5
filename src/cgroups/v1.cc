#include "cgroups/v1.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "cgroups/tree.h"
#include "core/exit_codes.h"
#include "sys/fs.h"

namespace berth::cgroups {

std::vector<pid_t> read_procs(const std::string& dir) {
  std::vector<pid_t> out;
  auto text = sys::read_file(dir + "/cgroup.procs");
  if (!text.ok()) return out;
  std::istringstream in(*text);
  long v;
  while (in >> v) out.push_back(static_cast<pid_t>(v));
  return out;
}

Status mkdir_group(const std::string& base, const std::string& rel, bool fresh_leaf) {
  std::string cur = base;
  size_t pos = 0;
  while (pos <= rel.size()) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) slash = rel.size();
    cur += "/" + rel.substr(pos, slash - pos);
    if (::mkdir(cur.c_str(), 0755) != 0) {
      if (errno != EEXIST) return Error::from_errno(errno, "mkdir `" + cur + "`");
      if (fresh_leaf && slash == rel.size())
        return Error::with_status(
            exitcode::kLocked,
            "cgroup `" + cur +
                "` was made by another command a moment ago (a Berth root of its own under the "
                "same CGROUP_PARENT, starting a VPS with this CTID?)");
    }
    pos = slash + 1;
  }
  return {};
}

Status rmdir_group(const std::string& base, const std::string& rel) {
  std::string dir = base + "/" + rel;
  // The whole subtree, whatever the CT made below its group (tree.h: paths past PATH_MAX too).
  for (int i = 0;; ++i) {
    int err = remove_tree(dir);
    if (err == 0) break;
    // EBUSY right after a kill: the kernel is still tearing down exited tasks.
    if (err == EBUSY && i < 2000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    return Error::from_errno(err, "rmdir `" + dir + "`");
  }
  size_t slash = rel.find('/');
  if (slash != std::string::npos) {
    std::string inst = base + "/" + rel.substr(0, slash);
    ::rmdir(inst.c_str());  // fails with EBUSY while other CTs run: fine
  }
  return {};
}

bool delegated_inside_v1(const std::string& options) {
  // Not memory: every memory group takes one of the host's 65535 memory cgroup ids, and v1 has no
  // cgroup.max.descendants. Not blkio: v1 blk-throttle limits are flat, so a sub-group would
  // escape --iolimit. Not freezer: a sub-group the CT froze itself could not be killed. Not
  // cpuset, hugetlb, rdma, misc: nothing inside needs them.
  static const char* const kDelegated[] = {"cpu",        "cpuacct", "pids",    "devices",
                                           "perf_event", "net_cls", "net_prio"};
  std::istringstream in(options);
  std::string o;
  bool any = false;
  while (std::getline(in, o, ',')) {
    if (o.rfind("name=", 0) == 0) {
      any = true;
      continue;
    }
    if (o == "none") continue;
    bool ok = false;
    for (const char* d : kDelegated) ok |= o == d;
    if (!ok) return false;
    any = true;
  }
  return any;
}

const Backend::Hierarchy* V1Backend::find(const std::string& controller) const {
  for (const auto& h : h_) {
    std::istringstream in(h.options);
    std::string o;
    while (std::getline(in, o, ','))
      if (o == controller) return &h;
  }
  return nullptr;
}

const Backend::Hierarchy& V1Backend::primary() const {
  if (auto* p = find("pids")) return *p;
  if (auto* f = find("freezer")) return *f;
  return h_.front();
}

// A new v1 cpuset group starts with empty cpus/mems and refuses tasks; it takes its parent's.
// While the group balances load (sched_load_balance, on in every new group), the write of its
// cpus also rebuilds the scheduler's domains (a walk of every cpuset), as the group's removal
// does again in the kernel's worker (cpuset_css_offline). Balancing is turned off first, while
// cpus is still empty (no rebuild then), when the top cpuset balances load across all CPUs: then
// no other group's flag changes the domains (cpuset(7)), so the CT's CPUs are balanced as
// before. Measured with 1000 sibling groups: mkdir and the two writes 185-266 us with the flag
// on, 141 us with it off (10 siblings: 69-108 us either way). A group that has cpus keeps its
// flag.
static void copy_cpuset(const std::string& base, const std::string& rel) {
  auto root_lb = sys::read_file(base + "/cpuset.sched_load_balance");
  const bool root_balances = root_lb.ok() && root_lb->rfind('1', 0) == 0;
  std::string cur = base;
  size_t pos = 0;
  while (pos <= rel.size()) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) slash = rel.size();
    std::string parent = cur;
    cur += "/" + rel.substr(pos, slash - pos);
    auto unset = [&cur](const char* f) {
      auto mine = sys::read_file(cur + "/" + f);
      return !mine.ok() || mine->find_first_not_of(" \n") == std::string::npos;
    };
    const bool no_cpus = unset("cpuset.cpus");
    if (no_cpus && root_balances && slash == rel.size())
      (void)sys::write_file(cur + "/cpuset.sched_load_balance", "0");
    auto inherit = [&cur, &parent](const char* f) {
      auto theirs = sys::read_file(parent + "/" + f);
      if (theirs.ok()) (void)sys::write_file(cur + "/" + f, *theirs);
    };
    if (no_cpus) inherit("cpuset.cpus");
    if (unset("cpuset.mems")) inherit("cpuset.mems");
    pos = slash + 1;
  }
}

Status V1Backend::create(const std::string& rel) {
  for (const auto& h : h_) {
    // The first hierarchy's group is the CT's token: made here or not ours.
    BERTH_RETURN_IF_ERROR(mkdir_group(h.mount, rel, &h == &h_.front()));
    if (h.options.find("cpuset") != std::string::npos) copy_cpuset(h.mount, rel);
    if (h.options.find("memory") != std::string::npos)
      (void)sys::write_file(h.mount + "/" + rel + "/memory.use_hierarchy", "1");
  }
  // A hybrid host's unified hierarchy: the CT's processes get a group there too, so its cgroup
  // namespace root in that hierarchy is its own group (a cgroup2 mount inside shows only it).
  if (!unified_.empty()) BERTH_RETURN_IF_ERROR(mkdir_group(unified_, rel));
  return {};
}

Status V1Backend::attach(const std::string& rel, pid_t pid) {
  std::string p = std::to_string(pid);
  for (const auto& h : h_) {
    auto st = sys::write_file(h.mount + "/" + rel + "/cgroup.procs", p);
    if (!st.ok())
      return std::move(st).context("attach pid " + p + " to cgroup `" + h.options + "`");
  }
  if (!unified_.empty()) {
    auto st = sys::write_file(unified_ + "/" + rel + "/cgroup.procs", p);
    if (!st.ok()) return std::move(st).context("attach pid " + p + " to the unified cgroup");
  }
  return {};
}

std::optional<Backend::SelfJoin> V1Backend::open_self_join(const std::string& rel) {
  SelfJoin out;
  if (!unified_.empty()) {
    std::string dir = unified_ + "/" + rel;
    out.clone_into.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!out.clone_into) return std::nullopt;
  }
  for (const auto& h : h_) {
    std::string path = h.mount + "/" + rel + "/tasks";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return std::nullopt;
    out.tasks.push_back(std::move(fd));
  }
  if (out.tasks.empty()) return std::nullopt;
  return out;
}

// The whole subtree: the CT may move its processes, its init too (systemd's init.scope), into
// sub-groups.
std::vector<pid_t> V1Backend::pids(const std::string& rel) const {
  return tree_procs(primary().mount + "/" + rel);
}

bool V1Backend::exists(const std::string& rel) const {
  return sys::is_dir(primary().mount + "/" + rel);
}

Status V1Backend::kill_all(const std::string& rel) {
  const Hierarchy* fz = find("freezer");
  std::string dir = primary().mount + "/" + rel;
  std::string fzdir = fz ? fz->mount + "/" + rel : "";
  // A frozen task dies of SIGKILL only once thawed, and a group frozen by itself stays frozen when
  // its parent thaws: thaw every group of the subtree, the CT's own sub-groups included.
  auto thaw = [&] {
    if (fz)
      walk_tree(
          fzdir, [](int fd) { (void)write_at(fd, "freezer.state", "THAWED"); }, false);
  };
  for (int round = 0; round < 2000; ++round) {
    // An empty group (a stopped CT's, its PID namespace gone with its init) is not frozen: the
    // first freeze and the last thaw of the host each patch the kernel's text (the freezer's
    // static key), ~3 ms apiece. Nothing in it can fork; a task joining from outside after this
    // read could as well join after the last check below.
    if (round == 0 && tree_procs(dir).empty()) break;
    // Freeze first so nothing forks between reading the lists and the signals.
    if (fz) (void)sys::write_file(fzdir + "/freezer.state", "FROZEN");
    auto list = tree_procs(dir);
    if (list.empty()) break;
    for (pid_t p : list) ::kill(p, SIGKILL);
    thaw();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thaw();
  if (!tree_procs(dir).empty())
    return Error::from_errno(EBUSY, "kill processes of cgroup `" + rel + "`");
  return {};
}

Status V1Backend::remove(const std::string& rel) {
  Status first;
  for (const auto& h : h_) {
    auto st = rmdir_group(h.mount, rel);
    if (!st.ok() && first.ok()) first = std::move(st);
  }
  if (!unified_.empty()) {
    auto st = rmdir_group(unified_, rel);
    if (!st.ok() && first.ok()) first = std::move(st);
  }
  return first;
}

Status V1Backend::set_devices(const std::string& rel, const std::vector<std::string>& allow) {
  const Hierarchy* dev = find("devices");
  if (!dev) return Error::from_errno(ENOTSUP, "no v1 devices controller on this host");
  std::string dir = dev->mount + "/" + rel;
  BERTH_RETURN_IF_ERROR(sys::write_file(dir + "/devices.deny", "a"));
  for (const auto& rule : allow)
    BERTH_RETURN_IF_ERROR(sys::write_file(dir + "/devices.allow", rule));
  return {};
}

Status V1Backend::delegate(const std::string& rel, uid_t uid, gid_t gid) {
  for (const auto& h : h_) {
    if (!delegated_inside_v1(h.options)) continue;
    std::string dir = h.mount + "/" + rel;
    for (const char* f :
         {"", "/cgroup.procs", "/tasks", "/cgroup.clone_children", "/notify_on_release"})
      if (::chown((dir + f).c_str(), uid, gid) != 0 && errno != ENOENT)
        return Error::from_errno(errno, "chown `" + dir + f + "`");
  }
  return {};
}

}  // namespace berth::cgroups

namespace berth::cgroups {

Status V1Backend::apply(const std::string& rel, const Resources& r) {
  return apply_writes(v1_writes(r), [&](const std::string& controller) -> std::string {
    const Hierarchy* h = find(controller);
    return h ? h->mount + "/" + rel : std::string();
  });
}

Stats V1Backend::stats(const std::string& rel) const {
  Stats s;
  if (const Hierarchy* m = find("memory")) {
    std::string d = m->mount + "/" + rel + "/memory.";
    s.memory = {read_u64(d + "usage_in_bytes"), read_u64(d + "max_usage_in_bytes"),
                read_limit(d + "limit_in_bytes"), read_u64(d + "failcnt")};
    // swap = memsw - mem (vz7's user_beancounters.py does the same).
    uint64_t sw = read_u64(d + "memsw.usage_in_bytes"),
             swmax = read_u64(d + "memsw.max_usage_in_bytes");
    int64_t swlim = read_limit(d + "memsw.limit_in_bytes");
    s.swap.held = sw > s.memory.held ? sw - s.memory.held : 0;
    s.swap.maxheld = swmax > s.memory.maxheld ? swmax - s.memory.maxheld : 0;
    s.swap.limit = swlim == kNoLimit || s.memory.limit == kNoLimit
                       ? kNoLimit
                       : std::max<int64_t>(0, swlim - s.memory.limit);
    s.swap.failcnt = read_u64(d + "memsw.failcnt");
    s.oom_kills = read_keyed(d + "oom_control", "oom_kill");
  }
  if (const Hierarchy* p = find("pids")) {
    std::string d = p->mount + "/" + rel + "/pids.";
    s.pids.held = read_u64(d + "current");
    s.pids.maxheld = sys::path_exists(d + "peak") ? read_u64(d + "peak") : s.pids.held;
    s.pids.limit = read_limit(d + "max");
    s.pids.failcnt = read_keyed(d + "events", "max");
  }
  return s;
}

}  // namespace berth::cgroups
