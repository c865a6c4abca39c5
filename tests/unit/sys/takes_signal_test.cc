// sys::takes_signal: a stop sends init its halt signal only once init would take it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "sys/process.h"

namespace berth::sys {
namespace {

TEST(TakesSignal, ReadsCaughtAndBlockedMasksOfAStatusText) {
  // SIGUSR2 (12) caught: bit 11; SIGRTMIN+4 (38) blocked: bit 37.
  const std::string status =
      "Name:\tinit\nSigQ:\t0/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
      "SigBlk:\t0000002000000000\nSigIgn:\t0000000000001000\nSigCgt:\t0000000000000800\n";
  EXPECT_TRUE(status_takes_signal(status, SIGUSR2));
  EXPECT_TRUE(status_takes_signal(status, SIGRTMIN + 4));
  EXPECT_FALSE(status_takes_signal(status, SIGPWR));
  EXPECT_FALSE(status_takes_signal(status, SIGTERM));
  // Ignored (SigIgn) is not taken: the signal is dropped as well.
  EXPECT_FALSE(status_takes_signal(status, 13));
  EXPECT_FALSE(status_takes_signal(status, 0));
  EXPECT_FALSE(status_takes_signal(status, 65));
  // Missing or malformed lines take nothing.
  EXPECT_FALSE(status_takes_signal("Name:\tx\n", SIGUSR2));
  EXPECT_FALSE(status_takes_signal("SigCgt:\tzz00000000000800\n", SIGUSR2));
  EXPECT_FALSE(status_takes_signal("SigCgtX:\t0000000000000800\n", SIGUSR2));
  EXPECT_TRUE(status_takes_signal("SigCgt:\t800", SIGUSR2));
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
  EXPECT_FALSE(takes_signal(pid, SIGUSR2));
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  EXPECT_TRUE(takes_signal(pid, SIGUSR2));
  EXPECT_FALSE(takes_signal(pid, SIGPWR));
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  EXPECT_TRUE(takes_signal(pid, SIGUSR2));
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_FALSE(takes_signal(pid, SIGUSR2));  // gone: no status to read
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

}  // namespace
}  // namespace berth::sys
