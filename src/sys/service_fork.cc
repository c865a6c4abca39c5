#include "sys/service_fork.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sys/fs.h"

namespace berth::sys {

std::optional<ArgArea> service_fork_area(std::string_view args) {
  auto stat = read_file("/proc/self/stat");
  if (!stat.ok()) return std::nullopt;
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 > stat->size()) return std::nullopt;
  // Fields 3 on (the state letter reads as 0); 20 is the thread count, 48 and 49 the area.
  std::vector<unsigned long long> f;
  const char* at = stat->c_str() + close + 2;
  while (*at != '\0' && f.size() < 47) {
    if (*at == ' ') {
      ++at;
      continue;
    }
    f.push_back(std::strtoull(at, nullptr, 10));
    const char* space = std::strchr(at, ' ');
    if (space == nullptr) break;
    at = space;
  }
  if (f.size() < 47 || f[20 - 3] != 1) return std::nullopt;
  unsigned long long start = f[48 - 3], end = f[49 - 3];
  if (end <= start || end - start < args.size()) return std::nullopt;
  return ArgArea{reinterpret_cast<char*>(start), static_cast<size_t>(end - start)};
}

void become_service(const ArgArea& area, std::string_view args) {
  for (int s = 1; s < NSIG; ++s) {
    struct sigaction old {};
    if (s == SIGKILL || s == SIGSTOP || ::sigaction(s, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) ::signal(s, SIG_DFL);
  }
  std::memset(area.start, 0, area.size);
  std::memcpy(area.start, args.data(), args.size());
  (void)std::setvbuf(stdout, nullptr, _IOFBF, BUFSIZ);
}

}  // namespace berth::sys
