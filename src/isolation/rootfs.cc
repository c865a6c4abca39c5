#include "isolation/rootfs.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "core/unique_fd.h"
#include "isolation/devices.h"
#include "sys/kernel.h"

namespace berth::isolation {
namespace {

Status do_mount(const char* src, const std::string& target, const char* type, unsigned long flags,
                const char* data = nullptr) {
  return sys::kernel().mount(src, target, type, flags, data);
}

Status ensure_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + path + "`");
  return {};
}

Status mount_dev(const CtConfig& ct, const std::string& root, bool userns, uint64_t pty_max,
                 int* console_master) {
  std::string dev = root + "/dev";
  BERTH_RETURN_IF_ERROR(ensure_dir(dev, 0755));
  BERTH_RETURN_IF_ERROR(do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
                                 "mode=755,size=65536k,nr_inodes=4096"));
  BERTH_ASSIGN_OR_RETURN(auto nodes, ct_device_nodes(ct));
  BERTH_RETURN_IF_ERROR(populate_dev(dev, nodes, userns));
  BERTH_RETURN_IF_ERROR(ensure_dir(dev + "/pts", 0755));
  // gid=5 is "tty" on Debian and busybox; an unmapped gid would make the mount fail, so try
  // without. max= is NUMPTY, the CT's pty count.
  std::string pts = "newinstance,ptmxmode=0666,mode=0620" +
                    (pty_max ? ",max=" + std::to_string(pty_max) : std::string());
  if (!do_mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, (pts + ",gid=5").c_str())
           .ok())
    BERTH_RETURN_IF_ERROR(
        do_mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, pts.c_str()));
  BERTH_RETURN_IF_ERROR(ensure_dir(dev + "/shm", 01777));
  BERTH_RETURN_IF_ERROR(
      do_mount("shm", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k"));
  BERTH_RETURN_IF_ERROR(ensure_dir(dev + "/mqueue", 0755));
  BERTH_RETURN_IF_ERROR(
      do_mount("mqueue", dev + "/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  // /dev/console: the slave of a pty made in the CT (its master goes to the host's
  // watcher, monitor/server.h, which logs it and relays `berth console`). Without a pty (NUMPTY
  // used up, no devpts), a null device keeps programs that open it working.
  std::string console = dev + "/console";
  UniqueFd c(::open(console.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  if (!c) return Error::from_errno(errno, "create `" + console + "`");
  if (console_master) {
    // The console's pty comes from a devpts instance of its own (made by the CT's user namespace,
    // like /dev/pts): it is not one of the CT's NUMPTY ptys, nor listed in /dev/pts. Once its
    // slave is bound on /dev/console the instance's mount point goes; the bind keeps it alive.
    std::string tmp = dev + "/.console";
    UniqueFd master;
    unsigned n = 0;
    int unlock = 0;
    if (ensure_dir(tmp, 0700).ok() && do_mount("devpts", tmp, "devpts", MS_NOSUID | MS_NOEXEC,
                                               "newinstance,ptmxmode=0600,mode=0600,max=1")
                                          .ok()) {
      master.reset(::open((tmp + "/ptmx").c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
      if (!(master && ::ioctl(master.get(), TIOCSPTLCK, &unlock) == 0 &&
            ::ioctl(master.get(), TIOCGPTN, &n) == 0 &&
            do_mount((tmp + "/" + std::to_string(n)).c_str(), console, nullptr, MS_BIND).ok()))
        master.reset();
      (void)sys::kernel().umount(tmp, MNT_DETACH);
    }
    ::rmdir(tmp.c_str());
    if (master) {
      *console_master = master.release();
      return {};
    }
  }
  return do_mount("/dev/null", console, nullptr, MS_BIND);
}

}  // namespace

Result<std::vector<DevNode>> ct_device_nodes(const CtConfig& ct) {
  std::vector<DevNode> nodes = standard_devnodes();
  BERTH_ASSIGN_OR_RETURN(std::vector<DevNode> extra, parse_devnodes(ct.get_or("DEVNODES", "")));
  for (auto& n : extra) {
    if (n.access.none()) continue;
    BERTH_RETURN_IF_ERROR(resolve_devnode(n));
    nodes.push_back(std::move(n));
  }
  return nodes;
}

Result<std::vector<std::string>> ct_device_rules(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(std::vector<DevNode> nodes, ct_device_nodes(ct));
  BERTH_ASSIGN_OR_RETURN(std::vector<DevNode> by_number, parse_devices(ct.get_or("DEVICES", "")));
  std::vector<std::string> rules;
  // 'm' only for the nodes Berth itself creates in a privileged CT's /dev.
  for (const auto& n : nodes) rules.push_back(device_rule(n) + "m");
  for (const auto& n : by_number)
    if (!n.access.none()) rules.push_back(device_rule(n));
  rules.push_back("c 5:2 rwm");    // /dev/ptmx (the CT's own devpts)
  rules.push_back("c 136:* rwm");  // its pty slaves
  // Not 5:1: the CT's /dev/console is a bind of one of its pty slaves (136:N) or of /dev/null
  // (1:3), and a 5:1 node the CT could reach (from an archive, a privileged CT's mknod) would be
  // the host's console.
  return rules;
}

// The CT's own beancounters at /run/berth/user_beancounters: the parent cloned a detached mount
// of its file in the instance's FUSE server (procsrv/client.h, open_tree), attached here, so the
// CT's root needs no access to the host's run directory.
static Status bind_beancounters(int fd, const std::string& root) {
  if (fd < 0) return {};
  BERTH_RETURN_IF_ERROR(ensure_dir(root + "/run/berth", 0755));
  std::string dst = root + kBeancountersPath;
  UniqueFd target(::open(dst.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0400));
  if (!target) return Error::from_errno(errno, "create `" + dst + "`");
  // Accounting must not stop a CT from starting: without the mount the file is just absent.
  if (!sys::kernel().move_mount(fd, dst).ok()) ::unlink(dst.c_str());
  return {};
}

Status attach_root_from_child(int root_fd, const std::string& at) {
  // Cut propagation first: nothing mounted below may reach the host's namespace (a privileged
  // CT's namespace is a plain copy, shared mounts included).
  BERTH_RETURN_IF_ERROR(do_mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE));
  if (auto st = sys::kernel().move_mount(root_fd, at); !st.ok())
    return sys::reworded(st.error(), "attach the CT's root on `" + at + "`");
  return {};
}

Status setup_rootfs_from_child(const CtConfig& ct, const RootfsPlan& plan) {
  const std::string& root = plan.root;
  if (plan.root_fd >= 0) {
    // The CT's own view (setuid allowed; the host's VE_ROOT is nosuid), attached only here.
    // pivot_root needs the new root to be a mount point of this namespace: it now is.
    BERTH_RETURN_IF_ERROR(attach_root_from_child(plan.root_fd, root));
  } else {
    BERTH_RETURN_IF_ERROR(do_mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE));
    BERTH_RETURN_IF_ERROR(do_mount(root.c_str(), root, nullptr, MS_BIND | MS_REC));
  }
  BERTH_RETURN_IF_ERROR(ensure_dir(root + "/proc", 0555));
  BERTH_RETURN_IF_ERROR(do_mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  BERTH_RETURN_IF_ERROR(ensure_dir(root + "/sys", 0555));
  BERTH_RETURN_IF_ERROR(
      do_mount("sysfs", root + "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  BERTH_RETURN_IF_ERROR(mount_dev(ct, root, plan.userns, plan.pty_max, plan.console_master));
  BERTH_RETURN_IF_ERROR(ensure_dir(root + "/run", 0755));
  BERTH_RETURN_IF_ERROR(
      do_mount("tmpfs", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k"));
  BERTH_RETURN_IF_ERROR(bind_beancounters(plan.beancounters_fd, root));

  // pivot_root(".", ".") stacks the old root on the new one; detaching "." then removes it.
  UniqueFd newroot(::open(root.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!newroot) return Error::from_errno(errno, "open new root `" + root + "`");
  if (::fchdir(newroot.get()) != 0) return Error::from_errno(errno, "chdir to new root");
  if (auto st = sys::kernel().pivot_root(".", "."); !st.ok())
    return sys::reworded(st.error(), "pivot_root into `" + root + "`");
  if (auto st = sys::kernel().umount(".", MNT_DETACH); !st.ok())
    return sys::reworded(st.error(), "detach old root");
  if (::chdir("/") != 0) return Error::from_errno(errno, "chdir /");
  return {};
}

Status bring_up_loopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno(errno, "socket");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Error::from_errno(errno, "get flags of lo");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Error::from_errno(errno, "bring up lo");
  return {};
}

}  // namespace berth::isolation
