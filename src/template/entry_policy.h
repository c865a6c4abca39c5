// What Berth takes from a file tree that comes from outside: the one rule set for every import
// path.
//
// Template caches (both layouts), OpenVZ private areas, backups and migration streams all end up as
// a stream of libarchive entries written to disk (archive_read_disk can turn a directory tree into
// the same entries). Whoever wrote that stream is hostile: a template author, or the root user of
// the VPS a backup or migration stream was taken from. sanitize_entry() is called on each entry
// before it is written and makes it safe for the host and for the neighbours:
//
//  - ids: an owner, group or ACL qualifier in 0..65535 (the VPS's id range) becomes base + id; any
//    other value (65536 and up, "-1", 2^32 and up) becomes the VPS's overflow id 65534 (nobody),
//    never a host id outside the VPS's range;
//  - a file whose owner or group had to be changed loses its setuid and setgid bits;
//  - device nodes and sockets are never taken (a VPS's /dev is made by Berth at start);
//  - a hardlink must name a regular file written earlier from the same stream;
//  - extended attributes: user.* is kept; security.capability only as a well-formed v2/v3 value,
//    rewritten so that its root id is the VPS's root (base + rootid); everything else (trusted.*,
//    including trusted.overlay.*, other security.* labels, system.*) is dropped;
//  - ACL entries naming a user or group get the same id mapping; entries naming an id outside the
//    range are dropped.
// What was changed is counted in an EntryReport and summed up in one warning line by the caller.
// Not covered here: paths (absolute, "..", through symlinks: unpack.cc and libarchive's SECURE
// flags), file sizes and sparse files (disk quota).
#pragma once

#include <cstdint>
#include <set>
#include <string>

struct archive_entry;

namespace berth::tmpl {

inline constexpr uint32_t kCtIdCount = 65536;     // ids 0..65535 exist in a VPS
inline constexpr uint32_t kCtOverflowId = 65534;  // the kernel's overflowuid/gid: "nobody"

// Where the VPS's ids 0..65535 live on the host: host id = base + id. 0 for the shared overlay
// lower layer (ids kept as in the VPS; the idmapped mount shifts them) and for privileged CTs.
struct IdPolicy {
  uint32_t uid_base = 0;
  uint32_t gid_base = 0;
};

// Counts (and first examples) of what sanitize_entry() changed, for one warning line.
class EntryReport {
 public:
  void note(unsigned& count, std::string& first, const std::string& example) {
    if (count++ == 0) first = example;
  }
  // "" when nothing was changed; else a '; '-separated summary ("2 device node(s) not taken
  // (first: ./dev/console); ...").
  std::string summary() const;
  bool empty() const { return summary().empty(); }

  unsigned specials = 0, ids_mapped = 0, setid_dropped = 0, xattrs_dropped = 0, acl_dropped = 0,
           hardlinks_dropped = 0;
  std::string first_special, first_id, first_setid, first_xattr, first_acl, first_hardlink;
};

enum class EntryVerdict { kWrite, kSkip };

// The state sanitize_entry() keeps across one stream: regular files written so far (hardlink
// targets) and entries skipped. Paths are as the caller passes them (normalize consistently).
struct StreamState {
  std::set<std::string> files;
};

// Apply the rules above to entry, in place. rel is the entry's path relative to the tree and
// link_rel its hardlink target (relative; "" when none), both normalized by the caller; used only
// for bookkeeping and messages. kSkip: do not write this entry (its data is skipped by reading
// the next header). Never fails: whatever cannot be made safe is dropped and reported.
EntryVerdict sanitize_entry(struct archive_entry* entry, const std::string& rel,
                            const std::string& link_rel, const IdPolicy& policy, StreamState& state,
                            EntryReport& report);

// Map one id of the stream to the host: base + id when id is in 0..65535, else base + 65534 and
// *changed = true.
uint32_t map_id(int64_t id, uint32_t base, bool* changed);

// The security.capability value to write for value (size bytes) from the stream, or "" to drop
// it: only v2 (20 bytes) and v3 (24 bytes, root id in 0..65535) values are taken; the result is
// v2 when the root id ends up as host 0, else v3 with root id base + rootid.
std::string sanitize_file_caps(const void* value, size_t size, uint32_t uid_base);

}  // namespace berth::tmpl
