#include "sys/loop.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>

#include "sys/fs.h"

namespace berth::sys {
namespace {

// A free device found by LOOP_CTL_GET_FREE can be taken by another attacher before ours
// configures it; this many tries before giving up.
constexpr int kAttachTries = 32;

Result<UniqueFd> open_loop(int index, int flags) {
  std::string dev = "/dev/loop" + std::to_string(index);
  UniqueFd fd(::open(dev.c_str(), flags | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    // A /dev that is not devtmpfs does not grow the node of a device the control made.
    if (::mknod(dev.c_str(), S_IFBLK | 0600, makedev(7, index)) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mknod `" + dev + "`");
    fd.reset(::open(dev.c_str(), flags | O_CLOEXEC));
  }
  if (!fd) return Error::from_errno(errno, "open `" + dev + "`");
  return fd;
}

}  // namespace

Result<LoopDevice> LoopDevice::attach(const std::string& file, const LoopOptions& opts) {
  UniqueFd backing(::open(file.c_str(), (opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!backing) return Error::from_errno(errno, "open `" + file + "`");
  UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!ctl) return Error::from_errno(errno, "open /dev/loop-control");
  int last_err = EBUSY;
  for (int attempt = 0; attempt < kAttachTries; ++attempt) {
    int index = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (index < 0) return Error::from_errno(errno, "find a free loop device");
    auto dev = open_loop(index, opts.read_only ? O_RDONLY : O_RDWR);
    if (!dev.ok()) {
      if (dev.error().code() == ENXIO || dev.error().code() == ENODEV) continue;
      return std::move(dev).error();
    }
    struct loop_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.fd = static_cast<uint32_t>(backing.get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (opts.read_only ? LO_FLAGS_READ_ONLY : 0);
    std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), file.c_str(), LO_NAME_SIZE - 1);
    bool dio = opts.direct_io;
    if (dio) cfg.info.lo_flags |= LO_FLAGS_DIRECT_IO;
    int rc = ::ioctl(dev->get(), LOOP_CONFIGURE, &cfg);
    if (rc != 0 && dio && errno == EINVAL) {
      // The backing file system does not take O_DIRECT at the loop's block size.
      cfg.info.lo_flags &= ~LO_FLAGS_DIRECT_IO;
      dio = false;
      rc = ::ioctl(dev->get(), LOOP_CONFIGURE, &cfg);
    }
    if (rc == 0) {
      if (dio) {
        // The kernel may have turned direct I/O down itself; report what it runs with.
        struct loop_info64 info;
        if (::ioctl(dev->get(), LOOP_GET_STATUS64, &info) == 0)
          dio = (info.lo_flags & LO_FLAGS_DIRECT_IO) != 0;
      }
      return LoopDevice("/dev/loop" + std::to_string(index), std::move(*dev), dio);
    }
    last_err = errno;
    if (errno != EBUSY) break;
  }
  return Error::from_errno(last_err, "attach `" + file + "` to a loop device");
}

Status LoopDevice::detach() {
  if (!fd_) return {};
  if (::ioctl(fd_.get(), LOOP_CLR_FD) != 0 && errno != ENXIO)
    return Error::from_errno(errno, "detach `" + path_ + "`");
  fd_.reset();
  return {};
}

bool backing_file_matches(std::string_view sysfs_value, std::string_view canonical) {
  while (!sysfs_value.empty() && sysfs_value.back() == '\n') sysfs_value.remove_suffix(1);
  return !canonical.empty() && sysfs_value == canonical;
}

std::vector<std::string> loops_backed_by(const std::string& file, const std::string& sysfs_root) {
  std::vector<std::string> out;
  char real[PATH_MAX];
  if (::realpath(file.c_str(), real) == nullptr) return out;
  std::string block = sysfs_root + "/block";
  DIR* d = ::opendir(block.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("loop", 0) != 0) continue;
    auto v = read_file(block + "/" + name + "/loop/backing_file");
    if (v.ok() && backing_file_matches(*v, real)) out.push_back("/dev/" + name);
  }
  ::closedir(d);
  return out;
}

Status set_loop_capacity(const std::string& dev) {
  UniqueFd fd(::open(dev.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + dev + "`");
  if (::ioctl(fd.get(), LOOP_SET_CAPACITY, 0) != 0)
    return Error::from_errno(errno, "set the capacity of `" + dev + "`");
  return {};
}

Status detach_loop(const std::string& dev) {
  UniqueFd fd(::open(dev.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? Status{} : Error::from_errno(errno, "open `" + dev + "`");
  if (::ioctl(fd.get(), LOOP_CLR_FD) != 0 && errno != ENXIO)
    return Error::from_errno(errno, "detach `" + dev + "`");
  return {};
}

std::vector<int> unbound_loops(int first, const std::string& sysfs_root) {
  std::vector<int> out;
  const std::string block = sysfs_root + "/block/";
  DIR* d = ::opendir(block.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.rfind("loop", 0) != 0) continue;
    int index = -1;
    auto [end, ec] = std::from_chars(name.data() + 4, name.data() + name.size(), index);
    if (ec != std::errc() || end != name.data() + name.size() || index < first) continue;
    struct stat st;
    if (::stat((block + e->d_name + "/loop").c_str(), &st) == 0) continue;  // bound
    out.push_back(index);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

size_t remove_loops(const std::vector<int>& indexes, unsigned parallel) {
  if (indexes.empty()) return 0;
  UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!ctl) return 0;
  std::atomic<size_t> removed{0};
  std::vector<int> todo = indexes;
  // A device another remover is looking at (another instance's sweep: the kernel hides it while
  // it checks, ENODEV) or that something opened for a moment (EBUSY) is tried again, twice, 20 ms
  // apart, while it still exists: only then is it someone's.
  for (int pass = 0; pass < 3 && !todo.empty(); ++pass) {
    if (pass > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::atomic<size_t> next{0};
    std::vector<char> again(todo.size(), 0);
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
        if (::ioctl(ctl.get(), LOOP_CTL_REMOVE, todo[i]) == 0)
          removed.fetch_add(1);
        else if (errno == EBUSY || errno == ENODEV)
          again[i] = 1;
      }
    };
    std::vector<std::thread> threads;
    const size_t want = std::min<size_t>(std::max(parallel, 1U), todo.size());
    for (size_t t = 1; t < want; ++t) {
      try {
        threads.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no more threads to be had (a pids limit): the ones made, and this one, do it
      }
    }
    work();
    for (auto& t : threads) t.join();
    std::vector<int> left;
    for (size_t i = 0; i < todo.size(); ++i) {
      struct stat st;
      if (again[i] && ::stat(("/sys/block/loop" + std::to_string(todo[i])).c_str(), &st) == 0)
        left.push_back(todo[i]);
    }
    todo = std::move(left);
  }
  return removed.load();
}

int boot_loop_count(const std::string& sysfs_root) {
  auto v = read_file(sysfs_root + "/module/loop/parameters/max_loop");
  int n = 0;
  if (v.ok()) {
    std::string_view s = *v;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) n = 0;
  }
  return n > 0 ? n : 8;
}

}  // namespace berth::sys
