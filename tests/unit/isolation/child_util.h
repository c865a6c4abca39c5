// Helpers for isolation tests: run code in a forked child inside a fresh user namespace (where it
// holds every capability without being root), and a temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "sys/fs.h"

namespace berth::isolation::testing {

inline constexpr int kNoUserns = 77;

// Forks; the child unshares CLONE_NEWUSER | extra_flags and exits with fn()'s value. Returns the
// exit code, kNoUserns if the namespaces are unavailable, 128+signal if the child was killed.
// Mounts made by the child die with its mount namespace.
inline int run_in_userns(const std::function<int()>& fn, int extra_flags = 0) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::unshare(CLONE_NEWUSER | extra_flags) != 0) ::_exit(kNoUserns);
    ::_exit(fn());
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}

#define BERTH_EXPECT_CHILD_OK(expr)                                      \
  do {                                                                   \
    int berth_rc_ = (expr);                                              \
    if (berth_rc_ == ::berth::isolation::testing::kNoUserns)             \
      GTEST_SKIP() << "user namespaces are not available";               \
    EXPECT_EQ(berth_rc_, 0) << "child check " << berth_rc_ << " failed"; \
  } while (0)

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + std::string("/berth-iso-XXXXXX");
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) (void)sys::remove_tree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace berth::isolation::testing
