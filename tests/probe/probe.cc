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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
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
  // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superopts
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
    out += "{\"root\":" + quote(w[3]) + ",\"mountpoint\":" + quote(w[4]) + ",\"fstype\":" + quote(fstype) +
           ",\"source\":" + quote(source) + ",\"options\":" + quote(w[5]) + "}";
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
  return "{\"path\":" + quote(path) + ",\"stat\":" + quote(stat_out) + ",\"open\":" + quote(open_out) + "}";
}

std::string strings_json(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + quote(v[i]);
  return out + "]";
}

}  // namespace

// Network subcommands (probe_net.cc): sniff, spoof, sendeth, sendarp, udp-listen, udp-send.
int net_main(int argc, char** argv);

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] != '-') return net_main(argc, argv);
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
  j += ",\"sysrq_trigger\":" + quote(try_sysrq());
  j += ",\"settime\":" + quote(try_settime());
  j += ",\"ioperm\":" + quote(try_ioperm());
  j += ",\"paths\":[";
  for (size_t i = 0; i < paths.size(); ++i) j += (i ? "," : "") + path_json(paths[i]);
  j += "]}";
  std::puts(j.c_str());
  return 0;
}
