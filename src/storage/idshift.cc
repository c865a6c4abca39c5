#include "storage/idshift.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ct_config.h"
#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "sys/raw_calls.h"

namespace berth::storage {
namespace {

constexpr uint64_t kReportEvery = 4096;

// A directory entry (one name, no '/') of a directory already opened safely, as a directory:
// never through a symlink, never onto another mount.
Result<UniqueFd> open_subdir(int dirfd, const char* name) {
  int fd = sys::raw::openat2(
      dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (fd < 0) return Error::from_errno(errno, std::string("open directory `") + name + "`");
  return UniqueFd(fd);
}

// Walks one private area depth first; with shift set, changes owners (children before their
// directory, so the area's root, what area_owners() looks at, changes last).
class Walker {
 public:
  using IdMap = std::function<uint32_t(uint32_t)>;
  Walker(bool shift, IdMap uid, IdMap gid, std::function<void(uint64_t)> tick)
      : shift_(shift), uid_(std::move(uid)), gid_(std::move(gid)), tick_(std::move(tick)) {}

  Status dir(int fd, const std::string& path) {
    UniqueFd list_fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!list_fd) return Error::from_errno(errno, "dup");
    DIR* d = ::fdopendir(list_fd.get());
    if (!d) return Error::from_errno(errno, "list `" + path + "`");
    (void)list_fd.release();
    struct Closer {
      DIR* d;
      ~Closer() { ::closedir(d); }
    } closer{d};
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      BERTH_RETURN_IF_ERROR(entry(fd, e->d_name, path));
    }
    return {};
  }

  uint64_t seen() const { return seen_; }

  // The directory itself (fd), after its contents.
  Status self(int fd, const std::string& path) {
    count();
    if (!shift_) return {};
    struct stat st;
    if (::fstat(fd, &st) != 0) return Error::from_errno(errno, "stat `" + path + "`");
    return chown_fd(fd, st, path);
  }

 private:
  void count() {
    if (++seen_ % kReportEvery == 0 && tick_) tick_(seen_);
  }

  Status entry(int dirfd, const char* name, const std::string& parent) {
    std::string path = parent + "/" + name;
    struct stat st;
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Error::from_errno(errno, "stat `" + path + "`");
    if (S_ISDIR(st.st_mode)) {
      auto sub = open_subdir(dirfd, name);
      // Another file system mounted in the area (EXDEV) is not the area's: left alone.
      if (!sub.ok() && sub.error().code() == EXDEV) return {};
      if (!sub.ok()) return std::move(sub).error();
      BERTH_RETURN_IF_ERROR(dir(sub->get(), path));
      return self(sub->get(), path);
    }
    count();
    if (!shift_) return {};
    uid_t u = uid_(st.st_uid);
    gid_t g = gid_(st.st_gid);
    if (u == st.st_uid && g == st.st_gid) return {};
    // One name in a directory opened safely, not followed: a symlink's own owner changes.
    if (::fchownat(dirfd, name, u, g, AT_SYMLINK_NOFOLLOW) != 0)
      return Error::from_errno(errno, "chown `" + path + "`");
    // chown clears setuid/setgid on a regular file: put them back on that very inode.
    if (S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID))) {
      int fd = sys::raw::openat2(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC,
                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
      if (fd < 0) return Error::from_errno(errno, "open `" + path + "`");
      UniqueFd f(fd);
      struct stat now;
      if (::fstat(f.get(), &now) != 0 || now.st_ino != st.st_ino || !S_ISREG(now.st_mode))
        return Error::invalid("`" + path + "` changed during the shift");
      std::string self_path = "/proc/self/fd/" + std::to_string(f.get());
      if (::chmod(self_path.c_str(), st.st_mode & 07777) != 0)
        return Error::from_errno(errno, "chmod `" + path + "`");
    }
    return {};
  }

  Status chown_fd(int fd, const struct stat& st, const std::string& path) {
    uid_t u = uid_(st.st_uid);
    gid_t g = gid_(st.st_gid);
    if (u == st.st_uid && g == st.st_gid) return {};
    if (::fchown(fd, u, g) != 0 || ::fchmod(fd, st.st_mode & 07777) != 0)
      return Error::from_errno(errno, "chown `" + path + "`");
    return {};
  }

  bool shift_;
  IdMap uid_, gid_;
  std::function<void(uint64_t)> tick_;
  uint64_t seen_ = 0;
};

Result<uint64_t> walk_mapped(const std::string& priv, bool shift, Walker::IdMap uid,
                             Walker::IdMap gid, std::function<void(uint64_t)> tick) {
  UniqueFd root(::open(priv.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open private area `" + priv + "`");
  Walker w(shift, std::move(uid), std::move(gid), std::move(tick));
  BERTH_RETURN_IF_ERROR(w.dir(root.get(), priv));
  BERTH_RETURN_IF_ERROR(w.self(root.get(), priv));
  return w.seen();
}

Result<uint64_t> walk_area(const std::string& priv, bool shift, uint32_t uid, uint32_t gid,
                           std::function<void(uint64_t)> tick) {
  return walk_mapped(
      priv, shift, [uid](uint32_t id) { return shifted_id(id, uid); },
      [gid](uint32_t id) { return shifted_id(id, gid); }, std::move(tick));
}

}  // namespace

std::string idshift_marker(const std::string& priv) { return priv + ".idshift"; }

uint32_t shifted_id(uint32_t id, uint32_t base) { return id < kIdRangeSize ? base + id : id; }

Result<AreaOwners> area_owners(const std::string& priv, uint32_t uid) {
  struct stat st;
  if (::lstat(idshift_marker(priv).c_str(), &st) == 0) return AreaOwners::kShifting;
  UniqueFd root(::open(priv.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root || ::fstat(root.get(), &st) != 0)
    return Error::from_errno(errno, "open private area `" + priv + "`");
  auto in_ct_range = [uid](uid_t u) { return u >= uid && u - uid < kIdRangeSize; };
  if (st.st_uid != 0) return AreaOwners::kCtIds;
  // A root dir of uid 0 over entries in the CT's range is a shifted tree whose top directory was
  // made by host root (no "." entry in its archive): the CT's ids all the same.
  UniqueFd list_fd(::fcntl(root.get(), F_DUPFD_CLOEXEC, 0));
  DIR* d = list_fd ? ::fdopendir(list_fd.get()) : nullptr;
  if (!d) return Error::from_errno(errno, "list `" + priv + "`");
  (void)list_fd.release();
  bool shifted = false;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat est;
    if (::fstatat(root.get(), e->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
        in_ct_range(est.st_uid)) {
      shifted = true;
      break;
    }
  }
  ::closedir(d);
  return shifted ? AreaOwners::kCtIds : AreaOwners::kHostIds;
}

Status shift_area(const std::string& priv, uint32_t uid, uint32_t gid,
                  const std::function<void(const ShiftProgress&)>& progress) {
  // Below 65536, a shifted id could not be told from an unshifted one on a second walk.
  if (uid < kIdRangeSize || gid < kIdRangeSize)
    return Error::invalid("LOCAL_UID/LOCAL_GID must be at least 65536 to shift a private area",
                          exitcode::kBadValue);
  const std::string marker = idshift_marker(priv);
  ShiftProgress p;
  BERTH_ASSIGN_OR_RETURN(p.total, walk_area(priv, false, 0, 0, [&](uint64_t n) { p.total = n; }));
  BERTH_RETURN_IF_ERROR(write_file_atomic(
      marker, "uid=" + std::to_string(uid) + " gid=" + std::to_string(gid) + "\n", 0600));
  if (progress) progress(p);
  auto walked = walk_area(priv, true, uid, gid, [&](uint64_t n) {
    p.done = n;
    if (progress) progress(p);
  });
  if (!walked.ok()) return std::move(walked).error().context("shift owners of `" + priv + "`");
  p.done = p.total;
  if (progress) progress(p);
  if (::unlink(marker.c_str()) != 0) return Error::from_errno(errno, "remove `" + marker + "`");
  return {};
}

uint32_t moved_id(uint32_t id, uint32_t from, uint32_t to) {
  return id >= from && id - from < kIdRangeSize ? to + (id - from) : id;
}

Status move_id_range(const std::string& dir, uint32_t from_uid, uint32_t from_gid, uint32_t to_uid,
                     uint32_t to_gid) {
  auto walked = walk_mapped(
      dir, true, [=](uint32_t id) { return moved_id(id, from_uid, to_uid); },
      [=](uint32_t id) { return moved_id(id, from_gid, to_gid); }, nullptr);
  if (!walked.ok()) return std::move(walked).error().context("move owners of `" + dir + "`");
  return {};
}

}  // namespace berth::storage
