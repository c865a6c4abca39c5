// Repair of a running CT's /proc whose beancounter server died (see proc_repair.h).
#include "runtime/proc_repair.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <sstream>
#include <set>
#include <cstdio>
#include <functional>

#include "core/unique_fd.h"
#include "isolation/proc_mask.h"
#include "isolation/rootfs.h"
#include "runtime/exec.h"
#include "runtime/proc_mode.h"
#include "runtime/start_steps.h"
#include "sys/fs.h"
#include "sys/kernel.h"
#include "sys/pidfd.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "state/status.h"
#include "procsrv/client.h"

namespace berth::runtime {
namespace {

// In the CT's mount and pid namespaces: a new procfs made while the old one still exists (a
// user-namespaced mount namespace may only get a procfs when one is already fully visible), then
// the dead view and the procfs under it go, the new one takes /proc, is masked, and gets the new
// view on top when there is one.
Status remount_proc(int view_fd, const std::vector<isolation::ProcFile>& files, int file_fd,
                    bool userns) {
  sys::Kernel& k = sys::kernel();
  BERTH_ASSIGN_OR_RETURN(UniqueFd fs, k.fsopen("proc"));
  if (auto st = k.fsconfig_create(fs.get()); !st.ok())
    return sys::reworded(st.error(), "create procfs");
  auto mnt = k.fsmount(fs.get(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (!mnt.ok()) return sys::reworded(mnt.error(), "mount procfs");
  if (auto st = k.umount("/proc", MNT_DETACH); !st.ok())
    return sys::reworded(st.error(), "detach the dead /proc");
  if (auto st = k.move_mount(mnt->get(), "/proc"); !st.ok())
    return sys::reworded(st.error(), "attach the new /proc");
  BERTH_RETURN_IF_ERROR(isolation::mask_proc(userns));
  isolation::attach_proc_view(view_fd);
  isolation::attach_proc_files(files);
  // The block at /run/berth/user_beancounters was the dead server's too (best effort: the CT may
  // have mounted something else over /run since, or it was switched out for a checkpoint).
  if (file_fd >= 0) {
    (void)k.umount(isolation::kBeancountersPath, MNT_DETACH);
    (void)k.move_mount(file_fd, isolation::kBeancountersPath);
  }
  return {};
}

// In the CT's pid namespace: run fn in a child made there (procfs takes the pid namespace of the
// process that mounts it).
Status in_ct_pidns(const CtConfig& ct, pid_t init_pid, const std::function<Status()>& fn) {
  auto init = sys::pidfd_open(init_pid);
  if (!init.ok()) return sys::reworded(init.error(), "open pidfd of the CT's init");
  int init_fd = init->get();
  return run_in_ct(ct, [&]() -> Status {
    if (::setns(init_fd, CLONE_NEWPID) != 0)
      return Error::from_errno(errno, "join the CT's pid namespace");
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork");
    if (pid == 0) {
      auto st = fn();
      if (!st.ok())
        std::fprintf(stderr, "berth: CT %s: %s\n", ct.ctid().c_str(), st.error().message().c_str());
      ::_exit(st.ok() ? exitcode::kOk : exitcode::kHelperFailed);
    }
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
      return Error::from_errno(EIO, "replace the CT's /proc");
    return {};
  });
}

}  // namespace

bool proc_view_dead(const HostConfig& host, pid_t init_pid) {
  // The CT's /proc is found beneath its root without following its symlinks: the CT decides what
  // is there, so a link to a host path must not make us look (or hang) anywhere else. The view is
  // /proc; in the "files" mode (proc_mode.h) /proc is procfs and the server's files are over it.
  // On the live server's device: alive, found by a statx without sync of a mount root, which
  // asks the server nothing. Otherwise a statfs, which always asks the server (stat may be
  // answered from the kernel's attribute cache): a dead one's connection answers ENOTCONN.
  dev_t live = procsrv::live_server_dev(host);
  for (const char* name : {"proc", "proc/meminfo"}) {
    auto f = sys::open_in_root_of(init_pid, name, O_PATH);
    if (!f.ok()) continue;
    struct statx sx {};
    if (live != 0 && ::statx(f->get(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &sx) == 0 &&
        makedev(sx.stx_dev_major, sx.stx_dev_minor) == live)
      return false;
    struct statfs sf;
    if (::fstatfs(f->get(), &sf) != 0 && errno == ENOTCONN) return true;
  }
  return false;
}

Status repair_proc_view(const CtConfig& ct, pid_t init_pid) {
  auto clone = [](const std::string& path) { return sys::clone_mount_or_none(path); };
  UniqueFd file = clone(procsrv::served_path(ct.host(), ct.ctid()));
  // The mode the CT started with: its init, seen through its root now.
  isolation::InitKind kind = isolation::InitKind::kOther;
  if (auto root = sys::open_in_root_of(init_pid, ".", O_PATH | O_DIRECTORY); root.ok())
    kind = isolation::init_kind(root->get());
  BERTH_ASSIGN_OR_RETURN(ProcMode mode, proc_mode(ct, kind));
  ProcMounts proc = clone_proc_mounts(ct, mode);
  bool userns = !ct.is_privileged();
  int view_fd = proc.view.get(), file_fd = file.get();
  const std::vector<isolation::ProcFile>& files = proc.files;
  return in_ct_pidns(ct, init_pid,
                     [&]() -> Status { return remount_proc(view_fd, files, file_fd, userns); });
}

// The server's FUSE mounts (and start --wait's socket) in every other mount namespace of the CT
// (its services' sandboxes copied them when they were made): unmounted there too, deepest first,
// from a child that joins each namespace. CRIU cannot dump them and the restore could not bind them
// again.
void drop_fuse_in_other_namespaces(const CtConfig& ct, pid_t init_pid) {
  auto cg = state::cgroup_backend();
  if (!cg.ok()) return;
  auto ns_of = [](pid_t p) {
    struct stat st;
    std::string path = "/proc/" + std::to_string(p) + "/ns/mnt";
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
  };
  std::set<uint64_t> seen{ns_of(init_pid)};
  for (pid_t p : (*cg)->pids(state::ct_group_of(ct))) {
    uint64_t ino = ns_of(p);
    if (!ino || !seen.insert(ino).second) continue;
    auto info = sys::read_file("/proc/" + std::to_string(p) + "/mountinfo");
    if (!info.ok()) continue;
    std::vector<std::string> points;
    std::istringstream in(*info);
    std::string line;
    while (std::getline(in, line)) {
      size_t dash = line.find(" - ");
      if (dash == std::string::npos) continue;
      std::istringstream f(line);
      std::string id, parent, dev, root, point;
      f >> id >> parent >> dev >> root >> point;
      // start --wait's notification socket is a bind of a host file too.
      point = sys::unescape_mountinfo(point);  // a tenant's mount may have any name
      if (line.compare(dash + 3, 10, "fuse.berth") == 0 || point == kNotifySocket)
        points.push_back(point);
    }
    if (points.empty()) continue;
    std::sort(points.begin(), points.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    UniqueFd ns(::open(("/proc/" + std::to_string(p) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) continue;
    pid_t child = ::fork();
    if (child == 0) {
      if (::setns(ns.get(), CLONE_NEWNS) != 0) ::_exit(exitcode::kHelperFailed);
      for (const auto& pt : points) (void)::umount2(pt.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
      ::_exit(exitcode::kOk);
    }
    if (child > 0)
      while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
  }
}

// Whether the CT's /proc is procfs itself (the "files" mode, proc_mode.h) rather than the view.
bool proc_is_procfs(pid_t init_pid) {
  auto f = sys::open_in_root_of(init_pid, "proc", O_PATH | O_DIRECTORY);
  struct statfs sf;
  return f.ok() && ::fstatfs(f->get(), &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

Status switch_proc_to_plain(const CtConfig& ct, pid_t init_pid) {
  bool userns = !ct.is_privileged();
  // start --wait's notification socket (a bind of a host file that is gone by now) is of no use
  // after the boot, and CRIU could not bind it again.
  (void)run_in_ct(ct, []() -> Status {
    (void)sys::kernel().umount(kNotifySocket, MNT_DETACH);
    return {};
  });
  drop_fuse_in_other_namespaces(ct, init_pid);
  if (proc_is_procfs(init_pid)) {
    // "files": the procfs stays (systemd keeps /proc/self/mountinfo open: a new procfs would
    // leave it watching a detached one); only the server's files over it go.
    return run_in_ct(ct, []() -> Status {
      for (const char* name : isolation::kProcViewFiles)
        (void)sys::kernel().umount(std::string("/proc/") + name, MNT_DETACH);
      (void)sys::kernel().umount(isolation::kBeancountersPath, MNT_DETACH);
      return {};
    });
  }
  return in_ct_pidns(ct, init_pid, [&]() -> Status {
    BERTH_RETURN_IF_ERROR(remount_proc(-1, {}, -1, userns));
    // The beancounter block is the server's too (a FUSE file CRIU cannot dump).
    (void)sys::kernel().umount(isolation::kBeancountersPath, MNT_DETACH);
    return {};
  });
}

Status switch_proc_back(const CtConfig& ct, pid_t init_pid) {
  // The mode the CT started with (its /proc is a plain procfs in either case now).
  isolation::InitKind kind = isolation::InitKind::kOther;
  if (auto root = sys::open_in_root_of(init_pid, ".", O_PATH | O_DIRECTORY); root.ok())
    kind = isolation::init_kind(root->get());
  BERTH_ASSIGN_OR_RETURN(ProcMode mode, proc_mode(ct, kind));
  if (mode != ProcMode::kFiles) return repair_proc_view(ct, init_pid);
  auto clone = [](const std::string& path) { return sys::clone_mount_or_none(path); };
  UniqueFd file = clone(procsrv::served_path(ct.host(), ct.ctid()));
  ProcMounts proc = clone_proc_mounts(ct, ProcMode::kFiles);
  int file_fd = file.get();
  const std::vector<isolation::ProcFile>& files = proc.files;
  return run_in_ct(ct, [&]() -> Status {
    for (const char* name : isolation::kProcViewFiles)
      (void)sys::kernel().umount(std::string("/proc/") + name, MNT_DETACH);
    isolation::attach_proc_files(files);
    if (file_fd >= 0) {
      (void)sys::kernel().umount(isolation::kBeancountersPath, MNT_DETACH);
      (void)sys::kernel().move_mount(file_fd, isolation::kBeancountersPath);
    }
    return {};
  });
}

void repair_dead_proc_views(const HostConfig& host) {
  auto ids = state::list_ctids(host);
  if (!ids.ok()) return;
  for (const auto& id : *ids) {
    auto ct = CtConfig::load(host, id);
    if (!ct.ok()) continue;
    auto s = state::query_status(*ct);
    if (!s.ok() || !s->running || !proc_view_dead(host, s->init_pid)) continue;
    auto st = repair_proc_view(*ct, s->init_pid);
    if (st.ok())
      std::fprintf(stderr,
                   "CT %s: /proc was dead (its beancounter server had gone) and is mounted again\n",
                   id.c_str());
    else
      std::fprintf(stderr, "Warning: CT %s: repair of its /proc: %s\n", id.c_str(),
                   st.error().message().c_str());
  }
}

void repair_proc_view_if_dead(const CtConfig& ct, pid_t init_pid) {
  if (!proc_view_dead(ct.host(), init_pid)) return;
  auto use = procsrv::ensure_server(ct.host());
  if (!use.ok()) {
    std::fprintf(stderr, "Warning: CT %s: its /proc is dead and %s\n", ct.ctid().c_str(),
                 use.error().message().c_str());
    return;
  }
  // Every CT of the instance lost its view with the server, not only this one.
  repair_dead_proc_views(ct.host());
  use->commit();
}

}  // namespace berth::runtime
