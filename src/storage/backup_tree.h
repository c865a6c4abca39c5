// Reading a VPS's tree for a backup or an export, and writing one back for a restore or an
// import, always relative to a directory fd: every step is an *at() call on one name with
// O_NOFOLLOW or AT_SYMLINK_NOFOLLOW (parents are resolved with openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so a symlink the tenant made never leads the host out of the tree, and
// device nodes and FIFOs are never opened. The tenant owns every file: ids are taken as host ids
// of the VPS's range and stored unshifted; ids outside the range become 65534 (counted).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <utility>

#include "core/error.h"
#include "storage/backup_index.h"

namespace berth::storage {

struct WalkStats {
  uint64_t entries = 0, files = 0, bytes = 0;
  uint64_t foreign_ids = 0;  // owners outside the VPS's range, stored as 65534
  uint64_t sockets = 0;      // skipped
};

// Walk the tree below root_fd in a stable order (parents first, names sorted). For each entry
// `visit` gets the entry without chunks; for a regular file also an fd open for reading (else
// -1). The root itself is not an entry. Mount points below the root are listed, not entered.
// unchanged (optional): asked first for each entry, with its path, mode, owner and mtime filled
// in and its lstat; true skips it (no xattrs read, no file opened, not visited; a directory is
// still entered): a migration's delta pass over what it sent already.
using SkipUnchanged = std::function<bool(const IndexEntry&, const struct stat&)>;
Status walk_tree(int root_fd, uint32_t uid_base, uint32_t gid_base,
                 const std::function<Status(IndexEntry&, int fd)>& visit, WalkStats* stats,
                 const SkipUnchanged& unchanged = {});

// Extended attributes of the object fd refers to (an O_PATH fd works, symlinks too), sorted,
// without trusted.overlay.* (overlayfs's own).
Result<std::vector<std::pair<std::string, std::string>>> read_xattrs(int fd);

// Makes a tree below root_fd equal to a list of entries given in walk order: an entry that is
// there already with the same type, size, mtime, mode, owner and xattrs is left as it is (so a
// restore over an overlay keeps sharing the template's files), anything else is replaced;
// finish() removes what was not given and sets directory times. Ids are shifted into the
// VPS's range (shift_id); setuid/setgid survive only on ids inside it.
class TreeWriter {
 public:
  TreeWriter(int root_fd, uint32_t uid_base, uint32_t gid_base)
      : root_(root_fd), uid_base_(uid_base), gid_base_(gid_base) {}
  // A delta (live migration's later copies, runtime/tree_delta.h): the entries given are those
  // that changed, the rest of the tree stays. A regular file given is always written again (its
  // content changed, whatever its size and mtime say), a hardlink may name a file of the tree
  // not given, finish() removes nothing; the directories whose entries put() or remove() changed
  // get their times back unless they were given themselves.
  void set_delta() { delta_ = true; }
  // Delta only: remove path (a tree path; a whole directory with what is in it) if it is there.
  // Nothing is followed: a parent that is a symlink, not a directory, or on another mount means
  // the path is not in the tree, and nothing is removed.
  Status remove(const std::string& path);
  uint64_t removed() const { return removed_; }
  // write_data fills a new regular file (fd open for writing, empty). A hardlink's target must be
  // a file given earlier; a path through a symlink is refused.
  Status put(const IndexEntry& e, const std::function<Status(int fd)>& write_data);
  Status finish();
  uint64_t written() const { return written_; }
  uint64_t kept() const { return kept_; }

 private:
  Result<int> parent_fd(const std::string& path, std::string* name);
  Status remove_unlisted(int dir_fd, const std::string& prefix);
  bool is_file_of_tree(const std::string& path);
  void keep_parent_time(const std::string& path, int pfd);
  int root_;
  bool delta_ = false;
  std::map<std::string, struct timespec> parent_times_;  // delta: to set back in finish()
  uint32_t uid_base_, gid_base_;
  std::set<std::string> listed_;
  std::set<std::string> files_;  // regular files given (hardlink targets)
  std::set<std::pair<dev_t, ino_t>> kept_inodes_;
  std::vector<std::pair<std::string, int64_t>> dir_times_;
  std::string cached_parent_;
  int cached_fd_ = -1;
  uint64_t written_ = 0, kept_ = 0, removed_ = 0;

 public:
  ~TreeWriter();
  TreeWriter(const TreeWriter&) = delete;
  TreeWriter& operator=(const TreeWriter&) = delete;
};

// Remove name (a tree, not following symlinks, not crossing mounts) below dir_fd.
Status remove_at(int dir_fd, const std::string& name);

}  // namespace berth::storage
