// The CT's root file system on the host: the private area (VE_PRIVATE) and its mount on VE_ROOT.
//
// Layouts:
//  - overlay (default): VE_PRIVATE/{upper,work} plus VE_PRIVATE/lower, a symlink to the shared
//    read-only unpacked template. Creating a CT copies nothing. For a CT in a user namespace the
//    lower layer is an idmapped mount (host id k shows as LOCAL_UID+k), so one unpacked template
//    serves every CT whatever its id range.
//    With a finite DISKSPACE, upper and work live in the CT's disk (storage/disk.h), mounted first.
//  - image: the whole tree in the CT's disk (VE_PRIVATE/disk.img, /root in it), bind-mounted.
//  - simfs: VE_PRIVATE is the CT's tree itself (unpacked with ids already shifted), bind-mounted.
//    One with host ids (uid 0 at its root, an OpenVZ area) in an unprivileged CT is mounted
//    idmapped, or shifted once where that cannot be done (storage/idshift.h).
//  - ploop (OpenVZ's image in VE_PRIVATE/root.hdd): refused with exit 99 and what to do.
// Mounts made here live in the host's mount namespace (vzctl's "mounted" state) and are made
// private so nothing mounted later propagates through them.
//
// The wall against host users (docs/security/rootfs.md): the host's view of a CT's root (the
// VE_ROOT mount) is nosuid,nodev, and the directories holding VE_ROOT and VE_PRIVATE are closed
// to everyone but host root (mode 0700), so a setuid file made by the CT's root never runs with
// its owner's id on the host. The CT gets its own view from ct_root_view(): a detached clone of
// VE_ROOT with setuid allowed, attached by the child at ct_attach_dir() in its own namespace.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/ct_config.h"
#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::storage {

// Where a new private area's files come from: the CT's OS template, as the template layer
// (template/) provides it. storage/ does not know templates; the create pipeline fills this in.
// Each is called at most once, after the checks that need no template (existing area, leftover).
struct TemplateSource {
  // overlay: the path of the shared read-only unpacked template (unpacked on first use).
  std::function<Result<std::string>(const HostConfig&, std::string_view name)> unpacked;
  // simfs: unpack the template into the empty directory dest, ids shifted by uid and gid.
  std::function<Status(const HostConfig&, std::string_view name, const std::string& dest,
                       uint32_t uid, uint32_t gid)>
      unpack_into;
};

// Make the private area of a new CT (not yet existing) from its template (ct.ostemplate()). Built
// in "<private>.tmp" and renamed at the end, so a killed create leaves only a .tmp that the next
// create removes. Errors carry vzctl's codes (91 template missing, 44 exists, 48 create failed).
Status create_private(const CtConfig& ct, const TemplateSource& from);
// For clone: the leftovers of a killed create or clone of ct removed, "<private>.tmp" made (empty,
// mode 0700) and its path returned; 44 when the private area exists. commit_private renames the
// filled .tmp into place, marked as being created until finish_private (as create_private).
Result<std::string> begin_private(const CtConfig& ct);
Status commit_private(const CtConfig& ct);
// Mark the private area complete (create wrote the config). Until then a next create treats it
// as the leftover of a killed create and starts over.
void finish_private(const CtConfig& ct);
// Remove the private area (must not be mounted). Renamed away first so a killed destroy never
// leaves a half-removed private area under the real name.
Status destroy_private(const CtConfig& ct);
bool private_exists(const CtConfig& ct);
// What a create or clone of ct killed before it wrote the config left at ct's private path: its
// "<private>.tmp", or the private area still marked as being created.
bool unfinished_private(const CtConfig& ct);
// The private area is there without that mark (a finished create's, or someone's tree).
bool finished_private_exists(const CtConfig& ct);

// Mount the private area on VE_ROOT (host mount namespace). Already mounted: error 41. Messages
// about a host-owned simfs area (idmapped, or the shift's progress) go to stderr.
Status mount_root(const CtConfig& ct);
// The one-line error for a ploop private area (exit 99).
std::string ploop_message(const CtConfig& ct);
// Unmount VE_ROOT and everything below it (lazy if busy). Not mounted: no-op.
Status umount_root(const CtConfig& ct);
bool is_mounted(const CtConfig& ct);

// Read-only views of a copy of a CT's files (snapshot-mount, clone, backup) at target, nosuid,
// nodev, private. Overlay layout: `upper` (a copy of the upper layer) over the CT's template
// (idmapped for an unprivileged CT, as mount_root does, so every file shows its host owner): an
// overlay with two lower layers and no upper. stage: an empty directory for the idmapped
// template while the overlay is made (detached right after).
Status mount_overlay_readonly(const CtConfig& ct, const std::string& upper,
                              const std::string& stage, const std::string& target);
// A read-only, nosuid, nodev bind of dir at target.
Status bind_readonly(const std::string& dir, const std::string& target);

// The CT's own view of its root (parent side, host root): a detached recursive clone of the
// mounted VE_ROOT (open_tree) with nosuid cleared on its top mount, so setuid programs work inside
// (su, sudo); nodev stays (the CT's /dev is its own tmpfs). Only the CT's child ever attaches it,
// in its own mount namespace, so no host user can reach it. Nothing is left behind: the fd owns it.
Result<UniqueFd> ct_root_view(const CtConfig& ct);
// Where a CT's child attaches ct_root_view() inside its own mount namespace before pivot_root or
// chroot: <lib>/newroot, an empty directory of the instance, mode 0711, made here if missing. The
// CT's root id (an unprivileged host uid) must be able to search every directory above it; the
// result says which one it cannot (exit code 12).
Result<std::string> ct_attach_dir(const CtConfig& ct);

}  // namespace berth::storage
