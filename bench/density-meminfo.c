/* bench/density: reads a file (default /proc/meminfo) N times (open, read to EOF, close), each
 * read timed on its own, with GAP_US microseconds of sleep between reads (0: back to back), and
 * prints "<mean> <median> <p99> us/read <N> reads <bytes> bytes/read". Built static by
 * bench/density.py and run inside one container. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  const char *path = argc > 2 ? argv[2] : "/proc/meminfo";
  long gap = argc > 3 ? atol(argv[3]) : 0;
  static char buf[65536];
  if (n < 1) n = 1;
  double *t = malloc(sizeof(double) * (size_t)n), sum = 0;
  long bytes = 0;
  if (!t) return 1;
  for (int i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(path); return 1; }
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) bytes += r;
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &b);
    t[i] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3;
    sum += t[i];
    if (gap > 0) usleep((useconds_t)gap);
  }
  qsort(t, (size_t)n, sizeof(double), cmp);
  printf("%.3f %.3f %.3f us/read %d reads %ld bytes/read\n", sum / n, t[n / 2],
         t[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1], n, bytes / n);
  return 0;
}
