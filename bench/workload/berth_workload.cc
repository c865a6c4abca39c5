// berth_workload: a static, dependency-free program for bench/overhead and bench/containment.
// It is copied into a VPS (or run on the bare host) and times itself, so the numbers do not
// include the cost of `berth exec`. Every measuring subcommand prints one JSON object.
//
//   cpu ITERS          CPU-bound: an integer hash chain plus a floating-point recurrence
//   membw MB REPS      memory-bandwidth-bound: REPS passes of a STREAM-like triad over three
//                      MB-MiB arrays (a = b + s*c); reports GB/s of the best and the total time
//   pingpong N GAP_US  request latency: a child "server" answers 64-byte requests over a
//                      socketpair; N requests, GAP_US idle between them; p50/p90/p99/max in us
//   memhog MB          allocates and touches MB MiB, then holds it (to be OOM-killed)
//   forkbomb           every process forks as fast as it can, forever (stopped by pids.max)
//   spin               burns one CPU forever
//   iohog PATH MB      rewrites a MB-MiB file at PATH with 1 MiB O_DIRECT writes, forever
//   repeat N CMD ARGS  runs CMD (a path) N times one after another, its output to /dev/null;
//                      the total time in ns and how many runs failed (bench/procview)
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int cpu(long iters) {
  int64_t t0 = now_ns();
  uint64_t h = 1469598103934665603ULL;
  double x = 0.5;
  for (long i = 0; i < iters; ++i) {
    h = (h ^ static_cast<uint64_t>(i)) * 1099511628211ULL;
    x = x * 3.7 * (1.0 - x);  // logistic map: stays in (0, 1), cannot be folded away
  }
  int64_t t1 = now_ns();
  std::printf("{\"workload\":\"cpu\",\"iters\":%ld,\"ns\":%lld,\"check\":\"%016llx/%.6f\"}\n",
              iters, static_cast<long long>(t1 - t0), static_cast<unsigned long long>(h), x);
  return 0;
}

int membw(long mb, int reps) {
  size_t n = static_cast<size_t>(mb) * 1024 * 1024 / sizeof(double);
  std::vector<double> a(n, 0.0), b(n, 1.0), c(n, 2.0);  // touched here, before the clock starts
  const double s = 3.0;
  int64_t best = INT64_MAX, total = 0;
  for (int r = 0; r < reps; ++r) {
    int64_t t0 = now_ns();
    for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    int64_t dt = now_ns() - t0;
    best = std::min(best, dt);
    total += dt;
    std::swap(a, b);
  }
  double bytes = 3.0 * static_cast<double>(n) * sizeof(double);
  std::printf(
      "{\"workload\":\"membw\",\"mb\":%ld,\"reps\":%d,\"ns\":%lld,\"best_gbps\":%.3f,\"check\":%."
      "1f}\n",
      mb, reps, static_cast<long long>(total), bytes / static_cast<double>(best),
      a[n / 2] + b[n / 3]);
  return 0;
}

int pingpong(int count, int gap_us) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    std::perror("socketpair");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  char buf[64];
  if (pid == 0) {  // server: echo every request, with a little work (sum the bytes)
    ::close(sv[0]);
    ssize_t n;
    while ((n = ::read(sv[1], buf, sizeof buf)) > 0) {
      unsigned sum = 0;
      for (ssize_t i = 0; i < n; ++i) sum += static_cast<unsigned char>(buf[i]);
      buf[0] = static_cast<char>(sum);
      if (::write(sv[1], buf, static_cast<size_t>(n)) != n) break;
    }
    ::_exit(0);
  }
  ::close(sv[1]);
  std::vector<int64_t> lat;
  lat.reserve(static_cast<size_t>(count));
  std::memset(buf, 'x', sizeof buf);
  int errors = 0;
  for (int i = 0; i < count; ++i) {
    if (gap_us > 0) ::usleep(static_cast<useconds_t>(gap_us));
    int64_t t0 = now_ns();
    if (::write(sv[0], buf, sizeof buf) != sizeof buf ||
        ::read(sv[0], buf, sizeof buf) != sizeof buf) {
      ++errors;
      break;
    }
    lat.push_back(now_ns() - t0);
  }
  ::close(sv[0]);
  ::waitpid(pid, nullptr, 0);
  if (lat.empty()) {
    std::printf("{\"workload\":\"pingpong\",\"n\":0,\"errors\":%d}\n", errors);
    return 1;
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(lat.size() - 1) + 0.5);
    return static_cast<double>(lat[i]) / 1000.0;
  };
  std::printf(
      "{\"workload\":\"pingpong\",\"n\":%zu,\"gap_us\":%d,\"errors\":%d,\"p50_us\":%.1f,\"p90_us\":"
      "%.1f,"
      "\"p99_us\":%.1f,\"max_us\":%.1f}\n",
      lat.size(), gap_us, errors, pct(0.5), pct(0.9), pct(0.99), pct(1.0));
  return errors ? 1 : 0;
}

int memhog(long mb) {
  std::vector<char*> chunks;
  for (long i = 0; i < mb; ++i) {
    char* p = static_cast<char*>(std::malloc(1 << 20));
    if (!p) return 1;
    std::memset(p, static_cast<int>(i), 1 << 20);
    chunks.push_back(p);
  }
  for (;;) ::pause();
}

int forkbomb() {
  for (;;) {
    pid_t p = ::fork();
    if (p < 0) ::usleep(1000);  // at pids.max: keep trying, as a real bomb does, without a hot spin
  }
}

int spin() {
  volatile uint64_t x = 0;
  for (;;) x = x + 1;
}

int iohog(const char* path, long mb) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror("open");
    return 1;
  }
  void* buf = nullptr;
  if (::posix_memalign(&buf, 4096, 1 << 20) != 0) return 1;
  std::memset(buf, 0x5a, 1 << 20);
  for (long i = 0;; i = (i + 1) % mb)
    if (::pwrite(fd, buf, 1 << 20, static_cast<off_t>(i) << 20) < 0) {
      std::perror("pwrite");
      return 1;
    }
}

int repeat(long n, char** cmd) {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return 1;
  long failed = 0;
  int64_t t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t p = ::fork();
    if (p < 0) return 1;
    if (p == 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execv(cmd[0], cmd);
      ::_exit(127);
    }
    int st = 0;
    while (::waitpid(p, &st, 0) < 0) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
  }
  int64_t t1 = now_ns();
  std::printf("{\"ns\": %lld, \"runs\": %ld, \"failed\": %ld}\n", static_cast<long long>(t1 - t0),
              n, failed);
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: berth_workload cpu ITERS | membw MB REPS | pingpong N GAP_US | memhog MB | "
               "forkbomb | spin |"
               " iohog PATH MB | repeat N CMD [ARGS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string_view cmd = argv[1];
  auto num = [&](int i, long dflt) { return argc > i ? std::strtol(argv[i], nullptr, 10) : dflt; };
  if (cmd == "cpu") return cpu(num(2, 200000000));
  if (cmd == "membw") return membw(num(2, 128), static_cast<int>(num(3, 10)));
  if (cmd == "pingpong")
    return pingpong(static_cast<int>(num(2, 2000)), static_cast<int>(num(3, 1000)));
  if (cmd == "memhog") return memhog(num(2, 256));
  if (cmd == "forkbomb") return forkbomb();
  if (cmd == "spin") return spin();
  if (cmd == "iohog" && argc > 2) return iohog(argv[2], std::max(1L, num(3, 64)));
  if (cmd == "repeat" && argc > 3) return repeat(std::max(1L, num(2, 1)), argv + 3);
  return usage();
}
