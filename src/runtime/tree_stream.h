// A CT's tree as a stream, for migration (runtime/migrate.h); made and read in runtime/backup.cc
// with the export and import code of backups (a header of its own: migrate needs this, not the
// backup store's API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "runtime/set.h"
#include "storage/backup_index.h"
#include "storage/backup_tree.h"

namespace berth::runtime {

struct StreamReport {
  uint64_t entries = 0;
  uint64_t logical = 0;  // bytes of the files
  uint64_t bytes = 0;    // bytes of the compressed stream
  uint64_t sent = 0;     // entries in the stream (all of the tree's, unless a pass selects)
  bool consistent = true;
};

// A pass of live migration over the tree (runtime/tree_delta.h). live: read the running CT's
// tree as it is, without a temporary snapshot (a later pass sends again what changes meanwhile).
// select: called for every entry of the walk with its ctime; false leaves it out of the stream.
struct ExportPass {
  bool live = false;
  std::function<bool(const storage::IndexEntry&, int64_t ctime_ns)> select;
  // Asked before anything is read of an entry (storage::walk_tree's SkipUnchanged).
  storage::SkipUnchanged unchanged;
};

// ve.conf and rootfs/ as a zstd-compressed pax archive, the format of `backup --export`, handed
// to sink block by block. A running CT is read from a temporary snapshot, as backup does.
using ByteSink = std::function<Status(const void* data, size_t n)>;
Result<StreamReport> export_stream(const CtConfig& ct, const ByteSink& sink, bool progress,
                                   const ExportPass& pass = {});

// The receiving end: src fills buf with up to n bytes of such a stream (0 at its end). The
// archive is hostile input and gets import's rules (no device nodes, nothing out of the tree, only
// user.* xattrs, ids shifted into the CT's range). existing=false: CT ctid is created from
// conf_text (as restore --import makes it: this host's paths, a new id range) and removed again
// on failure; existing=true: the existing CT's tree is made equal to the stream's. keep_ids:
// the CT keeps the stream config's LOCAL_UID/LOCAL_GID (a live migration: the checkpoint's user
// namespace maps to them; create refuses them when taken here). The caller
// holds the CT's lock.
using ByteSource = std::function<Result<size_t>(void* buf, size_t n)>;
Status import_stream(const HostConfig& host, const std::string& ctid, const std::string& conf_text,
                     const ByteSource& src, bool existing, const Say& say, bool keep_ids = false);

// A snapshot's tree (runtime/snapshot.h snapshot_tree: a copy of the upper layer or of a simfs
// tree) as such a stream, without ve.conf: its entries are below rootfs/, owners unshifted by
// ct's range. Overlay whiteouts (character devices 0:0) are entries like any other, an opaque
// directory carries trusted.overlay.opaque. pass.select
// may leave entries out (a snapshot image's file system: only its tree).
Result<StreamReport> export_dir_stream(const CtConfig& ct, const std::string& dir,
                                       const ByteSink& sink, const ExportPass& pass = {});
// The receiving end: the stream's tree written below dir_fd (an empty directory) under import's
// rules, ids shifted into ct's range; the one device node made is an overlay whiteout (a
// character device 0:0, which no driver answers), the one xattr outside user.* a directory's
// trusted.overlay.opaque = "y". Checked against the stream at the end.
Status import_dir_stream(const CtConfig& ct, int dir_fd, const ByteSource& src);

// A delta of the existing CT ctid's tree (a stream made with ExportPass::select): its entries are
// written (runtime/tree_delta.h), then the paths removals() returns are removed, each resolved
// below the tree's root without following anything (storage::TreeWriter::remove). removals is
// called once the stream has ended. The caller holds the CT's lock.
struct DeltaReport {
  uint64_t written = 0, removed = 0;
};
Result<DeltaReport> import_delta_stream(
    const HostConfig& host, const std::string& ctid, const ByteSource& src,
    const std::function<Result<std::vector<std::string>>()>& removals);

}  // namespace berth::runtime
