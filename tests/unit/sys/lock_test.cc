// sys::FileLock: a lock held by a live command is reported at once (exit 9); one held on only by
// what is left of a killed command (a child ending with a copy of its file table) is waited for.
#include "sys/lock.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/exit_codes.h"

namespace berth::sys {
namespace {

TEST(FileLockOwner, ReadsTheHolderOfAFileFromProcLocks) {
  const std::string locks =
      "1: POSIX  ADVISORY  WRITE 900 fe:00:77 0 EOF\n"
      "2: FLOCK  ADVISORY  WRITE 4242 fe:00:10953123 0 EOF\n"
      "2: -> FLOCK  ADVISORY  WRITE 4243 fe:00:10953123 0 EOF\n"
      "3: FLOCK  ADVISORY  WRITE 0 08:01:5 0 EOF\n";
  EXPECT_EQ(flock_owner(locks, 0xfe, 0, 10953123), std::optional<pid_t>(4242));
  EXPECT_EQ(flock_owner(locks, 8, 1, 5), std::optional<pid_t>(0));
  EXPECT_EQ(flock_owner(locks, 0xfe, 0, 77), std::nullopt);  // a POSIX lock, not ours
  EXPECT_EQ(flock_owner(locks, 0xfe, 0, 1095312), std::nullopt);
  EXPECT_EQ(flock_owner("", 0xfe, 0, 10953123), std::nullopt);
  EXPECT_EQ(flock_owner("2: -> FLOCK  ADVISORY  WRITE 4243 fe:00:9 0 EOF\n", 0xfe, 0, 9),
            std::nullopt);  // only a waiter
}

std::string lock_path() {
  char tmpl[] = "/tmp/berth-lock-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd >= 0) ::close(fd);
  return tmpl;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A process that takes the lock on path, says so on the returned pipe, then runs then(fd).
struct Holder {
  pid_t pid = -1;
  int ready = -1;
};
template <typename Then>
Holder take_lock(const std::string& path, Then then) {
  int p[2];
  if (::pipe(p) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) _exit(1);
    (void)!::write(p[1], "1", 1);
    then();
    _exit(0);
  }
  ::close(p[1]);
  char b = 0;
  if (pid < 0 || ::read(p[0], &b, 1) != 1) pid = -1;
  return {pid, p[0]};
}

// What a killed command's tool did: the command took the lock and is gone; its child, holding a
// copy of the lock's file, ends a moment later. The next command gets the lock then.
TEST(FileLockOwner, ALockHeldOnOnlyByAGoneTakersChildIsWaitedFor) {
  std::string path = lock_path();
  Holder taker = take_lock(path, [] {
    if (::fork() == 0) {  // the child: holds the file 400 ms longer than its maker
      ::usleep(400 * 1000);
      _exit(0);
    }
  });
  ASSERT_GT(taker.pid, 0);
  int st = 0;
  ASSERT_EQ(::waitpid(taker.pid, &st, 0), taker.pid);
  auto t0 = std::chrono::steady_clock::now();
  auto lock = FileLock::acquire(path, false, "test lock");
  ASSERT_TRUE(lock.ok()) << lock.error().message();
  EXPECT_GT(seconds_since(t0), 0.2);  // it waited for the child
  EXPECT_LT(seconds_since(t0), FileLock::kGoneOwnerWaitMs / 1000.0);
  ::close(taker.ready);
  ::unlink(path.c_str());
}

TEST(FileLockOwner, ALockOfALiveCommandIsReportedAtOnce) {
  std::string path = lock_path();
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  Holder holder = take_lock(path, [&] {
    char c;
    (void)!::read(done[0], &c, 1);
  });
  ASSERT_GT(holder.pid, 0);
  auto t0 = std::chrono::steady_clock::now();
  auto lock = FileLock::acquire(path, false, "test lock");
  EXPECT_LT(seconds_since(t0), 0.5);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().exit_status(), exitcode::kLocked);
  EXPECT_NE(lock.error().message().find("test lock is locked by another command"),
            std::string::npos);
  ASSERT_EQ(::write(done[1], "x", 1), 1);
  int st = 0;
  ASSERT_EQ(::waitpid(holder.pid, &st, 0), holder.pid);
  for (int fd : {holder.ready, done[0], done[1]}) ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace berth::sys
