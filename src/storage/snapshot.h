// Snapshots of a CT's files: the index (which snapshots exist, their tree, which one is current)
// and the copies themselves. The order of operations around them (freeze, thaw, stop, start) is
// runtime/snapshot.h's.
//
// Where they live: VE_PRIVATE/snapshots/ (index.json, <uuid>.conf, the data), except for a simfs
// CT, whose VE_PRIVATE is the VPS's own tree: there they are beside it, <VE_PRIVATE>.snapshots/
// (in the directory closed to host users, out of the CT's reach).
//
// What a snapshot's data is (docs/storage.md, "Snapshots and clones"):
//  - a CT with a disk image: a copy of the image file, <uuid>.img: a reflink (FICLONE) where the
//    file system holding VE_PRIVATE has them (xfs reflink=1, btrfs), else a sparse copy
//    (SEEK_DATA/SEEK_HOLE + copy_file_range) of the blocks the image holds;
//  - no disk: a copy of the tree, <uuid>/ (overlay: the upper layer, <uuid>/upper; simfs: the whole
//    tree, <uuid>/root), made by `cp -a --reflink=auto` (per-file reflinks where the fs has them).
//    cp never follows a symlink of the tree it copies (-a implies -P) and stays on one file system
//    only as far as the tree does (a tree holds no mounts: nothing is mounted on VE_PRIVATE).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::storage {

struct SnapshotEntry {
  std::string uuid;
  std::string parent;  // "" for a root of the tree
  std::string name, description;
  std::string date;   // UTC, ISO 8601 ("2026-12-05T19:30:00Z")
  uint64_t size = 0;  // allocated bytes of the data
  std::string file;   // data, relative to the snapshots dir: "<uuid>.img" or "<uuid>"
  bool has_config = false;
  std::string mounted_at;  // snapshot-mount's target while mounted, else ""
};

// The index: pure data, no I/O (unit-tested).
struct SnapshotIndex {
  std::vector<SnapshotEntry> entries;  // in the order they were taken
  std::string current;                 // the one the live files descend from ("" none)

  const SnapshotEntry* find(const std::string& uuid) const;
  SnapshotEntry* find(const std::string& uuid);
  // Append e with parent = current; current becomes e. A duplicate uuid: EEXIST.
  Status add(SnapshotEntry e);
  // Forget uuid: its children get its parent; current moves to its parent when it was current.
  // Unknown: ENOENT.
  Status remove(const std::string& uuid);
  // current = uuid (snapshot-switch). Unknown: ENOENT.
  Status set_current(const std::string& uuid);
  std::vector<const SnapshotEntry*> children(const std::string& uuid) const;
};

std::string index_to_json(const SnapshotIndex& idx);
// Unknown keys are ignored; a malformed file is EINVAL.
Result<SnapshotIndex> index_from_json(const std::string& text);

// A random (version 4) UUID, lower case, 8-4-4-4-12.
std::string new_uuid();
// 36 characters, hex digits and dashes at 8, 13, 18, 23 (any version: vzctl accepts any GUID).
// Braces around it ("{...}", vzctl's form) are accepted by normalize_uuid.
bool valid_uuid(const std::string& s);
std::optional<std::string> normalize_uuid(const std::string& s);
std::string utc_now_iso();

// The CT's snapshots directory (see above) and index file.
std::string snapshots_dir(const CtConfig& ct);
std::string snapshot_index_path(const CtConfig& ct);
// No index file: an empty index.
Result<SnapshotIndex> load_index(const CtConfig& ct);
// tmp + fsync + rename: a killed command leaves the old index or the new one.
Status save_index(const CtConfig& ct, const SnapshotIndex& idx);

enum class CopyMethod { kReflink, kSparse, kTree };
const char* copy_method_name(CopyMethod m);

// Copy the regular file src to dst (made new, mode 0600): FICLONE, else a sparse copy. Neither
// path may be a symlink (O_NOFOLLOW).
Result<CopyMethod> copy_image(const std::string& src, const std::string& dst);
// cp -a --reflink=auto src dst (dst must not exist): owners, modes, times, xattrs, hard links
// inside the tree, symlinks as symlinks.
Status copy_tree(const std::string& src, const std::string& dst);
// Allocated bytes of path: st_blocks of a file; of a tree, the sum over its entries (no symlink
// followed, one file system, hard links counted once).
uint64_t allocated_bytes(const std::string& path);

// Exchange two paths atomically (renameat2 RENAME_EXCHANGE): how a tree is put in place by
// snapshot-switch without a moment where neither exists.
Status exchange_paths(const std::string& a, const std::string& b);

// Clone: what makes a guest the same machine as its source, reset in the tree root (a CT's upper
// layer or whole tree, host side): /etc/machine-id, when it is a regular file holding an id, gets
// 32 new random hex digits (an empty one is left empty: systemd makes one on the first boot); every
// /etc/ssh/ssh_host_* that is not a directory is removed (the Debian template's first-boot unit,
// berth-ssh-hostkeys.service, runs ssh-keygen -A at each boot and makes missing keys anew). The
// tree is the tenant's: /etc and /etc/ssh are opened without following a symlink, the new
// machine-id is written to a new file and renamed over the old name (a symlink, hard link or fifo
// there is replaced or left alone, never written through or opened), with the old file's owner
// and mode. Returns what it did, for the clone's output.
struct IdentityReset {
  bool machine_id = false;
  int ssh_keys_removed = 0;
};
Result<IdentityReset> reset_guest_identity(const std::string& root);

}  // namespace berth::storage
