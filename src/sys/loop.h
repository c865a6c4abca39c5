// Loop devices: a file attached as a block device (a VPS's disk image, storage/disk.h).
//
// Attached with LO_FLAGS_AUTOCLEAR: the kernel frees the device when its last user goes (the
// LoopDevice's fd closed and the file system on it unmounted), so a mount is the only thing that
// keeps a VPS's loop alive and a killed command never leaves one attached without a mount.
// LOOP_CTL_GET_FREE and LOOP_CONFIGURE race with other attachers (losetup, another Berth): a
// device taken between the two (EBUSY) is skipped and the next free one tried.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::sys {

struct LoopOptions {
  bool read_only = false;
  // Direct I/O to the backing file (no second copy in the page cache) when its file system takes
  // it; silently without where it does not (tmpfs, a block size the loop cannot match).
  bool direct_io = true;
};

class LoopDevice {
 public:
  LoopDevice() = default;
  // Attach `file` to a free loop device (autoclear). Error when no loop device can be had.
  static Result<LoopDevice> attach(const std::string& file, const LoopOptions& opts = {});
  const std::string& path() const { return path_; }  // /dev/loopN
  int fd() const { return fd_.get(); }
  bool direct_io() const { return direct_io_; }
  // Clear the device now (LOOP_CLR_FD: with a mount on it the kernel defers it to the unmount).
  Status detach();
  // Closing the fd frees the device unless something (a mount) still uses it.

 private:
  LoopDevice(std::string path, UniqueFd fd, bool dio)
      : path_(std::move(path)), fd_(std::move(fd)), direct_io_(dio) {}
  std::string path_;
  UniqueFd fd_;
  bool direct_io_ = false;
};

// The loop devices (/dev/loopN) whose backing file is `file` (sysfs block/loopN/loop/backing_file,
// compared with file's canonical path; a deleted backing file never matches).
std::vector<std::string> loops_backed_by(const std::string& file,
                                         const std::string& sysfs_root = "/sys");
// The name sysfs shows for a loop's backing file (its path, " (deleted)" when unlinked): exposed
// for unit tests.
bool backing_file_matches(std::string_view sysfs_value, std::string_view canonical);
// Re-read the backing file's size (LOOP_SET_CAPACITY) after it grew.
Status set_loop_capacity(const std::string& dev);
// Clear a loop device by path (a stale one: no mount on it). Gone already: ok.
Status detach_loop(const std::string& dev);

// The loop devices numbered `first` and up that have no file attached (sysfs block/loopN has no
// loop/ directory), by number: what LOOP_CTL_GET_FREE made for attachers and autoclear left.
std::vector<int> unbound_loops(int first, const std::string& sysfs_root = "/sys");
// Remove those devices (LOOP_CTL_REMOVE), up to `parallel` at a time: each removal waits for RCU
// grace periods in the kernel (~45 ms on a 2-vCPU host), which run side by side when the
// removals do (1000 devices: ~0.6 s with 64 threads, ~46 s one by one). The kernel refuses a
// device that is open or bound by then (another attacher took it): tried twice more, 20 ms
// apart, then left as it is. Returns how many went.
size_t remove_loops(const std::vector<int>& indexes, unsigned parallel);
// The number of loop devices the kernel made at boot (module parameter max_loop; 8, its default
// count, when unset).
int boot_loop_count(const std::string& sysfs_root = "/sys");

}  // namespace berth::sys
