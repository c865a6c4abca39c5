// A VPS's own disk: an ext4 image file on a loop device (OpenVZ's ploop idea, without ploop).
//
// The contract shared with snapshots, clone and backup (they mount images read-only through
// ReadOnlyImageMount and read usage through disk_usage).
//
// - The image is VE_PRIVATE/disk.img (sparse file, ext4, made by mkfs.ext4 -m 0, inode count from
//   DISKINODES, size = DISKSPACE's barrier in bytes).
// - On the host it is mounted (loop, LO_FLAGS_AUTOCLEAR, direct I/O where the backing fs takes
//   it) at VE_PRIVATE/disk, nosuid,nodev, `discard` (freed blocks are punched out of the image,
//   so the file's allocated size follows the data the VPS really holds).
// - Contents of the image's file system: layout overlay -> /upper and /work (the overlay's upper
//   layer over the shared template); layout image -> /root (the whole VPS tree). Ids on disk are
//   the CT's host ids (LOCAL_UID + k), exactly as today's upper dirs / simfs trees.
// - A CT "has a disk" iff VE_PRIVATE/disk.img exists. Layout overlay with DISKSPACE unlimited (or
//   a private area made before this change) has none: upper/ and work/ are plain directories in
//   VE_PRIVATE as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::storage {

std::string disk_image_path(const CtConfig& ct);  // VE_PRIVATE/disk.img
std::string disk_mount_path(const CtConfig& ct);  // VE_PRIVATE/disk
bool has_disk(const CtConfig& ct);

struct DiskUsage {
  uint64_t bytes_total = 0, bytes_used = 0;    // as df shows inside
  uint64_t inodes_total = 0, inodes_used = 0;  // as df -i shows inside
};

// Make a new image file (sparse) of `bytes` with room for `inodes` inodes (0: mkfs's default).
Status make_disk_image(const std::string& image, uint64_t bytes, uint64_t inodes);
// Mount the CT's image at disk_mount_path() (no-op when already mounted there; a stale loop of
// this image with no mount is detached first).
Status mount_disk(const CtConfig& ct);
Status umount_disk(const CtConfig& ct);
// Grow (online when mounted: LOOP_SET_CAPACITY + EXT4_IOC_RESIZE_FS) or shrink (unmounted only).
Status resize_disk(const CtConfig& ct, uint64_t bytes);
// Whether resize_disk(ct, bytes) would grow the disk while it is mounted and this process cannot:
// ext4 grows a mounted file system only for CAP_SYS_RESOURCE in the initial user namespace, which
// some hosts' root lacks (a sandbox or container dropping it). The caller then grows it offline
// (runtime/set.cc: `--setmode restart`).
Result<bool> online_grow_impossible(const CtConfig& ct, uint64_t bytes);
// Usage from statfs when mounted, else from the image's superblock.
Result<DiskUsage> disk_usage(const CtConfig& ct);

// The disk a CT's config asks for: DISKSPACE's barrier in bytes (nullopt: unlimited or unset, no
// disk) and DISKINODES' barrier (0: unlimited or unset, mkfs's default). Bad values: exit 21.
struct DiskRequest {
  std::optional<uint64_t> bytes;
  uint64_t inodes = 0;
};
Result<DiskRequest> disk_request(const CtConfig& ct);
// Whether a new private area of this CT gets a disk: layout image always (DISKSPACE unlimited:
// exit 21), overlay when DISKSPACE is finite, simfs never.
Result<bool> wants_disk(const CtConfig& ct);
// Whether DISKSPACE/DISKINODES are enforced for this CT: it has a disk (or will, at create).
bool enforces_disk_quota(const CtConfig& ct);
// A simfs CT with a finite DISKSPACE or DISKINODES: a plain directory can only be limited by a
// project quota of the host file system holding VE_PRIVATE, which Berth does not set up; the
// probe (quotactl_fd Q_GETINFO for PRJQUOTA) says whether that file system could. Exit 21 with
// the ways out. Other layouts, or unlimited values: ok.
Status check_simfs_quota(const CtConfig& ct);
// Unmount a disk left mounted at <dir>/disk and free the loops of <dir>/disk.img (a killed
// create's .tmp, a crash between the disk and VE_ROOT). Nothing there: ok.
Status release_disk_at(const std::string& dir);
// The loop devices above the kernel's boot-time ones (sys::boot_loop_count) with no file
// attached, removed, many side by side (sys::remove_loops). An attach makes a device when none
// is free, autoclear detaches it at the unmount, and the kernel keeps it (~210 KiB of kernel
// memory each): a host would keep as many as it ever had disks mounted at once. Run by the
// watcher, off every command's path (monitor/server.h). Returns how many went.
size_t remove_idle_loop_devices();
// Mount an image read-write at target (loop, autoclear, nosuid,nodev,discard,errors=remount-ro,
// nombcache).
Status mount_image(const std::string& image, const std::string& target);
// The usage an ext4 superblock (the 1024 bytes at offset 1024 of the image) records.
Result<DiskUsage> parse_ext4_superblock(std::string_view sb);
// The block device (/dev/loopN) of a mounted disk, for I/O limits; "" when not mounted.
std::string disk_device(const CtConfig& ct);

// An image mounted read-only at a target (loop read-only + ext4 ro,noload,nosuid,nodev,noexec):
// for snapshot-mount, clone and backup. Unmounts (and so frees the loop) on destruction unless
// released.
class ReadOnlyImageMount {
 public:
  static Result<ReadOnlyImageMount> mount(const std::string& image, const std::string& target);
  ReadOnlyImageMount(ReadOnlyImageMount&&) noexcept;
  ReadOnlyImageMount& operator=(ReadOnlyImageMount&&) noexcept;
  ~ReadOnlyImageMount();
  const std::string& target() const { return target_; }
  void release() { target_.clear(); }  // keep it mounted (snapshot-mount); umount by path later

 private:
  explicit ReadOnlyImageMount(std::string target) : target_(std::move(target)) {}
  std::string target_;
};

}  // namespace berth::storage
