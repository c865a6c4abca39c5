#include "isolation/init_kind.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "core/unique_fd.h"

namespace berth::isolation {

std::string_view init_kind_name(InitKind k) {
  switch (k) {
    case InitKind::kMissing: return "missing";
    case InitKind::kSystemd: return "systemd";
    case InitKind::kBusybox: return "busybox";
    case InitKind::kOther: return "other";
  }
  return "other";
}

InitKind init_kind_of_name(std::string_view resolved_path) {
  size_t slash = resolved_path.find_last_of('/');
  std::string_view base =
      slash == std::string_view::npos ? resolved_path : resolved_path.substr(slash + 1);
  if (base.empty()) return InitKind::kMissing;
  if (base == "systemd") return InitKind::kSystemd;
  if (base == "busybox") return InitKind::kBusybox;
  return InitKind::kOther;
}

InitKind init_kind(int root_fd) {
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root_fd, "sbin/init", &how, sizeof how)));
  if (!fd) return InitKind::kMissing;
  char buf[PATH_MAX];
  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return InitKind::kOther;
  return init_kind_of_name(std::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace berth::isolation
