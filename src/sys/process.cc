#include "sys/process.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <linux/nsfs.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "sys/fs.h"
#include "sys/kernel.h"

namespace berth::sys {

// A child made by clone_child_owned that could not restore its secure bits exits with this before
// running fn (the value a shell gives a command it could not run).
constexpr int kSecureBitsFailed = exitcode::kCommandNotFound;

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = std::exchange(o.pid_, 0);
    pidfd_ = std::move(o.pidfd_);
  }
  return *this;
}

Result<int> ChildProcess::wait() {
  int status = 0;
  for (;;) {
    if (::waitpid(pid_, &status, __WALL) >= 0) break;
    if (errno == EINTR) continue;
    return Error::from_errno(errno, "wait for pid " + std::to_string(pid_));
  }
  pid_ = 0;
  pidfd_.reset();
  return status;
}

bool ChildProcess::has_exited() const {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return true;
  return info.si_pid != 0;
}

pid_t ChildProcess::release() {
  pidfd_.reset();
  return std::exchange(pid_, 0);
}

void ChildProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  kernel().kill_and_reap(pid_, pidfd_.get());
  pid_ = 0;
  pidfd_.reset();
}

Result<ChildProcess> clone_child(uint64_t flags, int cgroup_fd, const std::function<int()>& fn) {
  int pidfd = -1;
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return Error::from_errno(errno, "clone3");
  if (pid == 0) {
    int rc = fn();
    ::_exit(rc);
  }
  return ChildProcess(static_cast<pid_t>(pid), UniqueFd(pidfd));
}

#if defined(__x86_64__)
// clone3 for a child on a stack of its own: in the child, the syscall returns on the new stack,
// where no C frame exists to return to; so the child's side calls fn(arg) and exits from here
// (glibc's clone does the same for clone(2)). Parent: returns the syscall's result.
extern "C" long berth_clone3_run(struct clone_args* args, size_t size, int (*fn)(void*), void* arg);
asm(R"(
  .text
  .globl berth_clone3_run
  .type berth_clone3_run, @function
berth_clone3_run:
  .cfi_startproc
  mov %rdx, %r8
  mov %rcx, %r9
  mov $435, %eax
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  .cfi_undefined rip
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov %eax, %edi
  mov $60, %eax
  syscall
  hlt
  .cfi_endproc
  .size berth_clone3_run, .-berth_clone3_run
)");
#endif

#if defined(__x86_64__)
namespace {

// A clone running fn(arg) on `stack` (flags has CLONE_VM): every signal is blocked in this
// process meanwhile, so the child starts with all of them blocked and none of this process's
// handlers can run on its stack. Returns the pid (the pidfd in *pidfd) or -errno.
long clone_on_stack(uint64_t flags, int cgroup_fd, void* stack, size_t size, int (*fn)(void*),
                    void* arg, int* pidfd, int exit_signal = SIGCHLD) {
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.exit_signal = static_cast<uint64_t>(exit_signal);
  args.stack = reinterpret_cast<uint64_t>(stack);
  args.stack_size = size;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  sigset_t all, old;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &old);
  long r = berth_clone3_run(&args, sizeof args, fn, arg);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return r;
}

// A system call without libc: a clone that shares this process's memory must not write its errno
// (this process runs on meanwhile and reads its own).
long raw_syscall3(long nr, long a, long b, long c) {
  long r;
  asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

// IdmapUserns's helper: closes its copy of every file but the pipe's read end (the write end,
// which would keep the pipe open forever, and the CT's lock: a helper whose maker was killed is
// the last user of the maker's memory, and an ending process tears its memory down before it
// closes its files, so the lock stayed held meanwhile), and waits for EOF. The two fds come in
// arg itself (read end low, write end high): it may run after its maker has returned.
void* pipe_arg(int rd, int wr) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(static_cast<uint32_t>(rd)) |
                                 static_cast<uintptr_t>(static_cast<uint32_t>(wr)) << 32);
}

int wait_for_eof(void* arg) {
  auto bits = reinterpret_cast<uintptr_t>(arg);
  const long rd = static_cast<long>(bits & 0xffffffffU);
  if (raw_syscall3(SYS_close_range, rd + 1, ~0U, 0) != 0 ||
      (rd > 0 && raw_syscall3(SYS_close_range, 0, rd - 1, 0) != 0))
    raw_syscall3(SYS_close, static_cast<long>(bits >> 32), 0, 0);  // a kernel before 5.9
  char c;
  while (raw_syscall3(SYS_read, rd, reinterpret_cast<long>(&c), 1) == -EINTR) {}
  return 0;
}

}  // namespace
#endif

#if defined(__x86_64__)
namespace {

// A CLONE_VM|CLONE_VFORK child (and flags) on a stack mapped for it: returns once the child has
// exec'd or ended.
pid_t vfork_on_own_stack(uint64_t flags, int cgroup_fd, int (*fn)(void*), void* arg, int* pidfd,
                         int exit_signal = SIGCHLD) {
  constexpr size_t kStack = 256 * 1024;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  int fd = -1;
  long r = clone_on_stack(CLONE_VM | CLONE_VFORK | flags, cgroup_fd, stack, kStack, fn, arg, &fd,
                          exit_signal);
  ::munmap(stack, kStack);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  if (pidfd)
    *pidfd = fd;
  else
    ::close(fd);
  return static_cast<pid_t>(r);
}

}  // namespace
#endif

pid_t clone_vfork(int cgroup_fd, int (*fn)(void*), void* arg, int* pidfd) {
#if defined(__x86_64__)
  return vfork_on_own_stack(0, cgroup_fd, fn, arg, pidfd);
#else
  (void)cgroup_fd, (void)fn, (void)arg, (void)pidfd;
  errno = ENOSYS;
  return -1;
#endif
}

pid_t clone_vfork_files(int (*fn)(void*), void* arg) {
#if defined(__x86_64__)
  // No SIGCHLD at its end: the caller reaps it at once, and a watcher that finds a SIGCHLD
  // pending looks for the child it came from.
  return vfork_on_own_stack(CLONE_FILES, -1, fn, arg, nullptr, 0);
#else
  (void)fn, (void)arg;
  errno = ENOSYS;
  return -1;
#endif
}

Status with_effective_ids(NsOwner owner, const std::function<void()>& fn) {
  uid_t euid = ::geteuid();
  gid_t egid = ::getegid();
  if (owner.uid == euid && owner.gid == egid) {
    fn();
    return {};
  }
  int bits = ::prctl(PR_GET_SECUREBITS);
  if (bits < 0) return Error::from_errno(errno, "read secure bits");
  // Keep the effective capabilities across the euid change (no setuid fix-up), for fn only.
  if (!(bits & SECBIT_NO_SETUID_FIXUP) &&
      ::prctl(PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP) != 0)
    return Error::from_errno(errno, "set secure bits");
  auto restore = [&]() {
    // Ids first (the fix-up bit keeps the capabilities while they change back), then the bits.
    (void)::setresuid(static_cast<uid_t>(-1), euid, static_cast<uid_t>(-1));
    (void)::setresgid(static_cast<gid_t>(-1), egid, static_cast<gid_t>(-1));
    (void)::prctl(PR_SET_SECUREBITS, bits);
  };
  if (::setresgid(static_cast<gid_t>(-1), owner.gid, static_cast<gid_t>(-1)) != 0) {
    int err = errno;
    restore();
    return Error::from_errno(err, "set effective gid " + std::to_string(owner.gid));
  }
  if (::setresuid(static_cast<uid_t>(-1), owner.uid, static_cast<uid_t>(-1)) != 0) {
    int err = errno;
    restore();
    return Error::from_errno(err, "set effective uid " + std::to_string(owner.uid));
  }
  fn();
  restore();
  if (::geteuid() != euid || ::getegid() != egid)
    return Error::from_errno(EPERM, "restore effective ids");
  return {};
}

Result<ChildProcess> clone_child_owned(NsOwner owner, uint64_t flags, int cgroup_fd,
                                       const std::function<int()>& fn) {
  if (!(flags & CLONE_NEWUSER)) return clone_child(flags, cgroup_fd, fn);
  int bits = ::prctl(PR_GET_SECUREBITS);
  if (bits < 0) return Error::from_errno(errno, "read secure bits");
  std::optional<Result<ChildProcess>> child;
  BERTH_RETURN_IF_ERROR(with_effective_ids(owner, [&]() {
    child.emplace(clone_child(flags, cgroup_fd, [&]() -> int {
      // The child has every capability in its new user namespace: give it the caller's own
      // secure bits back before anything else runs (the fix-up bit must not reach the CT's init).
      if (::prctl(PR_SET_SECUREBITS, bits) != 0) return kSecureBitsFailed;
      return fn();
    }));
  }));
  return std::move(*child);
}

Result<uid_t> userns_owner_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::from_errno(errno, "open `" + path + "`");
  uid_t uid = 0;
  if (::ioctl(ns.get(), NS_GET_OWNER_UID, &uid) != 0)
    return Error::from_errno(errno, "owner of `" + path + "`");
  return uid;
}

Status write_id_maps(pid_t pid, uint32_t uid_base, uint32_t gid_base, uint32_t count) {
  std::string dir = "/proc/" + std::to_string(pid);
  BERTH_RETURN_IF_ERROR(write_file(
      dir + "/uid_map", "0 " + std::to_string(uid_base) + " " + std::to_string(count) + "\n"));
  BERTH_RETURN_IF_ERROR(write_file(
      dir + "/gid_map", "0 " + std::to_string(gid_base) + " " + std::to_string(count) + "\n"));
  return {};
}

namespace {
constexpr size_t kHelperStack = 16 * 1024;
}  // namespace

Result<IdmapUserns> IdmapUserns::make(uint32_t uid_base, uint32_t gid_base, uint32_t count) {
  IdmapUserns u;  // before the pipe: a failure below closes the pipe, then reaps the helper
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
#if defined(__x86_64__)
  // The helper only waits for EOF (raw system calls, every signal blocked). Nobody but host root
  // may trace it: a process of root's in a user namespace of root's.
  void* stack = ::mmap(nullptr, kHelperStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Error::from_errno(errno, "make user namespace");
  u.stack_ = stack;  // from here on unmapped by ~IdmapUserns, after the reap
  int fd = -1;
  long r = clone_on_stack(CLONE_VM | CLONE_NEWUSER, -1, stack, kHelperStack, wait_for_eof,
                          pipe_arg(pipefd[0], pipefd[1]), &fd);
  if (r < 0) return Error::from_errno(static_cast<int>(-r), "make user namespace");
  u.helper_ = ChildProcess(static_cast<pid_t>(r), UniqueFd(fd));
#else
  int rfd = rd.get(), wfd = wr.get();
  auto made = clone_child(CLONE_NEWUSER, -1, [rfd, wfd]() {
    ::close(wfd);  // our copy of the write end would keep the pipe open forever
    char c;
    while (::read(rfd, &c, 1) < 0 && errno == EINTR) {}
    return 0;
  });
  if (!made.ok()) return std::move(made).error().context("make user namespace");
  u.helper_ = std::move(made).value();
#endif
  rd.reset();
  pid_t pid = u.helper_.pid();
  BERTH_RETURN_IF_ERROR(write_id_maps(pid, uid_base, gid_base, count));
  std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
  u.ns_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!u.ns_) return Error::from_errno(errno, "open `" + path + "`");
  return u;  // wr closes here: the helper sees EOF and ends
}

IdmapUserns::~IdmapUserns() {
  if (helper_.pid() > 0 && !helper_.wait().ok()) helper_.kill_and_reap();
  if (stack_) ::munmap(stack_, kHelperStack);
}

Result<UniqueFd> make_userns_fd(uint32_t uid_base, uint32_t gid_base, uint32_t count) {
  BERTH_ASSIGN_OR_RETURN(IdmapUserns u, IdmapUserns::make(uid_base, gid_base, count));
  return u.take_fd();
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return exitcode::kHelperFailed;  // stopped or continued: not an end
}

void crash_point(std::string_view point) {
  const char* at = std::getenv("BERTH_KILL_AT");
  if (at && point == at) ::kill(::getpid(), SIGKILL);
}

namespace {

// The mask of a "Name:\t<hex>" line of a status text (0 when it is missing or malformed).
uint64_t status_mask(std::string_view status, std::string_view name) {
  for (size_t at = 0; at < status.size();) {
    size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(at, end - at);
    at = end + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
        line[name.size()] != ':')
      continue;
    line.remove_prefix(name.size() + 1);
    while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.remove_prefix(1);
    uint64_t v = 0;
    auto [last, ec] = std::from_chars(line.data(), line.data() + line.size(), v, 16);
    return ec == std::errc() && last == line.data() + line.size() ? v : 0;
  }
  return 0;
}

}  // namespace

SignalTake status_signal_take(std::string_view status, int sig) {
  if (sig < 1 || sig > 64) return SignalTake::kNo;
  uint64_t bit = uint64_t{1} << (sig - 1);
  if (status_mask(status, "SigCgt") & bit) return SignalTake::kHandled;
  if (status_mask(status, "SigBlk") & bit) return SignalTake::kBlocked;
  return SignalTake::kNo;
}

bool waits_in_sigtimedwait(std::string_view syscall_text) {
#ifdef __x86_64__
  constexpr std::string_view kCall = "128 0x";  // SYS_rt_sigtimedwait
  if (syscall_text.substr(0, kCall.size()) != kCall) return false;
  std::string_view hex = syscall_text.substr(kCall.size());
  hex = hex.substr(0, hex.find_first_of(" \n"));
  uint64_t set = 0;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), set, 16);
  return !hex.empty() && ec == std::errc() && end == hex.data() + hex.size();
#else
  (void)syscall_text;
  return false;
#endif
}

// The kernel drops a signal sent to a process whose main thread (the target) neither blocks it
// nor waits for it and that has no handler for it; the other threads' masks do not count. A wait
// in rt_sigtimedwait(2) is taken for one that includes sig: the set is in the process's memory,
// which is not read (a page of a tenant's init can hold a reader up: userfaultfd, FUSE); an init
// that waits there for other signals only costs the stop STOP_TIMEOUT, as before. A syscall
// file this process may not read (kernel.yama.ptrace_scope 3, no CAP_SYS_PTRACE) cannot tell:
// taken as well, the same.
SignalTake signal_take(pid_t pid, int sig) {
  if (sig < 1 || sig > 64) return SignalTake::kNo;
  const std::string dir = "/proc/" + std::to_string(pid);
  auto text = read_file(dir + "/status");
  if (!text.ok()) return SignalTake::kNo;  // gone
  SignalTake from_status = status_signal_take(*text, sig);
  if (from_status == SignalTake::kHandled) return from_status;
  auto call = read_file(dir + "/syscall");
  if (!call.ok()) {
    bool unreadable = call.error().code() == EACCES || call.error().code() == EPERM;
    return unreadable ? SignalTake::kHandled : from_status;
  }
  return waits_in_sigtimedwait(*call) ? SignalTake::kHandled : from_status;
}

}  // namespace berth::sys
