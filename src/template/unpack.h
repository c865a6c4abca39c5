// Unpacking a template cache archive into a directory, with libarchive (never by running tar).
//
// Owns the archive -> directory step shared by the overlay layout (one read-only root per template,
// ids kept as in the archive) and the simfs layout (a private copy per CT, ids shifted into the
// CT's user-namespace range). Does not know where caches live or which CT uses them (cache.h).
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "template/entry_policy.h"

namespace berth::tmpl {

// Unpack archive (any tar flavour, compressed with gzip, xz, zstd, bzip2 or not) into dest_dir,
// which must exist and should be empty. Every entry goes through sanitize_entry()
// (entry_policy.h) with uid_shift/gid_shift as the VPS's id base (0 for none): ids 0..65535 are
// shifted, others become the overflow id 65534 and lose setuid/setgid; device nodes and sockets
// are not taken; only user.* and a sane security.capability xattr are kept. Owner names in the
// archive are ignored, as `tar --numeric-owner`.
//
// Kept: modes (setuid too, for in-range owners), symlinks, hardlinks to files of the archive,
// FIFOs, mtimes, ACLs (ids mapped) and the xattrs above where the filesystem and our privileges
// allow. Ownership is only set when running as root (a non-root caller gets its own ids and no
// error). What the rules changed, and entries libarchive could not fully restore, are summed up
// in one warning line each on stderr (and in *report when given). An entry with an absolute path
// or a ".." component, a hardlink target of that kind, or a path through a symlink unpacked earlier
// is refused: the whole unpack fails (exit status 3).
// On failure dest_dir is left partly filled; the caller removes it (remove_tree()).
Status unpack_archive(const std::string& archive, const std::string& dest_dir, uint32_t uid_shift,
                      uint32_t gid_shift, EntryReport* report = nullptr);

// The same for a directory tree instead of an archive (an OpenVZ private area, a received tree):
// read with libarchive's disk reader (symlinks not followed, one file system), every entry through
// sanitize_entry() with src's ids taken as the VPS's ids, hardlinks kept between files of the tree.
Status import_tree(const std::string& src_dir, const std::string& dest_dir, uint32_t uid_shift,
                   uint32_t gid_shift, EntryReport* report = nullptr);

// Remove path and everything below it without following symlinks or crossing mount points.
// A missing path is fine. Used for unpacked roots and stale temp dirs.
Status remove_tree(const std::string& path);

}  // namespace berth::tmpl
