#include "sys/run.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <csignal>
#include <unistd.h>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "sys/pidfd.h"
#include "sys/process.h"

extern char** environ;

namespace berth::sys {

namespace {

struct ToolChild {
  char* const* argv;
  int out;
  bool with_stderr;
  pid_t parent;
  sigset_t mask;  // the caller's signal mask, for the tool
};

// The tool's side: raw system calls only (it shares the caller's memory, sys::clone_vfork).
int tool_child(void* arg) {
  auto* c = static_cast<ToolChild*>(arg);
  // Before anything else, every file of the caller's but stdio goes (the CT's lock among them):
  // a clone whose caller was killed is the last user of the caller's memory, and an ending
  // process tears its memory down before it closes its files, so the lock stayed held meanwhile
  // and the next command found the CT locked (RobustnessTest.KilledCreateThenRetry, in CI).
  // (Without close_range, a kernel before 5.9, they close at the exec, as before.)
  if (::dup2(c->out, 1) < 0 || (c->with_stderr && ::dup2(c->out, 2) < 0))
    return exitcode::kHelperFailed;
  (void)close_range(3, ~0U, 0);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != c->parent)
    return exitcode::kHelperFailed;
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0) return exitcode::kHelperFailed;
  ::sigprocmask(SIG_SETMASK, &c->mask, nullptr);
  ::execve(c->argv[0], c->argv, environ);
  return exitcode::kCommandNotFound;
}

}  // namespace

Result<ToolOutput> run_tool(const std::vector<std::string>& args, bool with_stderr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(fds[0]), wr(fds[1]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // What posix_spawn said before (a missing tool): said here, the child can only exit.
  if (::access(argv[0], X_OK) != 0) return Error::from_errno(errno, "run `" + args[0] + "`");
  // The tool dies with this process (PR_SET_PDEATHSIG). The tools work on a CT's disk image by
  // its path (mkfs.ext4, e2fsck, resize2fs open it more than once): one left running by a
  // killed `berth create` wrote into the image the next create had just made there (its mount
  // then failed: EUCLEAN). A clone sharing this process's memory (as posix_spawn's), not a fork
  // (no copy of our page tables); it closes our files first thing (tool_child).
  ToolChild c{argv.data(), wr.get(), with_stderr, ::getpid(), {}};
  ::pthread_sigmask(SIG_BLOCK, nullptr, &c.mask);
  pid_t pid = clone_vfork(-1, tool_child, &c, nullptr);
  if (pid < 0) return Error::from_errno(errno, "run `" + args[0] + "`");
  wr.reset();
  ToolOutput res;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    res.out.append(buf, static_cast<size_t>(n));
  }
  int status;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for `" + args[0] + "`");
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

}  // namespace berth::sys
