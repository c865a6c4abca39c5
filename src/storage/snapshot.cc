#include "storage/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/conf_file.h"
#include "core/unique_fd.h"
#include "sys/fs.h"

extern char** environ;

namespace berth::storage {

const SnapshotEntry* SnapshotIndex::find(const std::string& uuid) const {
  for (const auto& e : entries)
    if (e.uuid == uuid) return &e;
  return nullptr;
}

SnapshotEntry* SnapshotIndex::find(const std::string& uuid) {
  for (auto& e : entries)
    if (e.uuid == uuid) return &e;
  return nullptr;
}

Status SnapshotIndex::add(SnapshotEntry e) {
  if (find(e.uuid)) return Error::from_errno(EEXIST, "snapshot " + e.uuid + " already exists");
  e.parent = current;
  current = e.uuid;
  entries.push_back(std::move(e));
  return {};
}

Status SnapshotIndex::remove(const std::string& uuid) {
  const SnapshotEntry* gone = find(uuid);
  if (!gone) return Error::from_errno(ENOENT, "no snapshot " + uuid);
  std::string parent = gone->parent;
  for (auto& e : entries)
    if (e.parent == uuid) e.parent = parent;
  if (current == uuid) current = parent;
  std::erase_if(entries, [&](const SnapshotEntry& e) { return e.uuid == uuid; });
  return {};
}

Status SnapshotIndex::set_current(const std::string& uuid) {
  if (!find(uuid)) return Error::from_errno(ENOENT, "no snapshot " + uuid);
  current = uuid;
  return {};
}

std::vector<const SnapshotEntry*> SnapshotIndex::children(const std::string& uuid) const {
  std::vector<const SnapshotEntry*> out;
  for (const auto& e : entries)
    if (e.parent == uuid) out.push_back(&e);
  return out;
}

std::string index_to_json(const SnapshotIndex& idx) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["current"] = idx.current;
  j["snapshots"] = nlohmann::ordered_json::array();
  for (const auto& e : idx.entries) {
    nlohmann::ordered_json s;
    s["uuid"] = e.uuid;
    s["parent_uuid"] = e.parent;
    s["name"] = e.name;
    s["description"] = e.description;
    s["date"] = e.date;
    s["size"] = e.size;
    s["file"] = e.file;
    s["has_config"] = e.has_config;
    if (!e.mounted_at.empty()) s["mounted_at"] = e.mounted_at;
    j["snapshots"].push_back(std::move(s));
  }
  return j.dump(2) + "\n";
}

Result<SnapshotIndex> index_from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("snapshots") || !j["snapshots"].is_array())
    return Error::from_errno(EINVAL, "snapshot index is not valid JSON of the expected form");
  SnapshotIndex idx;
  auto str = [](const nlohmann::json& o, const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  idx.current = str(j, "current");
  for (const auto& s : j["snapshots"]) {
    if (!s.is_object()) return Error::from_errno(EINVAL, "snapshot index: entry is not an object");
    SnapshotEntry e;
    e.uuid = str(s, "uuid");
    if (!valid_uuid(e.uuid))
      return Error::from_errno(EINVAL, "snapshot index: bad uuid `" + e.uuid + "`");
    e.parent = str(s, "parent_uuid");
    e.name = str(s, "name");
    e.description = str(s, "description");
    e.date = str(s, "date");
    if (auto it = s.find("size"); it != s.end() && it->is_number_unsigned())
      e.size = it->get<uint64_t>();
    e.file = str(s, "file");
    // The data file name comes back into paths: only what this code writes is taken.
    if (e.file != e.uuid && e.file != e.uuid + ".img")
      return Error::from_errno(EINVAL, "snapshot index: bad file `" + e.file + "`");
    if (auto it = s.find("has_config"); it != s.end() && it->is_boolean())
      e.has_config = it->get<bool>();
    e.mounted_at = str(s, "mounted_at");
    idx.entries.push_back(std::move(e));
  }
  if (!idx.current.empty() && !idx.find(idx.current)) idx.current.clear();
  return idx;
}

std::string new_uuid() {
  unsigned char b[16] = {};
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) {
    auto t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(t >> ((i % 8) * 8)) ^ i;
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

bool valid_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::optional<std::string> normalize_uuid(const std::string& in) {
  std::string s = in;
  if (s.size() == 38 && s.front() == '{' && s.back() == '}') s = s.substr(1, 36);
  if (!valid_uuid(s)) return std::nullopt;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string snapshots_dir(const CtConfig& ct) {
  if (ct.layout() == Layout::kSimfs) return ct.ve_private() + ".snapshots";
  return ct.ve_private() + "/snapshots";
}

std::string snapshot_index_path(const CtConfig& ct) { return snapshots_dir(ct) + "/index.json"; }

Result<SnapshotIndex> load_index(const CtConfig& ct) {
  std::string path = snapshot_index_path(ct);
  if (!sys::path_exists(path)) return SnapshotIndex{};
  BERTH_ASSIGN_OR_RETURN(std::string text, sys::read_file(path));
  auto idx = index_from_json(text);
  if (!idx.ok()) return std::move(idx).error().context("read `" + path + "`");
  return idx;
}

Status save_index(const CtConfig& ct, const SnapshotIndex& idx) {
  std::string dir = snapshots_dir(ct);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + dir + "`");
  return write_file_atomic(snapshot_index_path(ct), index_to_json(idx), 0600);
}

const char* copy_method_name(CopyMethod m) {
  switch (m) {
    case CopyMethod::kReflink: return "reflink";
    case CopyMethod::kSparse: return "sparse copy";
    case CopyMethod::kTree: return "tree copy";
  }
  return "?";
}

namespace {

// The data extents of in, copied to the same offsets of out (holes stay holes).
Status sparse_copy(int in, int out, off_t size, const std::string& what) {
  if (::ftruncate(out, size) != 0) return Error::from_errno(errno, "truncate copy of " + what);
  off_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(in, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      return Error::from_errno(errno, "seek data in " + what);
    }
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    if (hole < 0) return Error::from_errno(errno, "seek hole in " + what);
    off_t from = data, to = data;
    while (from < hole) {
      ssize_t n = ::copy_file_range(in, &from, out, &to, static_cast<size_t>(hole - from), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno(errno, "copy " + what);
      if (n == 0) break;  // the file shrank under us
    }
    pos = hole;
  }
  return {};
}

}  // namespace

Result<CopyMethod> copy_image(const std::string& src, const std::string& dst) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return Error::from_errno(errno, "open `" + src + "`");
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return Error::from_errno(errno, "stat `" + src + "`");
  if (!S_ISREG(st.st_mode)) return Error::from_errno(EINVAL, "`" + src + "` is not a file");
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return Error::from_errno(errno, "create `" + dst + "`");
  ScopeExit undo([&] { ::unlink(dst.c_str()); });
  CopyMethod how = CopyMethod::kReflink;
  if (::ioctl(out.get(), FICLONE, in.get()) != 0) {
    how = CopyMethod::kSparse;
    BERTH_RETURN_IF_ERROR(sparse_copy(in.get(), out.get(), st.st_size, "`" + src + "`"));
  }
  if (::fsync(out.get()) != 0) return Error::from_errno(errno, "fsync `" + dst + "`");
  undo.dismiss();
  return how;
}

Status copy_tree(const std::string& src, const std::string& dst) {
  if (sys::path_exists(dst)) return Error::from_errno(EEXIST, "copy to `" + dst + "`");
  // "--" and absolute paths: nothing of the names is read as an option.
  std::vector<std::string> args = {"/bin/cp", "-a", "--reflink=auto", "--", src, dst};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const char* bin = sys::path_exists("/bin/cp") ? "/bin/cp" : "/usr/bin/cp";
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, bin, nullptr, nullptr, argv.data(), environ);
  if (err != 0) return Error::from_errno(err, "run cp");
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for cp");
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    (void)sys::remove_tree(dst);
    return Error::from_errno(EIO, "cp -a `" + src + "` `" + dst + "` failed");
  }
  return {};
}

namespace {

// A tenant's tree may be deeper than the fds a process has: below kMaxDepth levels the size is not
// counted (the figure is informational; the image path has no such walk).
constexpr int kMaxDepth = 256;

uint64_t tree_bytes(int dirfd, dev_t dev, std::set<std::pair<dev_t, ino_t>>& seen, int depth) {
  uint64_t sum = 0;
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return 0;
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second)
      continue;
    sum += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode) && st.st_dev == dev && depth < kMaxDepth) {
      int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) sum += tree_bytes(sub, dev, seen, depth + 1);
    }
  }
  ::closedir(d);
  return sum;
}

}  // namespace

uint64_t allocated_bytes(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  uint64_t own = static_cast<uint64_t>(st.st_blocks) * 512;
  if (!S_ISDIR(st.st_mode)) return own;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return own;
  std::set<std::pair<dev_t, ino_t>> seen;
  return own + tree_bytes(fd, st.st_dev, seen, 0);
}

Status exchange_paths(const std::string& a, const std::string& b) {
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0)
    return Error::from_errno(errno, "exchange `" + a + "` and `" + b + "`");
  return {};
}

namespace {

// A directory of the tenant's tree, one name at a time: never through a symlink, never onto
// another mount.
UniqueFd open_dir_beneath(int dirfd, const char* name) {
  struct open_how how = {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, dirfd, name, &how, sizeof how)));
}

}  // namespace

Result<IdentityReset> reset_guest_identity(const std::string& root) {
  IdentityReset out;
  UniqueFd top(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!top) return Error::from_errno(errno, "open `" + root + "`");
  UniqueFd etc = open_dir_beneath(top.get(), "etc");
  if (!etc) return out;  // no /etc of its own (an overlay's upper layer that never changed it)
  struct stat st;
  // lstat only: a fifo is never opened, a symlink never followed.
  if (::fstatat(etc.get(), "machine-id", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
      st.st_size > 0) {
    unsigned char b[16] = {};
    if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
      return Error::from_errno(errno, "getrandom");
    char hex[34];
    for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
    hex[32] = '\n';
    const char* tmp = ".machine-id.berth-clone";
    ::unlinkat(etc.get(), tmp, 0);
    UniqueFd f(
        ::openat(etc.get(), tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
    if (!f) return Error::from_errno(errno, "create new /etc/machine-id in `" + root + "`");
    if (::write(f.get(), hex, 33) != 33 || ::fchown(f.get(), st.st_uid, st.st_gid) != 0 ||
        ::fchmod(f.get(), st.st_mode & 0777) != 0 || ::fsync(f.get()) != 0) {
      int err = errno;
      ::unlinkat(etc.get(), tmp, 0);
      return Error::from_errno(err, "write new /etc/machine-id in `" + root + "`");
    }
    if (::renameat(etc.get(), tmp, etc.get(), "machine-id") != 0)
      return Error::from_errno(errno, "rename new /etc/machine-id in `" + root + "`");
    out.machine_id = true;
  }
  UniqueFd ssh = open_dir_beneath(etc.get(), "ssh");
  if (!ssh) return out;
  std::vector<std::string> keys;
  UniqueFd list(::fcntl(ssh.get(), F_DUPFD_CLOEXEC, 0));
  DIR* d = list ? ::fdopendir(list.get()) : nullptr;
  if (!d) return Error::from_errno(errno, "list /etc/ssh in `" + root + "`");
  (void)list.release();
  while (struct dirent* e = ::readdir(d))
    if (std::string_view(e->d_name).rfind("ssh_host_", 0) == 0) keys.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& k : keys) {
    if (::fstatat(ssh.get(), k.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
      continue;
    if (::unlinkat(ssh.get(), k.c_str(), 0) == 0) ++out.ssh_keys_removed;
  }
  return out;
}

}  // namespace berth::storage
