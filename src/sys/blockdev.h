// Which block device holds a path: the disk an I/O limit (IOLIMIT, IOPSLIMIT) must name.
//
// cgroup I/O throttling (v1 blkio.throttle.*, v2 io.max) takes a whole disk's major:minor, not a
// partition's. The path's st_dev is the file system's device: a partition is mapped to its disk
// through sysfs (/sys/dev/block/M:m is a link into the device tree; a partition has a
// `partition` file and its parent directory is the disk). A loop or device-mapper device is a
// disk of its own. File systems without a block device (tmpfs, overlay's own st_dev, btrfs
// subvolumes' anonymous devices) have major 0: there is nothing to throttle.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/error.h"

namespace berth::sys {

// "M:m" of the disk that holds device dev (a partition's disk, or dev itself), read from sysfs
// under sysfs_root; "" for major 0 or a device sysfs does not know.
std::string whole_disk_of(dev_t dev, const std::string& sysfs_root = "/sys");
// The same for the file system holding path (stat(2)). Error when path cannot be stat'ed.
Result<std::string> disk_of_path(const std::string& path, const std::string& sysfs_root = "/sys");

}  // namespace berth::sys
