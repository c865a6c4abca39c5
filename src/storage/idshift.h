// Owners of a simfs private area made elsewhere (an OpenVZ host's /vz/private/<CTID>): files owned
// by host ids (root is uid 0 on disk), while an unprivileged CT's root is host uid LOCAL_UID.
//
// Two ways to start such an area as an unprivileged CT, chosen by storage::mount_root:
//  - an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP with the CT's id mapping) of the area on
//    VE_ROOT: on-disk id k shows as LOCAL_UID+k, nothing on disk changes. Needs kernel and file
//    system support, found by trying (never assumed).
//  - otherwise a one-time shift: every entry's owner k (< 65536) becomes LOCAL_UID+k, with a
//    progress display. A marker next to the area (<VE_PRIVATE>.idshift, in the directory closed to
//    host users) records the shift while it runs; a killed shift is finished by the next mount.
//    Ids already in the CT's range are left alone, so walking again is harmless.
// The walk never follows a symlink of the area (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_XDEV for directories, *at() calls on one name with AT_SYMLINK_NOFOLLOW for the rest)
// and never opens a device node; setuid/setgid bits that chown clears are put back.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/error.h"

namespace berth::storage {

enum class AreaOwners {
  kCtIds,     // the area's root is not owned by host uid 0: used as it is
  kHostIds,   // owned by host ids (uid 0 at its root): idmapped mount or shift
  kShifting,  // a shift was started and not finished (its marker exists): finish it
};

// The marker of a shift in progress for the private area priv.
std::string idshift_marker(const std::string& priv);

// How the private area's owners relate to the CT's ids (uid: LOCAL_UID). Host ids: the area's
// root is uid 0 and no entry right below it is in the CT's range [uid, uid+65536).
Result<AreaOwners> area_owners(const std::string& priv, uint32_t uid);

// The id an on-disk id becomes in the shift: base+id below 65536, others unchanged. Pure.
uint32_t shifted_id(uint32_t id, uint32_t base);

struct ShiftProgress {
  uint64_t done = 0;   // entries looked at
  uint64_t total = 0;  // entries in the area (counted first)
};

// Shift every owner in priv (the marker records it while it runs; removed at the end). progress
// is called now and then and at the end. uid and gid must be >= 65536 (exit 21 otherwise).
Status shift_area(const std::string& priv, uint32_t uid, uint32_t gid,
                  const std::function<void(const ShiftProgress&)>& progress);

// Clone: a copy of a CT's files gets the new CT's ids. An id inside [from, from+65536) becomes
// to + (id - from); every other id (the template's own, another range's) is left as it is. Pure.
uint32_t moved_id(uint32_t id, uint32_t from, uint32_t to);
// Move every owner of the tree dir from one CT's range to another's (the same safe walk as
// shift_area: no symlink followed, no other mount entered, setuid bits kept). Not resumable by
// itself: the clone runs it on a copy it throws away when killed.
Status move_id_range(const std::string& dir, uint32_t from_uid, uint32_t from_gid, uint32_t to_uid,
                     uint32_t to_gid);

}  // namespace berth::storage
