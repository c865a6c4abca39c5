#include "monitor/report.h"

#include <unistd.h>

#include <cstdlib>

namespace berth::monitor {

bool in_worker() { return std::getenv(kReportFdEnv) != nullptr; }

void report_init(const std::string& ctid, pid_t init) {
  const char* env = std::getenv(kReportFdEnv);
  if (!env) return;
  char* end = nullptr;
  long fd = std::strtol(env, &end, 10);
  if (end == env || *end != 0 || fd < 0 || fd > 1023) return;
  std::string line = ctid + " " + std::to_string(init) + "\n";
  // One short write to a pipe: atomic. Best effort: a lost line means a CT watched as adopted.
  (void)!::write(static_cast<int>(fd), line.data(), line.size());
}

}  // namespace berth::monitor
