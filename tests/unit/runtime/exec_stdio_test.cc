#include "runtime/exec_stdio.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace berth::runtime {
namespace {

using Ttys = std::array<bool, 3>;

TEST(ExecStdio, NoTerminalMeansPipesOnly) {
  StdioPlan p = plan_stdio({false, false, false}, false, false);
  EXPECT_FALSE(p.any_pty());
  EXPECT_FALSE(p.raw);
  EXPECT_FALSE(p.stdin_eof);
  EXPECT_EQ(p.winsize_from, -1);
  EXPECT_EQ(p.pty_output_fd(), -1);
}

TEST(ExecStdio, InteractiveTerminalGoesOnThePty) {
  StdioPlan p = plan_stdio({true, true, true}, true, false);
  EXPECT_EQ(p.on_pty, (Ttys{true, true, true}));
  EXPECT_TRUE(p.raw) << "^C must reach the pty as a key";
  EXPECT_EQ(p.winsize_from, 0);
  EXPECT_EQ(p.pty_output_fd(), 1);
}

TEST(ExecStdio, RedirectedOutputStaysAPipe) {
  // berth exec CT cmd > file, from a terminal: the file gets the bytes (no CRLF), stderr the pty.
  StdioPlan p = plan_stdio({true, false, true}, true, false);
  EXPECT_EQ(p.on_pty, (Ttys{true, false, true}));
  EXPECT_EQ(p.pty_output_fd(), 2);
  // cmd < file from a terminal: stdin a pipe, no raw mode (the terminal is not read).
  p = plan_stdio({false, true, true}, false, false);
  EXPECT_EQ(p.on_pty, (Ttys{false, true, true}));
  EXPECT_FALSE(p.raw);
  EXPECT_EQ(p.winsize_from, 1);
  // Only stdin a terminal: the pty's echo goes back to it.
  p = plan_stdio({true, false, false}, true, false);
  EXPECT_EQ(p.pty_output_fd(), 0);
}

TEST(ExecStdio, BackgroundJobNeverTouchesTheTerminalInput) {
  StdioPlan p = plan_stdio({true, true, true}, false, false);
  EXPECT_FALSE(p.on_pty[0]);
  EXPECT_TRUE(p.stdin_eof);
  EXPECT_FALSE(p.raw) << "tcsetattr from the background would stop berth (SIGTTOU)";
  EXPECT_TRUE(p.on_pty[1] && p.on_pty[2]);
}

TEST(ExecStdio, EnterAlwaysUsesThePty) {
  StdioPlan p = plan_stdio({false, false, false}, false, true);
  EXPECT_EQ(p.on_pty, (Ttys{true, true, true}));
  EXPECT_FALSE(p.raw);
  EXPECT_EQ(p.winsize_from, -1);
  p = plan_stdio({true, true, true}, true, true);
  EXPECT_TRUE(p.raw);
}

TEST(ExecStdio, PipesAreSeparateAndBerthsEndsNonBlocking) {
  auto pipes = make_exec_pipes(false);
  ASSERT_TRUE(pipes.ok());
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(pipes->inner[i].valid() && pipes->outer[i].valid());
    EXPECT_TRUE(::fcntl(pipes->outer[i].get(), F_GETFL) & O_NONBLOCK);
    EXPECT_FALSE(::fcntl(pipes->inner[i].get(), F_GETFL) & O_NONBLOCK)
        << "the command's end stays blocking";
    EXPECT_TRUE(::fcntl(pipes->inner[i].get(), F_GETFD) & FD_CLOEXEC);
  }
  // 0: berth writes, the command reads; 1: the command writes, berth reads.
  EXPECT_EQ(::write(pipes->outer[0].get(), "a", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(pipes->inner[0].get(), &c, 1), 1);
  EXPECT_EQ(::write(pipes->inner[1].get(), "b", 1), 1);
  EXPECT_EQ(::read(pipes->outer[1].get(), &c, 1), 1);
  EXPECT_EQ(c, 'b');
  auto eof = make_exec_pipes(true);
  ASSERT_TRUE(eof.ok());
  EXPECT_FALSE(eof->outer[0].valid());
  EXPECT_EQ(::read(eof->inner[0].get(), &c, 1), 0) << "stdin at EOF at once";
}

}  // namespace
}  // namespace berth::runtime
