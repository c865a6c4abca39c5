// Masks and read-only remounts over /proc and /sys (child side).
#include "isolation/proc_mask.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/unique_fd.h"
#include "sys/kernel.h"
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace berth::isolation {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A bind remount replaces all per-mount flags. Keep nosuid/nodev/noexec/atime flags as they are:
// in a user namespace, dropping a locked one fails with EPERM (runc does the same, mount flags
// from statfs).
unsigned long kept_mount_flags(const std::string& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long flags = 0;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

Status bind_self(const std::string& path) {
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return Error::from_errno(errno, "bind `" + path + "` onto itself");
  return {};
}

Status remount(const std::string& path, bool read_only) {
  unsigned long flags = MS_BIND | MS_REMOUNT | kept_mount_flags(path);
  if (read_only) flags |= MS_RDONLY;
  if (::mount(nullptr, path.c_str(), nullptr, flags, nullptr) != 0)
    return Error::from_errno(
        errno, std::string("remount `") + path + (read_only ? "` read-only" : "` read-write"));
  return {};
}

}  // namespace

ProcMaskPlan proc_mask_plan(bool in_userns) {
  ProcMaskPlan p;
  p.null_files = {
      "/proc/kcore",          // host physical memory as an ELF core
      "/proc/keys",           // every key of the host's keyrings visible to the caller
      "/proc/timer_list",     // host timers with task names and pids
      "/proc/sched_debug",    // every host task with its pid and cgroup
      "/proc/timer_stats",    // host timer statistics (old kernels)
      "/proc/latency_stats",  // host latency tracing
  };
  // In a privileged CT, CAP_SYS_ADMIN lets CT root open the host kernel log and read it, which
  // also steals the messages from the host's own logger.
  if (!in_userns) p.null_files.push_back("/proc/kmsg");
  p.empty_dirs = {
      "/proc/acpi",     // host ACPI control (e.g. wakeup sources)
      "/proc/asound",   // host sound cards
      "/proc/scsi",     // host SCSI bus; writing add/remove-single-device rescans it
      "/sys/firmware",  // host firmware tables (ACPI, DMI, EFI variables)
      "/sys/devices/virtual/powercap",  // RAPL energy counters (the 'Platypus' side channel)
  };
  p.read_only = {
      "/proc/bus",            // PCI config space of host devices
      "/proc/fs",             // host filesystem tunables (nfsd, ...)
      "/proc/irq",            // host IRQ affinity
      "/proc/sys",            // kernel sysctls; the namespaced ones are opened again below
      "/proc/sysrq-trigger",  // writing it reboots or crashes the host
  };
  // Namespaced sysctls the CT owns: its network namespace (LXC's proc:mixed keeps net/ writable),
  // its UTS namespace, and its IPC namespace (databases tune shm*/sem, as on OpenVZ). The mount
  // only stops blocking them: each sysctl still applies its own check (in a user namespace the
  // kernel lets CT root write net.* and, on 5.19+, the IPC ones; kernel.hostname needs host root,
  // so userns CTs use sethostname(2)).
  p.writable_again = {
      "/proc/sys/net",           "/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname",
      "/proc/sys/kernel/shmmax", "/proc/sys/kernel/shmall",   "/proc/sys/kernel/shmmni",
      "/proc/sys/kernel/msgmax", "/proc/sys/kernel/msgmnb",   "/proc/sys/kernel/msgmni",
      "/proc/sys/kernel/sem",    "/proc/sys/fs/mqueue",
  };
  return p;
}

Status apply_proc_mask(const ProcMaskPlan& plan, const std::string& root) {
  const std::string dev_null = root + "/dev/null";
  for (const auto& f : plan.null_files) {
    std::string path = root + f;
    if (!exists(path)) continue;
    if (::mount(dev_null.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return Error::from_errno(errno, "bind `/dev/null` over `" + path + "`");
  }
  // One empty tmpfs, bound over every such directory: each superblock costs the host a shrinker,
  // and every memory cgroup keeps a slot per shrinker (so one more per CT grows with the square
  // of the number of CTs).
  std::string first;
  for (const auto& d : plan.empty_dirs) {
    std::string path = root + d;
    if (!exists(path)) continue;
    constexpr unsigned long kFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (first.empty()) {
      if (::mount("tmpfs", path.c_str(), "tmpfs", kFlags, "size=4k,mode=0555") != 0)
        return Error::from_errno(errno, "mount empty tmpfs on `" + path + "`");
      first = path;
      continue;
    }
    if (::mount(first.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | kFlags, nullptr) != 0)
      return Error::from_errno(errno, "bind the empty tmpfs on `" + path + "`");
  }
  // Read-only first, then the writable exceptions: a bind of a path under a read-only mount
  // starts read-only too, and the remount below makes only that new mount writable.
  for (const auto& r : plan.read_only) {
    std::string path = root + r;
    if (!exists(path)) continue;
    BERTH_RETURN_IF_ERROR(bind_self(path));
    BERTH_RETURN_IF_ERROR(remount(path, true));
  }
  for (const auto& w : plan.writable_again) {
    std::string path = root + w;
    if (!exists(path)) continue;
    BERTH_RETURN_IF_ERROR(bind_self(path));
    BERTH_RETURN_IF_ERROR(remount(path, false));
  }
  return {};
}

Status mask_proc(bool in_userns) {
  return apply_proc_mask(proc_mask_plan(in_userns)).context("mask /proc");
}

bool attach_proc_view(int view_fd) {
  if (view_fd < 0) return false;
  sys::Kernel& k = sys::kernel();
  auto move = [&k](int fd, const std::string& to) { return k.move_mount(fd, to).ok(); };
  // The procfs with its masks, as one detached tree; then /proc is free for the view.
  auto real = k.open_tree("/proc", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (!real.ok()) return false;
  if (!k.umount("/proc", MNT_DETACH).ok()) return false;
  const std::string real_dir = std::string("/proc/") + kProcRealDir;
  if (move(view_fd, "/proc")) {
    if (move(real->get(), real_dir)) return true;
    (void)k.umount("/proc", MNT_DETACH);  // the view without its procfs is useless
  }
  move(real->get(), "/proc");  // the plain procfs again
  return false;
}

int attach_proc_files(const std::vector<ProcFile>& files) {
  int attached = 0;
  for (const auto& f : files) {
    if (f.fd < 0) continue;
    if (sys::kernel().move_mount(f.fd, "/proc/" + f.name).ok()) ++attached;
  }
  return attached;
}

}  // namespace berth::isolation
