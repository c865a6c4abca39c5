// `berth console CTID`: attach the terminal to the CT's console, held by the instance's watcher
// (monitor/client.h). Raw terminal while attached (restored on exit and on SIGINT/TERM/HUP);
// Esc then `.` detaches (vzctl's key). One attach at a time: a second one is refused (exit 9).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "cli/cli.h"
#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "monitor/client.h"
#include "state/status.h"

namespace berth::cli {
namespace {

constexpr char kEsc = 0x1b;

// The terminal's mode before raw, restored by the guard or, on a signal, by the handler.
struct termios g_saved;
bool g_raw = false;

void restore_terminal() {
  if (g_raw) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
  g_raw = false;
}

void on_signal(int sig) {
  restore_terminal();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

struct RawTerminal {
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &g_saved) != 0) return;
    struct termios raw = g_saved;
    ::cfmakeraw(&raw);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, on_signal);
    g_raw = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
  }
  ~RawTerminal() { restore_terminal(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Relay until Esc-. or the console goes away. Returns true when the user detached.
bool relay(int conn) {
  bool esc = false;  // the last key was an Esc, held back until we know what follows
  for (;;) {
    struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {conn, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (p[1].revents) {
      char buf[4096];
      ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return false;
      if (!write_all(STDOUT_FILENO, buf, static_cast<size_t>(n))) return false;
    }
    if (p[0].revents) {
      char in[1024];
      ssize_t n = ::read(STDIN_FILENO, in, sizeof in);
      if (n <= 0) return false;
      std::string out;
      for (ssize_t i = 0; i < n; ++i) {
        char k = in[i];
        if (esc) {
          esc = false;
          if (k == '.') return true;
          out.push_back(kEsc);
        }
        if (k == kEsc)
          esc = true;
        else
          out.push_back(k);
      }
      if (!out.empty() && ::send(conn, out.data(), out.size(), MSG_NOSIGNAL) < 0) return false;
    }
  }
}

}  // namespace

int cmd_console(const Invocation& inv, const HostConfig& host) {
  if (inv.args.size() != 1)
    return report(inv, Error::with_status(exitcode::kBadArgument, "console: CTID expected"));
  auto ctid = resolve_ctid(host, inv.args[0]);
  if (!ctid.ok()) return report(inv, ctid.error());
  auto ct = CtConfig::load(host, *ctid);
  if (!ct.ok())
    return report(inv, Error::with_status(exitcode::kNoConfig, "CT " + *ctid + " does not exist"));
  auto s = state::query_status(*ct);
  if (!s.ok()) return report(inv, s.error());
  if (!s->running)
    return report(inv,
                  Error::with_status(exitcode::kNotRunning, "CT " + *ctid + " is not running"));
  auto conn = monitor::attach_console(host, *ctid);
  if (!conn.ok()) return report(inv, Error(conn.error()).context("console of CT " + *ctid));
  std::fprintf(stderr, "Attached to the console of CT %s (detach: Esc then .)\r\n", ctid->c_str());
  bool detached;
  {
    RawTerminal raw;
    detached = relay(conn->get());
  }
  std::fprintf(
      stderr,
      detached ? "\nDetached from the console of CT %s\n" : "\nThe console of CT %s closed\n",
      ctid->c_str());
  return 0;
}

}  // namespace berth::cli
