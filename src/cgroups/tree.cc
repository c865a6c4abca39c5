#include "cgroups/tree.h"

#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "core/unique_fd.h"

namespace berth::cgroups {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;

// Names of the sub-groups of the group dirfd names.
std::vector<std::string> sub_names(int dirfd) {
  std::vector<std::string> out;
  // cgroupfs (kernfs) keeps a directory's link count at 2 + its sub-directories: a leaf group,
  // which most are, needs no listing (one fstat instead of seven calls; `list` reads every CT's).
  struct stat st {};
  if (::fstat(dirfd, &st) == 0 && st.st_nlink == 2) return out;
  int dup = ::openat(dirfd, ".", kDirFlags);
  if (dup < 0) return out;
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return out;
  }
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 &&
        std::strcmp(e->d_name, "..") != 0)
      out.emplace_back(e->d_name);
  ::closedir(d);
  return out;
}

}  // namespace

std::vector<pid_t> procs_at(int dirfd) {
  std::vector<pid_t> out;
  UniqueFd fd(::openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC));
  if (!fd) return out;
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  long v = 0;
  bool in = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      v = v * 10 + (c - '0');
      in = true;
    } else {
      if (in) out.push_back(static_cast<pid_t>(v));
      v = 0;
      in = false;
    }
  }
  if (in) out.push_back(static_cast<pid_t>(v));
  return out;
}

bool write_at(int dirfd, const char* file, const std::string& value) {
  UniqueFd fd(::openat(dirfd, file, O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::write(fd.get(), value.data(), value.size()) == static_cast<ssize_t>(value.size());
}

int walk_tree(const std::string& dir, const std::function<void(int dirfd)>& visit, bool remove) {
  UniqueFd cur(::open(dir.c_str(), kDirFlags));
  if (!cur) return errno;
  struct Level {
    std::string name;               // this group's name in its parent ("" for dir)
    std::vector<std::string> todo;  // sub-groups not visited yet
  };
  visit(cur.get());
  std::vector<Level> stack;
  stack.push_back({"", sub_names(cur.get())});
  int first_err = 0;
  while (!stack.empty()) {
    Level& top = stack.back();
    if (!top.todo.empty()) {
      std::string name = std::move(top.todo.back());
      top.todo.pop_back();
      UniqueFd child(::openat(cur.get(), name.c_str(), kDirFlags));
      if (!child) continue;  // gone meanwhile
      cur = std::move(child);
      visit(cur.get());
      auto subs = sub_names(cur.get());
      stack.push_back({std::move(name), std::move(subs)});
      continue;
    }
    if (stack.size() == 1) break;
    std::string name = std::move(top.name);
    stack.pop_back();
    UniqueFd parent(::openat(cur.get(), "..", kDirFlags));
    if (!parent) return errno;
    cur = std::move(parent);
    if (remove && ::unlinkat(cur.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT &&
        !first_err)
      first_err = errno;
  }
  return first_err;
}

std::vector<pid_t> tree_procs(const std::string& dir) {
  std::vector<pid_t> out;
  walk_tree(
      dir,
      [&](int fd) {
        auto p = procs_at(fd);
        out.insert(out.end(), p.begin(), p.end());
      },
      false);
  return out;
}

int remove_tree(const std::string& dir) {
  int err = walk_tree(
      dir, [](int) {}, true);
  if (err == ENOENT) return 0;
  if (err) return err;
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return errno;
  return 0;
}

}  // namespace berth::cgroups
