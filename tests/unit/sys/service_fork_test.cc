// sys/service_fork: a process may become a service by fork only while it runs one thread and its
// command-line area holds the service's; the fork then shows the service's command line and its
// caught signals are back to their defaults. Checked in forks of this test process.
#include "sys/service_fork.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "sys/fs.h"

namespace berth::sys {
namespace {

std::string own_cmdline() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void on_usr1(int) {}

// Runs fn in a fork; its exit status (0: every check held).
int in_fork(int (*fn)()) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

constexpr char kArgs[] = "svc\0--serve";
constexpr std::string_view kArgv(kArgs, sizeof kArgs);

TEST(ServiceFork, AForkShowsTheServicesCommandLineAndDefaultHandlers) {
  // The test binary's own command line is longer than "svc --serve" (its path at least).
  ASSERT_GE(own_cmdline().size(), kArgv.size());
  EXPECT_EQ(in_fork([] {
              ::signal(SIGUSR1, on_usr1);
              ::signal(SIGUSR2, SIG_IGN);
              auto area = service_fork_area(kArgv);
              if (!area) return 1;
              become_service(*area, kArgv);
              std::string cmd = own_cmdline();
              while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
              if (cmd != std::string(kArgs, sizeof kArgs - 1)) return 2;
              struct sigaction a {};
              ::sigaction(SIGUSR1, nullptr, &a);
              if (a.sa_handler != SIG_DFL) return 3;  // caught: back to the default
              ::sigaction(SIGUSR2, nullptr, &a);
              if (a.sa_handler != SIG_IGN) return 4;  // ignored: stays ignored, as across exec
              return 0;
            }),
            0);
}

TEST(ServiceFork, NotWhileAnotherThreadRuns) {
  auto status = proc_status(::getpid());
  ASSERT_TRUE(status.has_value());
  bool alone = status->threads == 1;  // another test or a sanitizer's runtime may have left some
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return done; });
  });
  EXPECT_FALSE(service_fork_area(kArgv).has_value());
  {
    std::lock_guard lk(m);
    done = true;
  }
  cv.notify_all();
  t.join();
  if (alone) {
    EXPECT_TRUE(service_fork_area(kArgv).has_value());
  }
}

// /proc/self/stat as numbers: field 4 is the parent, 5 the process group, and field 22 what
// proc_start_time reads (by pid: the same file).
TEST(ProcStatFields, OwnFieldsMatchWhatTheKernelSaysOtherwise) {
  auto f = proc_stat_fields(0);
  ASSERT_TRUE(f.has_value());
  ASSERT_GE(f->size(), 47U);
  EXPECT_EQ((*f)[4 - 3], static_cast<uint64_t>(::getppid()));
  EXPECT_EQ((*f)[5 - 3], static_cast<uint64_t>(::getpgrp()));
  EXPECT_EQ((*f)[22 - 3], proc_start_time(::getpid()).value_or(0));
}

TEST(ServiceFork, NotWhenTheAreaIsTooSmall) {
  std::string huge(own_cmdline().size() + 1, 'x');
  EXPECT_FALSE(service_fork_area(huge).has_value());
}

}  // namespace
}  // namespace berth::sys
