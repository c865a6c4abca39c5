// Block device of a path, through sysfs (see blockdev.h).
#include "sys/blockdev.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sys/fs.h"

namespace berth::sys {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string whole_disk_of(dev_t dev, const std::string& sysfs_root) {
  if (::major(dev) == 0) return "";
  std::string id = std::to_string(::major(dev)) + ":" + std::to_string(::minor(dev));
  std::string node = sysfs_root + "/dev/block/" + id;
  if (!path_exists(node)) return "";
  if (!path_exists(node + "/partition")) return id;
  // A partition's directory sits inside its disk's directory (.../sda/sda1).
  auto disk = read_file(node + "/../dev");
  if (!disk.ok()) return "";
  return trimmed(*disk);
}

Result<std::string> disk_of_path(const std::string& path, const std::string& sysfs_root) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error::from_errno(errno, "stat `" + path + "`");
  return whole_disk_of(st.st_dev, sysfs_root);
}

}  // namespace berth::sys
