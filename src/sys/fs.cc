#include "sys/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <cstring>

#include "core/unique_fd.h"

namespace berth::sys {

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "read `" + path + "`");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status write_file(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  ssize_t n;
  do n = ::write(fd.get(), data.data(), data.size());
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return Error::from_errno(errno,
                             "write `" + std::string(data.substr(0, 64)) + "` to `" + path + "`");
  return {};
}

Result<UniqueFd> open_in_root_of(pid_t pid, const std::string& rel, int flags) {
  std::string root = "/proc/" + std::to_string(pid) + "/root";
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open `" + root + "`");
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), rel.c_str(), &how, sizeof how)));
  if (!fd)
    return Error::from_errno(errno,
                             "open `" + rel + "` in the root of process " + std::to_string(pid));
  return fd;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static Status remove_at(int dirfd, const char* name, dev_t dev, const std::string& shown) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "stat `" + shown + "`");
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Error::from_errno(EBUSY, "remove `" + shown + "` (a mount point)");
    UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "open `" + shown + "`");
    DIR* d = ::fdopendir(fd.get());
    if (!d) return Error::from_errno(errno, "opendir `" + shown + "`");
    int dfd = fd.release();
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        names.emplace_back(e->d_name);
    }
    Status st_all;
    for (const auto& n : names) {
      auto r = remove_at(dfd, n.c_str(), dev, shown + "/" + n);
      if (!r.ok()) {
        ::closedir(d);
        return r;
      }
    }
    ::closedir(d);
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "rmdir `" + shown + "`");
    return {};
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "unlink `" + shown + "`");
  return {};
}

Status remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status{} : Error::from_errno(errno, "stat `" + path + "`");
  return remove_at(AT_FDCWD, path.c_str(), st.st_dev, path);
}

std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {
std::vector<std::string> all_mount_points() {
  std::vector<std::string> out;
  auto text = read_file("/proc/self/mountinfo");
  if (!text.ok()) return out;
  size_t pos = 0;
  const std::string& t = *text;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    if (nl == std::string::npos) nl = t.size();
    std::string_view line(t.data() + pos, nl - pos);
    // fields: id parent major:minor root mountpoint ...
    size_t p = 0;
    for (int f = 0; f < 4 && p != std::string_view::npos; ++f) p = line.find(' ', p + 1);
    if (p != std::string_view::npos) {
      size_t e = line.find(' ', p + 1);
      out.push_back(unescape_mountinfo(line.substr(p + 1, e - p - 1)));
    }
    pos = nl + 1;
  }
  return out;
}
}  // namespace

bool is_mount_point(const std::string& path) {
  // The kernel says whether path is the root of a mount: one statx, however many mounts the host
  // has (each mounted CT adds some). Where it cannot tell (an old kernel; a FUSE mount whose
  // server died answers ENOTCONN), the mount table is read.
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) == 0) {
    if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
      return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  } else if (errno == ENOENT || errno == ENOTDIR) {
    return false;
  }
  auto mps = all_mount_points();
  return std::find(mps.begin(), mps.end(), path) != mps.end();
}

std::vector<std::string> mounts_under(const std::string& prefix) {
  std::vector<std::string> out;
  for (auto& m : all_mount_points())
    if (m == prefix || (m.size() > prefix.size() && m.compare(0, prefix.size(), prefix) == 0 &&
                        m[prefix.size()] == '/'))
      out.push_back(m);
  std::reverse(out.begin(), out.end());  // later mounts (deeper, stacked) first
  return out;
}

std::optional<std::vector<uint64_t>> proc_stat_fields(pid_t pid) {
  auto s = read_file(pid > 0 ? "/proc/" + std::to_string(pid) + "/stat" : "/proc/self/stat");
  if (!s.ok()) return std::nullopt;
  size_t rp = s->rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::vector<uint64_t> out;
  for (const char* p = s->c_str() + rp + 1; *p == ' ';) {
    out.push_back(std::strtoull(p + 1, nullptr, 10));
    p = std::strchr(p + 1, ' ');
    if (p == nullptr) break;
  }
  return out;
}

std::optional<uint64_t> proc_start_time(pid_t pid) {
  auto f = proc_stat_fields(pid);
  if (!f || f->size() < 22 - 2) return std::nullopt;
  return (*f)[22 - 3];
}

std::optional<ProcStatus> proc_status(pid_t pid) {
  auto s = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!s.ok()) return std::nullopt;
  ProcStatus out;
  size_t t = s->find("\nThreads:");
  out.threads = t == std::string::npos ? 1 : std::strtoull(s->c_str() + t + 9, nullptr, 10);
  size_t k = s->find("\nNSpid:");
  if (k == std::string::npos) return out;
  size_t e = s->find('\n', k + 1);
  std::string line = s->substr(k + 7, e - k - 7);
  int levels = 0;
  pid_t last = 0;
  const char* p = line.c_str();
  char* end;
  for (;;) {
    long v = std::strtol(p, &end, 10);
    if (end == p) break;
    last = static_cast<pid_t>(v);
    ++levels;
    p = end;
  }
  if (levels > 0) out.inner = std::make_pair(last, levels);
  return out;
}

std::optional<std::pair<pid_t, int>> proc_inner_pid(pid_t pid) {
  auto st = proc_status(pid);
  return st ? st->inner : std::nullopt;
}

double uptime_seconds() {
  // What /proc/uptime's first number is (the boot-time clock), without a file read per call.
  struct timespec ts {};
  if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

uint64_t proc_threads(pid_t pid) {
  auto st = proc_status(pid);
  return st ? st->threads : 0;
}

}  // namespace berth::sys
