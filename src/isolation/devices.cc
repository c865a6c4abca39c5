// DEVNODES/DEVICES parsing (vzctl src/lib/dev.c formats) and filling a CT's /dev.
#include "isolation/devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
#include "sys/kernel.h"

namespace berth::isolation {
namespace {

Error bad(std::string what) { return Error::invalid(std::move(what), exitcode::kDevices); }

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

Status create_node(const std::string& dev_dir, const DevNode& n, bool in_userns,
                   const std::string& host_dev) {
  std::string target = dev_dir + "/" + n.path;
  BERTH_RETURN_IF_ERROR(make_parent_dirs(dev_dir, n.path));
  if (::unlink(target.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove `" + target + "`");
  if (!in_userns) {
    mode_t type = n.type == DevType::kChar ? S_IFCHR : S_IFBLK;
    if (::mknod(target.c_str(), type | (n.mode & 07777), makedev(n.major, *n.minor)) != 0)
      return Error::from_errno(errno, "mknod `" + target + "`").status(exitcode::kDevices);
    // mknod applied the umask.
    if (::chmod(target.c_str(), n.mode & 07777) != 0)
      return Error::from_errno(errno, "chmod `" + target + "`");
    return {};
  }
  // In a user namespace mknod(2) fails with EPERM even for CT root; a bind mount of the host's node
  // gives the same device (runc does this for rootless containers).
  std::string source = host_dev + "/" + n.path;
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat host device `" + source + "`").status(exitcode::kDevices);
  UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0));
  if (!fd) return Error::from_errno(errno, "create `" + target + "`");
  fd.reset();
  if (auto st = sys::kernel().mount(source.c_str(), target, nullptr, MS_BIND, nullptr); !st.ok())
    return sys::reworded(st.error(), "bind `" + source + "` to `" + target + "`")
        .status(exitcode::kDevices);
  return {};
}

Status make_symlink(const std::string& dev_dir, const std::string& name,
                    const std::string& target) {
  std::string link = dev_dir + "/" + name;
  char buf[256];
  ssize_t len = ::readlink(link.c_str(), buf, sizeof(buf));
  if (len >= 0 && std::string_view(buf, static_cast<size_t>(len)) == target) return {};
  if (::unlink(link.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove `" + link + "`");
  if (::symlink(target.c_str(), link.c_str()) != 0)
    return Error::from_errno(errno, "symlink `" + link + "` -> `" + target + "`");
  return {};
}

}  // namespace

std::vector<DevNode> standard_devnodes() {
  return {
      char_node("null", 1, 3),   char_node("zero", 1, 5),    char_node("full", 1, 7),
      char_node("random", 1, 8), char_node("urandom", 1, 9), char_node("tty", 5, 0),
  };
}

Status resolve_devnode(DevNode& node, const std::string& host_dev) {
  std::string source = host_dev + "/" + node.path;
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat host device `" + source + "`").status(exitcode::kDevices);
  if (S_ISCHR(st.st_mode))
    node.type = DevType::kChar;
  else if (S_ISBLK(st.st_mode))
    node.type = DevType::kBlock;
  else
    return bad("`" + source + "` is not a device node");
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
      {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
  };
}

Status populate_dev(const std::string& dev_dir, const std::vector<DevNode>& nodes, bool in_userns,
                    const std::string& host_dev) {
  for (const DevNode& n : nodes) {
    if (n.path.empty() || n.access.none()) continue;
    if (!values::is_valid_dev_name(n.path)) return bad("invalid device name `" + n.path + "`");
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
