// The stdio of a command run in a CT (exec, exec2, exec3, runscript, enter): what its fds 0-2
// are, and berth's relay between them and the caller's.
//
// The wall: nothing of the caller's terminal or files reaches the CT. A command inside gets either
// a new pty from the CT's own devpts (for each of the caller's fds that is a terminal, as
// `enter`, lxc-attach and `docker exec -t` do) or a pipe whose other end berth holds and relays;
// it runs in a new session whose controlling terminal, if any, is that pty. So TIOCSTI, /dev/tty
// and /proc/self/fd/* inside only ever reach the CT's own pty or berth's pipes. This module does
// not own how the command joins the CT (exec.cc) and does not filter what the command writes to
// the caller's terminal (escape sequences pass as they do over ssh).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <chrono>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::runtime {

// How long berth keeps relaying output after the command has exited, waiting for the pipes or the
// pty to close (vzctl exec waits for EOF; a background job that keeps them open would hang it).
inline constexpr std::chrono::milliseconds kOutputGrace{2000};

struct StdioPlan {
  std::array<bool, 3> on_pty{};  // fd i of the command is the slave of a new pty of the CT
  bool raw = false;        // the caller's stdin (a terminal) goes raw: keys, ^C too, go to the pty
  bool stdin_eof = false;  // stdin is a terminal berth does not own (background job): EOF at once
  int winsize_from = -1;   // the caller's terminal to copy the window size from, or -1

  bool any_pty() const { return on_pty[0] || on_pty[1] || on_pty[2]; }
  // The caller's fd that shows the pty's output (its echo too): the first of 1, 2, 0 on the pty.
  int pty_output_fd() const;
};

// Pure. is_tty: isatty() of the caller's fds 0-2; stdin_foreground: berth's process group is the
// foreground group of the terminal on fd 0; force_pty: enter (all three on the pty).
StdioPlan plan_stdio(std::array<bool, 3> is_tty, bool stdin_foreground, bool force_pty);
// The same, from the caller's actual fds 0-2.
StdioPlan plan_stdio_for_caller(bool force_pty);

// A pipe for each of the command's fds 0-2 (those that go on a pty are replaced by it in the
// command, and berth then drops its end). Host side, before the command's process is made;
// nothing is left behind on failure. stdin_eof: berth's end of the stdin pipe is closed at once.
struct ExecPipes {
  std::array<UniqueFd, 3> inner;  // the command's ends (0: read end; 1, 2: write ends)
  std::array<UniqueFd, 3> outer;  // berth's ends, non-blocking
};
Result<ExecPipes> make_exec_pipes(bool stdin_eof);

// Host side: while the command runs, caller's stdin -> pipe 0 or the pty master, pipes 1 and 2 ->
// the caller's fds 1 and 2, pty master -> the caller's terminal. Signals that would end berth
// (SIGINT, SIGQUIT, SIGTERM, SIGHUP; ^C only when stdin is not on the pty) are passed to the
// command through cmd_pidfd (its side forwards them to the command's process group). Returns when
// cmd_pidfd reports the exit and the output has closed, or kOutputGrace after the exit (or at a
// further signal once it exited). Closes berth's pipe ends as it goes: a caller's stdout that is
// gone (EPIPE) closes pipe 1, so the command gets EPIPE/SIGPIPE as it would in a shell pipeline.
// Needs SIGINT, SIGQUIT, SIGTERM, SIGHUP and SIGWINCH blocked (ExecSignals) by the caller.
// cmd_group > 0: signals go to that process group (the command's, which it leads), else through
// cmd_pidfd.
void relay_stdio(const StdioPlan& plan, ExecPipes& pipes, int master, int cmd_pidfd, int sigfd,
                 pid_t cmd_group = 0);

// Host side, RAII: blocks the relayed signals the caller does not ignore, and SIGWINCH (read
// through fd()); ignores SIGPIPE; restores both.
class ExecSignals {
 public:
  ExecSignals();
  ~ExecSignals();
  ExecSignals(const ExecSignals&) = delete;
  ExecSignals& operator=(const ExecSignals&) = delete;
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  sigset_t old_mask_{};
  struct sigaction old_pipe_ {};
};

// Command side, in the forked process before exec: the signal mask and SIGPIPE action berth had
// before ExecSignals (so the command inherits what it would have from the caller, as before).
void reset_signals_for_command();

// Joiner side (the process that waits for the command, in the host's PID namespace), after the
// command's process exists: the relayed signals (berth passes them on) go to its process group
// from now on, and are unblocked (what arrived while they were blocked is delivered now).
void forward_signals_to(pid_t cmd);

}  // namespace berth::runtime
