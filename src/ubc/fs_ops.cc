// The beancounter FUSE server (see fs.h): one directory, one file per CT of the instance, each
// holding that CT's block in /proc/user_beancounters' Version 2.5 text, computed when opened.
#define FUSE_USE_VERSION 31
#include <fuse3/fuse.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "core/ct_config.h"
#include "runtime/ct_cgroup.h"
#include "runtime/inventory.h"
#include "ubc/collect.h"
#include "ubc/fs.h"
#include "ubc/fs_internal.h"

namespace berth::ubc {
namespace {

const HostConfig* g_host = nullptr;

// "/101" -> the CT's config; nullopt for anything else.
std::optional<CtConfig> ct_of(const char* path) {
  if (path[0] != '/' || !path[1] || std::strchr(path + 1, '/')) return std::nullopt;
  auto ct = CtConfig::load(*g_host, path + 1);
  if (!ct.ok()) return std::nullopt;
  return std::move(*ct);
}

// The CT's block without counters (a CT that does not run): its limits, zeros elsewhere.
Block idle_block(const CtConfig& ct) {
  return compute_block(ct.ctid(), Raw{}, config_limits([&](std::string_view k) { return ct.get(k); }));
}

// The CT's block now. Every number has a fixed width, so the text's length never changes: the
// size getattr reports is exact, which sendfile/splice (they read through the page cache up to
// the size, whatever direct_io says) need.
std::string content(const CtConfig& ct) {
  auto b = read_block(ct);
  return render_v25({b.ok() ? *b : idle_block(ct)});
}

void* op_init(struct fuse_conn_info*, struct fuse_config* cfg) {
  cfg->direct_io = 1;  // sizes are not known before reading: read until EOF
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->use_ino = 0;
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, struct fuse_file_info*) {
  std::memset(st, 0, sizeof *st);
  if (std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  auto ct = ct_of(path);
  if (!ct) return -ENOENT;
  st->st_mode = S_IFREG | 0400;  // root of the CT only, as /proc/user_beancounters
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(render_v25({idle_block(*ct)}).size());
  st->st_uid = ct->local_uid();
  st->st_gid = ct->local_gid();
  return 0;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, struct fuse_file_info*, enum fuse_readdir_flags) {
  if (std::strcmp(path, "/") != 0) return -ENOTDIR;
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  auto ids = runtime::list_ctids(*g_host);
  if (ids.ok())
    for (const auto& id : *ids) fill(buf, id.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int op_open(const char* path, struct fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EACCES;
  auto ct = ct_of(path);
  if (!ct) return -ENOENT;
  fi->fh = reinterpret_cast<uint64_t>(new std::string(content(*ct)));
  fi->direct_io = 1;
  return 0;
}

int op_read(const char*, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  const auto* text = reinterpret_cast<const std::string*>(fi->fh);
  if (off < 0 || static_cast<size_t>(off) >= text->size()) return 0;
  size_t n = std::min(size, text->size() - static_cast<size_t>(off));
  std::memcpy(buf, text->data() + off, n);
  return static_cast<int>(n);
}

int op_release(const char*, struct fuse_file_info* fi) {
  delete reinterpret_cast<std::string*>(fi->fh);
  return 0;
}

// Every 2 s: exit when no CT runs and no start is in progress (the idle lock is held until the
// process exits, so a start waits until the mount is gone and then spawns a new server).
void idle_watch(pthread_t main_thread, std::atomic<bool>* done) {
  UniqueFd idle;
  for (int tick = 1; !done->load(); ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (done->load()) return;
    if (tick % 20) continue;
    if (try_idle_lock(*g_host, idle)) {
      if (!any_ct_running(*g_host)) {
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
  const char* ready_env = std::getenv(kReadyFdEnv);
  int ready = ready_env ? std::atoi(ready_env) : -1;
  if (!runtime::cgroup_backend().ok()) return 1;  // detected once, before the threads start
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
  if (!lock) return 1;
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    for (int i = 0; i < 500 && !server_alive(host); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!server_alive(host)) return 1;
    report_ready();
    return 0;
  }

  struct fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.open = op_open;
  ops.read = op_read;
  ops.release = op_release;
  const char* argv[] = {"berth-ubcfs", "-o", "allow_other,default_permissions,fsname=berth-ubc,subtype=berth-ubc"};
  struct fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  struct fuse* f = fuse_new(&args, &ops, sizeof ops, nullptr);
  if (!f) return 1;
  if (fuse_mount(f, dir.c_str()) != 0) {
    fuse_destroy(f);
    return 1;
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
  std::atomic<bool> done{false};
  std::thread watcher(idle_watch, ::pthread_self(), &done);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  int rc = fuse_loop(f);
  done = true;
  fuse_remove_signal_handlers(se);
  fuse_unmount(f);
  ::unlink((host.paths().run + "/ubcfs.pid").c_str());
  watcher.join();
  fuse_destroy(f);
  return rc == 0 ? 0 : 1;
}

}  // namespace berth::ubc
