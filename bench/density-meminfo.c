/* bench/density: reads a file (default /proc/meminfo) N times (open, read to EOF, close) and prints
 * the mean time per read. Built static by bench/density.py and run inside one container. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  const char *path = argc > 2 ? argv[2] : "/proc/meminfo";
  static char buf[65536];
  struct timespec a, b;
  long bytes = 0;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(path); return 1; }
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) bytes += r;
    close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
  printf("%.3f us/read %d reads %ld bytes/read\n", us, n, bytes / n);
  return 0;
}
