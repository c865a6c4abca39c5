// sys::signal_take: a stop sends init its halt signal only once init would take it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "sys/fs.h"
#include "sys/process.h"

namespace berth::sys {
namespace {

TEST(TakesSignal, ReadsCaughtAndBlockedMasksOfAStatusText) {
  // SIGUSR2 (12) caught: bit 11; SIGRTMIN+4 (38) blocked: bit 37.
  const std::string status =
      "Name:\tinit\nSigQ:\t0/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
      "SigBlk:\t0000002000000000\nSigIgn:\t0000000000001000\nSigCgt:\t0000000000000800\n";
  EXPECT_EQ(status_signal_take(status, SIGUSR2), SignalTake::kHandled);
  EXPECT_EQ(status_signal_take(status, SIGRTMIN + 4), SignalTake::kBlocked);
  EXPECT_EQ(status_signal_take(status, SIGPWR), SignalTake::kNo);
  EXPECT_EQ(status_signal_take(status, SIGTERM), SignalTake::kNo);
  // Ignored (SigIgn) is not taken: the signal is dropped as well.
  EXPECT_EQ(status_signal_take(status, 13), SignalTake::kNo);
  EXPECT_EQ(status_signal_take(status, 0), SignalTake::kNo);
  EXPECT_EQ(status_signal_take(status, 65), SignalTake::kNo);
  // Caught and blocked: handled once unblocked.
  EXPECT_EQ(status_signal_take("SigBlk:\t800\nSigCgt:\t800\n", SIGUSR2), SignalTake::kHandled);
  // Missing or malformed lines take nothing.
  EXPECT_EQ(status_signal_take("Name:\tx\n", SIGUSR2), SignalTake::kNo);
  EXPECT_EQ(status_signal_take("SigCgt:\tzz00000000000800\n", SIGUSR2), SignalTake::kNo);
  EXPECT_EQ(status_signal_take("SigCgtX:\t0000000000000800\n", SIGUSR2), SignalTake::kNo);
  EXPECT_EQ(status_signal_take("SigCgt:\t800", SIGUSR2), SignalTake::kHandled);
}

TEST(TakesSignal, FindsAWaitInSigtimedwait) {
  EXPECT_TRUE(
      waits_in_sigtimedwait("128 0x7ffc8c0c7a40 0x0 0x7ffc8c0c7a30 0x8 0x0 0x0 "
                            "0x7ffc8c0c79f8 0x4a5b6c\n"));
  EXPECT_FALSE(waits_in_sigtimedwait("7 0x7ffc8c0c7a40 0x1 0x3e8 0x0 0x0 0x0 0x7ff 0x4a\n"));
  EXPECT_FALSE(waits_in_sigtimedwait("running\n"));
  EXPECT_FALSE(waits_in_sigtimedwait("-1 0x7ffc8c0c79f8 0x4a5b6c\n"));
  EXPECT_FALSE(waits_in_sigtimedwait("128 0xzz 0x0\n"));
  EXPECT_FALSE(waits_in_sigtimedwait("1280 0x10 0x0\n"));
}

// busybox's init waits for its signals so: blocked, and unblocked by the kernel for the wait
// (its status then shows them neither blocked nor caught).
TEST(TakesSignal, AProcessWaitingInSigtimedwaitForTheSignalTakesIt) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_SETMASK, &set, nullptr);
    (void)!::write(ready[1], "1", 1);
    siginfo_t info;
    _exit(sigwaitinfo(&set, &info) == SIGUSR2 ? 0 : 1);
  }
  char b = 0;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  // In the wait (the mask the status shows lacks SIGUSR2 then).
  bool waiting = false;
  for (int i = 0; i < 2000 && !waiting; ++i) {
    auto text = read_file("/proc/" + std::to_string(pid) + "/syscall");
    waiting = text.ok() && waits_in_sigtimedwait(*text);
    if (!waiting) ::usleep(1000);
  }
  ASSERT_TRUE(waiting);
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status_signal_take(*status, SIGUSR2), SignalTake::kNo) << *status;
  EXPECT_EQ(signal_take(pid, SIGUSR2), SignalTake::kHandled);
  ASSERT_EQ(::kill(pid, SIGUSR2), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

void on_usr2(int) {}

TEST(TakesSignal, AProcessTakesASignalOnceItsHandlerIsSetOrItIsBlocked) {
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char b = 0;
    signal(SIGUSR2, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    (void)!::write(ready[1], "1", 1);  // default action: not taken
    (void)!::read(go[0], &b, 1);
    struct sigaction sa {};
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, nullptr);
    (void)!::write(ready[1], "2", 1);  // caught
    (void)!::read(go[0], &b, 1);
    signal(SIGUSR2, SIG_DFL);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, nullptr);
    (void)!::write(ready[1], "3", 1);  // blocked
    (void)!::read(go[0], &b, 1);
    _exit(0);
  }
  char b = 0;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  EXPECT_EQ(signal_take(pid, SIGUSR2), SignalTake::kNo);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  EXPECT_EQ(signal_take(pid, SIGUSR2), SignalTake::kHandled);
  EXPECT_EQ(signal_take(pid, SIGPWR), SignalTake::kNo);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  EXPECT_EQ(signal_take(pid, SIGUSR2), SignalTake::kBlocked);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_EQ(signal_take(pid, SIGUSR2), SignalTake::kNo);  // gone: no status to read
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

}  // namespace
}  // namespace berth::sys
