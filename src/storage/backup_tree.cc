#include "storage/backup_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <vector>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "sys/raw_calls.h"

namespace berth::storage {
namespace {

constexpr uint32_t kOverflow = 65534;

std::string proc_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<std::vector<std::string>> sorted_names(int dir_fd, const std::string& shown) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "open `" + shown + "`");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int err = errno;
    ::close(fd);
    return Error::from_errno(err, "opendir `" + shown + "`");
  }
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

struct Walker {
  uint32_t uid_base, gid_base;
  const std::function<Status(IndexEntry&, int)>& visit;
  WalkStats* stats;
  const SkipUnchanged& unchanged;
  std::map<std::pair<dev_t, ino_t>, std::string> links;

  void owner(const struct stat& st, IndexEntry& e) {
    bool in_u = unshift_id(st.st_uid, uid_base, &e.uid);
    bool in_g = unshift_id(st.st_gid, gid_base, &e.gid);
    e.mode = st.st_mode & 07777;
    if (!in_u || !in_g) {
      // Not the tenant's id: nothing it may own as itself, so no setuid/setgid either.
      if (!in_u) e.uid = kOverflow;
      if (!in_g) e.gid = kOverflow;
      e.mode &= ~06000u;
      ++stats->foreign_ids;
    }
  }

  // The entries of directory name (st: its lstat); a mount point is listed, not entered. Gone
  // meanwhile (a live tree): nothing.
  Status enter(int dfd, const std::string& name, const std::string& path, dev_t dev,
               const struct stat& st) {
    if (st.st_dev != dev) return {};
    UniqueFd sub(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) return {};
    if (!sub) return Error::from_errno(errno, "open `" + path + "`");
    return dir(sub.get(), path, dev);
  }

  Status dir(int dfd, const std::string& prefix, dev_t dev) {
    BERTH_ASSIGN_OR_RETURN(auto names, sorted_names(dfd, prefix.empty() ? "." : prefix));
    for (const auto& name : names) {
      std::string path = prefix.empty() ? name : prefix + "/" + name;
      struct stat st;
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile (a running VPS)
        return Error::from_errno(errno, "stat `" + path + "`");
      }
      IndexEntry e;
      e.path = path;
      owner(st, e);
      e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      if (S_ISSOCK(st.st_mode)) {
        ++stats->sockets;
        continue;
      }
      if (unchanged && unchanged(e, st)) {
        ++stats->entries;
        // Still the first name of its inode: a later name is a hardlink to it.
        if (S_ISREG(st.st_mode) && st.st_nlink > 1)
          links.emplace(std::make_pair(st.st_dev, st.st_ino), path);
        if (S_ISDIR(st.st_mode)) BERTH_RETURN_IF_ERROR(enter(dfd, name, path, dev, st));
        continue;
      }
      if (!S_ISLNK(st.st_mode)) {
        UniqueFd p(::openat(dfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (p) {
          auto x = read_xattrs(p.get());
          if (!x.ok()) return std::move(x).error().context("`" + path + "`");
          e.xattrs = std::move(*x);
        }
      }
      ++stats->entries;
      if (S_ISREG(st.st_mode)) {
        if (st.st_nlink > 1) {
          auto [it, fresh] = links.emplace(std::make_pair(st.st_dev, st.st_ino), path);
          if (!fresh) {
            e.type = EntryType::kHardlink;
            e.target = it->second;
            e.xattrs.clear();
            BERTH_RETURN_IF_ERROR(visit(e, -1));
            continue;
          }
        }
        UniqueFd fd(::openat(dfd, name.c_str(),
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOATIME | O_CLOEXEC));
        struct stat now;
        // A live tree (a running VPS, a migration's live pass): removed or replaced (renamed
        // over) since its stat: left out, as a file made after the walk passed would be.
        if ((!fd && (errno == ENOENT || errno == ELOOP)) ||
            (fd && ::fstat(fd.get(), &now) == 0 && now.st_ino != st.st_ino)) {
          if (st.st_nlink > 1) links.erase({st.st_dev, st.st_ino});
          --stats->entries;
          continue;
        }
        if (!fd) return Error::from_errno(errno, "open `" + path + "`");
        if (::fstat(fd.get(), &now) != 0 || !S_ISREG(now.st_mode))
          return Error::invalid("`" + path + "` changed while read");
        e.type = EntryType::kFile;
        e.size = static_cast<uint64_t>(now.st_size);
        ++stats->files;
        BERTH_RETURN_IF_ERROR(visit(e, fd.get()));
        stats->bytes += e.size;
      } else if (S_ISDIR(st.st_mode)) {
        e.type = EntryType::kDir;
        BERTH_RETURN_IF_ERROR(visit(e, -1));
        BERTH_RETURN_IF_ERROR(enter(dfd, name, path, dev, st));
      } else if (S_ISLNK(st.st_mode)) {
        e.type = EntryType::kSymlink;
        std::string buf(static_cast<size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
        ssize_t n = ::readlinkat(dfd, name.c_str(), buf.data(), buf.size());
        if (n < 0 && (errno == ENOENT || errno == EINVAL)) {  // removed or replaced (live)
          --stats->entries;
          continue;
        }
        if (n < 0) return Error::from_errno(errno, "readlink `" + path + "`");
        buf.resize(static_cast<size_t>(n));
        e.target = std::move(buf);
        BERTH_RETURN_IF_ERROR(visit(e, -1));
      } else {
        e.type = S_ISCHR(st.st_mode)   ? EntryType::kChar
                 : S_ISBLK(st.st_mode) ? EntryType::kBlock
                                       : EntryType::kFifo;
        e.rdev = st.st_rdev;
        BERTH_RETURN_IF_ERROR(visit(e, -1));
      }
    }
    return {};
  }
};

bool same_xattrs(int fd, const IndexEntry& e) {
  auto x = read_xattrs(fd);
  return x.ok() && *x == e.xattrs;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> read_xattrs(int fd) {
  // Through /proc/self/fd: the fd may be O_PATH (a FIFO or a device is never opened).
  std::string p = proc_fd(fd);
  std::vector<std::pair<std::string, std::string>> out;
  std::string names;
  for (;;) {
    ssize_t n = ::listxattr(p.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP || errno == EOPNOTSUPP) return out;
      return Error::from_errno(errno, "list xattrs");
    }
    names.assign(static_cast<size_t>(n), '\0');
    n = ::listxattr(p.c_str(), names.data(), names.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return Error::from_errno(errno, "list xattrs");
    names.resize(static_cast<size_t>(n));
    break;
  }
  size_t pos = 0;
  while (pos < names.size()) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    if (name.empty() || name.starts_with("trusted.overlay.")) continue;
    std::string value;
    for (;;) {
      ssize_t n = ::getxattr(p.c_str(), name.c_str(), nullptr, 0);
      if (n < 0) break;
      value.assign(static_cast<size_t>(n), '\0');
      n = ::getxattr(p.c_str(), name.c_str(), value.data(), value.size());
      if (n < 0 && errno == ERANGE) continue;
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        out.emplace_back(name, std::move(value));
      }
      break;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status walk_tree(int root_fd, uint32_t uid_base, uint32_t gid_base,
                 const std::function<Status(IndexEntry&, int)>& visit, WalkStats* stats,
                 const SkipUnchanged& unchanged) {
  struct stat st;
  if (::fstat(root_fd, &st) != 0) return Error::from_errno(errno, "stat the tree's root");
  Walker w{uid_base, gid_base, visit, stats, unchanged, {}};
  return w.dir(root_fd, "", st.st_dev);
}

Status remove_at(int dir_fd, const std::string& name) {
  struct stat st, parent;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Status() : Error::from_errno(errno, "stat `" + name + "`");
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "unlink `" + name + "`");
    return {};
  }
  if (::fstat(dir_fd, &parent) != 0) return Error::from_errno(errno, "stat parent");
  if (parent.st_dev != st.st_dev)
    return Error::invalid("`" + name + "` is a mount point; not removing it");
  UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) return Error::from_errno(errno, "open `" + name + "`");
  BERTH_ASSIGN_OR_RETURN(auto names, sorted_names(sub.get(), name));
  for (const auto& n : names)
    BERTH_RETURN_IF_ERROR(remove_at(sub.get(), n).context("`" + name + "`"));
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "rmdir `" + name + "`");
  return {};
}

TreeWriter::~TreeWriter() {
  if (cached_fd_ >= 0) ::close(cached_fd_);
}

Result<int> TreeWriter::parent_fd(const std::string& path, std::string* name) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    *name = path;
    return root_;
  }
  *name = path.substr(slash + 1);
  std::string parent = path.substr(0, slash);
  if (cached_fd_ >= 0 && parent == cached_parent_) return cached_fd_;
  int fd = sys::raw::openat2(
      root_, parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (fd < 0)
    return Error::from_errno(
               errno, "`" + parent + "` (parent of `" + path + "`) is not a directory of the tree")
        .status(exitcode::kArchiveRefused);
  if (cached_fd_ >= 0) ::close(cached_fd_);
  cached_fd_ = fd;
  cached_parent_ = parent;
  return fd;
}

Status TreeWriter::put(const IndexEntry& e, const std::function<Status(int fd)>& write_data) {
  if (!is_tree_path(e.path))
    return Error::with_status(exitcode::kArchiveRefused, "unsafe path `" + e.path + "`");
  if (!listed_.insert(e.path).second)
    return Error::with_status(exitcode::kArchiveRefused, "`" + e.path + "` given twice");
  std::string name;
  BERTH_ASSIGN_OR_RETURN(int pfd, parent_fd(e.path, &name));
  const uint32_t uid = shift_id(e.uid, uid_base_), gid = shift_id(e.gid, gid_base_);
  uint32_t mode = e.mode & 07777;
  if (e.uid >= 65536 || e.gid >= 65536) mode &= ~06000u;
  const struct timespec times[2] = {
      {e.mtime_ns / 1000000000, e.mtime_ns % 1000000000},
      {e.mtime_ns / 1000000000, e.mtime_ns % 1000000000},
  };
  auto attrs = [&](int fd, bool set_time) -> Status {
    if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
      return Error::from_errno(errno, "chown `" + e.path + "`");
    // After chown (which clears setuid/setgid); through /proc since the fd may be O_PATH.
    if (::chmod(proc_fd(fd).c_str(), mode) != 0)
      return Error::from_errno(errno, "chmod `" + e.path + "`");
    for (const auto& [k, v] : e.xattrs)
      if (::setxattr(proc_fd(fd).c_str(), k.c_str(), v.data(), v.size(), 0) != 0)
        return Error::from_errno(errno, "set xattr " + k + " on `" + e.path + "`");
    if (set_time && ::utimensat(AT_FDCWD, proc_fd(fd).c_str(), times, 0) != 0)
      return Error::from_errno(errno, "set mtime of `" + e.path + "`");
    return {};
  };

  struct stat st;
  bool exists = ::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists) {
    bool owner_mode = st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == mode;
    int64_t mt = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (e.type == EntryType::kDir && S_ISDIR(st.st_mode)) {
      UniqueFd fd(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Error::from_errno(errno, "open `" + e.path + "`");
      if (!owner_mode || !same_xattrs(fd.get(), e)) {
        // Old xattrs the backup lacks go; the rest is set again below.
        auto old = read_xattrs(fd.get());
        if (old.ok())
          for (const auto& [k, v] : *old) ::removexattr(proc_fd(fd.get()).c_str(), k.c_str());
        BERTH_RETURN_IF_ERROR(attrs(fd.get(), false));
      }
      dir_times_.emplace_back(e.path, e.mtime_ns);
      ++kept_;
      return {};
    }
    // A file kept as it is must not be another name of a file kept already (the backup says
    // they are two files); its other names that the backup lacks are removed by finish().
    if (e.type == EntryType::kFile && !delta_ && S_ISREG(st.st_mode) && owner_mode &&
        mt == e.mtime_ns && static_cast<uint64_t>(st.st_size) == e.size &&
        !kept_inodes_.count({st.st_dev, st.st_ino})) {
      UniqueFd fd(::openat(pfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (fd && same_xattrs(fd.get(), e)) {
        files_.insert(e.path);
        kept_inodes_.insert({st.st_dev, st.st_ino});
        ++kept_;
        return {};
      }
    }
    if (e.type == EntryType::kSymlink && S_ISLNK(st.st_mode) && st.st_uid == uid &&
        st.st_gid == gid && mt == e.mtime_ns) {
      std::string buf(e.target.size() + 1, '\0');
      ssize_t n = ::readlinkat(pfd, name.c_str(), buf.data(), buf.size());
      if (n >= 0 && static_cast<size_t>(n) == e.target.size() &&
          buf.compare(0, e.target.size(), e.target) == 0) {
        ++kept_;
        return {};
      }
    }
    if (e.type == EntryType::kHardlink && S_ISREG(st.st_mode) && is_file_of_tree(e.target)) {
      UniqueFd t(sys::raw::openat2(
          root_, e.target.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC,
          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
      struct stat ts;
      if (t && ::fstat(t.get(), &ts) == 0 && ts.st_dev == st.st_dev && ts.st_ino == st.st_ino) {
        files_.insert(e.path);
        ++kept_;
        return {};
      }
    }
    keep_parent_time(e.path, pfd);
    BERTH_RETURN_IF_ERROR(remove_at(pfd, name).context("replace `" + e.path + "`"));
  }
  keep_parent_time(e.path, pfd);
  ++written_;
  switch (e.type) {
    case EntryType::kDir: {
      if (::mkdirat(pfd, name.c_str(), 0700) != 0)
        return Error::from_errno(errno, "mkdir `" + e.path + "`");
      UniqueFd fd(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Error::from_errno(errno, "open `" + e.path + "`");
      BERTH_RETURN_IF_ERROR(attrs(fd.get(), false));
      dir_times_.emplace_back(e.path, e.mtime_ns);
      return {};
    }
    case EntryType::kFile: {
      UniqueFd fd(
          ::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) return Error::from_errno(errno, "create `" + e.path + "`");
      BERTH_RETURN_IF_ERROR(write_data(fd.get()).context("`" + e.path + "`"));
      BERTH_RETURN_IF_ERROR(attrs(fd.get(), true));
      files_.insert(e.path);
      return {};
    }
    case EntryType::kHardlink: {
      if (!is_file_of_tree(e.target))
        return Error::with_status(
            exitcode::kArchiveRefused,
            "hardlink `" + e.path + "` to `" + e.target + "`, not a file given before");
      std::string tname;
      size_t slash = e.target.rfind('/');
      UniqueFd tdir;
      int tfd = root_;
      tname = slash == std::string::npos ? e.target : e.target.substr(slash + 1);
      if (slash != std::string::npos) {
        tdir = UniqueFd(sys::raw::openat2(
            root_, e.target.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
            RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
        if (!tdir) return Error::from_errno(errno, "resolve `" + e.target + "`");
        tfd = tdir.get();
      }
      if (::linkat(tfd, tname.c_str(), pfd, name.c_str(), 0) != 0)
        return Error::from_errno(errno, "link `" + e.path + "` to `" + e.target + "`");
      files_.insert(e.path);
      return {};
    }
    case EntryType::kSymlink: {
      if (::symlinkat(e.target.c_str(), pfd, name.c_str()) != 0)
        return Error::from_errno(errno, "symlink `" + e.path + "`");
      if (::fchownat(pfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        return Error::from_errno(errno, "chown `" + e.path + "`");
      if (::utimensat(pfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        return Error::from_errno(errno, "set mtime of `" + e.path + "`");
      return {};
    }
    case EntryType::kChar:
    case EntryType::kBlock:
    case EntryType::kFifo: {
      mode_t type = e.type == EntryType::kChar    ? S_IFCHR
                    : e.type == EntryType::kBlock ? S_IFBLK
                                                  : S_IFIFO;
      if (::mknodat(pfd, name.c_str(), type | 0600, static_cast<dev_t>(e.rdev)) != 0)
        return Error::from_errno(errno, "mknod `" + e.path + "`");
      UniqueFd fd(::openat(pfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Error::from_errno(errno, "open `" + e.path + "`");
      return attrs(fd.get(), true);
    }
  }
  return Error::invalid("`" + e.path + "`: unknown entry type");
}

Status TreeWriter::remove_unlisted(int dir_fd, const std::string& prefix) {
  BERTH_ASSIGN_OR_RETURN(auto names, sorted_names(dir_fd, prefix.empty() ? "." : prefix));
  struct stat here;
  if (::fstat(dir_fd, &here) != 0) return Error::from_errno(errno, "stat `" + prefix + "`");
  for (const auto& n : names) {
    std::string path = prefix.empty() ? n : prefix + "/" + n;
    if (!listed_.count(path)) {
      BERTH_RETURN_IF_ERROR(remove_at(dir_fd, n).context("remove `" + path + "`"));
      continue;
    }
    struct stat st;
    if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_dev != here.st_dev)
      continue;
    UniqueFd sub(::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return Error::from_errno(errno, "open `" + path + "`");
    BERTH_RETURN_IF_ERROR(remove_unlisted(sub.get(), path));
  }
  return {};
}

bool TreeWriter::is_file_of_tree(const std::string& path) {
  if (files_.count(path)) return true;
  if (!delta_) return false;
  UniqueFd t(sys::raw::openat2(
      root_, path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
  struct stat st;
  return t && ::fstat(t.get(), &st) == 0 && S_ISREG(st.st_mode);
}

void TreeWriter::keep_parent_time(const std::string& path, int pfd) {
  if (!delta_) return;
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
  if (parent_times_.count(parent)) return;
  struct stat st;
  if (::fstat(pfd, &st) == 0) parent_times_.emplace(parent, st.st_mtim);
}

Status TreeWriter::remove(const std::string& path) {
  if (!delta_ || !is_tree_path(path))
    return Error::with_status(exitcode::kArchiveRefused, "unsafe removal `" + path + "`");
  std::string name;
  auto pfd = parent_fd(path, &name);
  // ENOENT, ENOTDIR, ELOOP (a symlink on the way), EXDEV (another mount): not in the tree.
  if (!pfd.ok()) return {};
  struct stat st;
  if (::fstatat(*pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  keep_parent_time(path, *pfd);
  // remove_at follows no symlink and stops at mount points.
  BERTH_RETURN_IF_ERROR(remove_at(*pfd, name).context("remove `" + path + "`"));
  ++removed_;
  return {};
}

Status TreeWriter::finish() {
  if (delta_) {
    // Deepest first, before the times of the directories given (which win).
    for (auto it = parent_times_.rbegin(); it != parent_times_.rend(); ++it) {
      UniqueFd own;
      int fd = root_;
      if (!it->first.empty()) {
        own = UniqueFd(sys::raw::openat2(
            root_, it->first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC,
            RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
        if (!own) continue;
        fd = own.get();
      }
      const struct timespec t[2] = {{0, UTIME_OMIT}, it->second};
      ::futimens(fd, t);
    }
  } else {
    BERTH_RETURN_IF_ERROR(remove_unlisted(root_, ""));
  }
  // Deepest first: setting a directory's time after its children were made.
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    UniqueFd fd(sys::raw::openat2(
        root_, it->first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
    if (!fd) continue;
    const struct timespec t[2] = {{it->second / 1000000000, it->second % 1000000000},
                                  {it->second / 1000000000, it->second % 1000000000}};
    ::futimens(fd.get(), t);
  }
  return {};
}

}  // namespace berth::storage
