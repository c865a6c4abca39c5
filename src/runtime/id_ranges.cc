// reserve_id_range() / release_id_range() over /etc/subuid and /etc/subgid (id_ranges.h).
//
// The shadow lock is shadow-utils' commonio_lock_nowait(): write our pid into `<file>.<pid>`,
// link(2) it to `<file>.lock`; the link fails while another process holds the lock, and a lock
// whose pid is dead is stale and removed. useradd, usermod and newusers use the same protocol.
#include "runtime/id_ranges.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/conf_file.h"
#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "sys/lock.h"

namespace berth::runtime {
namespace {

class ShadowLock {
 public:
  ShadowLock() = default;
  ShadowLock(const ShadowLock&) = delete;
  ShadowLock& operator=(const ShadowLock&) = delete;
  ShadowLock(ShadowLock&& o) noexcept : lock_(std::move(o.lock_)) { o.lock_.clear(); }
  ~ShadowLock() {
    if (!lock_.empty()) ::unlink(lock_.c_str());
  }

  static Result<ShadowLock> acquire(const std::string& file) {
    const std::string lock = file + ".lock";
    const std::string mine = file + "." + std::to_string(::getpid());
    {
      UniqueFd fd(
          ::open(mine.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!fd) return Error::from_errno(errno, "create `" + mine + "`");
      std::string pid = std::to_string(::getpid());
      if (::write(fd.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size()))
        return Error::from_errno(errno, "write `" + mine + "`");
    }
    ScopeExit drop_mine([&] { ::unlink(mine.c_str()); });
    for (int attempt = 0; attempt < 150; ++attempt) {
      if (::link(mine.c_str(), lock.c_str()) == 0) {
        ShadowLock l;
        l.lock_ = lock;
        return l;
      }
      if (errno != EEXIST) return Error::from_errno(errno, "lock `" + file + "`");
      std::ifstream in(lock);
      long holder = 0;
      if (in >> holder && holder > 0 && ::kill(static_cast<pid_t>(holder), 0) != 0 &&
          errno == ESRCH) {
        // Stale: its owner is gone (killed). Its pid file goes too.
        ::unlink(lock.c_str());
        ::unlink((file + "." + std::to_string(holder)).c_str());
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Error::with_status(exitcode::kLocked, "`" + lock + "` is held by another process");
  }

 private:
  std::string lock_;
};

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::string();
    return Error::from_errno(errno, "open `" + path + "`");
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read `" + path + "`");
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

// Replace path with text atomically, keeping the old file's mode and owner (0644 root for a new
// one).
Status write_file(const std::string& path, const std::string& text) {
  struct stat st {};
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  if (::stat(path.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
    uid = st.st_uid;
    gid = st.st_gid;
  }
  std::string tmp = path + ".berth-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "create temp file for `" + path + "`");
  ScopeExit undo([&] { ::unlink(tmp.c_str()); });
  for (size_t off = 0; off < text.size();) {
    ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "write `" + tmp + "`");
    off += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0 || ::fchown(fd.get(), uid, gid) != 0 || ::fsync(fd.get()) != 0)
    return Error::from_errno(errno, "finish `" + tmp + "`");
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::from_errno(errno, "replace `" + path + "`");
  undo.dismiss();
  return {};
}

// text without the lines of owner, then (when line is not empty) line appended.
std::string replace_owner_lines(const std::string& text, const std::string& owner,
                                const std::string& line) {
  std::string out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(owner + ":", 0) == 0) continue;
    out += l + "\n";
  }
  return out + line;
}

// Temp files of a write_file() that was killed (`<file>.berth-*`; only called with both locks held,
// so no other Berth process is writing one), and lock pid files (`<file>.<pid>`) of dead processes.
void remove_stale_temp_files(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1) + ".";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (!n.starts_with(base)) continue;
    std::string_view rest = n.substr(base.size());
    bool stale = rest.starts_with("berth-");
    if (!rest.empty() && rest.size() < 10 &&
        rest.find_first_not_of("0123456789") == std::string_view::npos)
      stale = ::kill(static_cast<pid_t>(std::stol(std::string(rest))), 0) != 0 && errno == ESRCH;
    if (stale) ::unlinkat(dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
}

// Rewrite one subordinate-id file under its shadow lock: drop owner's lines, append line.
Status update_file(const std::string& path, const std::string& owner, const std::string& line) {
  BERTH_ASSIGN_OR_RETURN(ShadowLock lock, ShadowLock::acquire(path));
  remove_stale_temp_files(path);
  BERTH_ASSIGN_OR_RETURN(std::string text, read_file(path));
  std::string updated = replace_owner_lines(text, owner, line);
  if (updated == text) return {};
  return write_file(path, updated);
}

// LOCAL_UID/LOCAL_GID of this instance's CT configs, as ranges.
std::vector<SubIdRange> instance_ranges(const HostConfig& host) {
  std::vector<SubIdRange> used;
  DIR* d = ::opendir(host.paths().conf_dir.c_str());
  if (!d) return used;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.compare(n.size() - 5, 5, ".conf") != 0) continue;
    auto f = ConfFile::load(host.paths().conf_dir + "/" + n);
    if (!f.ok()) continue;
    for (const char* key : {"LOCAL_UID", "LOCAL_GID"})
      if (auto v = f->get(key)) {
        uint64_t base = std::strtoull(v->c_str(), nullptr, 10);
        if (base != 0) used.push_back({n.substr(0, n.size() - 5), base, kIdRangeSize});
      }
  }
  ::closedir(d);
  return used;
}

}  // namespace

std::vector<SubIdRange> parse_subid(const std::string& text) {
  std::vector<SubIdRange> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l[0] == '#') continue;
    size_t a = l.find(':'), b = a == std::string::npos ? a : l.find(':', a + 1);
    if (b == std::string::npos || a == 0) continue;
    std::string s = l.substr(a + 1, b - a - 1), c = l.substr(b + 1);
    if (s.empty() || c.empty() || s.find_first_not_of("0123456789") != std::string::npos ||
        c.find_first_not_of("0123456789") != std::string::npos || s.size() > 19 || c.size() > 19)
      continue;
    out.push_back({l.substr(0, a), std::stoull(s), std::stoull(c)});
  }
  return out;
}

std::string range_owner(const HostConfig& host, const std::string& ctid) {
  std::string inst = host.instance();
  for (char& ch : inst)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-'))
      ch = '_';
  return inst + "." + ctid;
}

uint32_t first_free_base(const std::vector<SubIdRange>& used, uint32_t first, uint32_t size) {
  for (uint64_t base = first; base + size <= (uint64_t{1} << 32); base += size) {
    bool clash = std::any_of(used.begin(), used.end(), [&](const SubIdRange& r) {
      return r.count != 0 && r.start < base + size && base < r.start + r.count;
    });
    if (!clash) return static_cast<uint32_t>(base);
  }
  return 0;
}

Result<uint32_t> reserve_id_range(const HostConfig& host, const std::string& ctid,
                                  std::optional<FixedIds> fixed, const HostIdFiles& files) {
  const std::string what = "reserve a user id range";
  BERTH_ASSIGN_OR_RETURN(
      sys::FileLock lock,
      std::move(sys::FileLock::acquire(files.lock, true, "id range allocation")).context(what));
  const std::string owner = range_owner(host, ctid);
  FixedIds ids = fixed.value_or(FixedIds{});
  if (!fixed) {
    std::vector<SubIdRange> used = instance_ranges(host);
    for (const std::string& f : {files.subuid, files.subgid}) {
      BERTH_ASSIGN_OR_RETURN(std::string text, std::move(read_file(f)).context(what));
      for (auto& r : parse_subid(text))
        if (r.owner != owner) used.push_back(std::move(r));
    }
    uint32_t base = first_free_base(used, kDefaultLocalUid, kIdRangeSize);
    if (base == 0)
      return Error::with_status(exitcode::kResource, "no free user id range left").context(what);
    ids = {base, base};
  }
  if (ids.uid == 0) return 0u;  // a privileged CT: no range
  auto line = [&owner](uint32_t base) {
    return owner + ":" + std::to_string(base) + ":" + std::to_string(kIdRangeSize) + "\n";
  };
  BERTH_RETURN_IF_ERROR(update_file(files.subuid, owner, line(ids.uid)).context(what));
  auto st = update_file(files.subgid, owner, line(ids.gid));
  if (!st.ok()) {
    (void)update_file(files.subuid, owner, "");
    return std::move(st).error().context(what);
  }
  return ids.uid;
}

bool id_range_registered(const HostConfig& host, const std::string& ctid,
                         const HostIdFiles& files) {
  const std::string owner = range_owner(host, ctid);
  for (const std::string& path : {files.subuid, files.subgid}) {
    auto text = read_file(path);
    if (!text.ok()) continue;
    for (const auto& r : parse_subid(*text))
      if (r.owner == owner) return true;
  }
  return false;
}

Status release_id_range(const HostConfig& host, const std::string& ctid, const HostIdFiles& files) {
  const std::string what = "release the user id range";
  BERTH_ASSIGN_OR_RETURN(
      sys::FileLock lock,
      std::move(sys::FileLock::acquire(files.lock, true, "id range allocation")).context(what));
  const std::string owner = range_owner(host, ctid);
  BERTH_RETURN_IF_ERROR(update_file(files.subuid, owner, "").context(what));
  return update_file(files.subgid, owner, "").context(what);
}

}  // namespace berth::runtime
