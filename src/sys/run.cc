#include "sys/run.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <csignal>
#include <unistd.h>

#include "core/exit_codes.h"
#include "core/unique_fd.h"

extern char** environ;

namespace berth::sys {

Result<ToolOutput> run_tool(const std::vector<std::string>& args, bool with_stderr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(fds[0]), wr(fds[1]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // What posix_spawn said before (a missing tool): said here, the child can only exit.
  if (::access(argv[0], X_OK) != 0) return Error::from_errno(errno, "run `" + args[0] + "`");
  const pid_t parent = ::getpid();
  // A fork, not posix_spawn: the tool is to die with this process. The tools work on a CT's
  // disk image by its path (mkfs.ext4, e2fsck, resize2fs open it more than once): one left
  // running by a killed `berth create` wrote into the image the next create had just made there
  // (its mount then failed: EUCLEAN). Between fork and exec only async-signal-safe calls (berthd
  // has threads).
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "run `" + args[0] + "`");
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
      ::_exit(exitcode::kHelperFailed);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(wr.get(), 1) < 0 ||
        (with_stderr && ::dup2(wr.get(), 2) < 0))
      ::_exit(exitcode::kHelperFailed);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(exitcode::kCommandNotFound);
  }
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
