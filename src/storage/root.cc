#include "storage/root.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <optional>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "storage/disk.h"
#include "storage/idshift.h"
#include "sys/fs.h"
#include "sys/kernel.h"
#include "sys/process.h"

namespace berth::storage {
namespace {

constexpr const char* kCreatingMarker = ".berth-creating";

Status mark_creating(const std::string& dir) {
  UniqueFd fd(::open((dir + "/" + kCreatingMarker).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "create marker in `" + dir + "`");
  return {};
}

std::string lower_link(const CtConfig& ct) { return ct.ve_private() + "/lower"; }

Result<std::string> read_lower(const CtConfig& ct) {
  char buf[PATH_MAX];
  std::string link = lower_link(ct);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0)
    return Error::from_errno(errno, "read template link `" + link + "`")
        .status(exitcode::kPrivateMissing);
  return std::string(buf, static_cast<size_t>(n));
}

// Make a (possibly idmapped) private clone of dir attached at stage. userns: the CT's id mapping
// made beforehand, or -1 to make it here.
Status attach_idmapped(const std::string& dir, const std::string& stage, const CtConfig& ct,
                       int userns = -1) {
  sys::Kernel& k = sys::kernel();
  BERTH_ASSIGN_OR_RETURN(UniqueFd tree, k.open_tree(dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  UniqueFd made;
  if (userns < 0) {
    BERTH_ASSIGN_OR_RETURN(made, sys::make_userns_fd(ct.local_uid(), ct.local_gid(), kIdRangeSize));
    userns = made.get();
  }
  sys::MountAttr attr{MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY, 0, userns};
  if (auto st = k.mount_setattr(tree.get(), "", 0, attr); !st.ok())
    return sys::reworded(st.error(), "idmap mount of `" + dir + "`");
  if (auto st = k.move_mount(tree.get(), stage); !st.ok())
    return sys::reworded(st.error(), "attach idmapped `" + dir + "` on `" + stage + "`");
  return {};
}

// The directory holding VE_ROOT or VE_PRIVATE: made if missing and closed to everyone but its
// owner, host root. Below it are the CT's files with the CT's ids (setuid ones included); nothing
// unprivileged on the host needs to pass (the CT's child gets its root as a detached mount, see
// ct_root_view), so nothing unprivileged may.
Status close_parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  std::string dir = path.substr(0, slash);
  size_t up = dir.rfind('/');
  if (up != std::string::npos && up > 0) BERTH_RETURN_IF_ERROR(make_dirs(dir.substr(0, up), 0755));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + dir + "`");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Error::from_errno(errno, "stat `" + dir + "`");
  if (st.st_uid != 0)
    return Error::with_status(exitcode::kPermission,
                              "`" + dir + "` holds CT files and must be owned by root");
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), st.st_mode & 07700) != 0)
    return Error::from_errno(errno, "chmod go-rwx `" + dir + "`");
  return {};
}

Status set_attr(int tree, uint64_t set, uint64_t clear, unsigned flags, const std::string& what) {
  if (auto st = sys::kernel().mount_setattr(tree, "", flags, {set, clear, -1}); !st.ok())
    return sys::reworded(st.error(), what);
  return {};
}

// simfs: a bind of the private area that is nosuid,nodev from the moment it is attached. With
// userns (the fd of the CT's id mapping) it is also idmapped: on-disk id k shows as LOCAL_UID+k.
Status bind_private(const std::string& priv, const std::string& target, int userns = -1) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd tree,
                         sys::kernel().open_tree(priv, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (userns >= 0) {
    sys::MountAttr attr{MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, userns};
    if (auto st = sys::kernel().mount_setattr(tree.get(), "", 0, attr); !st.ok())
      return sys::reworded(st.error(), "idmap mount of `" + priv + "`");
  } else {
    BERTH_RETURN_IF_ERROR(set_attr(tree.get(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0,
                                   "set nosuid,nodev on `" + priv + "`"));
  }
  if (auto st = sys::kernel().move_mount(tree.get(), target); !st.ok())
    return sys::reworded(st.error(), "bind `" + priv + "` on `" + target + "`");
  return {};
}

void note(const CtConfig& ct, const std::string& text) {
  std::fprintf(stderr, "berth: CT %s: %s\n", ct.ctid().c_str(), text.c_str());
}

// The one-time shift of a private area's owners, with a progress display on stderr.
Status shift_owners(const CtConfig& ct, bool resuming) {
  const std::string priv = ct.ve_private();
  note(ct, std::string(resuming ? "finishing" : "starting") +
               " a one-time shift of the private area's owners by " +
               std::to_string(ct.local_uid()) + " (marker `" + idshift_marker(priv) +
               "`; a killed shift is finished by the next start or mount)");
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  int last_pct = -10;
  auto show = [&](const ShiftProgress& p) {
    int pct = p.total ? static_cast<int>(p.done * 100 / p.total) : 100;
    if (pct > 100) pct = 100;
    if (tty) {
      std::fprintf(stderr, "\rberth: CT %s: shifting owners: %llu/%llu entries (%d%%)",
                   ct.ctid().c_str(), static_cast<unsigned long long>(p.done),
                   static_cast<unsigned long long>(p.total), pct);
    } else if (pct / 10 != last_pct / 10) {
      std::fprintf(stderr, "berth: CT %s: shifting owners: %d%%\n", ct.ctid().c_str(), pct);
    }
    last_pct = pct;
  };
  Status st = shift_area(priv, ct.local_uid(), ct.local_gid(), show);
  if (tty) std::fputc('\n', stderr);
  if (st.ok()) note(ct, "owners shifted; the private area now holds the CT's ids");
  return st;
}

// An unprivileged simfs CT whose private area holds host ids (as OpenVZ's do): an idmapped mount
// when the kernel and file system take one, else the one-time shift and a plain bind.
Status mount_host_owned(const CtConfig& ct, const std::string& target) {
  const std::string priv = ct.ve_private();
  BERTH_ASSIGN_OR_RETURN(AreaOwners owners, area_owners(priv, ct.local_uid()));
  if (owners == AreaOwners::kShifting) {
    BERTH_RETURN_IF_ERROR(shift_owners(ct, true));
    return bind_private(priv, target);
  }
  if (owners == AreaOwners::kCtIds) return bind_private(priv, target);
  BERTH_ASSIGN_OR_RETURN(UniqueFd userns,
                         sys::make_userns_fd(ct.local_uid(), ct.local_gid(), kIdRangeSize));
  Status idmapped = bind_private(priv, target, userns.get());
  if (idmapped.ok()) {
    note(ct, "private area owned by host ids: mounted idmapped (owners on disk unchanged)");
    return {};
  }
  note(ct, "private area owned by host ids and no idmapped mount here (" +
               idmapped.error().message() + ")");
  BERTH_RETURN_IF_ERROR(shift_owners(ct, false));
  return bind_private(priv, target);
}

Status fs_set(int fd, const char* key, const std::string& value) {
  if (auto st = sys::kernel().fsconfig_set(fd, key, value); !st.ok())
    return sys::reworded(st.error(), std::string("overlay option ") + key + "=`" + value + "`");
  return {};
}

Status mount_overlay(const CtConfig& ct, const std::string& target, int userns = -1) {
  BERTH_ASSIGN_OR_RETURN(std::string lower, read_lower(ct));
  std::string priv = ct.ve_private();
  std::string stage = priv + "/.lower";
  // The shared unpacked templates keep the template's own ids (setuid-root files included):
  // host root only, as the private areas.
  BERTH_RETURN_IF_ERROR(close_parent(lower));
  if (!ct.is_privileged()) {
    if (::mkdir(stage.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + stage + "`");
    if (sys::is_mount_point(stage)) (void)sys::kernel().umount(stage, MNT_DETACH);
    BERTH_RETURN_IF_ERROR(attach_idmapped(lower, stage, ct, userns));
  }
  // The overlay keeps its own private references to its layers, so the staging mount goes away
  // right after, whatever happens.
  ScopeExit drop_stage([&] {
    if (!ct.is_privileged()) (void)sys::kernel().umount(stage, MNT_DETACH);
  });
  sys::Kernel& k = sys::kernel();
  BERTH_ASSIGN_OR_RETURN(UniqueFd fs, k.fsopen("overlay"));
  BERTH_RETURN_IF_ERROR(fs_set(fs.get(), "source", "berth-" + ct.ctid()));
  BERTH_RETURN_IF_ERROR(fs_set(fs.get(), "lowerdir", ct.is_privileged() ? lower : stage));
  // With a disk the upper layer lives in it (and df inside shows the disk); without, in VE_PRIVATE.
  std::string layers = has_disk(ct) ? disk_mount_path(ct) : priv;
  BERTH_RETURN_IF_ERROR(fs_set(fs.get(), "upperdir", layers + "/upper"));
  BERTH_RETURN_IF_ERROR(fs_set(fs.get(), "workdir", layers + "/work"));
  if (auto st = k.fsconfig_create(fs.get()); !st.ok())
    return sys::reworded(st.error(), "create overlay for `" + priv + "`");
  // The host's view: setuid files and device nodes of the CT mean nothing here.
  auto mnt = k.fsmount(fs.get(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (!mnt.ok()) return sys::reworded(mnt.error(), "fsmount overlay");
  if (auto st = k.move_mount(mnt->get(), target); !st.ok())
    return sys::reworded(st.error(), "mount overlay on `" + target + "`");
  return {};
}

}  // namespace

std::string ploop_message(const CtConfig& ct) {
  return "the private area `" + ct.ve_private() +
         "` is a ploop image (root.hdd), which Berth does not support: on the OpenVZ host, mount "
         "it (vzctl mount) and copy its files into a plain directory (simfs), then set "
         "VE_LAYOUT=\"simfs\" (docs/openvz.md)";
}

bool private_exists(const CtConfig& ct) { return sys::is_dir(ct.ve_private()); }

bool is_mounted(const CtConfig& ct) { return sys::is_mount_point(ct.ve_root()); }

Status create_private(const CtConfig& ct, const TemplateSource& from) {
  std::string priv = ct.ve_private();
  if (sys::path_exists(priv + "/" + kCreatingMarker)) BERTH_RETURN_IF_ERROR(destroy_private(ct));
  if (sys::path_exists(priv))
    return Error::with_status(exitcode::kPrivateExists,
                              "private area `" + priv + "` already exists");
  BERTH_ASSIGN_OR_RETURN(bool disk, wants_disk(ct));
  BERTH_ASSIGN_OR_RETURN(DiskRequest req, disk_request(ct));
  std::string tmp = priv + ".tmp";
  // A create killed with the new disk mounted left it mounted under the .tmp.
  BERTH_RETURN_IF_ERROR(release_disk_at(tmp).context("remove leftover of an earlier create"));
  BERTH_RETURN_IF_ERROR(sys::remove_tree(tmp).context("remove leftover of an earlier create"));
  BERTH_RETURN_IF_ERROR(close_parent(priv).status(exitcode::kCreatePrivate));
  if (::mkdir(tmp.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir `" + tmp + "`").status(exitcode::kCreatePrivate);
  ScopeExit undo([&] { (void)sys::remove_tree(tmp); });
  std::string tmpl_name = ct.ostemplate();
  if (tmpl_name.empty())
    return Error::with_status(exitcode::kNoOsTemplate, "no OS template given (--ostemplate)");
  uint32_t uid = ct.is_privileged() ? 0 : ct.local_uid();
  uint32_t gid = ct.is_privileged() ? 0 : ct.local_gid();
  // The disk is made and mounted in the .tmp: a kill from here on leaves only the .tmp (and
  // perhaps its mount), which the next create releases and removes.
  std::string files = tmp;  // where upper/work (overlay) or root (image) are made
  if (disk) {
    files = tmp + "/disk";
    BERTH_RETURN_IF_ERROR(make_disk_image(tmp + "/disk.img", *req.bytes, req.inodes));
    if (::mkdir(files.c_str(), 0700) != 0)
      return Error::from_errno(errno, "mkdir `" + files + "`").status(exitcode::kCreatePrivate);
    BERTH_RETURN_IF_ERROR(mount_image(tmp + "/disk.img", files).status(exitcode::kCreatePrivate));
  }
  ScopeExit unmount([&] {
    if (disk) (void)release_disk_at(tmp);
  });
  if (disk) sys::crash_point("disk_made");
  if (ct.layout() == Layout::kImage) {
    std::string root = files + "/root";
    if (::mkdir(root.c_str(), 0755) != 0) return Error::from_errno(errno, "mkdir `" + root + "`");
    BERTH_RETURN_IF_ERROR(from.unpack_into(ct.host(), tmpl_name, root, uid, gid));
    BERTH_RETURN_IF_ERROR(release_disk_at(tmp).status(exitcode::kCreatePrivate));
    BERTH_RETURN_IF_ERROR(mark_creating(tmp));
    if (::rename(tmp.c_str(), priv.c_str()) != 0)
      return Error::from_errno(errno, "rename to `" + priv + "`").status(exitcode::kCreatePrivate);
    undo.dismiss();
    return {};
  }
  if (ct.layout() == Layout::kSimfs) {
    std::string root = tmp + "/root";
    BERTH_RETURN_IF_ERROR(sys::remove_tree(root));
    if (::mkdir(root.c_str(), 0755) != 0) return Error::from_errno(errno, "mkdir `" + root + "`");
    BERTH_RETURN_IF_ERROR(from.unpack_into(ct.host(), tmpl_name, root, uid, gid));
    // simfs: the private area is the tree itself; move it up over the temp dir.
    BERTH_RETURN_IF_ERROR(mark_creating(root));
    std::string tmp2 = priv + ".tmp2";
    BERTH_RETURN_IF_ERROR(sys::remove_tree(tmp2));
    if (::rename(root.c_str(), tmp2.c_str()) != 0)
      return Error::from_errno(errno, "rename `" + root + "`");
    (void)sys::remove_tree(tmp);
    if (::rename(tmp2.c_str(), priv.c_str()) != 0) {
      int err = errno;
      (void)sys::remove_tree(tmp2);
      return Error::from_errno(err, "rename to `" + priv + "`").status(exitcode::kCreatePrivate);
    }
    undo.dismiss();
    return {};
  }
  BERTH_ASSIGN_OR_RETURN(std::string lower, from.unpacked(ct.host(), tmpl_name));
  struct stat lst;
  if (::stat(lower.c_str(), &lst) != 0) return Error::from_errno(errno, "stat `" + lower + "`");
  std::string upper = files + "/upper", work = files + "/work";
  if (::mkdir(upper.c_str(), lst.st_mode & 07777) != 0 || ::mkdir(work.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir in `" + files + "`").status(exitcode::kCreatePrivate);
  // The root of the overlay takes its owner from the upper dir: make it the CT's root.
  if (::chown(upper.c_str(), uid + lst.st_uid, gid + lst.st_gid) != 0 ||
      ::chmod(upper.c_str(), lst.st_mode & 07777) != 0)
    return Error::from_errno(errno, "chown `" + upper + "`");
  if (::symlink(lower.c_str(), (tmp + "/lower").c_str()) != 0)
    return Error::from_errno(errno, "symlink template");
  if (disk) BERTH_RETURN_IF_ERROR(release_disk_at(tmp).status(exitcode::kCreatePrivate));
  BERTH_RETURN_IF_ERROR(mark_creating(tmp));
  if (::rename(tmp.c_str(), priv.c_str()) != 0)
    return Error::from_errno(errno, "rename to `" + priv + "`").status(exitcode::kCreatePrivate);
  undo.dismiss();
  return {};
}

Result<std::string> begin_private(const CtConfig& ct) {
  std::string priv = ct.ve_private();
  if (sys::path_exists(priv + "/" + kCreatingMarker)) BERTH_RETURN_IF_ERROR(destroy_private(ct));
  if (sys::path_exists(priv))
    return Error::with_status(exitcode::kPrivateExists,
                              "private area `" + priv + "` already exists");
  std::string tmp = priv + ".tmp";
  BERTH_RETURN_IF_ERROR(release_disk_at(tmp).context("remove leftover of an earlier clone"));
  BERTH_RETURN_IF_ERROR(sys::remove_tree(tmp).context("remove leftover of an earlier create"));
  BERTH_RETURN_IF_ERROR(close_parent(priv).status(exitcode::kCreatePrivate));
  if (::mkdir(tmp.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir `" + tmp + "`").status(exitcode::kCreatePrivate);
  return tmp;
}

Status commit_private(const CtConfig& ct) {
  std::string priv = ct.ve_private();
  std::string tmp = priv + ".tmp";
  BERTH_RETURN_IF_ERROR(mark_creating(tmp));
  if (::rename(tmp.c_str(), priv.c_str()) != 0)
    return Error::from_errno(errno, "rename to `" + priv + "`").status(exitcode::kCreatePrivate);
  return {};
}

bool unfinished_private(const CtConfig& ct) {
  const std::string priv = ct.ve_private();
  return sys::path_exists(priv + ".tmp") || sys::path_exists(priv + "/" + kCreatingMarker);
}

bool finished_private_exists(const CtConfig& ct) {
  const std::string priv = ct.ve_private();
  return sys::path_exists(priv) && !sys::path_exists(priv + "/" + kCreatingMarker);
}

void finish_private(const CtConfig& ct) {
  ::unlink((ct.ve_private() + "/" + kCreatingMarker).c_str());
}

Status destroy_private(const CtConfig& ct) {
  std::string priv = ct.ve_private();
  std::string gone = priv + ".destroying";
  // The overlay's staging mount of the template (mount_overlay), left by a command killed
  // between making it and the overlay's mount: read-only, so the removal below would fail on it.
  // (A simfs area is the tenant's own tree, which may hold a `.lower` symlink: never followed.)
  for (const std::string& dir : {priv, gone, priv + ".tmp"})
    if (sys::is_mount_point(dir + "/.lower"))
      (void)sys::kernel().umount(dir + "/.lower", MNT_DETACH | UMOUNT_NOFOLLOW);
  // A disk left mounted by a crash (remove_tree does not cross into mounts). A simfs area has
  // none: its names are the tenant's.
  if (ct.layout() != Layout::kSimfs) {
    BERTH_RETURN_IF_ERROR(release_disk_at(gone).status(exitcode::kDeleteFailed));
    BERTH_RETURN_IF_ERROR(release_disk_at(priv).status(exitcode::kDeleteFailed));
    BERTH_RETURN_IF_ERROR(release_disk_at(priv + ".tmp").status(exitcode::kDeleteFailed));
  }
  if (sys::path_exists(priv)) {
    BERTH_RETURN_IF_ERROR(sys::remove_tree(gone));
    if (::rename(priv.c_str(), gone.c_str()) != 0)
      return Error::from_errno(errno, "rename `" + priv + "`").status(exitcode::kDeleteFailed);
  }
  BERTH_RETURN_IF_ERROR(sys::remove_tree(gone).status(exitcode::kDeleteFailed));
  (void)sys::remove_tree(priv + ".tmp");
  ::rmdir(ct.ve_root().c_str());
  return {};
}

Status mount_root(const CtConfig& ct) {
  std::string target = ct.ve_root();
  if (is_mounted(ct)) return Error::with_status(exitcode::kMounted, "CT is already mounted");
  if (ct.layout() == Layout::kPloop)
    return Error::with_status(exitcode::kPloopUnsupported, ploop_message(ct));
  if (!private_exists(ct))
    return Error::with_status(exitcode::kPrivateMissing,
                              "private area `" + ct.ve_private() + "` does not exist");
  // Also for private areas and VE_ROOTs made before these directories were closed.
  BERTH_RETURN_IF_ERROR(close_parent(ct.ve_private()).status(exitcode::kMountFailed));
  BERTH_RETURN_IF_ERROR(close_parent(target).status(exitcode::kCreateRoot));
  if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + target + "`").status(exitcode::kCreateRoot);
  // The disk first (already mounted: a crash between the disk and VE_ROOT, reused); unmounted
  // again when VE_ROOT cannot be mounted on it.
  const bool disk = has_disk(ct);
  if (ct.layout() == Layout::kImage && !disk)
    return Error::with_status(exitcode::kPrivateMissing,
                              "the disk image `" + disk_image_path(ct) + "` does not exist");
  // An existing simfs CT with a quota (an OpenVZ CTID.conf) still mounts, and is told.
  if (ct.layout() == Layout::kSimfs && !check_simfs_quota(ct).ok())
    note(ct, "DISKSPACE/DISKINODES are not enforced: a simfs area has no disk quota here");
  // The id mapping of the overlay's idmapped lower layer, made before the disk's mount: the
  // helper process that makes it ends meanwhile, instead of being waited for after it.
  std::optional<sys::IdmapUserns> idmap;
  if (disk && ct.layout() == Layout::kOverlay && !ct.is_privileged())
    if (auto m = sys::IdmapUserns::make(ct.local_uid(), ct.local_gid(), kIdRangeSize); m.ok())
      idmap.emplace(std::move(m).value());  // else mount_overlay tries again and says why not
  if (disk) BERTH_RETURN_IF_ERROR(mount_disk(ct).status(exitcode::kMountFailed));
  if (disk) sys::crash_point("disk_mounted");
  ScopeExit undo_disk([&] {
    if (disk) (void)umount_disk(ct);
  });
  if (ct.layout() == Layout::kImage) {
    BERTH_RETURN_IF_ERROR(
        bind_private(disk_mount_path(ct) + "/root", target).status(exitcode::kMountFailed));
  } else if (ct.layout() == Layout::kSimfs && !ct.is_privileged()) {
    BERTH_RETURN_IF_ERROR(mount_host_owned(ct, target).status(exitcode::kMountFailed));
  } else if (ct.layout() == Layout::kSimfs) {
    BERTH_RETURN_IF_ERROR(bind_private(ct.ve_private(), target).status(exitcode::kMountFailed));
  } else {
    BERTH_RETURN_IF_ERROR(
        mount_overlay(ct, target, idmap ? idmap->fd() : -1).status(exitcode::kMountFailed));
  }
  if (::mount(nullptr, target.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    int err = errno;
    (void)sys::kernel().umount(target, MNT_DETACH);
    return Error::from_errno(err, "make `" + target + "` private").status(exitcode::kMountFailed);
  }
  undo_disk.dismiss();
  return {};
}

Result<UniqueFd> ct_root_view(const CtConfig& ct) {
  std::string root = ct.ve_root();
  // Not mounted, a clone would be of whatever file system holds the empty mount point.
  if (!is_mounted(ct))
    return Error::with_status(exitcode::kNotMounted, "VE_ROOT `" + root + "` is not mounted");
  // A VE_ROOT mounted by an older Berth (setuid allowed, parents open) is sealed here.
  BERTH_RETURN_IF_ERROR(close_parent(root));
  BERTH_RETURN_IF_ERROR(close_parent(ct.ve_private()));
  sys::Kernel& k = sys::kernel();
  if (auto st = k.mount_setattr(-1, root, 0, {MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, -1});
      !st.ok())
    return sys::reworded(st.error(), "set nosuid,nodev on `" + root + "`");
  BERTH_ASSIGN_OR_RETURN(UniqueFd tree,
                         k.open_tree(root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  BERTH_RETURN_IF_ERROR(set_attr(tree.get(), 0, MOUNT_ATTR_NOSUID, 0,
                                 "allow setuid in the CT's view of `" + root + "`"));
  return tree;
}

Result<std::string> ct_attach_dir(const CtConfig& ct) {
  const HostPaths& paths = ct.host().paths();
  // Under var/lib/berth, not run/berth: a lock makes run/berth 0700 and it holds what host users
  // must not reach (the beancounter server's mount).
  const std::string dir = paths.lib + "/newroot";
  BERTH_RETURN_IF_ERROR(make_dirs(paths.lib, 0755));
  struct stat st;
  // Berth's own directory (something may have made it 0700): searchable by all, as it always was.
  if (::stat(paths.lib.c_str(), &st) == 0 && st.st_uid == 0 && (st.st_mode & 0011) != 0011 &&
      ::chmod(paths.lib.c_str(), (st.st_mode & 07777) | 0011) != 0)
    return Error::from_errno(errno, "chmod `" + paths.lib + "`");
  if (::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + dir + "`");
  if (::lstat(dir.c_str(), &st) != 0) return Error::from_errno(errno, "stat `" + dir + "`");
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
    return Error::with_status(exitcode::kPermission,
                              "`" + dir + "` must be a directory owned by root");
  if ((st.st_mode & 07777) != 0711 && ::chmod(dir.c_str(), 0711) != 0)
    return Error::from_errno(errno, "chmod `" + dir + "`");
  if (ct.is_privileged()) return dir;
  // The CT's root is an unprivileged host id: each directory above must let it pass.
  uid_t uid = ct.local_uid();
  gid_t gid = ct.local_gid();
  for (size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    std::string d = dir.substr(0, pos);
    if (::stat(d.c_str(), &st) != 0) return Error::from_errno(errno, "stat `" + d + "`");
    bool ok = st.st_uid == uid   ? (st.st_mode & S_IXUSR)
              : st.st_gid == gid ? (st.st_mode & S_IXGRP)
                                 : (st.st_mode & S_IXOTH);
    if (!ok)
      return Error::with_status(exitcode::kPermission, "the CT's root (host uid " +
                                                           std::to_string(uid) +
                                                           ") cannot reach `" + dir + "`: make `" +
                                                           d + "` searchable (chmod o+x)");
  }
  return dir;
}

Status umount_root(const CtConfig& ct) {
  // The usual case without listing the host's mounts (each running CT adds two, and at 1000 one
  // read of mountinfo costs ~25 ms): VE_ROOT holds one mount, the CT's own mounts being in its
  // namespace. Anything else (mounts below it, stacked ones, busy) takes the listing.
  auto once = sys::kernel().umount(ct.ve_root(), UMOUNT_NOFOLLOW);
  if (!once.ok() || sys::is_mount_point(ct.ve_root()))
    BERTH_RETURN_IF_ERROR(sys::umount_tree(ct.ve_root()).status(exitcode::kUmountFailed));
  // VE_ROOT's mounts went first: the disk under them is no longer busy. (A simfs area has none:
  // its names are the tenant's.)
  if (ct.layout() == Layout::kSimfs) return {};
  return release_disk_at(ct.ve_private()).status(exitcode::kUmountFailed);
}

Status mount_overlay_readonly(const CtConfig& ct, const std::string& upper,
                              const std::string& stage, const std::string& target) {
  BERTH_ASSIGN_OR_RETURN(std::string lower, read_lower(ct));
  if (!ct.is_privileged()) {
    if (::mkdir(stage.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + stage + "`");
    if (sys::is_mount_point(stage)) (void)sys::kernel().umount(stage, MNT_DETACH);
    BERTH_RETURN_IF_ERROR(attach_idmapped(lower, stage, ct));
  }
  ScopeExit drop_stage([&] {
    if (ct.is_privileged()) return;
    (void)sys::kernel().umount(stage, MNT_DETACH);
    ::rmdir(stage.c_str());
  });
  sys::Kernel& k = sys::kernel();
  BERTH_ASSIGN_OR_RETURN(UniqueFd fs, k.fsopen("overlay"));
  BERTH_RETURN_IF_ERROR(fs_set(fs.get(), "source", "berth-snapshot-" + ct.ctid()));
  // Two lower layers and no upper: overlayfs makes it read-only.
  BERTH_RETURN_IF_ERROR(
      fs_set(fs.get(), "lowerdir", upper + ":" + (ct.is_privileged() ? lower : stage)));
  if (auto st = k.fsconfig_create(fs.get()); !st.ok())
    return sys::reworded(st.error(), "create read-only overlay of `" + upper + "`");
  auto mnt = k.fsmount(fs.get(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY);
  if (!mnt.ok()) return sys::reworded(mnt.error(), "fsmount overlay");
  if (auto st = k.move_mount(mnt->get(), target); !st.ok())
    return sys::reworded(st.error(), "mount overlay on `" + target + "`");
  if (::mount(nullptr, target.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    int err = errno;
    (void)k.umount(target, MNT_DETACH);
    return Error::from_errno(err, "make `" + target + "` private");
  }
  return {};
}

Status bind_readonly(const std::string& dir, const std::string& target) {
  sys::Kernel& k = sys::kernel();
  BERTH_ASSIGN_OR_RETURN(UniqueFd tree, k.open_tree(dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  BERTH_RETURN_IF_ERROR(set_attr(tree.get(),
                                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0,
                                 "set ro,nosuid,nodev on `" + dir + "`"));
  if (auto st = k.move_mount(tree.get(), target); !st.ok())
    return sys::reworded(st.error(), "bind `" + dir + "` on `" + target + "`");
  if (::mount(nullptr, target.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    int err = errno;
    (void)k.umount(target, MNT_DETACH);
    return Error::from_errno(err, "make `" + target + "` private");
  }
  return {};
}

}  // namespace berth::storage
