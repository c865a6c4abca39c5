// Unpacking a template cache archive into a directory, with libarchive (never by running tar).
//
// Owns the archive -> directory step shared by the overlay layout (one read-only root per template,
// ids kept as in the archive) and the simfs layout (a private copy per CT, ids shifted into the
// CT's user-namespace range). Does not know where caches live or which CT uses them (cache.h).
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"

namespace berth::tmpl {

// Unpack archive (any tar flavour, compressed with gzip, xz, zstd, bzip2 or not) into dest_dir,
// which must exist and should be empty. Every entry's numeric owner gets uid_shift/gid_shift added
// (0 for none); owner names in the archive are ignored, as `tar --numeric-owner`.
//
// Kept: modes (setuid too), symlinks, hardlinks, device nodes, FIFOs, mtimes, ACLs and xattrs
// where the filesystem and our privileges allow. Ownership is only set when running as root (a
// non-root caller gets its own ids and no error). A device node whose mknod(2) fails (EPERM in a
// user namespace) is skipped; skipped devices and lost xattrs are summed up in one warning line on
// stderr. An entry with an absolute path or a ".." component, a hardlink target of that kind, or a
// path through a symlink unpacked earlier is refused: the whole unpack fails (exit status 3).
// On failure dest_dir is left partly filled; the caller removes it (remove_tree()).
Status unpack_archive(const std::string& archive, const std::string& dest_dir, uint32_t uid_shift,
                      uint32_t gid_shift);

// Remove path and everything below it without following symlinks or crossing mount points.
// A missing path is fine. Used for unpacked roots and stale temp dirs.
Status remove_tree(const std::string& path);

}  // namespace berth::tmpl
