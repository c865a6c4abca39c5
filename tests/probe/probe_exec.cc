// berth_probe exec-* subcommands: what a command run by `berth exec` holds, and the attacks a
// hostile tenant makes with it.
//
//   exec-fds                          JSON: session, and every open fd (type, dev/ino, link)
//   exec-tty MARKER DELAY_MS OUTFILE  tries TIOCSTI (MARKER + "\n") on fds 0-2, /dev/tty and on
//                                     reopened /proc/self/fd/0..2; writes the JSON report to
//                                     OUTFILE (stdout may be a terminal). With DELAY_MS > 0 a
//                                     child keeps the fds and tries again after DELAY_MS, after
//                                     the probe itself has exited (the "after exec returned" case).
//   exec-iouring                      "ok" or the errno name of io_uring_setup(2)
//   exec-hunt SECONDS OUTFILE         the CT's root hunting the processes `berth exec` makes:
//                                     for SECONDS it tries PTRACE_SEIZE on the next pids of its
//                                     PID namespace as they appear, each again and again until
//                                     held or gone; one held whose program is still berth (or
//                                     exe) was caught before its exec, in memory shared with the
//                                     host's berth. Writes
//                                     "attached_cmd N attached_other N refused N" to OUTFILE.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ctime>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

namespace {

std::string q(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string err_name(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : std::to_string(e);
}

std::string link_of(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

const char* type_of(mode_t m) {
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISCHR(m)) return "chr";
  if (S_ISREG(m)) return "reg";
  if (S_ISSOCK(m)) return "sock";
  if (S_ISDIR(m)) return "dir";
  return "other";
}

std::string fd_json(int fd) {
  struct stat st;
  std::string j = "{\"fd\":" + std::to_string(fd);
  if (::fstat(fd, &st) != 0) return j + ",\"error\":" + q(err_name(errno)) + "}";
  j += ",\"type\":" + q(type_of(st.st_mode));
  j += ",\"dev\":" + std::to_string(st.st_dev) + ",\"ino\":" + std::to_string(st.st_ino);
  j += ",\"rdev\":" + std::to_string(st.st_rdev);
  j += ",\"isatty\":" + std::string(::isatty(fd) ? "true" : "false");
  char name[256];
  j += ",\"ttyname\":" + q(::ttyname_r(fd, name, sizeof name) == 0 ? name : "");
  j += ",\"link\":" + q(link_of("/proc/self/fd/" + std::to_string(fd)));
  return j + "}";
}

std::string session_json() {
  return "\"pid\":" + std::to_string(::getpid()) + ",\"sid\":" + std::to_string(::getsid(0)) +
         ",\"pgid\":" + std::to_string(::getpgrp());
}

int exec_fds() {
  std::vector<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 1;
  int own = ::dirfd(d);
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  ::closedir(d);
  std::string j = "{" + session_json() + ",\"fds\":[";
  for (size_t i = 0; i < fds.size(); ++i) j += (i ? "," : "") + fd_json(fds[i]);
  j += "]}\n";
  // Written whole; stdout is a pipe or a file here.
  return ::write(1, j.data(), j.size()) == static_cast<ssize_t>(j.size()) ? 0 : 1;
}

// TIOCSTI each byte of text into fd; "ok" or the first errno name.
std::string inject(int fd, const std::string& text) {
  for (char c : text)
    if (::ioctl(fd, TIOCSTI, &c) != 0) return err_name(errno);
  return "ok";
}

std::string inject_all(const std::string& text) {
  std::string j = "{";
  for (int fd = 0; fd <= 2; ++fd)
    j += "\"fd" + std::to_string(fd) + "\":" + q(inject(fd, text)) + ",";
  int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  j += "\"devtty\":" + q(tty < 0 ? "open " + err_name(errno) : inject(tty, text));
  if (tty >= 0) ::close(tty);
  for (int fd = 0; fd <= 2; ++fd) {
    std::string p = "/proc/self/fd/" + std::to_string(fd);
    int r = ::open(p.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (r < 0) r = ::open(p.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC);
    j += ",\"proc_fd" + std::to_string(fd) +
         "\":" + q(r < 0 ? "open " + err_name(errno) : inject(r, text));
    if (r >= 0) ::close(r);
  }
  return j + "}";
}

int exec_tty(const std::string& marker, long delay_ms, const std::string& outfile) {
  std::string text = marker + "\n";
  std::string j =
      "{" + session_json() + ",\"fds\":[" + fd_json(0) + "," + fd_json(1) + "," + fd_json(2) + "]";
  j += ",\"inject\":" + inject_all(text) + "}\n";
  int out = ::open(outfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return 1;
  bool ok = ::write(out, j.data(), j.size()) == static_cast<ssize_t>(j.size());
  ::close(out);
  if (delay_ms > 0) {
    // Before the fork: the parent may exit (a session leader: SIGHUP to its terminal's foreground
    // group) before the child runs at all.
    ::signal(SIGHUP, SIG_IGN);
    pid_t c = ::fork();
    if (c == 0) {
      // Survives its parent (and `berth exec` returning) with the same fds, then tries again.
      ::usleep(static_cast<useconds_t>(delay_ms) * 1000);
      std::string later = inject_all(text) + "\n";
      int o = ::open((outfile + ".later").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (o >= 0) {
        (void)!::write(o, later.data(), later.size());
        ::close(o);
      }
      ::_exit(0);
    }
  }
  return ok ? 0 : 1;
}

int exec_iouring() {
  unsigned char params[120];  // struct io_uring_params (120 bytes), zeroed
  std::memset(params, 0, sizeof params);
  long fd = ::syscall(__NR_io_uring_setup, 4, params);
  std::string r = fd >= 0 ? "ok" : err_name(errno);
  if (fd >= 0) ::close(static_cast<int>(fd));
  std::printf("%s\n", r.c_str());
  return 0;
}

std::string exe_of(pid_t pid) {
  char path[64], buf[4096];
  std::snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = ::readlink(path, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The last pid the caller's PID namespace handed out (0 when it cannot be read).
pid_t ns_last_pid() {
  int fd = ::open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? static_cast<pid_t>(std::atol(buf)) : 0;
}

int exec_hunt(long seconds, const char* outfile) {
  long attached_cmd = 0, attached_other = 0, refused = 0;
  pid_t self = ::getpid();
  // Each new pid is tried again and again from its first sight until it is held or gone: through
  // all of its life before its exec, not only its first instant. The pids to try: from the
  // oldest not yet done to a few past the namespace's last (one the hunter slept through is
  // given up once it is gone, so a busy host does not leave the hunter behind).
  std::set<pid_t> seen, done;
  pid_t next = self + 1;
  time_t end = ::time(nullptr) + seconds;
  while (::time(nullptr) < end) {
    pid_t last = std::max(ns_last_pid(), next);
    for (pid_t p = next; p <= last + 2; ++p) {
      if (p == self || done.count(p)) continue;
      if (::ptrace(PTRACE_SEIZE, p, nullptr, PTRACE_O_TRACEEXEC) != 0) {
        if (errno == EPERM && seen.insert(p).second) ++refused;
        if (errno == ESRCH && (seen.count(p) || p < last)) done.insert(p);
        continue;
      }
      // Held with the host berth's memory: its program is still berth (the exec switches the
      // memory and the program together; a hold from inside the exec, once the memory is the
      // command's, is the command's).
      (void)::ptrace(PTRACE_INTERRUPT, p, nullptr, nullptr);
      int st = 0;
      (void)::waitpid(p, &st, __WALL);
      std::string exe = exe_of(p);
      std::string base = exe.substr(exe.rfind('/') + 1);
      if (base == "berth" || base == "exe")
        ++attached_other;
      else if (!exe.empty())
        ++attached_cmd;
      (void)::ptrace(PTRACE_DETACH, p, nullptr, nullptr);
      done.insert(p);
    }
    while (done.count(next) || next == self) ++next;
    while (!seen.empty() && *seen.begin() < next) seen.erase(seen.begin());
    while (!done.empty() && *done.begin() < next) done.erase(done.begin());
  }
  FILE* f = std::fopen(outfile, "w");
  if (!f) return 1;
  std::fprintf(f, "attached_cmd %ld attached_other %ld refused %ld\n", attached_cmd, attached_other,
               refused);
  std::fclose(f);
  return 0;
}

}  // namespace

int exec_main(int argc, char** argv) {
  std::string cmd = argv[1];
  if (cmd == "exec-fds") return exec_fds();
  if (cmd == "exec-tty" && argc == 5) return exec_tty(argv[2], std::atol(argv[3]), argv[4]);
  if (cmd == "exec-iouring") return exec_iouring();
  if (cmd == "exec-hunt" && argc == 4) return exec_hunt(std::atol(argv[2]), argv[3]);
  std::fprintf(stderr,
               "usage: berth_probe exec-fds | exec-tty MARKER DELAY_MS OUTFILE | exec-iouring | "
               "exec-hunt SECONDS OUTFILE\n");
  return 2;
}
