// The stdio wall of exec: plan (pty or pipes per fd), the pipes, berth's relay, and the signal
// plumbing between berth, the joiner and the command. See exec_stdio.h for the contract.
#include "runtime/exec_stdio.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <span>
#include <string>

#include "sys/pidfd.h"

namespace berth::runtime {
namespace {

constexpr int kRelayed[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};

sigset_t relayed_set() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : kRelayed) sigaddset(&s, sig);
  return s;
}

// The command's process group, as seen from the joiner (0: none yet).
volatile sig_atomic_t g_forward_to = 0;
// The caller's signal mask and SIGPIPE action, saved by ExecSignals for the command (which is
// forked from a copy of this process).
sigset_t g_caller_mask;
struct sigaction g_caller_pipe {};

void forward_handler(int sig) {
  int saved = errno;
  pid_t pg = g_forward_to;
  // Before the command made its session (setsid) its group is the joiner's: signal it alone.
  if (pg > 0 && ::kill(-pg, sig) != 0) ::kill(pg, sig);
  errno = saved;
}

// Write all of n bytes to a caller's fd (blocking, unless the caller made it non-blocking).
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pf {
          fd, POLLOUT, 0
        };
        ::poll(&pf, 1, -1);
        continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void copy_winsize(int from, int to) {
  struct winsize ws;
  if (from >= 0 && ::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// The caller's terminal in raw mode while the command has it through the pty; restored after.
class RawMode {
 public:
  explicit RawMode(bool on) {
    if (!on || ::tcgetattr(0, &saved_) != 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

// One output of the command and where it goes on the caller's side.
struct Output {
  int src = -1;  // berth's end: a pipe's read end, or the pty master
  int dst = -1;  // the caller's fd; -1: gone, the data is dropped
  bool is_pty = false;
};

}  // namespace

int StdioPlan::pty_output_fd() const {
  for (int fd : {1, 2, 0})
    if (on_pty[static_cast<size_t>(fd)]) return fd;
  return -1;
}

StdioPlan plan_stdio(std::array<bool, 3> is_tty, bool stdin_foreground, bool force_pty) {
  StdioPlan p;
  if (force_pty) {
    p.on_pty = {true, true, true};
    p.raw = is_tty[0];
  } else {
    // Per fd, so `berth exec CT cmd > file` from a terminal still writes the file byte for byte
    // (no CRLF, stderr apart) while stderr shows on the terminal through the pty.
    p.on_pty = {is_tty[0] && stdin_foreground, is_tty[1], is_tty[2]};
    p.raw = p.on_pty[0];
    // A background `berth exec ... &` must not read or change the terminal (SIGTTIN/SIGTTOU
    // would stop it): the command's stdin is at EOF, as a shell gives /dev/null to such jobs.
    p.stdin_eof = is_tty[0] && !stdin_foreground;
  }
  for (int fd : {0, 1, 2})
    if (is_tty[static_cast<size_t>(fd)] && p.on_pty[static_cast<size_t>(fd)]) {
      p.winsize_from = fd;
      break;
    }
  return p;
}

StdioPlan plan_stdio_for_caller(bool force_pty) {
  std::array<bool, 3> tty{::isatty(0) == 1, ::isatty(1) == 1, ::isatty(2) == 1};
  bool fg = tty[0] && ::tcgetpgrp(0) == ::getpgrp();
  return plan_stdio(tty, fg, force_pty);
}

Result<ExecPipes> make_exec_pipes(bool stdin_eof) {
  ExecPipes p;
  for (size_t i = 0; i < 3; ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno(errno, "make the command's pipes");
    UniqueFd rd(fds[0]), wr(fds[1]);
    // The command reads fd 0 and writes 1 and 2; berth holds the other end.
    p.inner[i] = std::move(i == 0 ? rd : wr);
    p.outer[i] = std::move(i == 0 ? wr : rd);
    ::fcntl(p.outer[i].get(), F_SETFL, ::fcntl(p.outer[i].get(), F_GETFL) | O_NONBLOCK);
    // Bigger pipes, fewer wake-ups of the relay for bulk data (best effort: pipe-max-size).
    ::fcntl(p.outer[i].get(), F_SETPIPE_SZ, 1 << 20);
  }
  if (stdin_eof) p.outer[0].reset();
  return p;
}

void relay_stdio(const StdioPlan& plan, ExecPipes& pipes, int master, int cmd_pidfd, int sigfd,
                 pid_t cmd_group) {
  using Clock = std::chrono::steady_clock;
  if (master >= 0) {
    ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
    copy_winsize(plan.winsize_from, master);
  }
  RawMode raw(plan.raw && master >= 0);

  std::array<Output, 3> outs;
  if (master >= 0) outs[0] = {master, plan.pty_output_fd(), true};
  if (pipes.outer[1]) outs[1] = {pipes.outer[1].get(), 1, false};
  if (pipes.outer[2]) outs[2] = {pipes.outer[2].get(), 2, false};
  auto close_out = [&](Output& o) {
    if (!o.is_pty) {
      for (auto& fd : pipes.outer)
        if (fd.get() == o.src) fd.reset();
    }
    o.src = -1;
  };

  // stdin: the caller's fd 0 -> the pty (when fd 0 is on it) or pipe 0.
  int in_dst = plan.on_pty[0] ? master : pipes.outer[0].get();
  bool in_open = in_dst >= 0 && !plan.stdin_eof;
  std::string in_buf;
  size_t in_off = 0;
  auto end_stdin = [&] {
    in_open = false;
    in_buf.clear();
    in_off = 0;
    pipes.outer[0].reset();
  };

  bool cmd_done = false;
  Clock::time_point deadline{};
  // Not zeroed (a 256 KiB memset and its page faults on every exec): only what read() fills is
  // used.
  constexpr size_t kBuf = 256 * 1024;
  auto buf_mem = std::make_unique_for_overwrite<char[]>(kBuf);
  std::span<char> buf(buf_mem.get(), kBuf);
  for (;;) {
    bool outs_open = false;
    for (auto& o : outs) outs_open |= o.src >= 0;
    if (cmd_done && !outs_open) return;
    int timeout = -1;
    if (cmd_done) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return;
      timeout = static_cast<int>(left);
    }
    struct pollfd p[6];
    nfds_t n = 0;
    int idx_out[3] = {-1, -1, -1}, idx_in = -1, idx_pid = -1, idx_sig = -1;
    for (size_t i = 0; i < 3; ++i)
      if (outs[i].src >= 0) {
        idx_out[i] = static_cast<int>(n);
        p[n++] = {outs[i].src, POLLIN, 0};
      }
    if (in_open) {
      idx_in = static_cast<int>(n);
      p[n++] = in_off < in_buf.size() ? pollfd{in_dst, POLLOUT, 0} : pollfd{0, POLLIN, 0};
    }
    if (!cmd_done) {
      idx_pid = static_cast<int>(n);
      p[n++] = {cmd_pidfd, POLLIN, 0};
    }
    idx_sig = static_cast<int>(n);
    p[n++] = {sigfd, POLLIN, 0};
    if (::poll(p, n, timeout) < 0) {
      if (errno == EINTR) continue;
      return;
    }

    if (p[idx_sig].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGWINCH) {
          if (master >= 0) copy_winsize(plan.winsize_from, master);
        } else if (cmd_done) {
          return;  // the command is gone; a ^C or kill while we wait for its output stops the wait
        } else {
          if (cmd_group <= 0 || ::kill(-cmd_group, sig) != 0)
            (void)sys::pidfd_send_signal(cmd_pidfd, sig);
        }
      }
    }
    if (idx_pid >= 0 && (p[idx_pid].revents & POLLIN)) {
      // The command has exited: its input is over; its output is awaited for kOutputGrace.
      cmd_done = true;
      deadline = Clock::now() + kOutputGrace;
      end_stdin();
      idx_in = -1;
    }
    for (size_t i = 0; i < 3; ++i) {
      if (idx_out[i] < 0 || !(p[idx_out[i]].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Output& o = outs[i];
      // Drain what is there (a bounded number of reads, so the other fds get their turn).
      for (int round = 0; round < 16 && o.src >= 0; ++round) {
        ssize_t got = ::read(o.src, buf.data(), buf.size());
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (got <= 0) {  // EOF, or EIO from the master once no slave is open
          close_out(o);
          break;
        }
        if (o.dst >= 0 && !write_all(o.dst, buf.data(), static_cast<size_t>(got))) {
          // The caller's side is gone (EPIPE, a hung-up terminal). A pipe is closed so the command
          // gets EPIPE/SIGPIPE as in a shell pipeline; the pty's output is dropped from now on.
          if (o.is_pty)
            o.dst = -1;
          else
            close_out(o);
        }
      }
    }
    if (idx_in >= 0 && p[idx_in].revents) {
      if (in_off < in_buf.size()) {
        ssize_t w = ::write(in_dst, in_buf.data() + in_off, in_buf.size() - in_off);
        if (w > 0) {
          in_off += static_cast<size_t>(w);
          if (in_off == in_buf.size()) {
            in_buf.clear();
            in_off = 0;
          }
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          end_stdin();  // the command closed its stdin (EPIPE)
        }
      } else {
        ssize_t got = ::read(0, buf.data(), buf.size());
        if (got > 0) {
          // Straight on (non-blocking); only what does not fit now waits for POLLOUT.
          ssize_t w = ::write(in_dst, buf.data(), static_cast<size_t>(got));
          if (w < 0 && errno != EAGAIN && errno != EINTR) {
            end_stdin();
          } else {
            size_t done = w > 0 ? static_cast<size_t>(w) : 0;
            if (done < static_cast<size_t>(got))
              in_buf.assign(buf.data() + done, static_cast<size_t>(got) - done);
          }
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          if (plan.on_pty[0]) {
            // End of the caller's input on the pty: an EOF character, as typing ^D would.
            const char eot = 4;
            (void)!::write(master, &eot, 1);
            in_open = false;
          } else {
            end_stdin();
          }
        }
      }
    }
  }
}

ExecSignals::ExecSignals() {
  // A signal the caller ignores (nohup: SIGHUP) stays ignored: it is not read, so not passed on.
  sigset_t s;
  sigemptyset(&s);
  for (int sig : kRelayed) {
    struct sigaction cur {};
    if (::sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler != SIG_IGN) sigaddset(&s, sig);
  }
  sigaddset(&s, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &s, &old_mask_);
  fd_.reset(::signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK));
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old_pipe_);
  g_caller_mask = old_mask_;
  g_caller_pipe = old_pipe_;
}

ExecSignals::~ExecSignals() {
  fd_.reset();
  ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

void reset_signals_for_command() {
  // What berth was started with: the relayed signals' dispositions were never changed in this
  // process (the joiner installs its handlers after forking it); SIGPIPE and the mask were.
  ::sigaction(SIGPIPE, &g_caller_pipe, nullptr);
  ::sigprocmask(SIG_SETMASK, &g_caller_mask, nullptr);
}

void forward_signals_to(pid_t cmd) {
  g_forward_to = cmd;
  struct sigaction fwd {};
  fwd.sa_handler = forward_handler;
  fwd.sa_flags = SA_RESTART;
  sigfillset(&fwd.sa_mask);
  for (int sig : kRelayed) {
    struct sigaction cur {};
    if (::sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler != SIG_IGN)
      ::sigaction(sig, &fwd, nullptr);
  }
  sigset_t s = relayed_set();
  ::sigprocmask(SIG_UNBLOCK, &s, nullptr);
}

}  // namespace berth::runtime
