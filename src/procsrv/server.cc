// The beancounter FUSE server (procsrv/client.h, server.h): one file per CT of the instance, each
// holding that CT's block in /proc/user_beancounters' Version 2.5 text, computed when opened; and
// under .proc/ one directory per CT that is the CT's /proc (proc_view.h). 3.12: the multi-threaded
// loop takes a config (its thread limit, below).
#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <pthread.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <optional>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <tuple>
#include <thread>

#include "core/ct_config.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "core/exit_codes.h"
#include "ubc/collect.h"
#include "ubc/ct_access.h"
#include "procsrv/ct_slots.h"
#include "procsrv/client.h"
#include "procsrv/server.h"
#include "procsrv/internal.h"
#include "ubc/cpuinfo.h"
#include "ubc/loadavg.h"
#include "ubc/meminfo.h"
#include "ubc/proc_view.h"
#include "sys/fs.h"
#include "state/status.h"

namespace berth::procsrv {
namespace {

// The texts it serves are the beancounter library's (ubc/).
using ubc::Block;
using ubc::is_pid_name;
using ubc::link_target;
using ubc::LoadAvg;
using ubc::LoadSampler;
using ubc::Node;
using ubc::parse_node;

const HostConfig* g_host = nullptr;
constexpr unsigned kMaxThreads = 64;
LoadSampler* g_load = nullptr;  // the CTs' load averages (loadavg.h), sampled by idle_watch
size_t g_cpuinfo_size = 0;      // the host's /proc/cpuinfo's length at the server's start

// The regular files the server makes: the beancounter block and the view's own files.
bool served_file(Node::Kind k) {
  return k == Node::kCtFile || k == Node::kProcUbc || k == Node::kProcMeminfo ||
         k == Node::kProcLoadavg || k == Node::kProcCpuinfo;
}
time_t g_started = 0;
// Per CT: its init, its procfs, its texts and counts, and the bounds of what it makes the server
// do and hold (ct_slots.h). No lock is shared between CTs.
CtSlots g_slots;
Text served_text(const CtConfig& ct, Node::Kind kind);

// A request about a CT's nodes waits for that CT's turn (CtSlots::pace): one CT's flood of
// requests is slowed, not its neighbours'.
void pace(const Node& n) {
  if (!n.ctid.empty()) g_slots.pace(n.ctid);
}

// CT configs as last parsed, by the file's identity (inode, size, mtime): a request about a CT
// costs a stat of its config, not a parse (a `ps` inside makes ~18 requests). The lock is held
// for the map only, never over I/O.
class ConfCache {
 public:
  std::shared_ptr<const CtConfig> get(const std::string& ctid) {
    struct stat st;
    if (::stat(g_host->ct_conf_path(ctid).c_str(), &st) != 0) {
      std::lock_guard<std::mutex> hold(mutex_);
      known_.erase(ctid);
      return nullptr;
    }
    Key key{st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    {
      std::lock_guard<std::mutex> hold(mutex_);
      auto it = known_.find(ctid);
      if (it != known_.end() && it->second.first == key) return it->second.second;
    }
    auto ct = CtConfig::load(*g_host, ctid);
    if (!ct.ok()) return nullptr;
    auto shared = std::make_shared<const CtConfig>(std::move(*ct));
    std::lock_guard<std::mutex> hold(mutex_);
    known_[ctid] = {key, shared};
    return shared;
  }

 private:
  using Key = std::tuple<ino_t, off_t, time_t, long>;
  std::mutex mutex_;
  std::map<std::string, std::pair<Key, std::shared_ptr<const CtConfig>>> known_;
};
ConfCache g_confs;

std::shared_ptr<const CtConfig> load_ct(const std::string& ctid) { return g_confs.get(ctid); }

// The CT's block without counters (a CT that does not run): its limits, zeros elsewhere.
Block idle_block(const CtConfig& ct) {
  return ubc::compute_block(ct.ctid(), ubc::Raw{},
                            ubc::config_limits([&](std::string_view k) { return ct.get(k); }));
}

// The CT's block now. Every number has a fixed width, so the text's length never changes: the
// size getattr reports is exact, which sendfile/splice (they read through the page cache up to
// the size, whatever direct_io says) need.
std::string content(const CtConfig& ct) {
  auto init = g_slots.init(ct);
  Result<Block> b =
      init ? block_with(ct, *init, g_slots.counts(ct, *init))
           : Result<Block>(Error::with_status(exitcode::kNotRunning, "CT is not running"));
  return ubc::render_v25({b.ok() ? *b : idle_block(ct)});
}

// The CT's /proc/meminfo now; the host's when its memory cgroup cannot be read. Its length is
// the host's (meminfo.h), so the size getattr gives matches what a later read gets.
std::string meminfo_text(const CtConfig& ct) {
  auto host = sys::read_file("/proc/meminfo");
  if (!host.ok()) return std::string();
  auto c = ubc::read_mem_counters(ct);
  return c.ok() ? ubc::virtual_meminfo(*host, *c) : *host;
}

// Names of procfs' root that are not pids: the same in every pid namespace. Read from the
// server's own /proc, again (at most once a second) when asked for a name it lacks, as a module
// loaded later may add one.
class ProcNames {
 public:
  bool has(const std::string& name) {
    std::lock_guard<std::mutex> hold(mutex_);
    if (names_.count(name)) return true;
    auto now = std::chrono::steady_clock::now();
    if (now - scanned_ < std::chrono::seconds(1)) return false;
    scan(now);
    return names_.count(name) != 0;
  }

 private:
  void scan(std::chrono::steady_clock::time_point now) {
    scanned_ = now;
    names_.clear();
    DIR* d = ::opendir("/proc");
    if (!d) return;
    while (struct dirent* e = ::readdir(d))
      if (!is_pid_name(e->d_name) && std::strcmp(e->d_name, ".") != 0 &&
          std::strcmp(e->d_name, "..") != 0)
        names_.insert(e->d_name);
    ::closedir(d);
  }
  std::mutex mutex_;
  std::set<std::string> names_;
  std::chrono::steady_clock::time_point scanned_{};
};
ProcNames g_proc_names;

// The owner (the CT's root) of each CT's nodes. A path walk through a CT's /proc asks again
// every second for .real, its procfs' mount point: a failed answer there would make the kernel
// detach that mount, so the answer must not depend on reading the config at that moment (a
// `set --save` may be rewriting it). Known CTs are answered from here.
class Owners {
 public:
  using Ids = std::pair<uid_t, gid_t>;
  Ids update(const CtConfig& ct) {
    Ids ids{ct.local_uid(), ct.local_gid()};
    std::lock_guard<std::mutex> hold(mutex_);
    known_[ct.ctid()] = {ids, std::chrono::steady_clock::now()};
    return ids;
  }
  // From the config at most every 2 s; from memory in between, and when it cannot be read.
  std::optional<Ids> get(const std::string& ctid) {
    std::optional<Ids> cached;
    {
      std::lock_guard<std::mutex> hold(mutex_);
      auto it = known_.find(ctid);
      if (it != known_.end()) {
        if (std::chrono::steady_clock::now() - it->second.second < std::chrono::seconds(2))
          return it->second.first;
        cached = it->second.first;
      }
    }
    auto ct = load_ct(ctid);
    if (!ct) return cached;
    return update(*ct);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::pair<Ids, std::chrono::steady_clock::time_point>> known_;
};
Owners g_owners;

// The size getattr last reported for each served file, by path: what the kernel takes as its
// size. A text read through the page cache (page_cached below) must have exactly that length, or
// the read would stop short of its end; an open whose text differs (the host's meminfo changed
// length) reads until EOF instead.
class ReportedSizes {
 public:
  void set(const std::string& path, off_t size) {
    std::lock_guard<std::mutex> hold(mutex_);
    sizes_[path] = size;
  }
  bool matches(const std::string& path, size_t size) {
    std::lock_guard<std::mutex> hold(mutex_);
    auto it = sizes_.find(path);
    return it != sizes_.end() && it->second == static_cast<off_t>(size);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, off_t> sizes_;
};
ReportedSizes g_sizes;

void fill_dir(struct stat* st, uid_t uid, gid_t gid, mode_t mode) {
  st->st_mode = S_IFDIR | mode;
  st->st_nlink = 2;
  st->st_uid = uid;
  st->st_gid = gid;
}

void* op_init(struct fuse_conn_info* conn, struct fuse_config* cfg) {
  // Per open (op_open): a text whose length is exact and fits one page is read through the page
  // cache, the others until EOF.
  cfg->direct_io = 0;
  // What a name is never changes: a pid's name is a link to .real/<pid> whether that pid exists
  // or not (procfs answers then), and the other names are procfs' own, the CT's files, .real and
  // the CTs' directories (a CT destroyed meanwhile: its attributes answer ENOENT). So the kernel
  // keeps a name an hour: a path walk through a CT's /proc then asks the server nothing. (With
  // a second, the kernel dropped a name once its time was up, and with it the link's cached
  // text: a `ps` after a pause looked up and read the link of every pid again.) Attributes (the
  // owner, the sizes) a second. No negative caching: new pids.
  cfg->attr_timeout = 1;
  cfg->entry_timeout = 3600;
  cfg->negative_timeout = 0;
  cfg->use_ino = 0;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // Plain readdir: a readdirplus answer would make the kernel cache pid names as directories.
  conn->want &= ~FUSE_CAP_READDIRPLUS;
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, struct fuse_file_info*) {
  std::memset(st, 0, sizeof *st);
  st->st_mtime = st->st_ctime = st->st_atime = g_started;
  Node n = parse_node(path);
  if (n.kind == Node::kNone) return -ENOENT;
  pace(n);
  if (n.kind == Node::kRoot || n.kind == Node::kProcTop) {
    fill_dir(st, 0, 0, 0755);
    return 0;
  }
  if (n.kind == Node::kProcLink && !is_pid_name(n.name) && !g_proc_names.has(n.name))
    return -ENOENT;
  std::shared_ptr<const CtConfig> ct;
  if (served_file(n.kind)) ct = load_ct(n.ctid);
  auto ids = ct ? g_owners.update(*ct) : g_owners.get(n.ctid);
  if (!ids) return -ENOENT;
  auto [uid, gid] = *ids;
  switch (n.kind) {
    case Node::kProcRoot:
    case Node::kProcReal: fill_dir(st, uid, gid, 0555); return 0;
    case Node::kProcMeminfo:
      st->st_mode = S_IFREG | 0444;
      st->st_nlink = 1;
      st->st_size = static_cast<off_t>(served_text(*ct, Node::kProcMeminfo)->size());
      st->st_uid = uid;
      st->st_gid = gid;
      g_sizes.set(path, st->st_size);
      return 0;
    case Node::kProcLoadavg:
    case Node::kProcCpuinfo:
      // Their length changes with the numbers: an upper bound (a shorter read sets the real size,
      // and read() goes to the server anyway: direct_io).
      st->st_mode = S_IFREG | 0444;
      st->st_nlink = 1;
      st->st_size = n.kind == Node::kProcLoadavg ? 128 : static_cast<off_t>(g_cpuinfo_size + 4096);
      st->st_uid = uid;
      st->st_gid = gid;
      return 0;
    case Node::kProcLink:
      st->st_mode = S_IFLNK | 0777;
      st->st_nlink = 1;
      st->st_size = static_cast<off_t>(link_target(n.name).size());
      st->st_uid = uid;
      st->st_gid = gid;
      return 0;
    default:  // the block, as /proc/user_beancounters: for the CT's root only
      st->st_mode = S_IFREG | 0400;
      st->st_nlink = 1;
      st->st_size = static_cast<off_t>(ubc::render_v25({idle_block(*ct)}).size());
      st->st_uid = uid;
      st->st_gid = gid;
      g_sizes.set(path, st->st_size);
      return 0;
  }
}

int op_readlink(const char* path, char* buf, size_t size) {
  Node n = parse_node(path);
  if (n.kind != Node::kProcLink) return -EINVAL;
  pace(n);
  if (size == 0) return -EINVAL;
  std::string t = link_target(n.name);
  size_t len = std::min(t.size(), size - 1);
  std::memcpy(buf, t.data(), len);
  buf[len] = '\0';
  return 0;
}

// The CT's procfs root as a directory stream, or nullptr.
// It is the server's own procfs instance of the CT's pid namespace (ct_access.h), never a path
// inside the CT (whose root could point /proc/.real anywhere, the host's /proc included).
DIR* list_ct_procfs(const CtConfig& ct) {
  UniqueFd fd = g_slots.procfs(ct);
  if (!fd) return nullptr;
  DIR* d = ::fdopendir(fd.get());
  if (d) static_cast<void>(fd.release());
  return d;
}

// The CT's /proc/loadavg: its averages and counts, and its newest pid (the highest of its
// procfs' names: pids grow until they wrap).
std::string loadavg_text(const CtConfig& ct) {
  LoadAvg l = g_load ? g_load->get(ct.ctid()).value_or(LoadAvg{}) : LoadAvg{};
  long last = 0;
  if (DIR* d = list_ct_procfs(ct)) {
    while (struct dirent* e = ::readdir(d))
      if (is_pid_name(e->d_name)) last = std::max(last, std::atol(e->d_name));
    ::closedir(d);
  }
  return render_loadavg(l, static_cast<pid_t>(last));
}

// A served file's text for the CT, through its slot: computed at most once per CtSlots::kFresh.
Text served_text(const CtConfig& ct, Node::Kind kind) {
  // The stamp of the last live change of its limits (empty: none): a text computed before it is
  // not served (CtSlots::text).
  auto stamp = sys::read_file(ubc::limits_stamp_path(*g_host, ct.ctid()));
  std::string limits = stamp.ok() ? *stamp : std::string();
  switch (kind) {
    case Node::kProcMeminfo:
      return g_slots.text(
          ct.ctid(), Served::kMeminfo, [&] { return meminfo_text(ct); }, limits);
    case Node::kProcLoadavg:
      return g_slots.text(
          ct.ctid(), Served::kLoadavg, [&] { return loadavg_text(ct); }, limits);
    case Node::kProcCpuinfo:
      return g_slots.text(
          ct.ctid(), Served::kCpuinfo, [&] { return ubc::ct_cpuinfo(ct); }, limits);
    default:
      return g_slots.text(
          ct.ctid(), Served::kUbc, [&] { return content(ct); }, limits);
  }
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, struct fuse_file_info*,
               enum fuse_readdir_flags) {
  Node n = parse_node(path);
  pace(n);
  auto add = [&](const char* name) {
    fill(buf, name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  };
  switch (n.kind) {
    case Node::kRoot:
    case Node::kProcTop: {
      add(".");
      add("..");
      auto ids = state::list_ctids(*g_host);
      if (ids.ok())
        for (const auto& id : *ids) add(id.c_str());
      return 0;
    }
    case Node::kProcReal:
      add(".");
      add("..");
      return 0;
    case Node::kProcRoot: break;
    default: return n.kind == Node::kNone ? -ENOENT : -ENOTDIR;
  }
  auto ct = load_ct(n.ctid);
  if (!ct) return -ENOENT;
  add(".");
  add("..");
  add(ubc::kUbcName);
  // The CT's procfs lists its own pids; without it (a CT that does not run), the other names.
  DIR* real = list_ct_procfs(*ct);
  DIR* d = real ? real : ::opendir("/proc");
  if (!d) return 0;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (!real && is_pid_name(e->d_name)) continue;
    add(e->d_name);
  }
  ::closedir(d);
  return 0;
}

// Whether an open of a served file is read through the kernel's page cache rather than request
// by request until EOF (direct_io). Only a text whose length getattr reports exactly (meminfo's
// is the host's, the block's numbers have fixed widths) and that fits one page: the kernel then
// gets it in one read request, and a read at the end is answered by the file's size instead of a
// second request. Each open drops the cached page (no keep_cache), so every open reads its own
// text, and one page comes from one request: two opens racing cannot mix two texts in one file.
// A text whose length is not the one getattr last reported is read until EOF. loadavg's and
// cpuinfo's lengths change with their numbers: until EOF.
bool page_cached(const char* path, Node::Kind kind, size_t size) {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  bool exact = kind == Node::kProcMeminfo || kind == Node::kProcUbc || kind == Node::kCtFile;
  return exact && size <= page && g_sizes.matches(path, size);
}

int op_open(const char* path, struct fuse_file_info* fi) {
  Node n = parse_node(path);
  if (n.kind == Node::kProcRoot || n.kind == Node::kProcReal) return -EISDIR;
  pace(n);
  if (!served_file(n.kind)) return -ENOENT;
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EACCES;
  auto ct = load_ct(n.ctid);
  if (!ct) return -ENOENT;
  // The handle shares the CT's current text (ct_slots.h): holding many handles open costs the
  // server a pointer each, not a copy each.
  auto text = new Text(served_text(*ct, n.kind));
  fi->fh = reinterpret_cast<uint64_t>(text);
  fi->direct_io = !page_cached(path, n.kind, (*text)->size());
  // Nothing is written through it: no flush request at its close, not even the first one (the
  // kernel stops sending them after libfuse's first ENOSYS answer; FOPEN_NOFLUSH, kernel 5.16).
  fi->noflush = 1;
  return 0;
}

int op_read(const char* path, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  if (path) pace(parse_node(path));
  const std::string& text = **reinterpret_cast<const Text*>(fi->fh);
  if (off < 0 || static_cast<size_t>(off) >= text.size()) return 0;
  size_t n = std::min(size, text.size() - static_cast<size_t>(off));
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes, not a C string
  std::memcpy(buf, text.data() + off, n);
  return static_cast<int>(n);
}

int op_release(const char*, struct fuse_file_info* fi) {
  delete reinterpret_cast<Text*>(fi->fh);
  return 0;
}

// Every 2 s: exit when no CT runs and no start is in progress (the idle lock is held until the
// process exits, so a start waits until the mount is gone and then spawns a new server).
// Set when the loop has ended: the watcher wakes at once (a `berth stop` waits for the exit).
struct Done {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  void set() {
    std::lock_guard<std::mutex> hold(mutex);
    done = true;
    cv.notify_all();
  }
  // Sleeps up to d; true when done.
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> hold(mutex);
    return cv.wait_for(hold, d, [this] { return done; });
  }
};

void idle_watch(pthread_t main_thread, Done* done) {
  UniqueFd idle;
  for (int tick = 1;; ++tick) {
    if (done->wait(std::chrono::milliseconds(100))) return;
    if (g_load && tick % static_cast<int>(ubc::kLoadInterval * 10) == 0) {
      g_load->sample_all();
      g_slots.forget_dead();
    }
    if (tick % 20) continue;
    if (try_idle_lock(*g_host, idle)) {
      if (!any_ct_running(*g_host)) {
        // libfuse's SIGTERM handler ends the loop; no thread is killed.
        // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread)
        ::pthread_kill(main_thread, SIGTERM);  // interrupts the FUSE loop's read
        static_cast<void>(idle.release());     // keep the lock until the process exits
        return;
      }
      idle.reset();
    }
  }
}

}  // namespace

int serve(const HostConfig& host) {
  g_host = &host;
  g_started = ::time(nullptr);
  LoadSampler load(host);
  g_load = &load;
  if (auto c = sys::read_file("/proc/cpuinfo"); c.ok()) g_cpuinfo_size = c->size();
  const char* ready_env = std::getenv(kReadyFdEnv);
  int ready = ready_env ? std::atoi(ready_env) : -1;
  if (!state::cgroup_backend().ok())
    return exitcode::kHelperFailed;  // detected once, before the threads start
  std::string dir = mount_dir(host);
  auto report_ready = [&] {
    if (ready < 0) return;
    (void)!::write(ready, "1", 1);
    ::close(ready);
    ready = -1;
  };
  // One server per instance: the lock is held until this process exits. Another one already
  // there (or still mounting): wait until it answers, tell the spawner, and leave.
  std::string lock_path = host.paths().run + "/" + kServerLock;
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return exitcode::kHelperFailed;
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    for (int i = 0; i < 500 && !server_alive(host); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!server_alive(host)) return exitcode::kHelperFailed;
    report_ready();
    return 0;
  }

  struct fuse_operations ops {};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.readlink = op_readlink;
  ops.open = op_open;
  ops.read = op_read;
  ops.release = op_release;
  // Read-only: nothing is written through it (writes through a CT's /proc go to its procfs at
  // .real), and on a read-only file system the kernel keeps a directory's attributes after a
  // listing (it invalidates their atime otherwise), so the fstat of glibc's opendir asks the
  // server nothing: one request less per `ps`.
  const char* argv[] = {"berth-ubcfs", "-o",
                        "ro,allow_other,default_permissions,fsname=berth-ubc,subtype=berth-ubc"};
  struct fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  struct fuse* f = fuse_new(&args, &ops, sizeof ops, nullptr);
  if (!f) return exitcode::kHelperFailed;
  if (fuse_mount(f, dir.c_str()) != 0) {
    fuse_destroy(f);
    return exitcode::kHelperFailed;
  }
  // Mounted: from here on the server reads on behalf of CTs, with only the capabilities that
  // needs (ct_access.h); the threads made below inherit the reduced sets.
  if (!ubc::drop_server_capabilities().ok()) {
    fuse_unmount(f);
    fuse_destroy(f);
    return exitcode::kHelperFailed;
  }
  struct fuse_session* se = fuse_get_session(f);
  fuse_set_signal_handlers(se);
  std::string pid = std::to_string(::getpid()) + "\n";
  FILE* pf = std::fopen((host.paths().run + "/ubcfs.pid").c_str(), "we");
  if (pf) {
    std::fputs(pid.c_str(), pf);
    std::fclose(pf);
  }
  report_ready();
  // SIGTERM must reach the loop's thread: the watcher runs with it blocked.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &term, &old);
  Done done;
  std::thread watcher(idle_watch, ::pthread_self(), &done);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Several threads: every path walk through a CT's /proc may come here.
  // A CT past its pace (ct_slots.h) waits in a server thread: enough threads that a few CTs
  // waiting for their turns leave threads for the others (libfuse's default is 10).
  struct fuse_loop_config* loop = fuse_loop_cfg_create();
  if (loop) fuse_loop_cfg_set_max_threads(loop, kMaxThreads);
  int rc = fuse_loop_mt(f, loop);
  if (loop) fuse_loop_cfg_destroy(loop);
  done.set();
  fuse_remove_signal_handlers(se);
  fuse_unmount(f);
  ::unlink((host.paths().run + "/ubcfs.pid").c_str());
  watcher.join();
  fuse_destroy(f);
  g_load = nullptr;
  return rc == 0 ? 0 : 1;
}

}  // namespace berth::procsrv
