// DEVNODES/DEVICES parsing (vzctl src/lib/dev.c formats) and filling a CT's /dev.
#include "isolation/devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
#include "sys/kernel.h"

namespace berth::isolation {
namespace {

Error bad(std::string what) { return Error::invalid(std::move(what), exitcode::kDevices); }

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A name under /dev: portable characters, no empty, "." or ".." component, no leading '/'.
bool valid_dev_name(std::string_view n) {
  if (n.empty() || n.size() > 255 || n.front() == '/' || n.back() == '/') return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' && c != '.' && c != '+')
      return false;
  size_t start = 0;
  while (start <= n.size()) {
    size_t end = n.find('/', start);
    if (end == std::string_view::npos) end = n.size();
    std::string_view comp = n.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..") return false;
    start = end + 1;
  }
  return true;
}

DevNode char_node(const char* name, uint32_t major, uint32_t minor) {
  DevNode n;
  n.type = DevType::kChar;
  n.major = major;
  n.minor = minor;
  n.path = name;
  n.access = {true, true, false};
  return n;
}

Status make_parent_dirs(const std::string& dev_dir, const std::string& rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {};
  return make_dirs(dev_dir + "/" + rel.substr(0, slash), 0755);
}

Status create_node(const std::string& dev_dir, const DevNode& n, bool in_userns, const std::string& host_dev) {
  std::string target = dev_dir + "/" + n.path;
  BERTH_RETURN_IF_ERROR(make_parent_dirs(dev_dir, n.path));
  if (::unlink(target.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove `" + target + "`");
  if (!in_userns) {
    mode_t type = n.type == DevType::kChar ? S_IFCHR : S_IFBLK;
    if (::mknod(target.c_str(), type | (n.mode & 07777), makedev(n.major, *n.minor)) != 0)
      return Error::from_errno(errno, "mknod `" + target + "`").status(exitcode::kDevices);
    // mknod applied the umask.
    if (::chmod(target.c_str(), n.mode & 07777) != 0) return Error::from_errno(errno, "chmod `" + target + "`");
    return {};
  }
  // In a user namespace mknod(2) fails with EPERM even for CT root; a bind mount of the host's node
  // gives the same device (runc does this for rootless containers).
  std::string source = host_dev + "/" + n.path;
  struct stat st{};
  if (::stat(source.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat host device `" + source + "`").status(exitcode::kDevices);
  UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0));
  if (!fd) return Error::from_errno(errno, "create `" + target + "`");
  fd.reset();
  if (auto st = sys::kernel().mount(source.c_str(), target, nullptr, MS_BIND, nullptr); !st.ok())
    return sys::reworded(st.error(), "bind `" + source + "` to `" + target + "`").status(exitcode::kDevices);
  return {};
}

Status make_symlink(const std::string& dev_dir, const std::string& name, const std::string& target) {
  std::string link = dev_dir + "/" + name;
  char buf[256];
  ssize_t len = ::readlink(link.c_str(), buf, sizeof(buf));
  if (len >= 0 && std::string_view(buf, static_cast<size_t>(len)) == target) return {};
  if (::unlink(link.c_str()) != 0 && errno != ENOENT) return Error::from_errno(errno, "remove `" + link + "`");
  if (::symlink(target.c_str(), link.c_str()) != 0)
    return Error::from_errno(errno, "symlink `" + link + "` -> `" + target + "`");
  return {};
}

}  // namespace

std::vector<DevNode> standard_devnodes() {
  return {
      char_node("null", 1, 3),    char_node("zero", 1, 5),    char_node("full", 1, 7),
      char_node("random", 1, 8),  char_node("urandom", 1, 9), char_node("tty", 5, 0),
  };
}

Result<DevAccess> parse_dev_access(std::string_view s) {
  DevAccess a;
  if (s == "none") return a;
  if (s.empty()) return bad("empty device access (want [r][w][q] or none)");
  for (char c : s) {
    bool* flag = c == 'r' ? &a.read : c == 'w' ? &a.write : c == 'q' ? &a.quota : nullptr;
    if (!flag || *flag) return bad("invalid device access `" + std::string(s) + "` (want [r][w][q] or none)");
    *flag = true;
  }
  return a;
}

std::string format_dev_access(const DevAccess& a) {
  std::string s;
  if (a.read) s += 'r';
  if (a.write) s += 'w';
  if (a.quota) s += 'q';
  return s.empty() ? "none" : s;
}

Result<std::vector<DevNode>> parse_devnodes(std::string_view value) {
  std::vector<DevNode> out;
  for (const std::string& tok : split_words(value)) {
    auto colon = tok.rfind(':');
    if (colon == std::string::npos) return bad("invalid DEVNODES entry `" + tok + "` (want name:[r][w][q]|none)");
    std::string name = tok.substr(0, colon);
    if (!valid_dev_name(name)) return bad("invalid device name `" + name + "`");
    BERTH_ASSIGN_OR_RETURN(DevAccess access, parse_dev_access(std::string_view(tok).substr(colon + 1)));
    DevNode n;
    n.path = name;
    n.access = access;
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<DevNode>> parse_devices(std::string_view value) {
  std::vector<DevNode> out;
  auto words = split_words(value);
  if (words.size() == 1 && words[0] == "none") return out;
  for (const std::string& tok : words) {
    std::vector<std::string_view> f;
    size_t start = 0;
    while (true) {
      size_t c = tok.find(':', start);
      f.push_back(std::string_view(tok).substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (f.size() != 4) return bad("invalid DEVICES entry `" + tok + "` (want b|c:major:minor|all:[r][w][q])");
    DevNode n;
    if (f[0] == "c") n.type = DevType::kChar;
    else if (f[0] == "b") n.type = DevType::kBlock;
    else return bad("invalid device type `" + std::string(f[0]) + "` in `" + tok + "` (want b or c)");
    auto major = parse_u32(f[1]);
    if (!major || *major > 4095) return bad("invalid major number in `" + tok + "`");
    n.major = *major;
    if (f[2] != "all") {
      auto minor = parse_u32(f[2]);
      if (!minor || *minor > 1048575) return bad("invalid minor number in `" + tok + "`");
      n.minor = *minor;
    }
    BERTH_ASSIGN_OR_RETURN(n.access, parse_dev_access(f[3]));
    out.push_back(std::move(n));
  }
  return out;
}

Status resolve_devnode(DevNode& node, const std::string& host_dev) {
  std::string source = host_dev + "/" + node.path;
  struct stat st{};
  if (::stat(source.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat host device `" + source + "`").status(exitcode::kDevices);
  if (S_ISCHR(st.st_mode)) node.type = DevType::kChar;
  else if (S_ISBLK(st.st_mode)) node.type = DevType::kBlock;
  else return bad("`" + source + "` is not a device node");
  node.major = major(st.st_rdev);
  node.minor = minor(st.st_rdev);
  node.mode = st.st_mode & 07777;
  return {};
}

std::string device_rule(const DevNode& node) {
  std::string access;
  if (node.access.read) access += 'r';
  if (node.access.write) access += 'w';
  return std::string(node.type == DevType::kChar ? "c " : "b ") + std::to_string(node.major) + ":" +
         (node.minor ? std::to_string(*node.minor) : std::string("*")) + " " + access;
}

std::vector<std::pair<std::string, std::string>> standard_dev_symlinks() {
  return {
      {"fd", "/proc/self/fd"},          {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"},    {"ptmx", "pts/ptmx"},
  };
}

Status populate_dev(const std::string& dev_dir, const std::vector<DevNode>& nodes, bool in_userns,
                    const std::string& host_dev) {
  for (const DevNode& n : nodes) {
    if (n.path.empty() || n.access.none()) continue;
    if (!valid_dev_name(n.path)) return bad("invalid device name `" + n.path + "`");
    if (!n.minor) return bad("device `" + n.path + "` has no minor number");
    BERTH_RETURN_IF_ERROR(create_node(dev_dir, n, in_userns, host_dev).context("populate /dev"));
  }
  for (const auto& [name, target] : standard_dev_symlinks())
    BERTH_RETURN_IF_ERROR(make_symlink(dev_dir, name, target).context("populate /dev"));
  // Mount points for devpts and the CT's /dev/shm tmpfs (the runtime mounts them).
  for (auto [dir, mode] : {std::pair<const char*, mode_t>{"pts", 0755}, {"shm", 01777}}) {
    std::string path = dev_dir + "/" + dir;
    if (::mkdir(path.c_str(), mode) != 0) {
      if (errno == EEXIST) continue;
      return Error::from_errno(errno, "mkdir `" + path + "`").context("populate /dev");
    }
    if (::chmod(path.c_str(), mode) != 0)  // mkdir applied the umask
      return Error::from_errno(errno, "chmod `" + path + "`").context("populate /dev");
  }
  return {};
}

}  // namespace berth::isolation
