// The CT's root file system on the host: the private area (VE_PRIVATE) and its mount on VE_ROOT.
//
// Layouts (PRODUCT.md "Storage layouts"):
//  - overlay (default): VE_PRIVATE/{upper,work} plus VE_PRIVATE/lower, a symlink to the shared
//    read-only unpacked template. Creating a CT copies nothing. For a CT in a user namespace the
//    lower layer is an idmapped mount (host id k shows as LOCAL_UID+k), so one unpacked template
//    serves every CT whatever its id range.
//  - simfs: VE_PRIVATE is the CT's tree itself (unpacked with ids already shifted), bind-mounted.
// Mounts made here live in the host's mount namespace (vzctl's "mounted" state) and are made
// private so nothing mounted later propagates through them.
#pragma once

#include <string>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::storage {

// Make the private area of a new CT (not yet existing) from its template. Built in
// "<private>.tmp" and renamed at the end, so a killed create leaves only a .tmp that the next
// create removes. Errors carry vzctl's codes (91 template missing, 44 exists, 48 create failed).
Status create_private(const CtConfig& ct);
// Mark the private area complete (create wrote the config). Until then a next create treats it
// as the leftover of a killed create and starts over.
void finish_private(const CtConfig& ct);
// Remove the private area (must not be mounted). Renamed away first so a killed destroy never
// leaves a half-removed private area under the real name.
Status destroy_private(const CtConfig& ct);
bool private_exists(const CtConfig& ct);

// Mount the private area on VE_ROOT (host mount namespace). Already mounted: error 41 unless
// allow_mounted, then a no-op.
Status mount_root(const CtConfig& ct);
// Unmount VE_ROOT and everything below it (lazy if busy). Not mounted: no-op.
Status umount_root(const CtConfig& ct);
bool is_mounted(const CtConfig& ct);

}  // namespace berth::storage
