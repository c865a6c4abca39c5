// Snapshots of a CT (vzctl 4.x's snapshot, snapshot-list, snapshot-switch, snapshot-delete,
// snapshot-mount, snapshot-umount) and the temporary snapshot a backup reads from.
//
// A snapshot of a running CT is taken while its cgroup is frozen (cgroups/freeze.h) and, when it
// has a disk, its file system too (FIFREEZE on VE_PRIVATE/disk: the image is clean, mountable
// read-only without a journal replay); the copy (storage/snapshot.h) is made between the two and
// both are thawed at once. The pause (frozen time) is reported. A marker,
// <run>/snapshot/<CTID>.frozen, exists while anything is frozen: a snapshot killed then is thawed
// by the next command on the CT (thaw_leftover: start, stop, destroy, status, exec, snapshot*).
// Every function here expects the caller to hold the CT's lock (lifecycle.h lock_ct).
#pragma once

#include <optional>
#include <string>

#include "core/ct_config.h"
#include "core/error.h"
#include "storage/snapshot.h"

namespace berth::runtime {

struct SnapshotRequest {
  std::optional<std::string> id;  // --id (a valid uuid), else a new one
  std::string name, description;
  bool skip_suspend = false;  // --skip-suspend: no cgroup freeze (the copy may be inconsistent)
  bool skip_config = false;   // --skip-config: no copy of the CT's config
};

struct SnapshotTaken {
  std::string uuid;
  double pause_ms = 0;  // time the CT's cgroup (or disk) was frozen; 0 when nothing was
  bool frozen = false;
  storage::CopyMethod method = storage::CopyMethod::kTree;
  uint64_t size = 0;
};

Result<SnapshotTaken> take_snapshot(const CtConfig& ct, const SnapshotRequest& req);
Result<storage::SnapshotIndex> list_snapshots(const CtConfig& ct);

struct SwitchOptions {
  bool skip_resume = false;  // a running CT stays stopped
  bool skip_config = false;  // keep the CT's config as it is
};
// The CT's files (and config unless skip_config; VE_PRIVATE, VE_ROOT, LOCAL_UID, LOCAL_GID and
// NAME are kept) become the snapshot's; a running CT is stopped first and started again after.
// say: progress lines.
Status switch_snapshot(const CtConfig& ct, const std::string& uuid, const SwitchOptions& opts);
Status delete_snapshot(const CtConfig& ct, const std::string& uuid);
// Read-only: the VPS's whole tree as it was, at target (made if missing).
Status mount_snapshot(const CtConfig& ct, const std::string& uuid, const std::string& target);
Status umount_snapshot(const CtConfig& ct, const std::string& uuid);

// Copy the CT's live tree (overlay: its upper layer; simfs: the whole tree) to `to`, which must
// not exist, frozen while it runs (clone). Returns the pause in ms (0: not frozen).
Result<double> copy_ct_files(const CtConfig& ct, const std::string& to);
// A CT with a disk: a copy of its image file at `to` (clone), frozen while it runs.
Result<double> copy_ct_image(const CtConfig& ct, const std::string& to);
// Where a snapshot's copy of that tree is (a snapshot of a CT with a disk: its image file).
std::string snapshot_tree(const CtConfig& ct, const storage::SnapshotEntry& e);
// The live tree a snapshot of a CT without a disk copies (VE_PRIVATE/upper, or simfs's
// VE_PRIVATE): its owner and mode are those of the copy's top (a migration makes one).
std::string snapshot_source_path(const CtConfig& ct);
bool is_image_snapshot(const storage::SnapshotEntry& e);

// Thaw what a killed snapshot left frozen (the CT's cgroup, its disk's file system). Cheap when
// nothing was (one stat of the marker).
Status thaw_leftover(const CtConfig& ct);
// Remove everything a snapshot of this CT may have: its snapshots dir and what is mounted from it
// (destroy). Refused (kSnapshotMounted) while a snapshot is mounted.
Status check_no_snapshot_mounted(const CtConfig& ct);
Status remove_all_snapshots(const CtConfig& ct);

// For backup: a consistent copy of the CT taken as a snapshot is (frozen while it runs), not in
// the index, mounted read-only at a directory; removed (unmounted, data deleted) on destruction.
// A CT with a disk: the copy is of its image file (tmp-<pid>-<uuid>.img), mounted read-only as
// snapshot-mount mounts an image snapshot.
// The caller holds the CT's lock while it is taken; it may drop it after: the data is named
// tmp-<pid>-<uuid> in the snapshots dir and only the snapshot commands of a later process whose
// pid differs, finding that pid dead, remove it.
class TempSnapshot {
 public:
  TempSnapshot(TempSnapshot&& o) noexcept;
  TempSnapshot& operator=(TempSnapshot&&) = delete;
  TempSnapshot(const TempSnapshot&) = delete;
  ~TempSnapshot();
  const std::string& root() const { return target_; }  // the VPS's tree, read-only
  double pause_ms() const { return pause_ms_; }

 private:
  friend Result<TempSnapshot> take_temporary_snapshot(const CtConfig&, const std::string&);
  TempSnapshot(std::string data, std::string target, double pause)
      : data_(std::move(data)), target_(std::move(target)), pause_ms_(pause) {}
  std::string data_, target_;
  double pause_ms_ = 0;
};
// target: an empty directory (made if missing) where the tree is mounted.
Result<TempSnapshot> take_temporary_snapshot(const CtConfig& ct, const std::string& target);

}  // namespace berth::runtime
