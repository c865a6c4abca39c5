// berth_probe: a static, dependency-free binary run inside a container by the integration tests.
// It prints one JSON object with what the container sees: its pid/ppid, ids and id maps,
// capability sets, seccomp mode, no_new_privs, hostname, mount table, cgroups, visible processes,
// and the outcome of operations a container must not be allowed (mknod of a block device, module
// loading, writing /proc/sysrq-trigger, raw I/O, setting the clock). Each attempted operation is
// reported as "ok" or the errno name. Usage: berth_probe [--path HOST_PATH]...  (each path is
// checked for reachability: stat and open for reading). `berth_probe <subcommand> ...` runs one of
// the network tools of probe_net.cc instead.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string read_file(const char* path) {
  std::string out;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t b = s.find_first_not_of(" \t", pos);
    if (b == std::string::npos) break;
    size_t e = s.find_first_of(" \t", b);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(b, e - b));
    pos = e;
  }
  return out;
}

// "ok" when rc == 0, else the errno's name (strerrorname_np is glibc >= 2.32).
std::string outcome(long rc, int err) {
  if (rc >= 0) return "ok";
  const char* name = ::strerrorname_np(err);
  return name ? name : std::to_string(err);
}

std::string status_field(const std::string& status, const std::string& key) {
  for (const auto& l : lines(status))
    if (l.compare(0, key.size() + 1, key + ":") == 0) {
      size_t b = l.find_first_not_of(" \t", key.size() + 1);
      return b == std::string::npos ? "" : l.substr(b);
    }
  return "";
}

std::string mounts_json() {
  // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source
  // superopts
  std::string out = "[";
  bool first = true;
  for (const auto& l : lines(read_file("/proc/self/mountinfo"))) {
    auto w = words(l);
    if (w.size() < 7) continue;
    size_t dash = 6;
    while (dash < w.size() && w[dash] != "-") ++dash;
    std::string fstype = dash + 1 < w.size() ? w[dash + 1] : "";
    std::string source = dash + 2 < w.size() ? w[dash + 2] : "";
    if (!first) out += ",";
    first = false;
    out += "{\"root\":" + quote(w[3]) + ",\"mountpoint\":" + quote(w[4]) +
           ",\"fstype\":" + quote(fstype) + ",\"source\":" + quote(source) +
           ",\"options\":" + quote(w[5]) + "}";
  }
  return out + "]";
}

std::string processes_json() {
  std::string out = "[";
  bool first = true;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::string comm = read_file(("/proc/" + std::string(e->d_name) + "/comm").c_str());
      if (!comm.empty() && comm.back() == '\n') comm.pop_back();
      if (!first) out += ",";
      first = false;
      out += "{\"pid\":" + std::string(e->d_name) + ",\"comm\":" + quote(comm) + "}";
    }
    ::closedir(d);
  }
  return out + "]";
}

std::string try_mknod_block() {
  const char* path = "/tmp/.berth-probe-blk";
  ::unlink(path);
  int rc = ::mknod(path, S_IFBLK | 0600, makedev(7, 0));
  int err = errno;
  if (rc == 0) ::unlink(path);
  return outcome(rc, err);
}

std::string try_init_module() {
  // Without CAP_SYS_MODULE (or under the seccomp filter) the kernel says EPERM before it
  // looks at the (invalid) arguments; EFAULT would mean the permission check passed.
  long rc = ::syscall(SYS_init_module, nullptr, 0UL, "");
  return outcome(rc, errno);
}

// Only the seccomp filter answers ENOSYS here (the kernel has both calls): it proves the filter,
// not a missing capability, refused them.
std::string try_keyctl() {
  long rc = ::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2 /* process keyring */, 0);
  return outcome(rc, errno);
}

std::string try_io_uring_setup() {
  long rc = ::syscall(SYS_io_uring_setup, 1U, nullptr);  // EFAULT would mean "allowed"
  return outcome(rc, errno);
}

std::string try_finit_module() {
  long rc = ::syscall(SYS_finit_module, -1, "", 0);  // EBADF would mean "allowed"
  return outcome(rc, errno);
}

std::string try_sysrq() {
  // 'h' only prints the sysrq help to the kernel log, should the write ever get through.
  int fd = ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return outcome(-1, errno);
  ssize_t n = ::write(fd, "h", 1);
  int err = errno;
  ::close(fd);
  return outcome(n == 1 ? 0 : -1, n < 0 ? err : EIO);
}

std::string try_settime() {
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  int rc = ::clock_settime(CLOCK_REALTIME, &now);
  return outcome(rc, errno);
}

std::string try_ioperm() {
#if defined(__x86_64__) || defined(__i386__)
  long rc = ::syscall(SYS_ioperm, 0x80UL, 1UL, 1);
  int err = errno;
  if (rc == 0) ::syscall(SYS_ioperm, 0x80UL, 1UL, 0);
  return outcome(rc, err);
#else
  return "ENOSYS";
#endif
}

std::string path_json(const std::string& path) {
  struct stat st;
  int src = ::stat(path.c_str(), &st);
  std::string stat_out = outcome(src, errno);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string open_out = outcome(fd, errno);
  if (fd >= 0) ::close(fd);
  return "{\"path\":" + quote(path) + ",\"stat\":" + quote(stat_out) +
         ",\"open\":" + quote(open_out) + "}";
}

std::string strings_json(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + quote(v[i]);
  return out + "]";
}

// --forkbomb SECONDS: every process forks as fast as it can until the time is up, and keeps trying
// when the kernel refuses (a bomb that does not collapse at its first refused fork, as a shell's
// does). Prints what this first process made and was refused.
int fork_bomb(int secs) {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  time_t end = now.tv_sec + secs;
  bool first = true;
  long made = 0, refused = 0;
  for (;;) {
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec >= end) break;
    pid_t p = ::fork();
    if (p == 0) {
      first = false;
      continue;
    }
    if (p > 0) {
      ++made;
      continue;
    }
    ++refused;
    ::usleep(1000);
  }
  if (!first) ::_exit(0);
  while (::wait(nullptr) > 0 || errno == EINTR) {}
  std::printf("{\"forked\":%ld,\"refused\":%ld}\n", made, refused);
  return 0;
}

// Kernel objects a CT must not take from the host (tests/integration/limits_test.cc).
void raise_nofile() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// --inotify-hold MAX SECONDS: open inotify instances until the kernel refuses one or MAX are open,
// print {"opened":N,"error":"EMFILE"|"none"} at once, then keep them open for SECONDS.
int inotify_hold(int max, int secs) {
  raise_nofile();
  int n = 0;
  int err = 0;
  for (; n < max; ++n) {
    if (::inotify_init1(IN_CLOEXEC) < 0) {
      err = errno;
      break;
    }
  }
  std::printf("{\"opened\":%d,\"error\":%s}\n", n, quote(err ? outcome(-1, err) : "none").c_str());
  std::fflush(stdout);
  ::sleep(static_cast<unsigned>(secs));
  return 0;
}

// --pty-fill MAX: open /dev/ptmx until the kernel refuses one or MAX are open; print
// {"opened":N,"error":...}; all are closed at exit.
int pty_fill(int max) {
  raise_nofile();
  int n = 0;
  int err = 0;
  for (; n < max; ++n) {
    if (::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) < 0) {
      err = errno;
      break;
    }
  }
  std::printf("{\"opened\":%d,\"error\":%s}\n", n, quote(err ? outcome(-1, err) : "none").c_str());
  return 0;
}

// ---------------------------------------------------------------- TCP throughput and latency
// tcprecv PORT [SKIP_MS]        accept one connection on [::]:PORT (IPv4 too), read to EOF; print
//                               {"bytes","measured_bytes","measured_seconds","bits_per_second"}:
//                               the rate over what came after the first SKIP_MS ms (the bucket's
//                               burst).
// tcpsend HOST PORT SECONDS     connect (retrying while refused, up to 10 s), send for SECONDS;
//                               print {"bytes","seconds"}.
// tcpecho PORT                  accept one connection, echo everything back until EOF.
// tcprr HOST PORT COUNT         COUNT round trips of 1 byte; print {"count","median_us","mean_us"}.

double now_s() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int tcp_listen_accept(const char* port_s) {
  int ls = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) return -1;
  int one = 1, zero = 0;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  struct sockaddr_in6 a {};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(std::atoi(port_s)));
  a.sin6_addr = in6addr_any;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1) != 0) return -1;
  struct pollfd p {
    ls, POLLIN, 0
  };
  if (::poll(&p, 1, 20000) <= 0) return -1;
  int c = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(ls);
  if (c >= 0) ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return c;
}

int tcp_connect(const char* host, const char* port) {
  struct sockaddr_storage ss {};
  socklen_t len = 0;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  uint16_t p = htons(static_cast<uint16_t>(std::atoi(port)));
  if (::inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = p;
    len = sizeof *a4;
  } else if (::inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = p;
    len = sizeof *a6;
  } else {
    return -1;
  }
  double deadline = now_s() + 10;
  int fd = -1;
  while (fd < 0 && now_s() < deadline) {
    fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd);
      fd = -1;
      ::usleep(20000);
    }
  }
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int tcp_main(int argc, char** argv) {
  std::string cmd = argv[1];
  static char buf[1 << 16];
  if (cmd == "tcprecv" && argc >= 3) {
    double skip = argc >= 4 ? std::atof(argv[3]) / 1000 : 0;
    int c = tcp_listen_accept(argv[2]);
    if (c < 0) return std::perror("tcprecv"), 1;
    unsigned long long total = 0, measured = 0;
    double first = 0, mark = 0, last = 0;
    for (;;) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      last = now_s();
      if (total == 0) first = last;
      total += static_cast<unsigned long long>(n);
      if (last - first < skip) continue;
      if (mark == 0)
        mark = last;  // bytes of this read arrived before mark: not counted
      else
        measured += static_cast<unsigned long long>(n);
    }
    double secs = last - mark;
    std::printf(
        "{\"bytes\":%llu,\"measured_bytes\":%llu,\"measured_seconds\":%.6f,\"bits_per_second\":%."
        "0f}\n",
        total, measured, secs, secs > 0 ? static_cast<double>(measured) * 8 / secs : 0.0);
    return 0;
  }
  if (cmd == "tcpsend" && argc >= 5) {
    int fd = tcp_connect(argv[2], argv[3]);
    if (fd < 0) return std::perror("tcpsend"), 1;
    double start = now_s(), end = start + std::atof(argv[4]);
    unsigned long long sent = 0;
    std::memset(buf, 'x', sizeof buf);
    while (now_s() < end) {
      ssize_t n = ::write(fd, buf, sizeof buf);
      if (n <= 0) return std::perror("tcpsend"), 1;
      sent += static_cast<unsigned long long>(n);
    }
    ::shutdown(fd, SHUT_WR);
    while (::read(fd, buf, sizeof buf) > 0) {}
    std::printf("{\"bytes\":%llu,\"seconds\":%.6f}\n", sent, now_s() - start);
    return 0;
  }
  if (cmd == "tcpecho" && argc >= 3) {
    int c = tcp_listen_accept(argv[2]);
    if (c < 0) return std::perror("tcpecho"), 1;
    for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;)
      if (::write(c, buf, static_cast<size_t>(n)) != n) return 1;
    std::printf("{}\n");
    return 0;
  }
  if (cmd == "tcprr" && argc >= 5) {
    int fd = tcp_connect(argv[2], argv[3]);
    if (fd < 0) return std::perror("tcprr"), 1;
    int count = std::atoi(argv[4]);
    std::vector<double> us;
    for (int i = 0; i < count; ++i) {
      char b = 'r';
      double t0 = now_s();
      if (::write(fd, &b, 1) != 1 || ::read(fd, &b, 1) != 1) return std::perror("tcprr"), 1;
      us.push_back((now_s() - t0) * 1e6);
    }
    ::close(fd);
    double sum = 0;
    for (double u : us) sum += u;
    std::sort(us.begin(), us.end());
    std::printf("{\"count\":%d,\"median_us\":%.2f,\"mean_us\":%.2f}\n", count,
                us.empty() ? 0 : us[us.size() / 2],
                us.empty() ? 0 : sum / static_cast<double>(us.size()));
    return 0;
  }
  std::fprintf(stderr,
               "usage: berth_probe tcprecv PORT [SKIP_MS] | tcpsend HOST PORT SECONDS | tcpecho "
               "PORT | tcprr HOST PORT COUNT\n");
  return 2;
}
}  // namespace

// Network subcommands (probe_net.cc): sniff, spoof, sendeth, sendarp, udp-listen, udp-send.
int net_main(int argc, char** argv);
// exec-* subcommands (probe_exec.cc): the fds and session of an exec'ed command, TIOCSTI, io_uring.
int exec_main(int argc, char** argv);
// /proc load tools (probe_proc.cc): --proc-hold, --proc-loop, --proc-lat.
int proc_main(int argc, char** argv);

int main(int argc, char** argv) {
  if (argc > 1 && std::strncmp(argv[1], "--proc-", 7) == 0) return proc_main(argc, argv);
  if (argc == 3 && std::strcmp(argv[1], "--forkbomb") == 0) return fork_bomb(std::atoi(argv[2]));
  if (argc == 4 && std::strcmp(argv[1], "--inotify-hold") == 0)
    return inotify_hold(std::atoi(argv[2]), std::atoi(argv[3]));
  if (argc == 3 && std::strcmp(argv[1], "--pty-fill") == 0) return pty_fill(std::atoi(argv[2]));
  // --mkdeep DIR DEPTH LEN PID: DEPTH nested directories of LEN-character names below DIR, made
  // with dir fds (past PATH_MAX); PID goes into the deepest's cgroup.procs. Prints the depth made.
  if (argc == 6 && std::strcmp(argv[1], "--mkdeep") == 0) {
    int fd = ::open(argv[2], O_RDONLY | O_DIRECTORY);
    int depth = std::atoi(argv[3]), made = 0;
    std::string name(static_cast<size_t>(std::atoi(argv[4])), 'd');
    while (fd >= 0 && made < depth && ::mkdirat(fd, name.c_str(), 0755) == 0) {
      int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
      ::close(fd);
      fd = next;
      if (fd >= 0) ++made;
    }
    if (fd >= 0 && made > 0) {
      int p = ::openat(fd, "cgroup.procs", O_WRONLY);
      if (p >= 0) {
        (void)!::write(p, argv[5], std::strlen(argv[5]));
        ::close(p);
      }
    }
    if (fd >= 0) ::close(fd);
    std::printf("%d\n", made);
    return 0;
  }
  // --setnofile PID SOFT HARD: prlimit(2) RLIMIT_NOFILE of another process (busybox has no
  // prlimit).
  if (argc == 5 && std::strcmp(argv[1], "--setnofile") == 0) {
    struct rlimit rl {
      std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10)
    };
    if (::prlimit(std::atoi(argv[2]), RLIMIT_NOFILE, &rl, nullptr) != 0) {
      std::perror("prlimit");
      return 1;
    }
    return 0;
  }
  if (argc > 1 && std::strncmp(argv[1], "tcp", 3) == 0) return tcp_main(argc, argv);
  if (argc > 1 && std::strncmp(argv[1], "exec-", 5) == 0) return exec_main(argc, argv);
  if (argc > 1 && argv[1][0] != '-') return net_main(argc, argv);
  // Only the ids (a setuid copy run by another user shows whose id it got).
  if (argc == 2 && std::strcmp(argv[1], "--ids") == 0) {
    std::printf("{\"uid\":%u,\"euid\":%u}\n", ::getuid(), ::geteuid());
    return 0;
  }
  // Whether PATH opens for writing; closed at once, nothing is written.
  if (argc == 3 && std::strcmp(argv[1], "--open-write") == 0) {
    int fd = ::open(argv[2], O_WRONLY | O_CLOEXEC | O_NOCTTY);
    int err = errno;
    if (fd >= 0) ::close(fd);
    std::printf("%s\n", fd >= 0 ? "ok" : ::strerrorname_np(err));
    return 0;
  }
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
      paths.push_back(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: berth_probe [--path HOST_PATH]...\n");
      return 2;
    }
  }
  std::string status = read_file("/proc/self/status");
  struct utsname uts;
  ::uname(&uts);

  std::string j = "{";
  j += "\"pid\":" + std::to_string(::getpid());
  j += ",\"ppid\":" + std::to_string(::getppid());
  j += ",\"uid\":" + std::to_string(::getuid());
  j += ",\"gid\":" + std::to_string(::getgid());
  j += ",\"euid\":" + std::to_string(::geteuid());
  j += ",\"uid_map\":" + strings_json(lines(read_file("/proc/self/uid_map")));
  j += ",\"gid_map\":" + strings_json(lines(read_file("/proc/self/gid_map")));
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    j += std::string(",\"") + cap + "\":" + quote(status_field(status, cap));
  j += ",\"seccomp\":" + std::to_string(::prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
  j += ",\"seccomp_status\":" + quote(status_field(status, "Seccomp"));
  j += ",\"no_new_privs\":" + std::to_string(::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  j += ",\"hostname\":" + quote(uts.nodename);
  j += ",\"cgroup\":" + strings_json(lines(read_file("/proc/self/cgroup")));
  j += ",\"mounts\":" + mounts_json();
  j += ",\"processes\":" + processes_json();
  j += ",\"mknod_block\":" + quote(try_mknod_block());
  j += ",\"init_module\":" + quote(try_init_module());
  j += ",\"finit_module\":" + quote(try_finit_module());
  j += ",\"keyctl\":" + quote(try_keyctl());
  j += ",\"io_uring_setup\":" + quote(try_io_uring_setup());
  j += ",\"sysrq_trigger\":" + quote(try_sysrq());
  j += ",\"settime\":" + quote(try_settime());
  j += ",\"ioperm\":" + quote(try_ioperm());
  j += ",\"paths\":[";
  for (size_t i = 0; i < paths.size(); ++i) j += (i ? "," : "") + path_json(paths[i]);
  j += "]}";
  std::puts(j.c_str());
  return 0;
}
