#include "sys/service_fork.h"

#include <signal.h>

#include <cstdio>
#include <cstring>

#include "sys/fs.h"

namespace berth::sys {

std::optional<ArgArea> service_fork_area(std::string_view args) {
  // Field 20: the thread count; 48 and 49: the command-line area.
  auto f = proc_stat_fields(0);
  if (!f || f->size() < 49 - 2 || (*f)[20 - 3] != 1) return std::nullopt;
  uint64_t start = (*f)[48 - 3], end = (*f)[49 - 3];
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
