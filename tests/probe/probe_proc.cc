// berth_probe's /proc load tools (used by tests/integration/procsrv_test.cc), run inside a CT:
//   --proc-hold N PATH OUT   open PATH N times and keep every descriptor (the soft RLIMIT_NOFILE is
//                            raised to the hard one first); write "<opened> <errno of the first
//                            failure or 0>" to OUT, then sleep until killed.
//   --proc-loop MS PATH      open, read to EOF and close PATH in a loop for MS milliseconds; prints
//                            the number of rounds.
//   --proc-lat N PATH...     N rounds of open + read to EOF + close of each PATH, timed; prints one
//                            line per PATH: "<path> <median us> <p90 us> <max us> <failures>".
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double now_us() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Open, read to EOF, close; false on an error.
bool read_whole(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16384];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {}
  ::close(fd);
  return n == 0;
}

int hold(long count, const char* path, const char* out) {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  long opened = 0;
  int err = 0;
  for (; opened < count; ++opened) {
    if (::open(path, O_RDONLY) < 0) {
      err = errno;
      break;
    }
  }
  std::string line = std::to_string(opened) + " " + std::to_string(err) + "\n";
  int fd = ::open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
  }
  for (;;) ::pause();
}

int loop(long ms, const char* path) {
  double end = now_us() + static_cast<double>(ms) * 1000;
  long rounds = 0;
  while (now_us() < end) {
    read_whole(path);
    ++rounds;
  }
  std::printf("%ld\n", rounds);
  return 0;
}

int latency(long rounds, int npaths, char** paths) {
  std::vector<std::vector<double>> t(static_cast<size_t>(npaths));
  std::vector<long> failures(static_cast<size_t>(npaths));
  for (long r = 0; r < rounds; ++r)
    for (int p = 0; p < npaths; ++p) {
      double a = now_us();
      if (!read_whole(paths[p])) ++failures[static_cast<size_t>(p)];
      t[static_cast<size_t>(p)].push_back(now_us() - a);
    }
  for (int p = 0; p < npaths; ++p) {
    auto& v = t[static_cast<size_t>(p)];
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      return v.empty() ? 0.0
                       : v[std::min(v.size() - 1,
                                    static_cast<size_t>(q * static_cast<double>(v.size())))];
    };
    std::printf("%s %.1f %.1f %.1f %ld\n", paths[p], at(0.5), at(0.9), v.empty() ? 0.0 : v.back(),
                failures[static_cast<size_t>(p)]);
  }
  return 0;
}

}  // namespace

int proc_main(int argc, char** argv) {
  std::string cmd = argv[1];
  if (cmd == "--proc-hold" && argc == 5) return hold(std::atol(argv[2]), argv[3], argv[4]);
  if (cmd == "--proc-loop" && argc == 4) return loop(std::atol(argv[2]), argv[3]);
  if (cmd == "--proc-lat" && argc >= 4) return latency(std::atol(argv[2]), argc - 3, argv + 3);
  std::fprintf(
      stderr,
      "usage: berth_probe --proc-hold N PATH OUT | --proc-loop MS PATH | --proc-lat N PATH...\n");
  return 2;
}
