#include "storage/disk.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/quota.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "core/units.h"
#include "sys/fs.h"
#include "sys/loop.h"
#include "sys/run.h"

// From linux/ext4.h (not shipped as a uapi header on bookworm): grow a mounted ext4 to a new
// block count.
#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

namespace berth::storage {
namespace {

constexpr uint64_t kBlock = 4096;
// Below this mkfs.ext4 makes no journal and resize has no room to work: not a useful VPS disk.
constexpr uint64_t kMinBytes = 16ull << 20;
// nombcache: no cache of extended attribute blocks for sharing them between files (8 KiB of
// hash table and a shrinker per mount; attributes that fit in the inode never use it). Measured
// by bench/diskmount: 24.6-26.3 against 33.6-38.2 KiB of unreclaimable slab per mounted image.
constexpr const char* kMountOptions = "discard,errors=remount-ro,nombcache";

std::string tool_path(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string p = std::string(dir) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return name;
}

// e2fsck's exit status for "file system errors corrected" (e2fsck(8)): the check succeeded.
constexpr int kE2fsckCorrected = 1;

// Run an e2fsprogs tool; its output is returned, its last line carried by the error.
Result<std::string> run_e2fs(std::vector<std::string> args, bool corrected_is_ok = false) {
  args[0] = tool_path(args[0]);
  BERTH_ASSIGN_OR_RETURN(sys::ToolOutput r, sys::run_tool(args, true));
  if (r.status == 0 || (corrected_is_ok && r.status == kE2fsckCorrected)) return std::move(r.out);
  std::string out = std::move(r.out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  size_t nl = out.rfind('\n');
  std::string last = nl == std::string::npos ? out : out.substr(nl + 1);
  std::string cmd = args[0].substr(args[0].rfind('/') + 1);
  for (size_t i = 1; i < args.size(); ++i) cmd += " " + args[i];
  return Error::invalid("`" + cmd + "` failed (exit " + std::to_string(r.status) + ")" +
                        (last.empty() ? "" : ": " + last));
}

bool private_exists_for_disk(const CtConfig& ct) { return sys::is_dir(ct.ve_private()); }

uint32_t le32(std::string_view b, size_t off) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + off);
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// umount, lazily when something (a process of a killed command) still holds it.
Status umount_path(const std::string& path) {
  if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) return {};
  if (errno == EINVAL || errno == ENOENT) return {};
  if (errno == EBUSY && ::umount2(path.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) == 0) return {};
  return Error::from_errno(errno, "umount `" + path + "`");
}

// Where device dev is mounted in this mount namespace (mountinfo's major:minor field).
std::vector<std::string> mount_points_of(const std::string& dev) {
  std::vector<std::string> out;
  struct stat st;
  if (::stat(dev.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return out;
  std::string want = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  auto info = sys::read_file("/proc/self/mountinfo");
  if (!info.ok()) return out;
  size_t pos = 0;
  while (pos < info->size()) {
    size_t end = info->find('\n', pos);
    if (end == std::string::npos) end = info->size();
    std::string_view line(info->data() + pos, end - pos);
    pos = end + 1;
    // id parent major:minor root point ...
    size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    size_t d = line.find(' ', c + 1), e = line.find(' ', d + 1);
    if (e == std::string_view::npos) continue;
    if (line.substr(b + 1, c - b - 1) == want) out.emplace_back(line.substr(d + 1, e - d - 1));
  }
  return out;
}

// Whether no file description of path exists but ours: the kernel grants a write lease only
// then (a loop device keeps its backing file open). False when unsure (no lease support, leases
// off, path not a regular file): the caller then looks at every loop device.
bool nothing_has_open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (::fcntl(fd.get(), F_SETLEASE, F_WRLCK) != 0) return false;
  (void)::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
  return true;
}

// The image's loop devices that nothing mounts are detached (a command killed between attach and
// mount); one mounted anywhere else (a read-only mount for a backup) means the image is in use:
// a second read-write mount, or e2fsck and resize2fs on the file, would corrupt it.
// Frees the loop devices of image that nothing in this mount namespace uses, and waits until the
// kernel has let go of them. A mount namespace made by clone(CLONE_NEWNS) (any CT's start, until it
// drops the host's tree; a host service started with private mounts) holds its copy of a disk's
// mount, and so its file system and loop device, after the host's umount: mounting the image again
// on a second loop device would run two ext4 instances on one image. So the image is never
// attached twice: a command waits for the copy to go, or says who holds it.
Status free_stale_loops(const std::string& image) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    // The common case, in constant time: nothing has the image open, so no loop device holds it
    // and the scan of every loop device on the host (one per running VPS with a disk) is skipped.
    if (nothing_has_open(image)) return {};
    auto loops = sys::loops_backed_by(image);
    if (loops.empty()) return {};
    for (const auto& dev : loops) {
      auto where = mount_points_of(dev);
      if (!where.empty())
        return Error::with_status(exitcode::kMountFailed, "the disk image `" + image +
                                                              "` is in use: mounted at `" +
                                                              where.front() + "` (" + dev + ")");
      // Frees an idle device now; one still open elsewhere goes with its last user (autoclear).
      (void)sys::detach_loop(dev);
    }
    if (Clock::now() >= deadline)
      return Error::with_status(
          exitcode::kMountFailed,
          "the disk image `" + image + "` is still held by " + loops.front() +
              " from another mount namespace (a process that copied the host's mounts): nothing "
              "was mounted twice; try again when that process has ended");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string kib(uint64_t bytes) { return std::to_string(bytes / 1024) + "K"; }

Error too_small(uint64_t bytes) {
  return Error::with_status(
      exitcode::kBadValue,
      "DISKSPACE " + kib(bytes) + " is too small for a disk (at least " + kib(kMinBytes) + ")");
}

Result<uint64_t> image_size(const std::string& image) {
  struct stat st;
  if (::stat(image.c_str(), &st) != 0) return Error::from_errno(errno, "stat `" + image + "`");
  return static_cast<uint64_t>(st.st_size);
}

Status truncate_image(const std::string& image, uint64_t bytes) {
  if (::truncate(image.c_str(), static_cast<off_t>(bytes)) != 0)
    return Error::from_errno(errno, "resize `" + image + "`");
  return {};
}

Status grow_online(const CtConfig& ct, uint64_t bytes, uint64_t old_size) {
  const std::string image = disk_image_path(ct), mnt = disk_mount_path(ct);
  auto loops = sys::loops_backed_by(image);
  if (loops.empty())
    return Error::with_status(
        exitcode::kSystem,
        "the disk `" + mnt + "` is mounted but no loop device holds `" + image + "`");
  UniqueFd dir(::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open `" + mnt + "`");
  struct statvfs sv;
  if (::fstatvfs(dir.get(), &sv) != 0) return Error::from_errno(errno, "statfs `" + mnt + "`");
  BERTH_RETURN_IF_ERROR(truncate_image(image, bytes));
  for (const auto& dev : loops) BERTH_RETURN_IF_ERROR(sys::set_loop_capacity(dev));
  uint64_t blocks = bytes / sv.f_frsize;
  if (::ioctl(dir.get(), EXT4_IOC_RESIZE_FS, &blocks) == 0) return {};
  int err = errno;
  // The file system did not grow: the image and the loop device go back to its size, so a
  // failed set leaves the disk as it was.
  (void)truncate_image(image, old_size);
  for (const auto& dev : loops) (void)sys::set_loop_capacity(dev);
  if (err == EPERM)
    return Error::with_status(exitcode::kPermission,
                              "growing a mounted disk needs CAP_SYS_RESOURCE, which this process "
                              "lacks: umount or stop the CT, then set --diskspace again (resized "
                              "offline)");
  return Error::from_errno(err, "grow the file system on `" + mnt + "`");
}

// The effective set's CAP_SYS_RESOURCE (capget: the syscall, as libcap is not a dependency).
bool has_cap_sys_resource() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[CAP_SYS_RESOURCE / 32].effective >> (CAP_SYS_RESOURCE % 32)) & 1;
}

Status resize_offline(const CtConfig& ct, uint64_t bytes, uint64_t old_size) {
  const std::string image = disk_image_path(ct);
  // resize2fs works only on a file system checked since its last mount.
  BERTH_RETURN_IF_ERROR(run_e2fs({"e2fsck", "-f", "-p", image}, true));
  if (bytes < old_size) {
    BERTH_ASSIGN_OR_RETURN(std::string est, run_e2fs({"resize2fs", "-P", image}));
    size_t colon = est.rfind(':');
    uint64_t min_blocks =
        colon == std::string::npos ? 0 : std::strtoull(est.c_str() + colon + 1, nullptr, 10);
    if (min_blocks == 0 || bytes / kBlock < min_blocks)
      return Error::with_status(exitcode::kBadValue,
                                "DISKSPACE " + kib(bytes) +
                                    " is below what the disk holds (at least " +
                                    kib(min_blocks * kBlock) + "): nothing changed");
    BERTH_RETURN_IF_ERROR(run_e2fs({"resize2fs", image, kib(bytes)}));
    return truncate_image(image, bytes);
  }
  BERTH_RETURN_IF_ERROR(truncate_image(image, bytes));
  BERTH_RETURN_IF_ERROR(run_e2fs({"resize2fs", image, kib(bytes)}));
  return {};
}

}  // namespace

std::string disk_image_path(const CtConfig& ct) { return ct.ve_private() + "/disk.img"; }
std::string disk_mount_path(const CtConfig& ct) { return ct.ve_private() + "/disk"; }

bool has_disk(const CtConfig& ct) {
  // A simfs area is the tenant's own tree: a `disk.img` there is its file, never mounted by the
  // host (a crafted file system for the host's kernel, mounted on a `disk` link of its choice).
  if (ct.layout() == Layout::kSimfs) return false;
  struct stat st;
  return ::lstat(disk_image_path(ct).c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0;
}

Result<DiskRequest> disk_request(const CtConfig& ct) {
  DiskRequest r;
  auto soft = [](const std::string& v) { return v.substr(0, v.find(':')); };
  if (auto v = ct.get("DISKSPACE"); v && !v->empty()) {
    auto b = units::parse_size(soft(*v), 1024);
    if (!b.ok()) return std::move(b).error().context("DISKSPACE").status(exitcode::kBadValue);
    if (*b != units::kUnlimited) r.bytes = *b / kBlock * kBlock;
  }
  if (auto v = ct.get("DISKINODES"); v && !v->empty()) {
    auto n = units::parse_size(soft(*v), 1);
    if (!n.ok()) return std::move(n).error().context("DISKINODES").status(exitcode::kBadValue);
    if (*n != units::kUnlimited) r.inodes = *n;
  }
  return r;
}

Result<bool> wants_disk(const CtConfig& ct) {
  if (ct.layout() == Layout::kSimfs || ct.layout() == Layout::kPloop) return false;
  BERTH_ASSIGN_OR_RETURN(DiskRequest req, disk_request(ct));
  if (ct.layout() == Layout::kImage && !req.bytes)
    return Error::with_status(exitcode::kBadValue,
                              "layout image needs a finite DISKSPACE (the size of its disk): "
                              "give --diskspace, e.g. --diskspace 10G");
  return req.bytes.has_value();
}

bool enforces_disk_quota(const CtConfig& ct) {
  if (has_disk(ct)) return true;
  if (private_exists_for_disk(ct)) return false;  // made before disks, or unlimited at create
  auto w = wants_disk(ct);
  return w.ok() && *w;
}

Status check_simfs_quota(const CtConfig& ct) {
  if (ct.layout() != Layout::kSimfs) return {};
  BERTH_ASSIGN_OR_RETURN(DiskRequest req, disk_request(ct));
  if (!req.bytes && req.inodes == 0) return {};
  // The file system that holds (or will hold) VE_PRIVATE: the nearest existing ancestor.
  std::string dir = ct.ve_private();
  while (!dir.empty() && !sys::is_dir(dir)) dir = dir.substr(0, dir.rfind('/'));
  if (dir.empty()) dir = "/";
  std::string probe;
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    probe = std::string("cannot open `") + dir + "`: " + std::strerror(errno);
  } else {
    struct if_dqinfo info;
    std::memset(&info, 0, sizeof info);
    if (::syscall(SYS_quotactl_fd, fd.get(), QCMD(Q_GETINFO, PRJQUOTA), 0, &info) == 0)
      probe = "project quota is on for `" + dir + "` but Berth does not set simfs project quotas";
    else
      probe = std::string("no project quota for `") + dir + "`: " + std::strerror(errno);
  }
  return Error::with_status(
      exitcode::kBadValue,
      "a simfs private area is a plain directory and cannot get a disk quota on this host (" +
          probe +
          "): use --layout image or overlay (a disk image of that size), or --diskspace unlimited "
          "--diskinodes unlimited, or a host file system mounted with prjquota on a kernel with "
          "quota support");
}

Status make_disk_image(const std::string& image, uint64_t bytes, uint64_t inodes) {
  bytes = bytes / kBlock * kBlock;
  if (bytes < kMinBytes) return too_small(bytes);
  {
    UniqueFd fd(::open(image.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno(errno, "create `" + image + "`");
    if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
      return Error::from_errno(errno, "size `" + image + "`");
  }
  std::vector<std::string> args = {"mkfs.ext4", "-F", "-q", "-m", "0", "-b", "4096"};
  if (inodes) {
    args.push_back("-N");
    args.push_back(std::to_string(inodes));
  }
  args.insert(args.end(), {"-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", image});
  auto made = run_e2fs(args);
  if (!made.ok()) {
    ::unlink(image.c_str());
    return std::move(made).error().status(exitcode::kCreatePrivate);
  }
  return {};
}

Status mount_image(const std::string& image, const std::string& target) {
  BERTH_ASSIGN_OR_RETURN(sys::LoopDevice loop, sys::LoopDevice::attach(image));
  // The loop's fd closes when this returns: from then on only the mount keeps the device (and
  // autoclear frees it with the unmount).
  if (::mount(loop.path().c_str(), target.c_str(), "ext4", MS_NOSUID | MS_NODEV, kMountOptions) !=
      0)
    return Error::from_errno(errno,
                             "mount `" + image + "` (" + loop.path() + ") on `" + target + "`");
  if (::mount(nullptr, target.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    int err = errno;
    (void)umount_path(target);
    return Error::from_errno(err, "make `" + target + "` private");
  }
  return {};
}

Status release_disk_at(const std::string& dir) {
  const std::string mnt = dir + "/disk", image = dir + "/disk.img";
  if (sys::is_mount_point(mnt)) BERTH_RETURN_IF_ERROR(umount_path(mnt));
  if (!sys::path_exists(image)) return {};
  // A loop with nothing mounted on it (a command killed between attach and mount) keeps the
  // image open; autoclear frees mounted ones with their unmount. What follows (a copy, fsck,
  // resize, removal) needs the file system really gone, not only unmounted here.
  return free_stale_loops(image);
}

size_t remove_idle_loop_devices() {
  // 64 at a time: 1000 idle devices go in ~0.6 s on a 2-vCPU host (bench/README.md).
  return sys::remove_loops(sys::unbound_loops(sys::boot_loop_count()), 64);
}

Status mount_disk(const CtConfig& ct) {
  const std::string mnt = disk_mount_path(ct), image = disk_image_path(ct);
  if (::mkdir(mnt.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + mnt + "`");
  if (sys::is_mount_point(mnt)) return {};
  BERTH_RETURN_IF_ERROR(free_stale_loops(image));
  return mount_image(image, mnt);
}

Status umount_disk(const CtConfig& ct) { return release_disk_at(ct.ve_private()); }

Status resize_disk(const CtConfig& ct, uint64_t bytes) {
  bytes = bytes / kBlock * kBlock;
  if (bytes < kMinBytes) return too_small(bytes);
  const std::string image = disk_image_path(ct);
  BERTH_ASSIGN_OR_RETURN(uint64_t old_size, image_size(image));
  if (bytes == old_size) return {};
  if (sys::is_mount_point(disk_mount_path(ct))) {
    if (bytes < old_size)
      return Error::with_status(exitcode::kBadValue,
                                "the disk cannot shrink while the CT is mounted or running: stop "
                                "(and umount) the CT first");
    return grow_online(ct, bytes, old_size);
  }
  // Stale loops (no mount) would keep an old size: gone before the offline tools run.
  BERTH_RETURN_IF_ERROR(free_stale_loops(image));
  return resize_offline(ct, bytes, old_size);
}

Result<bool> online_grow_impossible(const CtConfig& ct, uint64_t bytes) {
  bytes = bytes / kBlock * kBlock;
  BERTH_ASSIGN_OR_RETURN(uint64_t old_size, image_size(disk_image_path(ct)));
  return bytes > old_size && sys::is_mount_point(disk_mount_path(ct)) && !has_cap_sys_resource();
}

Result<DiskUsage> parse_ext4_superblock(std::string_view sb) {
  if (sb.size() < 0x160 || (le32(sb, 0x38) & 0xffff) != 0xEF53)
    return Error::invalid("not an ext4 superblock");
  uint32_t log = le32(sb, 0x18);
  if (log > 6) return Error::invalid("ext4 superblock: bad block size");
  uint64_t bs = 1024ull << log;
  bool is64 = (le32(sb, 0x60) & 0x80) != 0;  // INCOMPAT_64BIT: the _hi halves are valid
  uint64_t blocks = le32(sb, 0x04), free_blocks = le32(sb, 0x0c);
  if (is64) {
    blocks |= uint64_t(le32(sb, 0x150)) << 32;
    free_blocks |= uint64_t(le32(sb, 0x158)) << 32;
  }
  // What the mounted file system's statfs leaves out of its size (ext4_calculate_overhead()): per
  // group its two bitmaps and inode table, the superblock and descriptor copies (in every group,
  // or with sparse_super in 0, 1 and the powers of 3, 5 and 7), and the internal journal. So the
  // use read here is the use df shows while the disk is mounted.
  uint64_t per_group = le32(sb, 0x20), inodes_per_group = le32(sb, 0x28);
  uint64_t inode_size = le32(sb, 0x58) & 0xffff, reserved_gdt = le32(sb, 0xCE) & 0xffff;
  uint64_t desc = is64 ? (le32(sb, 0xFE) & 0xffff) : 32;
  if (desc == 0) desc = 32;
  if (inode_size == 0) inode_size = 128;
  uint64_t first = le32(sb, 0x14), overhead = 0;
  if (per_group > 0 && blocks > first) {
    uint64_t groups = (blocks - first + per_group - 1) / per_group;
    uint64_t gdt = (groups * desc + bs - 1) / bs;
    uint64_t table = (inodes_per_group * inode_size + bs - 1) / bs;
    bool sparse = (le32(sb, 0x64) & 0x1) != 0;
    auto power_of = [](uint64_t g, uint64_t base) {
      uint64_t p = base;
      while (p < g) p *= base;
      return p == g;
    };
    overhead = first;
    for (uint64_t g = 0; g < groups; ++g) {
      bool super = !sparse || g <= 1 || power_of(g, 3) || power_of(g, 5) || power_of(g, 7);
      overhead += 2 + table + (super ? 1 + gdt + reserved_gdt : 0);
    }
    // An internal journal (inode, no device): its i_size, of which the superblock keeps a copy
    // (s_jnl_blocks[15] and [16] when s_jnl_backup_type is EXT3_JNL_BACKUP_BLOCKS).
    bool journal = (le32(sb, 0x5C) & 0x4) != 0 && le32(sb, 0xE0) != 0 && le32(sb, 0xE4) == 0;
    if (journal && (le32(sb, 0xFC) & 0xff) == 1)
      overhead += ((uint64_t(le32(sb, 0x148)) << 32) | le32(sb, 0x14C)) / bs;
  }
  if (overhead > blocks) overhead = 0;
  DiskUsage u;
  u.bytes_total = (blocks - overhead) * bs;
  u.bytes_used = blocks >= free_blocks + overhead ? (blocks - free_blocks - overhead) * bs : 0;
  u.inodes_total = le32(sb, 0x00);
  uint32_t free_inodes = le32(sb, 0x10);
  u.inodes_used = u.inodes_total >= free_inodes ? u.inodes_total - free_inodes : 0;
  return u;
}

Result<DiskUsage> disk_usage(const CtConfig& ct) {
  const std::string mnt = disk_mount_path(ct), image = disk_image_path(ct);
  if (sys::is_mount_point(mnt)) {
    struct statvfs sv;
    if (::statvfs(mnt.c_str(), &sv) != 0) return Error::from_errno(errno, "statfs `" + mnt + "`");
    DiskUsage u;
    u.bytes_total = uint64_t(sv.f_blocks) * sv.f_frsize;
    u.bytes_used = uint64_t(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    u.inodes_total = sv.f_files;
    u.inodes_used = sv.f_files - sv.f_ffree;
    return u;
  }
  UniqueFd fd(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + image + "`");
  char sb[1024];
  ssize_t n = ::pread(fd.get(), sb, sizeof sb, 1024);
  if (n != static_cast<ssize_t>(sizeof sb))
    return Error::invalid("read the superblock of `" + image + "`");
  return parse_ext4_superblock(std::string_view(sb, sizeof sb)).context("`" + image + "`");
}

std::string disk_device(const CtConfig& ct) {
  const std::string mnt = disk_mount_path(ct);
  if (!sys::is_mount_point(mnt)) return "";
  auto loops = sys::loops_backed_by(disk_image_path(ct));
  return loops.empty() ? "" : loops.front();
}

Result<ReadOnlyImageMount> ReadOnlyImageMount::mount(const std::string& image,
                                                     const std::string& target) {
  BERTH_ASSIGN_OR_RETURN(sys::LoopDevice loop,
                         sys::LoopDevice::attach(image, {.read_only = true, .direct_io = true}));
  // noload: no journal replay, the image is not written; noexec: nothing in it runs on the host.
  if (::mount(loop.path().c_str(), target.c_str(), "ext4",
              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "noload") != 0)
    return Error::from_errno(errno, "mount `" + image + "` read-only on `" + target + "`");
  if (::mount(nullptr, target.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    int err = errno;
    (void)umount_path(target);
    return Error::from_errno(err, "make `" + target + "` private");
  }
  return ReadOnlyImageMount(target);
}

ReadOnlyImageMount::ReadOnlyImageMount(ReadOnlyImageMount&& o) noexcept
    : target_(std::move(o.target_)) {
  o.target_.clear();
}

ReadOnlyImageMount& ReadOnlyImageMount::operator=(ReadOnlyImageMount&& o) noexcept {
  if (this != &o) {
    if (!target_.empty()) (void)umount_path(target_);
    target_ = std::move(o.target_);
    o.target_.clear();
  }
  return *this;
}

ReadOnlyImageMount::~ReadOnlyImageMount() {
  if (!target_.empty()) (void)umount_path(target_);
}

}  // namespace berth::storage
