// Checkpoint and restore of a running CT with CRIU (see checkpoint.h).
//
// What a Berth CT holds that CRIU cannot take as it is, and what is done about it:
//  - its /proc view and beancounter file are FUSE mounts of the instance's server: switched to a
//    plain procfs before the dump (proc_repair.h), and the view put back after the restore (or
//    when the dump failed);
//  - its console is a pty whose master the watcher holds: the slave is an external tty and the
//    /dev/console bind an external mount, both keyed "console"; the restore gets a new pty (a
//    devpts instance of its own, as start's) and the watcher its master;
//  - its veths have their host ends outside: CRIU makes them again under temporary host names,
//    which are dropped once the processes run, and the CT's network is then attached exactly as
//    start attaches it (addresses, routes, proxy neighbours, filters, shaping);
//  - its root: the host's VE_ROOT is nosuid (a wall against host users); CRIU runs in a mount
//    namespace of its own where the CT's setuid-allowed view is attached, as start's child does;
//  - its cgroup: made and limited by start's own steps before CRIU puts the processes in it.
// The dump is taken with the CT's cgroup frozen by us, so nothing runs between the dump and the
// kill (files and TCP would move past the images); CRIU leaves it frozen, then it is killed.
#include "runtime/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <unordered_set>
#include <utility>

#include "cgroups/freeze.h"
#include "checkpoint/criu.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "isolation/rootfs.h"
#include "monitor/client.h"
#include "monitor/report.h"
#include "net/filter.h"
#include "net/netlink.h"
#include "net/network.h"
#include "net/nft_netlink.h"
#include "procsrv/client.h"
#include "runtime/lifecycle.h"
#include "runtime/proc_repair.h"
#include "runtime/start_steps.h"
#include "state/ct_cgroup.h"
#include "state/status.h"
#include "storage/root.h"
#include "sys/fs.h"
#include "sys/kernel.h"

namespace berth::runtime {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kRecord = "berth-dump.json";  // written last: the dump is complete
constexpr const char* kDumpLog = "dump.log";
constexpr const char* kRestoreLog = "restore.log";
constexpr const char* kConsoleKey = "console";

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t total = 0;
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return 0;
  DIR* dp = ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0));
  if (!dp) return 0;
  while (struct dirent* e = ::readdir(dp)) {
    struct stat st;
    if (::fstatat(d.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      total += static_cast<uint64_t>(st.st_size);
  }
  ::closedir(dp);
  return total;
}

std::string console_tty_key(pid_t init) {
  auto info = sys::read_file("/proc/" + std::to_string(init) + "/mountinfo");
  return info.ok() ? console_tty_key_of(*info) : "";
}

// The veths inside the CT's network namespace (their names there).
Result<std::vector<std::string>> veths_inside(pid_t init) {
  BERTH_ASSIGN_OR_RETURN(net::Netlink nl, net::Netlink::open_in_netns_of(init));
  BERTH_ASSIGN_OR_RETURN(std::vector<net::LinkInfo> links, nl.list_links());
  std::vector<std::string> names;
  for (const auto& l : links)
    if (l.kind == "veth") names.push_back(l.name);
  return names;
}

Status prepare_dumpdir(const std::string& dir) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  // Searchable by the CT's root id: CRIU reads some images from inside the CT's user namespace.
  BERTH_RETURN_IF_ERROR(make_dirs(parent, 0711).status(exitcode::kChkpntFailed));
  if (sys::path_exists(dir)) {
    // Only an earlier dump is replaced: a --dumpfile naming anything else (a directory with
    // other files, a file) is refused, never emptied.
    struct stat st;
    bool ours =
        ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
        (sys::path_exists(dir + "/" + kRecord) || sys::path_exists(dir + "/inventory.img") ||
         sys::path_exists(dir + "/" + kDumpLog) || sys::path_exists(dir + "/predump.log"));
    if (!ours) {
      UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      DIR* dp = d ? ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0)) : nullptr;
      bool empty = dp != nullptr;
      while (dp && empty)
        if (struct dirent* e = ::readdir(dp)) {
          if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
        } else {
          break;
        }
      if (dp) ::closedir(dp);
      if (!empty)
        return Error::with_status(exitcode::kBadValue,
                                  "`" + dir + "` exists and is not a dump: give a new directory");
    }
    BERTH_RETURN_IF_ERROR(sys::remove_tree(dir).status(exitcode::kChkpntFailed));
  }
  if (::mkdir(dir.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir `" + dir + "`").status(exitcode::kChkpntFailed);
  return {};
}

// The dump (its dir and the files in it, one level of pre-dump dirs below) readable by the CT's
// root id alone besides host root: CRIU reads images as that id in a user-namespaced restore, and
// the images hold the CT's memory, no one else's business.
Status give_dump_to_ct(const CtConfig& ct, const std::string& dir, int depth = 0) {
  if (ct.is_privileged()) return {};
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) return Error::from_errno(errno, "open `" + dir + "`");
  // Searchable by all (0711, not listable): the restored tree's root reads its time namespace's
  // image before CRIU has written its uid map, when it is nobody to these files (no capability
  // over unmapped ids) - so that image alone is readable by all (clock offsets); every other
  // image (memory pages above all) is the CT root's alone.
  if (::fchown(d.get(), ct.local_uid(), ct.local_gid()) != 0 || ::fchmod(d.get(), 0711) != 0)
    return Error::from_errno(errno, "give `" + dir + "` to the CT's root");
  DIR* dp = ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0));
  if (!dp) return Error::from_errno(errno, "read `" + dir + "`");
  Status st;
  while (struct dirent* e = ::readdir(dp)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat sb;
    if (::fstatat(d.get(), name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(sb.st_mode) && depth == 0) {
      st = give_dump_to_ct(ct, dir + "/" + name, 1);
      if (!st.ok()) break;
    } else if (S_ISREG(sb.st_mode)) {
      const mode_t mode = name.rfind("timens-", 0) == 0 ? 0644 : 0600;
      if (::fchownat(d.get(), name.c_str(), ct.local_uid(), ct.local_gid(), AT_SYMLINK_NOFOLLOW) !=
              0 ||
          ::fchmodat(d.get(), name.c_str(), mode, 0) != 0) {
        st = Error::from_errno(errno, "give `" + dir + "/" + name + "` to the CT's root");
        break;
      }
    }
  }
  ::closedir(dp);
  return st;
}

Status write_record(const std::string& dir, const std::string& text) {
  std::string path = dir + "/" + kRecord;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "create `" + path + "`");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0)
    return Error::from_errno(errno, "write `" + path + "`");
  return {};
}

Result<nlohmann::json> read_record(const std::string& dir) {
  BERTH_ASSIGN_OR_RETURN(std::string text, sys::read_file(dir + "/" + kRecord));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::with_status(exitcode::kRestoreFailed, "`" + dir + "/" + kRecord + "` is damaged");
  return j;
}

// What the CT is, for status and the next command: the dump dir of a CT that was checkpointed
// and killed.
std::string record_text(const CtConfig& ct, const std::string& console,
                        const std::vector<std::string>& veths,
                        const std::vector<cgroups::Backend::SubGroup>& subgroups, pid_t init) {
  nlohmann::json j;
  j["ctid"] = ct.ctid();
  // CRIU's nftables network lock of this dump: a table of the CT's namespace named after the
  // dumped root's host pid (CRIU 3.17's nftables_get_table), dumped with the namespace's ruleset.
  j["criu_lock_table"] = "CRIU-" + std::to_string(init);
  j["berth"] = BERTH_VERSION;
  j["console"] = console;
  j["veths"] = veths;
  j["privileged"] = ct.is_privileged();
  j["cgroups"] = nlohmann::json::array();
  for (const auto& g : subgroups)
    j["cgroups"].push_back(
        {{"group", g.path}, {"controllers", g.controllers}, {"uid", g.uid}, {"gid", g.gid}});
  j["time"] = static_cast<int64_t>(::time(nullptr));
  return j.dump(2) + "\n";
}

// Where CRIU looks for the paths of inotify watches it cannot open by handle (overlayfs gives
// none): the CT's trees, and its cgroup files (systemd watches its units' cgroup.events and
// memory.events).
std::vector<std::string> irmap_paths() {
  return {"/etc", "/usr", "/var", "/root", "/home",
          "/opt", "/srv", "/tmp", "/run",  "/sys/fs/cgroup"};
}

// The record's groups of the CT, parents first. The names are the CT's own (nothing that climbs
// out of its group), the owners ids of the CT (else its root's).
Result<std::vector<cgroups::Backend::SubGroup>> subgroups_of(const CtConfig& ct,
                                                             const nlohmann::json& rec) {
  std::vector<cgroups::Backend::SubGroup> out;
  if (!rec.contains("cgroups")) return out;
  auto bad = [] {
    return Error::with_status(exitcode::kRestoreFailed, "the dump's cgroup list is damaged");
  };
  if (!rec["cgroups"].is_array()) return bad();
  const uint64_t base_uid = ct.local_uid(), base_gid = ct.local_gid();
  const uint64_t range = ct.is_privileged() ? (1ULL << 32) : kIdRangeSize;
  for (const auto& e : rec["cgroups"]) {
    if (!e.is_object() || !e.contains("group") || !e["group"].is_string() ||
        !e.contains("controllers") || !e["controllers"].is_string() ||
        !e.value("uid", nlohmann::json()).is_number_unsigned() ||
        !e.value("gid", nlohmann::json()).is_number_unsigned())
      return bad();
    std::string g = e["group"].get<std::string>();
    std::string wrapped = "/" + g + "/";
    if (!g.empty() &&
        (g.front() == '/' || g.back() == '/' || wrapped.find("/../") != std::string::npos ||
         wrapped.find("/./") != std::string::npos || g.find("//") != std::string::npos))
      return bad();
    uint64_t uid = e["uid"].get<uint64_t>(), gid = e["gid"].get<uint64_t>();
    if (uid < base_uid || uid - base_uid >= range) uid = base_uid;
    if (gid < base_gid || gid - base_gid >= range) gid = base_gid;
    out.push_back({std::move(g), e["controllers"].get<std::string>(), static_cast<uid_t>(uid),
                   static_cast<gid_t>(gid)});
  }
  auto depth = [](const std::string& p) {
    return p.empty() ? 0 : 1 + std::count(p.begin(), p.end(), '/');
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const auto& a, const auto& b) { return depth(a.path) < depth(b.path); });
  return out;
}

// A new console for a restored CT: a devpts instance of its own at <lib>/criu/<CTID> (the CT's
// root id must reach it: CRIU binds it at /dev/console from inside the CT's user namespace), its
// slave owned by the CT's root. The mount goes once CRIU has bound the slave.
struct NewConsole {
  std::string dir;
  UniqueFd master, slave;
  bool mounted = false;
  ~NewConsole() {
    if (mounted) (void)::umount2(dir.c_str(), MNT_DETACH);
    if (!dir.empty()) ::rmdir(dir.c_str());
  }
};

Status make_console(const CtConfig& ct, NewConsole& c) {
  std::string base = ct.host().paths().lib + "/criu";
  if (::mkdir(base.c_str(), 0711) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + base + "`");
  ::chmod(base.c_str(), 0711);
  c.dir = base + "/" + ct.ctid();
  if (sys::path_exists(c.dir)) {
    (void)::umount2(c.dir.c_str(), MNT_DETACH);
    ::rmdir(c.dir.c_str());
  }
  if (::mkdir(c.dir.c_str(), 0711) != 0) return Error::from_errno(errno, "mkdir `" + c.dir + "`");
  if (::mount("devpts", c.dir.c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0600,mode=0600,max=1") != 0)
    return Error::from_errno(errno, "mount a devpts for the console");
  c.mounted = true;
  c.master.reset(::open((c.dir + "/ptmx").c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!c.master) return Error::from_errno(errno, "open the console's ptmx");
  int unlock = 0;
  if (::ioctl(c.master.get(), TIOCSPTLCK, &unlock) != 0)
    return Error::from_errno(errno, "unlock the console pty");
  c.slave.reset(::ioctl(c.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!c.slave) return Error::from_errno(errno, "open the console's slave");
  if (!ct.is_privileged() && ::fchown(c.slave.get(), ct.local_uid(), ct.local_gid()) != 0)
    return Error::from_errno(errno, "give the console to the CT's root");
  return {};
}

// The CT's root view attached at <lib>/criu-root/<CTID> (the directory 0700) while CRIU
// restores; detached after.
struct RootStage {
  std::string path;
  bool attached = false;
  ~RootStage() {
    if (attached) (void)::umount2(path.c_str(), MNT_DETACH);
    if (!path.empty()) ::rmdir(path.c_str());
  }
};

Status stage_root(const CtConfig& ct, UniqueFd view, RootStage& st) {
  std::string base = ct.host().paths().lib + "/criu-root";
  if (::mkdir(base.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + base + "`");
  if (::chmod(base.c_str(), 0700) != 0) return Error::from_errno(errno, "chmod `" + base + "`");
  st.path = base + "/" + ct.ctid();
  if (sys::path_exists(st.path)) {
    (void)::umount2(st.path.c_str(), MNT_DETACH);
    ::rmdir(st.path.c_str());
  }
  if (::mkdir(st.path.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir `" + st.path + "`");
  BERTH_RETURN_IF_ERROR(sys::kernel().move_mount(view.get(), st.path));
  st.attached = true;
  return {};
}

}  // namespace

// The console's tty as CRIU names it, tty[rdev:dev] (hex, the stat values): from the CT's
// mountinfo (the kernel's words, not a path the tenant controls), the devpts mount at
// /dev/console: its root is the pty's index, its device the instance's.
std::string console_tty_key_of(std::string_view mountinfo) {
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devnum, root, point;
    f >> id >> parent >> devnum >> root >> point;
    if (point != "/dev/console") continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 7, "devpts ") != 0) continue;
    unsigned maj = 0, min = 0, index = 0;
    if (std::sscanf(devnum.c_str(), "%u:%u", &maj, &min) != 2) continue;
    if (std::sscanf(root.c_str(), "/%u", &index) != 1) continue;
    char key[64];
    // Unix98 pty slaves: major 136 + index / 256.
    std::snprintf(key, sizeof key, "tty[%llx:%llx]",
                  static_cast<unsigned long long>(makedev(136 + index / 256, index % 256)),
                  static_cast<unsigned long long>(makedev(maj, min)));
    return key;
  }
  return "";
}

// vzctl's DUMPDIR/Dump.<CTID> (state/status.cc looks there for "suspended"), a directory here.
std::string default_dumpdir(const CtConfig& ct) {
  return ct.host().paths().dump_dir + "/Dump." + ct.ctid();
}

bool dump_complete(const std::string& dir) {
  return sys::path_exists(dir + "/" + kRecord) && sys::path_exists(dir + "/inventory.img");
}

std::string criu_version() {
  if (checkpoint::criu_binary().empty()) return "";
  checkpoint::CriuOptions o;
  o.auto_ext_mnt = o.nftables_lock = o.soft_cgroups = false;
  auto r = checkpoint::run(checkpoint::Request::kVersion, o);
  return r.ok() ? r->version : "";
}

bool criu_has_session_helper_bug(std::string_view version) {
  int major = 0, minor = 0;
  if (std::sscanf(std::string(version).c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major < 4 || (major == 4 && minor < 2);
}

pid_t orphaned_session_member(const std::vector<std::pair<pid_t, pid_t>>& pid_sid) {
  std::unordered_set<pid_t> pids;
  for (const auto& [pid, sid] : pid_sid) pids.insert(pid);
  for (const auto& [pid, sid] : pid_sid)
    if (sid > 0 && !pids.contains(sid)) return pid;
  return 0;
}

std::string named_unix_socket(std::string_view proc_net_unix) {
  // "Num RefCount Protocol Flags Type St Inode Path": the path is the 8th field; '@' starts an
  // abstract name.
  size_t pos = 0;
  bool header = true;
  while (pos < proc_net_unix.size()) {
    size_t nl = proc_net_unix.find('\n', pos);
    std::string_view line = proc_net_unix.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? proc_net_unix.size() : nl + 1;
    if (std::exchange(header, false)) continue;
    std::istringstream in{std::string(line)};
    std::string f[8];
    int n = 0;
    while (n < 8 && in >> f[n]) ++n;
    if (n == 8 && f[7].front() == '/') return f[7];
  }
  return "";
}

namespace {

// The first process of the CT (host pid) whose session leader is gone, with its name, or 0.
std::pair<pid_t, std::string> find_orphaned_session(const std::vector<pid_t>& pids) {
  std::vector<std::pair<pid_t, pid_t>> pid_sid;
  for (pid_t p : pids) {
    auto stat = sys::read_file("/proc/" + std::to_string(p) + "/stat");
    if (!stat.ok()) continue;  // gone meanwhile
    // "pid (comm) state ppid pgrp session ...": comm may hold anything but the last ')'.
    size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat->substr(close + 1));
    std::string state;
    pid_t ppid = 0, pgrp = 0, sid = 0;
    if (in >> state >> ppid >> pgrp >> sid) pid_sid.emplace_back(p, sid);
  }
  pid_t p = orphaned_session_member(pid_sid);
  if (p == 0) return {0, ""};
  auto comm = sys::read_file("/proc/" + std::to_string(p) + "/comm");
  std::string name = comm.ok() ? *comm : "?";
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return {p, name};
}

}  // namespace

std::string criu_unusable_reason() {
  if (checkpoint::criu_binary().empty()) return "CRIU is not installed (apt-get install criu)";
  char tmpl[] = "/tmp/berth-criu-check-XXXXXX";
  if (!::mkdtemp(tmpl)) return std::string("mkdtemp: ") + std::strerror(errno);
  UniqueFd d(::open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  checkpoint::CriuOptions o;
  o.images_dir_fd = d.get();
  o.log_file = "check.log";
  o.auto_ext_mnt = o.soft_cgroups = false;
  auto r = checkpoint::run(checkpoint::Request::kCheck, o, {}, std::string(tmpl) + "/check.log");
  std::string why;
  if (!r.ok()) {
    why = "CRIU cannot checkpoint on this kernel (" + r.error().message() + ")";
    if (auto nl = why.find('\n'); nl != std::string::npos) why = why.substr(0, nl) + ")";
  }
  (void)sys::remove_tree(tmpl);
  return why;
}

Result<ChkpntResult> checkpoint(const CtConfig& ct, const ChkpntOptions& opts) {
  const std::string dir = opts.dumpdir.empty() ? default_dumpdir(ct) : opts.dumpdir;
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  const std::string group = state::ct_group_of(ct);
  ChkpntResult res;
  res.dumpdir = dir;

  if (opts.stage == ChkpntStage::kResume) {
    if (!s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
    // The network lock of a `chkpnt --dump` (below) goes before the tasks run again.
    if (auto d = net::nft::delete_table_in_netns_of(s.init_pid, net::nft::Family::kInet,
                                                    net::kCheckpointLockTable);
        !d.ok())
      return std::move(d)
          .error()
          .context("unlock the CT's network")
          .status(exitcode::kRestoreFailed);
    BERTH_RETURN_IF_ERROR(cgroups::thaw_group(*cg, group).status(exitcode::kRestoreFailed));
    return res;
  }
  if (opts.stage == ChkpntStage::kKill) {
    if (!s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
    if (!dump_complete(dir))
      return Error::with_status(exitcode::kChkpntFailed,
                                "no complete dump in `" + dir + "`: chkpnt --dump first");
    // The network goes before the kill, as at the end of a dump that ends the CT (below). The
    // lock of `--dump` drops every packet only while the namespace lives: a namespace's end
    // unhooks its nftables tables before it takes its devices away, and a peer's retransmission
    // arriving through the veth in between found no socket and was answered with a reset (seen
    // once in the VM's checkpoint suite: the stream stalled after the restore, the peer's
    // connection gone).
    monitor::release(ct.host(), ct.ctid());
    BERTH_RETURN_IF_ERROR(net::detach_network(ct).status(exitcode::kChkpntFailed));
    BERTH_RETURN_IF_ERROR(cg->kill_all(group).status(exitcode::kChkpntFailed));
    BERTH_RETURN_IF_ERROR(repair(ct).status(exitcode::kChkpntFailed));
    BERTH_RETURN_IF_ERROR(storage::umount_root(ct).status(exitcode::kChkpntFailed));
    procsrv::stop_server_if_idle(ct.host());
    monitor::stop_if_idle(ct.host());
    return res;
  }
  if (!s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
  if (opts.stage == ChkpntStage::kSuspend) {
    BERTH_RETURN_IF_ERROR(cgroups::freeze_group(*cg, group, 10000).status(exitcode::kChkpntFailed));
    return res;
  }
  if (checkpoint::criu_binary().empty())
    return Error::with_status(exitcode::kChkpntFailed,
                              "CRIU is not installed (apt-get install criu): the CT keeps running");

  const pid_t init = s.init_pid;
  // A tree this CRIU would dump but not restore is refused before anything changes.
  if (std::string v = criu_version(); criu_has_session_helper_bug(v)) {
    auto [orphan, comm] = find_orphaned_session(cg->pids(group));
    auto unix_text = sys::read_file("/proc/" + std::to_string(init) + "/net/unix");
    std::string path = unix_text.ok() ? named_unix_socket(*unix_text) : "";
    if (orphan != 0 && !path.empty())
      return Error::with_status(
          exitcode::kChkpntFailed,
          "checkpoint refused, the CT keeps running: process " + std::to_string(orphan) + " (" +
              comm +
              ") is in a session whose leader has exited, and the CT has named unix "
              "sockets (" +
              path + "): CRIU " + v +
              " cannot restore the two together (fixed "
              "in CRIU 4.2); end that process, or start such processes with setsid");
  }
  BERTH_RETURN_IF_ERROR(prepare_dumpdir(dir));
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Error::from_errno(errno, "open `" + dir + "`").status(exitcode::kChkpntFailed);
  std::string console = console_tty_key(init);
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> veths,
                         veths_inside(init).status(exitcode::kChkpntFailed));

  const bool keep_running = opts.leave_running || opts.stage == ChkpntStage::kDump;
  // FUSE out of the CT's mounts; put back on every way out but success.
  BERTH_RETURN_IF_ERROR(switch_proc_to_plain(ct, init).status(exitcode::kChkpntFailed));
  bool done = false;
  ScopeExit put_back([&] {
    if (done) return;
    auto ensured = procsrv::ensure_server(ct.host());
    if (ensured.ok()) ensured->commit();
    if (auto st = switch_proc_back(ct, init); !st.ok())
      std::fprintf(stderr, "Warning: CT %s: /proc view after a failed checkpoint: %s\n",
                   ct.ctid().c_str(), st.error().message().c_str());
  });

  // Frozen by us (and left frozen by CRIU): nothing runs between the dump and the kill.
  BERTH_ASSIGN_OR_RETURN(std::string freezer, cgroups::freezer_dir(*cg, group));
  auto t0 = Clock::now();
  BERTH_RETURN_IF_ERROR(cgroups::freeze_group(*cg, group, 10000).status(exitcode::kChkpntFailed));
  cgroups::FreezeGuard frozen(*cg, group);
  // A dump that ends the CT, now or at a `chkpnt --kill` after `--dump` (which leaves it frozen):
  // its network namespace drops every packet from here to the kill (or to `--resume`).
  // CRIU lifts its own network lock at the end of a dump that leaves the tasks in place (ours stay
  // frozen), and from then on the kernel would acknowledge what a peer sends: bytes the peer
  // then counts as delivered but the images lack, and the restored connection waits forever for
  // them (seen as a TCP stream that stalls for good after a restore or migration). The table is
  // dumped with the namespace's ruleset; the restore removes it (restore_dump below).
  bool net_locked = false;
  ScopeExit unlock_net([&] {
    if (net_locked)
      (void)net::nft::delete_table_in_netns_of(init, net::nft::Family::kInet,
                                               net::kCheckpointLockTable);
  });
  if (!opts.leave_running) {
    BERTH_RETURN_IF_ERROR(net::lock_netns_of(init)
                              .context("lock the CT's network for the dump")
                              .status(exitcode::kChkpntFailed));
    net_locked = true;
  }

  // The host's VE_ROOT out of CRIU's sight while it dumps: the CT runs on its own view (a clone
  // of it), and binds of the CT's tree in its services' mount namespaces (systemd's sandboxing)
  // would otherwise be taken for external mounts of that host path, which the restore cannot
  // reach from the CT's user namespace. It is mounted again if the CT goes on here.
  bool root_was_mounted = sys::is_mount_point(ct.ve_root());
  if (root_was_mounted && ::umount2(ct.ve_root().c_str(), MNT_DETACH) != 0)
    return Error::from_errno(errno, "detach VE_ROOT for the dump").status(exitcode::kChkpntFailed);
  ScopeExit remount([&] {
    if (root_was_mounted && !sys::is_mount_point(ct.ve_root()) && !(done && !keep_running))
      (void)storage::mount_root(ct);
  });

  checkpoint::CriuOptions o;
  o.images_dir_fd = dfd.get();
  o.log_file = kDumpLog;
  o.pid = init;
  o.leave_running = true;
  o.freeze_cgroup = freezer;
  o.irmap_scan_paths = irmap_paths();
  o.parent_img = opts.parent;
  if (!opts.parent.empty()) o.track_mem = true;
  if (!console.empty()) {
    o.external.push_back("mnt[/dev/console]:" + std::string(kConsoleKey));
    o.external.push_back(console);
  }
  auto t1 = Clock::now();
  auto r = checkpoint::run(checkpoint::Request::kDump, o, {}, dir + "/" + kDumpLog);
  // Passing states CRIU refuses, so the dump is tried again a moment later (the CT runs again in
  // between: CRIU thaws it on failure; refrozen here): a unix socket with control messages
  // queued (systemd's and journald's sockets, now and then), and a task it cannot seize because
  // it sleeps uninterruptibly (state D; seen once in five CI runs of a Debian guest's suspend,
  // with a shell loop running `sleep 0.2` inside: likely a vfork parent whose child the freeze
  // caught before its exec, which goes on once the child runs again).
  auto passing = [](const auto& result) {
    if (result.ok()) return false;
    const std::string m = result.error().message();
    return m.find("Control messages in queue") != std::string::npos ||
           m.find("Unseizable non-zombie") != std::string::npos;
  };
  for (int again = 0; again < 3 && passing(r); ++again) {
    (void)frozen.thaw();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BERTH_RETURN_IF_ERROR(cgroups::freeze_group(*cg, group, 10000).status(exitcode::kChkpntFailed));
    frozen.rearm(*cg, group);
    BERTH_RETURN_IF_ERROR(prepare_dumpdir(dir));
    dfd.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    o.images_dir_fd = dfd.get();
    r = checkpoint::run(checkpoint::Request::kDump, o, {}, dir + "/" + kDumpLog);
  }
  res.dump_ms = ms_since(t1);
  if (!r.ok())
    return Error::with_status(exitcode::kChkpntFailed,
                              "checkpoint failed, the CT keeps running: " + r.error().message());
  BERTH_RETURN_IF_ERROR(
      write_record(dir, record_text(ct, console, veths, cg->subgroups(group), init))
          .status(exitcode::kChkpntFailed));
  res.bytes = dir_bytes(dir);
  done = true;

  if (keep_running) {
    // A copy of a running CT: it goes on (vzctl's --dump: still suspended, until --resume or
    // --kill), its /proc view back.
    done = false;
    if (opts.stage == ChkpntStage::kDump) {
      frozen.dismiss();
      net_locked = false;  // kept while it is frozen: `--kill` or `--resume` decides
    }
    res.frozen_ms = ms_since(t0);
    return res;
  }
  // The CT ends here: the watcher must not take it for a poweroff inside, then the same teardown
  // as stop's (processes, group, network, mounts); the dump stays. The network goes first: the
  // kill closes the CT's sockets, and the FINs and RSTs that would tell its TCP peers the
  // connections are over must find no way out (CRIU's own network lock is lifted by now).
  monitor::release(ct.host(), ct.ctid());
  BERTH_RETURN_IF_ERROR(net::detach_network(ct).status(exitcode::kChkpntFailed));
  BERTH_RETURN_IF_ERROR(cg->kill_all(group).status(exitcode::kChkpntFailed));
  net_locked = false;  // gone with the namespace
  res.frozen_ms = ms_since(t0);
  (void)frozen.thaw();
  BERTH_RETURN_IF_ERROR(repair(ct).status(exitcode::kChkpntFailed));
  BERTH_RETURN_IF_ERROR(storage::umount_root(ct).status(exitcode::kChkpntFailed));
  procsrv::stop_server_if_idle(ct.host());
  monitor::stop_if_idle(ct.host());
  return res;
}

Result<PreDumpResult> pre_dump(const CtConfig& ct, const std::string& dumpdir,
                               const std::string& name, const std::string& parent) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
  const std::string dir = dumpdir + "/" + name;
  BERTH_RETURN_IF_ERROR(prepare_dumpdir(dir));
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Error::from_errno(errno, "open `" + dir + "`").status(exitcode::kChkpntFailed);
  checkpoint::CriuOptions o;
  o.images_dir_fd = dfd.get();
  o.log_file = "predump.log";
  o.pid = s.init_pid;
  o.track_mem = true;
  o.parent_img = parent.empty() ? "" : "../" + parent;
  // A pre-dump resolves inotify watches' paths too (for the final dump), by scanning only.
  o.irmap_scan_paths = irmap_paths();
  std::string console = console_tty_key(s.init_pid);
  if (!console.empty()) {
    o.external.push_back("mnt[/dev/console]:" + std::string(kConsoleKey));
    o.external.push_back(console);
  }
  // A pre-dump reads memory only; the FUSE mounts are not an obstacle to it, the final dump
  // switches them out.
  auto t = Clock::now();
  auto r = checkpoint::run(checkpoint::Request::kPreDump, o, {}, dir + "/predump.log");
  if (!r.ok()) return Error::with_status(exitcode::kChkpntFailed, r.error().message());
  return PreDumpResult{ms_since(t), dir_bytes(dir)};
}

Result<UndumpResult> restore_checkpoint(const CtConfig& ct, const UndumpOptions& opts) {
  auto t0 = Clock::now();
  const std::string dir = opts.dumpdir.empty() ? default_dumpdir(ct) : opts.dumpdir;
  UndumpResult res;
  if (opts.stage == UndumpOptions::Stage::kResume) {
    BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
    if (!s.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
    BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
    BERTH_RETURN_IF_ERROR(
        cgroups::thaw_group(*cg, state::ct_group_of(ct)).status(exitcode::kRestoreFailed));
    res.total_ms = ms_since(t0);
    return res;
  }
  if (!dump_complete(dir))
    return Error::with_status(exitcode::kRestoreFailed,
                              "no complete dump of CT " + ct.ctid() + " in `" + dir + "`");
  if (checkpoint::criu_binary().empty())
    return Error::with_status(exitcode::kRestoreFailed,
                              "CRIU is not installed (apt-get install criu)");
  BERTH_ASSIGN_OR_RETURN(nlohmann::json rec, read_record(dir));
  if (rec.value("ctid", "") != ct.ctid())
    return Error::with_status(
        exitcode::kRestoreFailed,
        "the dump in `" + dir + "` is of CT " + rec.value("ctid", "?") + ", not " + ct.ctid());
  if (rec.value("privileged", false) != ct.is_privileged())
    return Error::with_status(exitcode::kRestoreFailed,
                              "the dump was taken with another LOCAL_UID setting (privileged or "
                              "not) than the CT has now");
  // CRIU reads images as the CT's root id: the dump (and, for a migration's final dump, its
  // pre-dump siblings, its parents) must be that id's, and DUMPDIR searchable.
  if (!ct.is_privileged()) {
    (void)::chmod(ct.host().paths().dump_dir.c_str(), 0711);
    std::string parent = dir.substr(0, dir.rfind('/'));
    bool staged = parent.size() > 8 && parent.compare(parent.size() - 8, 8, "-migrate") == 0;
    BERTH_RETURN_IF_ERROR(
        give_dump_to_ct(ct, staged ? parent : dir).status(exitcode::kRestoreFailed));
  }
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Error::from_errno(errno, "open `" + dir + "`").status(exitcode::kRestoreFailed);

  // Start's own steps up to the processes: state and config, leftovers, the root, its view,
  // the group with its limits, the beancounter server (CRIU binds its files).
  StartOptions sopts;
  StartContext ctx{ct, sopts};
  for (auto step : {validate_config, repair_leftovers, mount_root, open_root_view, create_cgroup,
                    apply_limits, ensure_ubc_server}) {
    auto st = step(ctx);
    if (!st.ok()) return std::move(st).error().status(exitcode::kRestoreFailed);
  }
  NewConsole con;
  std::string console = rec.value("console", "");
  checkpoint::CriuOptions o;
  o.images_dir_fd = dfd.get();
  o.log_file = kRestoreLog;
  o.rst_sibling = true;
  o.cgroup_root = "/" + ctx.group;
  if (!console.empty()) {
    BERTH_RETURN_IF_ERROR(make_console(ct, con).status(exitcode::kRestoreFailed));
    o.ext_mnt.emplace_back(kConsoleKey, con.dir + "/0");
    o.inherit_fd.emplace_back(console, con.slave.get());
  }
  // The veths come back under temporary host names. A bridged one (NETIF) is taken as it is
  // (renamed, into its bridge): its CT end keeps the addresses and routes the CT gave it. The
  // others (the routed veth) are dropped: start's attach makes them again with their addresses.
  std::vector<std::string> temp_links;
  std::vector<std::pair<std::string, std::string>> restored_veths;  // (temporary name, inside)
  if (rec.contains("veths") && rec["veths"].is_array()) {
    int n = 0;
    for (const auto& v : rec["veths"]) {
      std::string tmp = "bcr" + std::to_string(::getpid() % 100000) + "x" + std::to_string(n++);
      o.external.push_back("veth[" + v.get<std::string>() + "]:" + tmp);
      temp_links.push_back(tmp);
      restored_veths.emplace_back(tmp, v.get<std::string>());
    }
  }
  auto drop_temp_links = [&] {
    auto nl = net::Netlink::open();
    if (!nl.ok()) return;
    for (const auto& l : temp_links) {
      auto link = nl->find_link(l);
      if (link.ok() && *link) (void)nl->delete_link((*link)->ifindex);
    }
  };
  // CRIU's root is the CT's setuid-allowed view (the host's VE_ROOT is nosuid), attached for the
  // restore only, under a directory that is host root's alone.
  RootStage stage;
  BERTH_RETURN_IF_ERROR(
      stage_root(ct, std::move(ctx.root_view), stage).status(exitcode::kRestoreFailed));
  o.root = stage.path;
  auto t1 = Clock::now();
  // The sub-groups an init inside (systemd) had made and the controllers it had turned on for
  // them, which CRIU 3.17 does not restore (it makes only groups with processes, and no
  // cgroup.subtree_control): without them systemd's inotify watches name files (memory.events)
  // that are not there. Made once the tree's root has set its cgroup namespace
  // (from inside the CT's top group, which must be empty of processes for this) and moved on
  // into its own group, before any other process is made.
  BERTH_ASSIGN_OR_RETURN(auto subgroups, subgroups_of(ct, rec));
  checkpoint::NotifyFn notify = [&](std::string_view script, pid_t) -> Status {
    if (script != "post-setup-namespaces") return {};
    for (const auto& g : subgroups) {
      std::string rel = g.path.empty() ? ctx.group : ctx.group + "/" + g.path;
      if (!g.path.empty()) {
        // Groups without processes CRIU does not make (systemd's slices); and those it makes
        // belong to host root: each gets its owner back, for the init inside to manage it.
        if (!ctx.cg->exists(rel)) BERTH_RETURN_IF_ERROR(ctx.cg->create(rel));
        BERTH_RETURN_IF_ERROR(ctx.cg->delegate(rel, g.uid, g.gid));
      }
      if (!g.controllers.empty())
        BERTH_RETURN_IF_ERROR(ctx.cg->set_subtree_control(rel, g.controllers));
    }
    return {};
  };
  auto r = checkpoint::run(checkpoint::Request::kRestore, o, notify, dir + "/" + kRestoreLog);
  res.restore_ms = ms_since(t1);
  if (!r.ok()) {
    drop_temp_links();
    return Error::with_status(exitcode::kRestoreFailed,
                              "restore failed (the dump is kept): " + r.error().message());
  }
  const pid_t init = r->restored_pid;
  res.init_pid = init;
  // The dump's network lock came back with the namespace's ruleset (CRIU 3.17 dumps it after
  // locking), and CRIU's unlock names the restored root's new pid: that table would stay and
  // drop every packet of the CT (in and out, loopback included). Removed (gone already with a
  // CRIU that unlocks it by the dump's own name).
  if (std::string lock = rec.value("criu_lock_table", "");
      lock.size() > 5 && lock.rfind("CRIU-", 0) == 0 &&
      lock.find_first_not_of("0123456789", 5) == std::string::npos) {
    if (auto d = net::nft::delete_table_in_netns_of(init, net::nft::Family::kInet, lock); !d.ok())
      std::fprintf(stderr, "Warning: CT %s: CRIU's network lock `%s` after the restore: %s\n",
                   ct.ctid().c_str(), lock.c_str(), d.error().message().c_str());
  }
  // Ours (runtime dump above), in the ruleset of a dump that ended its CT.
  if (auto d = net::nft::delete_table_in_netns_of(init, net::nft::Family::kInet,
                                                  net::kCheckpointLockTable);
      !d.ok())
    std::fprintf(stderr, "Warning: CT %s: the checkpoint's network lock after the restore: %s\n",
                 ct.ctid().c_str(), d.error().message().c_str());
  bool bridged_in_place = false;
  if (auto taken = net::adopt_bridged(ct, restored_veths); taken.ok()) {
    std::erase_if(temp_links, [&](const std::string& l) {
      return std::find(taken->begin(), taken->end(), l) != taken->end();
    });
    bridged_in_place = true;
  } else {
    // Made again by the attach below, without the addresses the CT had given them.
    std::fprintf(stderr, "Warning: CT %s: bridged veths made again after the restore: %s\n",
                 ct.ctid().c_str(), taken.error().message().c_str());
  }
  drop_temp_links();
  auto net = net::attach_network(ct, init, bridged_in_place);
  if (!net.ok()) {
    monitor::release(ct.host(), ct.ctid());
    (void)ctx.cg->kill_all(ctx.group);
    ::waitpid(init, nullptr, 0);
    return std::move(net).error().context("set up network").status(exitcode::kRestoreFailed);
  }
  ctx.network = std::move(net).value();
  (void)apply_shaping(ctx);
  ctx.commit();
  // The processes run: the view back, the watcher told.
  if (auto st = switch_proc_back(ct, init); !st.ok())
    std::fprintf(stderr, "Warning: CT %s: /proc view after restore: %s\n", ct.ctid().c_str(),
                 st.error().message().c_str());
  monitor::report_init(ct.ctid(), init);
  if (con.master) monitor::hand_console(ct.host(), ct.ctid(), con.master.get());
  if (opts.stage == UndumpOptions::Stage::kUndump) {
    BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
    (void)cgroups::freeze_group(*cg, state::ct_group_of(ct), 10000);
  }
  if (!opts.keep_dump) (void)sys::remove_tree(dir);
  res.total_ms = ms_since(t0);
  return res;
}

}  // namespace berth::runtime
