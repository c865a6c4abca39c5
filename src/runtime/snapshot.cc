// Snapshots: freeze, copy, thaw; the index kept in step (runtime/snapshot.h).
#include "runtime/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "cgroups/freeze.h"
#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "runtime/lifecycle.h"
#include "state/ct_cgroup.h"
#include "state/status.h"
#include "storage/disk.h"
#include "storage/root.h"
#include "sys/fs.h"
#include "sys/kernel.h"

namespace berth::runtime {
namespace {

// How long a freeze may take before the snapshot gives up (a task stuck in the kernel).
constexpr int kFreezeTimeoutMs = 5000;

std::string frozen_marker(const CtConfig& ct) {
  return ct.host().paths().run + "/snapshot/" + ct.ctid() + ".frozen";
}

Error refuse(int code, const std::string& what) { return Error::with_status(code, what); }

Status check_layout(const CtConfig& ct) {
  if (ct.layout() == Layout::kPloop)
    return refuse(exitcode::kPloopUnsupported, storage::ploop_message(ct));
  if (!storage::private_exists(ct))
    return refuse(exitcode::kPrivateMissing,
                  "private area `" + ct.ve_private() + "` does not exist");
  return {};
}

// What a snapshot copies: the tree of the layout (the upper layer, or simfs's whole tree) and the
// name it has inside the snapshot's directory.
struct Source {
  std::string path;  // on the host
  std::string leaf;  // "upper" or "root"
};

Source source_of(const CtConfig& ct) {
  if (ct.layout() == Layout::kSimfs) return {ct.ve_private(), "root"};
  return {ct.ve_private() + "/upper", "upper"};
}

Status make_snapshots_dir(const CtConfig& ct) {
  std::string dir = storage::snapshots_dir(ct);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + dir + "`");
  return {};
}

// Data of snapshots a killed command left behind (not in the index): a half-made copy, a
// temporary snapshot of a process that is gone.
void sweep_orphans(const CtConfig& ct, const storage::SnapshotIndex& idx) {
  std::string dir = storage::snapshots_dir(ct);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> gone;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n == "index.json") continue;
    if (n.rfind("tmp-", 0) == 0) {
      pid_t pid = static_cast<pid_t>(std::atol(n.c_str() + 4));
      if (pid > 0 && pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM)) continue;
      gone.push_back(n);
      continue;
    }
    std::string base = n.substr(0, 36);
    if (!storage::valid_uuid(base) || idx.find(base)) continue;
    gone.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : gone) {
    std::string p = dir + "/" + n;
    if (sys::is_mount_point(p)) (void)sys::umount_tree(p);
    (void)sys::remove_tree(p);
  }
}

Result<storage::SnapshotIndex> load_swept(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(auto idx, storage::load_index(ct));
  sweep_orphans(ct, idx);
  return idx;
}

Result<const storage::SnapshotEntry*> find_entry(const CtConfig& ct,
                                                 const storage::SnapshotIndex& idx,
                                                 const std::string& uuid) {
  const storage::SnapshotEntry* e = idx.find(uuid);
  if (!e)
    return refuse(exitcode::kSnapshotNotFound,
                  "CT " + ct.ctid() + " has no snapshot " + uuid + " (see snapshot-list)");
  return e;
}

bool is_image(const storage::SnapshotEntry& e) {
  return e.file.size() > 4 && e.file.compare(e.file.size() - 4, 4, ".img") == 0;
}

struct Captured {
  double pause_ms = 0;
  bool frozen = false;
  storage::CopyMethod method = storage::CopyMethod::kTree;
};

// Run copy while the CT is held still: its cgroup frozen (freeze_cg) and the file system mounted
// at fs_mount frozen (FIFREEZE, when not ""), the marker telling a later command to thaw them if
// this one is killed. Both are thawed as soon as copy returns; the pause is measured around it.
Result<Captured> frozen_copy(const CtConfig& ct, bool freeze_cg, const std::string& fs_mount,
                             const std::function<Status()>& copy) {
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string marker = frozen_marker(ct);
  BERTH_RETURN_IF_ERROR(make_dirs(ct.host().paths().run + "/snapshot", 0700));
  BERTH_RETURN_IF_ERROR(write_file_atomic(marker, state::ct_group_of(ct) + "\n", 0600));
  ScopeExit drop_marker([&] { ::unlink(marker.c_str()); });
  Captured out;
  auto t0 = std::chrono::steady_clock::now();
  if (freeze_cg)
    BERTH_RETURN_IF_ERROR(cgroups::freeze_group(*cg, state::ct_group_of(ct), kFreezeTimeoutMs)
                              .status(exitcode::kSnapshotFreeze));
  cgroups::FreezeGuard cg_thaw =
      freeze_cg ? cgroups::FreezeGuard(*cg, state::ct_group_of(ct)) : cgroups::FreezeGuard();
  UniqueFd fs;
  if (!fs_mount.empty()) {
    fs = UniqueFd(::open(fs_mount.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fs || ::ioctl(fs.get(), FIFREEZE, 0) != 0)
      return Error::from_errno(errno, "freeze the file system of `" + fs_mount + "`")
          .status(exitcode::kSnapshotFreeze);
  }
  ScopeExit fs_thaw([&] {
    if (fs) (void)::ioctl(fs.get(), FITHAW, 0);
  });
  out.frozen = true;
  if (const char* fp = std::getenv("BERTH_FAIL_POINT"); fp && std::string(fp) == "snapshot-frozen")
    ::pause();  // tests: a snapshot killed while the CT is frozen
  Status copied = copy();
  if (fs && ::ioctl(fs.get(), FITHAW, 0) == 0) fs.reset();
  Status thawed = cg_thaw.thaw();
  out.pause_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  BERTH_RETURN_IF_ERROR(std::move(copied));
  BERTH_RETURN_IF_ERROR(std::move(thawed).context("thaw the CT after its snapshot"));
  return out;
}

// Copy the CT's tree (source_of) to `to` (a path that does not exist yet): frozen while it runs
// unless skip_suspend.
Result<Captured> capture(const CtConfig& ct, const std::string& to, bool skip_suspend) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  Source src = source_of(ct);
  auto copy = [&] { return storage::copy_tree(src.path, to); };
  if (!s.running || skip_suspend) {
    BERTH_RETURN_IF_ERROR(copy());
    return Captured{};
  }
  return frozen_copy(ct, true, "", copy);
}

// A CT with a disk: a copy of its image file at `to`, made while its cgroup (when it runs, unless
// skip_suspend) and its disk's file system (when mounted: FIFREEZE, so the copy is clean) are
// frozen.
Result<Captured> capture_image(const CtConfig& ct, const std::string& to, bool skip_suspend) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  std::string mnt = storage::disk_mount_path(ct);
  bool mounted = sys::is_mount_point(mnt);
  bool freeze_cg = s.running && !skip_suspend;
  storage::CopyMethod method = storage::CopyMethod::kSparse;
  auto copy = [&]() -> Status {
    BERTH_ASSIGN_OR_RETURN(method, storage::copy_image(storage::disk_image_path(ct), to));
    return {};
  };
  Captured out;
  if (!freeze_cg && !mounted) {
    BERTH_RETURN_IF_ERROR(copy());
  } else {
    BERTH_ASSIGN_OR_RETURN(out, frozen_copy(ct, freeze_cg, mounted ? mnt : "", copy));
  }
  out.method = method;
  return out;
}

// capture() into dir/<leaf>, dir made here and removed on failure.
Result<Captured> capture_into(const CtConfig& ct, const std::string& dir, bool skip_suspend) {
  if (::mkdir(dir.c_str(), 0700) != 0) return Error::from_errno(errno, "mkdir `" + dir + "`");
  ScopeExit undo([&] { (void)sys::remove_tree(dir); });
  BERTH_ASSIGN_OR_RETURN(Captured c, capture(ct, dir + "/" + source_of(ct).leaf, skip_suspend));
  undo.dismiss();
  return c;
}

Status copy_config(const CtConfig& ct, const std::string& dest) {
  BERTH_ASSIGN_OR_RETURN(std::string text, sys::read_file(ct.conf_path()));
  return write_file_atomic(dest, text, 0600);
}

}  // namespace

Result<double> copy_ct_files(const CtConfig& ct, const std::string& to) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_RETURN_IF_ERROR(thaw_leftover(ct));
  BERTH_ASSIGN_OR_RETURN(Captured c, capture(ct, to, false));
  return c.pause_ms;
}

Result<double> copy_ct_image(const CtConfig& ct, const std::string& to) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_RETURN_IF_ERROR(thaw_leftover(ct));
  BERTH_ASSIGN_OR_RETURN(Captured c, capture_image(ct, to, false));
  return c.pause_ms;
}

std::string snapshot_tree(const CtConfig& ct, const storage::SnapshotEntry& e) {
  if (is_image(e)) return storage::snapshots_dir(ct) + "/" + e.file;
  return storage::snapshots_dir(ct) + "/" + e.file + "/" + source_of(ct).leaf;
}

std::string snapshot_source_path(const CtConfig& ct) { return source_of(ct).path; }

bool is_image_snapshot(const storage::SnapshotEntry& e) { return is_image(e); }

Status thaw_leftover(const CtConfig& ct) {
  std::string marker = frozen_marker(ct);
  if (!sys::path_exists(marker)) return {};
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  // The disk's file system first: a thawed task would block on it anyway.
  if (std::string mnt = storage::disk_mount_path(ct); sys::is_mount_point(mnt)) {
    UniqueFd fs(::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fs) (void)::ioctl(fs.get(), FITHAW, 0);  // EINVAL: it was not frozen
  }
  BERTH_RETURN_IF_ERROR(cgroups::thaw_group(*cg, state::ct_group_of(ct))
                            .context("thaw CT " + ct.ctid() + " left frozen by a snapshot"));
  std::fprintf(stderr, "berth: CT %s: thawed (a snapshot was interrupted while it was frozen)\n",
               ct.ctid().c_str());
  ::unlink(marker.c_str());
  return {};
}

Result<SnapshotTaken> take_snapshot(const CtConfig& ct, const SnapshotRequest& req) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_RETURN_IF_ERROR(thaw_leftover(ct));
  BERTH_RETURN_IF_ERROR(make_snapshots_dir(ct));
  BERTH_ASSIGN_OR_RETURN(auto idx, load_swept(ct));
  std::string uuid = req.id ? *req.id : storage::new_uuid();
  if (idx.find(uuid))
    return refuse(exitcode::kSnapshotExists, "CT " + ct.ctid() + " already has a snapshot " + uuid);
  std::string dir = storage::snapshots_dir(ct);
  storage::SnapshotEntry e;
  e.uuid = uuid;
  e.name = req.name;
  e.description = req.description;
  e.date = storage::utc_now_iso();
  const bool disk = storage::has_disk(ct);
  e.file = disk ? uuid + ".img" : uuid;
  BERTH_ASSIGN_OR_RETURN(Captured c, disk ? capture_image(ct, dir + "/" + e.file, req.skip_suspend)
                                          : capture_into(ct, dir + "/" + uuid, req.skip_suspend));
  ScopeExit undo([&] {
    (void)sys::remove_tree(dir + "/" + uuid);
    ::unlink((dir + "/" + uuid + ".img").c_str());
    ::unlink((dir + "/" + uuid + ".conf").c_str());
  });
  if (!req.skip_config) {
    BERTH_RETURN_IF_ERROR(copy_config(ct, dir + "/" + uuid + ".conf"));
    e.has_config = true;
  }
  e.size = storage::allocated_bytes(dir + "/" + e.file);
  SnapshotTaken out{uuid, c.pause_ms, c.frozen, c.method, e.size};
  BERTH_RETURN_IF_ERROR(idx.add(std::move(e)));
  BERTH_RETURN_IF_ERROR(storage::save_index(ct, idx));
  undo.dismiss();
  return out;
}

Result<storage::SnapshotIndex> list_snapshots(const CtConfig& ct) {
  if (ct.layout() == Layout::kPloop)
    return refuse(exitcode::kPloopUnsupported, storage::ploop_message(ct));
  return storage::load_index(ct);
}

namespace {

// The snapshot's config over the CT's, keeping what makes the CT itself.
Status restore_config(const CtConfig& ct, const std::string& saved) {
  BERTH_ASSIGN_OR_RETURN(std::string text, sys::read_file(saved));
  ConfFile conf = ConfFile::parse(text);
  for (const char* key : {"VE_PRIVATE", "VE_ROOT", "LOCAL_UID", "LOCAL_GID", "NAME"}) {
    if (auto v = ct.conf().get(key))
      conf.set(key, *v);
    else
      conf.erase(key);
  }
  return conf.save(ct.conf_path());
}

// Put a copy of the snapshot's tree in place of the live one (the CT is stopped and unmounted).
// The old tree is left at the returned path, for the caller to remove once the CT runs again.
Result<std::string> restore_files(const CtConfig& ct, const std::string& data) {
  Source src = source_of(ct);
  std::string fresh = src.path + ".switch";
  BERTH_RETURN_IF_ERROR(sys::remove_tree(fresh));
  BERTH_RETURN_IF_ERROR(storage::copy_tree(data + "/" + src.leaf, fresh));
  // One exchange: a kill leaves either the old tree or the new one in place (and a .switch the
  // next switch removes).
  BERTH_RETURN_IF_ERROR(storage::exchange_paths(fresh, src.path));
  if (ct.layout() == Layout::kSimfs) return fresh;
  // The overlay's work dir belongs to the old upper layer.
  std::string work = ct.ve_private() + "/work";
  BERTH_RETURN_IF_ERROR(sys::remove_tree(work));
  if (::mkdir(work.c_str(), 0700) != 0) return Error::from_errno(errno, "mkdir `" + work + "`");
  return fresh;
}

}  // namespace

Status switch_snapshot(const CtConfig& ct, const std::string& uuid, const SwitchOptions& opts) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_RETURN_IF_ERROR(thaw_leftover(ct));
  BERTH_ASSIGN_OR_RETURN(auto idx, load_swept(ct));
  BERTH_ASSIGN_OR_RETURN(const storage::SnapshotEntry* e, find_entry(ct, idx, uuid));
  std::string data = storage::snapshots_dir(ct) + "/" + e->file;
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (s.running)
    BERTH_RETURN_IF_ERROR(stop(ct, {}));
  else if (s.mounted)
    BERTH_RETURN_IF_ERROR(umount(ct));
  if (storage::has_disk(ct)) BERTH_RETURN_IF_ERROR(storage::umount_disk(ct));
  std::string old_tree;
  if (is_image(*e)) {
    // One rename over the image: a kill leaves the old image or the new one.
    std::string img = storage::disk_image_path(ct), fresh = img + ".switch";
    ::unlink(fresh.c_str());
    BERTH_RETURN_IF_ERROR(storage::copy_image(data, fresh).status(exitcode::kSnapshotSwitch));
    if (::rename(fresh.c_str(), img.c_str()) != 0) {
      int err = errno;
      ::unlink(fresh.c_str());
      return Error::from_errno(err, "rename `" + fresh + "`").status(exitcode::kSnapshotSwitch);
    }
  } else {
    BERTH_ASSIGN_OR_RETURN(old_tree, restore_files(ct, data).status(exitcode::kSnapshotSwitch));
  }
  // The index follows the files at once; the old tree goes only once the CT runs again (its
  // removal is as long as its size, and no part of the CT's downtime).
  BERTH_RETURN_IF_ERROR(idx.set_current(uuid));
  BERTH_RETURN_IF_ERROR(storage::save_index(ct, idx));
  ScopeExit drop_old([&] {
    if (!old_tree.empty()) (void)sys::remove_tree(old_tree);
  });
  if (!opts.skip_config && e->has_config)
    BERTH_RETURN_IF_ERROR(restore_config(ct, storage::snapshots_dir(ct) + "/" + uuid + ".conf")
                              .status(exitcode::kSnapshotSwitch));
  if (!s.running || opts.skip_resume) return {};
  BERTH_ASSIGN_OR_RETURN(CtConfig now, CtConfig::load(ct.host(), ct.ctid()));
  return start(now, {});
}

Status delete_snapshot(const CtConfig& ct, const std::string& uuid) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_ASSIGN_OR_RETURN(auto idx, load_swept(ct));
  BERTH_ASSIGN_OR_RETURN(const storage::SnapshotEntry* e, find_entry(ct, idx, uuid));
  if (!e->mounted_at.empty() && sys::is_mount_point(e->mounted_at))
    return refuse(exitcode::kSnapshotMounted, "snapshot " + uuid + " of CT " + ct.ctid() +
                                                  " is mounted at `" + e->mounted_at +
                                                  "`: snapshot-umount it first");
  std::string data = storage::snapshots_dir(ct) + "/" + e->file;
  // The index first: a kill after it leaves only orphan data, which the next command removes.
  BERTH_RETURN_IF_ERROR(idx.remove(uuid));
  BERTH_RETURN_IF_ERROR(storage::save_index(ct, idx));
  BERTH_RETURN_IF_ERROR(sys::remove_tree(data));
  ::unlink((storage::snapshots_dir(ct) + "/" + uuid + ".conf").c_str());
  return {};
}

namespace {

// The read-only tree of snapshot data at target.
Status mount_data(const CtConfig& ct, const std::string& data, const std::string& target) {
  if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + target + "`");
  if (sys::is_mount_point(target))
    return Error::with_status(exitcode::kMounted, "`" + target + "` is a mount point already");
  if (data.size() > 4 && data.compare(data.size() - 4, 4, ".img") == 0) {
    // The image read-only at a stage, the tree shown from it; the stage is detached at once (the
    // view holds the file system, and the loop goes when the view is unmounted: autoclear).
    std::string stage = data.substr(0, data.size() - 4) + ".mnt";
    if (::mkdir(stage.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + stage + "`");
    BERTH_ASSIGN_OR_RETURN(storage::ReadOnlyImageMount ro,
                           storage::ReadOnlyImageMount::mount(data, stage));
    ro.release();
    ScopeExit drop([&] {
      (void)sys::kernel().umount(stage, MNT_DETACH);
      ::rmdir(stage.c_str());
    });
    if (ct.layout() == Layout::kImage) return storage::bind_readonly(stage + "/root", target);
    return storage::mount_overlay_readonly(ct, stage + "/upper",
                                           data.substr(0, data.size() - 4) + ".stage", target);
  }
  if (ct.layout() == Layout::kSimfs) return storage::bind_readonly(data + "/root", target);
  return storage::mount_overlay_readonly(ct, data + "/upper", data + ".stage", target);
}

}  // namespace

Status mount_snapshot(const CtConfig& ct, const std::string& uuid, const std::string& target_in) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_ASSIGN_OR_RETURN(auto idx, load_swept(ct));
  BERTH_ASSIGN_OR_RETURN(const storage::SnapshotEntry* found, find_entry(ct, idx, uuid));
  if (!found->mounted_at.empty() && sys::is_mount_point(found->mounted_at))
    return refuse(exitcode::kSnapshotMounted, "snapshot " + uuid + " of CT " + ct.ctid() +
                                                  " is mounted at `" + found->mounted_at + "`");
  if (target_in.empty() || target_in.front() != '/')
    return refuse(exitcode::kBadValue, "--target needs an absolute path");
  std::string target = target_in;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  std::string data = storage::snapshots_dir(ct) + "/" + found->file;
  BERTH_RETURN_IF_ERROR(mount_data(ct, data, target).status(exitcode::kMountFailed));
  idx.find(uuid)->mounted_at = target;
  if (auto st = storage::save_index(ct, idx); !st.ok()) {
    (void)sys::umount_tree(target);
    return st;
  }
  return {};
}

Status umount_snapshot(const CtConfig& ct, const std::string& uuid) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_ASSIGN_OR_RETURN(auto idx, storage::load_index(ct));
  BERTH_ASSIGN_OR_RETURN(const storage::SnapshotEntry* found, find_entry(ct, idx, uuid));
  std::string target = found->mounted_at;
  if (target.empty() || !sys::is_mount_point(target)) {
    if (target.empty())
      return refuse(exitcode::kNotMounted,
                    "snapshot " + uuid + " of CT " + ct.ctid() + " is not mounted");
  } else {
    BERTH_RETURN_IF_ERROR(sys::umount_tree(target).status(exitcode::kUmountFailed));
  }
  idx.find(uuid)->mounted_at.clear();
  return storage::save_index(ct, idx);
}

Status check_no_snapshot_mounted(const CtConfig& ct) {
  auto idx = storage::load_index(ct);
  if (!idx.ok()) return {};
  for (const auto& e : idx->entries)
    if (!e.mounted_at.empty() && sys::is_mount_point(e.mounted_at))
      return refuse(exitcode::kSnapshotMounted, "snapshot " + e.uuid + " is mounted at `" +
                                                    e.mounted_at + "`: snapshot-umount it first");
  return {};
}

Status remove_all_snapshots(const CtConfig& ct) {
  BERTH_RETURN_IF_ERROR(check_no_snapshot_mounted(ct));
  // What a killed command left mounted below the snapshots dir (remove_tree does not cross into
  // mounts): an image's stage (<uuid>.mnt: a migration's receiver writing <uuid>.img.tmp, a
  // sender reading an image, snapshot-mount), an overlay's stage, a temporary snapshot's view.
  // Entries made by Berth only; a snapshot-mount's own target was refused above.
  const std::string dir = storage::snapshots_dir(ct);
  std::vector<std::string> mounted;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)) continue;
      if (sys::is_mount_point(dir + "/" + n)) mounted.push_back(dir + "/" + n);
    }
    ::closedir(d);
  }
  for (const auto& m : mounted)
    BERTH_RETURN_IF_ERROR(sys::umount_tree(m).context("unmount the leftover `" + m + "`"));
  return sys::remove_tree(dir);
}

TempSnapshot::TempSnapshot(TempSnapshot&& o) noexcept
    : data_(std::move(o.data_)), target_(std::move(o.target_)), pause_ms_(o.pause_ms_) {
  o.data_.clear();
  o.target_.clear();
}

TempSnapshot::~TempSnapshot() {
  if (!target_.empty()) (void)sys::umount_tree(target_);
  if (!data_.empty()) (void)sys::remove_tree(data_);
}

Result<TempSnapshot> take_temporary_snapshot(const CtConfig& ct, const std::string& target) {
  BERTH_RETURN_IF_ERROR(check_layout(ct));
  BERTH_RETURN_IF_ERROR(thaw_leftover(ct));
  BERTH_RETURN_IF_ERROR(make_snapshots_dir(ct));
  BERTH_ASSIGN_OR_RETURN(auto idx, load_swept(ct));
  std::string data =
      storage::snapshots_dir(ct) + "/tmp-" + std::to_string(::getpid()) + "-" + storage::new_uuid();
  // A CT with a disk: its tree is in the image (VE_PRIVATE/upper does not exist), so the copy is
  // of the image file, as `snapshot` makes it, and the view is mounted from that copy.
  const bool disk = storage::has_disk(ct);
  if (disk) data += ".img";
  TempSnapshot snap(data, "", 0);  // a part-made copy goes with it
  BERTH_ASSIGN_OR_RETURN(Captured c,
                         disk ? capture_image(ct, data, false) : capture_into(ct, data, false));
  snap.pause_ms_ = c.pause_ms;
  BERTH_RETURN_IF_ERROR(mount_data(ct, data, target));
  snap.target_ = target;
  return snap;
}

}  // namespace berth::runtime
