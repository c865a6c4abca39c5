// What changed in a CT's tree since a copy of it was sent: live migration sends the whole tree
// once while the CT runs, then only the difference (a second pass while it still runs, and the
// last one while it is frozen). Pure bookkeeping, no I/O: the passes' walks feed it.
//
// A pass starts at a time T (start_pass, taken before its view of the tree is made: a snapshot is
// frozen or the live tree is read after it). The record keeps, for each path a pass sent, what it
// sent (type, size, mode, owner, mtime, symlink or hardlink target, device number). The next pass
// sends an entry when its path is new, when anything recorded differs, or when its ctime is at or
// after the previous pass's T: every change to a file (content, mode, owner, xattrs, a new
// hardlink) sets its ctime to the current time, and the ctime cannot be set back from inside the
// VPS. T is taken a second earlier than the clock says: the kernel stamps files with a coarse
// clock, so a change made just after T can carry a ctime a few ms before it. Paths of the record
// that a pass did not see are gone: finish_pass lists them (only the topmost of a removed
// directory) for the receiver to remove.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "storage/backup_index.h"

namespace berth::runtime {

// How far before a pass's clock reading its changes count (the coarse-clock margin above).
inline constexpr int64_t kDeltaMarginNs = 1000000000;

class TreeRecord {
 public:
  // now_ns: CLOCK_REALTIME before the pass's view of the tree is made.
  void start_pass(int64_t now_ns);
  // One entry of the pass's walk (parents before children): true when it is to be sent (and it is
  // recorded as sent); false when the receiver holds it as it is.
  bool visit(const storage::IndexEntry& e, int64_t ctime_ns);
  // Before visit, from a stat alone (kind: kFile for any regular file): true when the entry is
  // surely unchanged (in the record, ctime before the last pass's start, type, mode, owner, mtime,
  // a file's size and a device's number as recorded); it then counts as seen and the walk skips
  // it. false: visit decides.
  bool unchanged(const storage::IndexEntry& e, storage::EntryType kind, uint64_t size,
                 uint64_t rdev, int64_t ctime_ns);
  // The end of a pass: the recorded paths it did not see, sorted, without those below another
  // (removing a directory removes what is in it); they leave the record.
  std::vector<std::string> finish_pass();
  size_t size() const { return entries_.size(); }
  bool first_pass() const { return since_ns_ == kNever; }

 private:
  struct Sent {
    storage::EntryType type;
    uint32_t mode, uid, gid;
    int64_t mtime_ns;
    uint64_t size, rdev;
    std::string target;
    bool seen;  // by the pass under way (not part of what was sent)
    bool same_as(const Sent& o) const {
      return type == o.type && mode == o.mode && uid == o.uid && gid == o.gid &&
             mtime_ns == o.mtime_ns && size == o.size && rdev == o.rdev && target == o.target;
    }
  };
  static Sent sig(const storage::IndexEntry& e);
  static constexpr int64_t kNever = INT64_MIN;
  int64_t since_ns_ = kNever;    // the last finished pass's T: changes from then on are sent
  int64_t pending_ns_ = kNever;  // this pass's T
  std::map<std::string, Sent> entries_;
};

// The wire form of a removal list: paths separated by NUL bytes, cut into payloads of at most
// max_bytes (a path is never cut).
std::vector<std::string> encode_removals(const std::vector<std::string>& paths, size_t max_bytes);
// The receiver's side: hostile input. Every path must be a tree path (relative, no empty, "." or
// ".." component, storage::is_tree_path); an empty payload is an empty list.
Result<std::vector<std::string>> parse_removals(std::string_view payload);

}  // namespace berth::runtime
