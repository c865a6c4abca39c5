// runscript (see script.h).
#include "runtime/script.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/exit_codes.h"
#include "runtime/exec.h"
#include "sys/fs.h"

namespace berth::runtime {

Result<int> run_script(const CtConfig& ct, const std::string& path) {
  auto script = sys::read_file(path);
  if (!script.ok()) return std::move(script).error().status(exitcode::kBadArgument);
  // The host file is fed to the CT's shell on stdin (the script never touches the CT's disk).
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
  pid_t writer = ::fork();
  if (writer == 0) {
    ::close(pipefd[0]);
    const std::string& s = *script;
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(pipefd[1], s.data() + off, s.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(exitcode::kOk);
  }
  ::close(pipefd[1]);
  int saved_stdin = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
  ::dup2(pipefd[0], 0);
  ::close(pipefd[0]);
  ExecRequest req;
  req.argv = {"-"};
  req.script_on_stdin = true;
  auto rc = exec(ct, req);
  ::dup2(saved_stdin, 0);
  ::close(saved_stdin);
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
  return rc;
}

}  // namespace berth::runtime
