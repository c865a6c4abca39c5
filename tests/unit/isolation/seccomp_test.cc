#include "isolation/seccomp.h"

#include <gtest/gtest.h>
#include <linux/keyctl.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>
#include <map>
#include <optional>
#include <set>

#include "child_util.h"

namespace berth::isolation {
namespace {

const BlockedSyscall* find(const std::vector<BlockedSyscall>& list, const std::string& name) {
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const BlockedSyscall& b) { return b.name == name; });
  return it == list.end() ? nullptr : &*it;
}

TEST(IsolationSeccomp, BlocklistIsDocumentedAndKnown) {
  auto list = default_blocklist();
  std::set<std::string> names;
  for (const auto& b : list) {
    EXPECT_TRUE(names.insert(b.name).second) << "duplicate " << b.name;
    EXPECT_FALSE(b.why.empty()) << b.name;
    EXPECT_TRUE(b.errno_value == EPERM || b.errno_value == ENOSYS) << b.name;
    // Every entry must be a syscall on x86_64 or i386, or it filters nothing.
    bool known = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, b.name.c_str()) >= 0 ||
                 seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, b.name.c_str()) >= 0;
    EXPECT_TRUE(known) << b.name;
  }
  for (const char* must :
       {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "open_by_handle_at", "iopl", "ioperm", "swapon", "swapoff", "acct", "clock_settime",
        "settimeofday", "stime", "keyctl", "add_key", "request_key"})
    EXPECT_NE(find(list, must), nullptr) << must;
}

TEST(IsolationSeccomp, KeepsWhatAVpsNeeds) {
  auto list = default_blocklist();
  for (const char* allowed :
       {"capset", "prctl", "setuid", "execve", "mount", "umount2", "pivot_root", "unshare", "setns",
        "reboot", "personality", "name_to_handle_at", "quotactl", "userfaultfd", "adjtimex",
        "clock_adjtime", "ptrace", "sethostname"})
    EXPECT_EQ(find(list, allowed), nullptr) << allowed;
}

TEST(IsolationSeccomp, KeyringCallsFailWithEnosys) {
  auto list = default_blocklist();
  for (const char* k : {"keyctl", "add_key", "request_key"})
    EXPECT_EQ(find(list, k)->errno_value, ENOSYS) << k;
  EXPECT_EQ(find(list, "kexec_load")->errno_value, EPERM);
}

TEST(IsolationSeccomp, IoUringRefusedWithEnosysForEveryCt) {
  for (bool privileged : {false, true}) {
    auto list = blocklist_for(privileged);
    for (const char* k : {"io_uring_setup", "io_uring_enter", "io_uring_register"}) {
      const BlockedSyscall* b = find(list, k);
      ASSERT_NE(b, nullptr) << k << (privileged ? " (privileged)" : " (userns)");
      EXPECT_EQ(b->errno_value, ENOSYS) << k;
      EXPECT_GE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, k), 0) << k;
    }
  }
}

TEST(IsolationSeccomp, PrivilegedOnlyEntries) {
  auto userns = blocklist_for(false);
  auto priv = blocklist_for(true);
  EXPECT_EQ(priv.size(), default_blocklist().size());
  EXPECT_EQ(find(userns, "perf_event_open"), nullptr);
  EXPECT_EQ(find(userns, "bpf"), nullptr);
  ASSERT_NE(find(priv, "perf_event_open"), nullptr);
  ASSERT_NE(find(priv, "bpf"), nullptr);
  EXPECT_NE(find(userns, "kexec_load"), nullptr);
}

#if defined(__x86_64__)
// A 32-bit (i386 ABI) syscall from a 64-bit process.
long int80(long nr, long a = 0, long b = 0, long c = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c)
               : "memory", "r8", "r9", "r10", "r11");
  return ret;
}
constexpr long kI386Getpid = 20;
constexpr long kI386Keyctl = 288;

// Whether this kernel runs i386-ABI syscalls at all: without IA32 emulation (CONFIG_IA32_EMULATION
// off, or ia32_emulation=0 on the command line) `int $0x80` raises SIGSEGV, so ask a throwaway
// child.
bool kernel_has_ia32() {
  pid_t pid = fork();
  if (pid == 0) _exit(int80(kI386Getpid) == getpid() ? 0 : 1);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

// Load the real filter in a child that holds CAP_SYS_ADMIN in its own user namespace (as the CT's
// init does) and check what it returns.
TEST(IsolationSeccomp, LoadedFilterBlocksWithoutNoNewPrivs) {
#if defined(__x86_64__)
  const bool has_ia32 = kernel_has_ia32();
  if (!has_ia32)
    std::fprintf(stderr, "note: no IA32 emulation in this kernel: the i386 checks are skipped\n");
#endif
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns([&] {
#if defined(__x86_64__)
    bool ia32 = has_ia32 &&
                int80(kI386Keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0) != -ENOSYS;
#endif
    if (syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0) < 0 &&
        errno == ENOSYS)
      return 1;
    if (!load_seccomp_filter(true).ok()) return 2;
    if (prctl(PR_GET_SECCOMP) != 2) return 3;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) return 4;  // setuid su/sudo keep working
    errno = 0;
    if (syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0) != -1 ||
        errno != ENOSYS)
      return 5;
    errno = 0;
    if (syscall(SYS_kexec_load, 0, 0, nullptr, 0) != -1 || errno != EPERM) return 6;
    errno = 0;
    if (syscall(SYS_bpf, 0, nullptr, 0) != -1 || errno != EPERM) return 7;
    if (syscall(SYS_getpid) != getpid() || syscall(SYS_personality, 0xffffffff) < 0) return 8;
#if defined(__x86_64__)
    // The i386 ABI is filtered too, not killed or let through.
    if (ia32 && int80(kI386Keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0) != -ENOSYS)
      return 9;
    if (ia32 && int80(kI386Getpid) != getpid()) return 10;
#endif
    return 0;
  }));
}

// perf_event_open(NULL, ...) fails with the kernel's own answer (EFAULT once it reads its argument;
// ENOSYS on a kernel built without perf events, such as user-mode Linux), and with EPERM when the
// filter answers first: the user-namespace filter leaves it to the kernel, so the
// answer is the same with and without it.
TEST(IsolationSeccomp, PrivilegedOnlyEntriesAreLeftToTheKernelInUserns) {
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns([] {
    errno = 0;
    if (syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0) != -1) return 4;
    const int kernels = errno;
    if (kernels == EPERM)
      std::fprintf(stderr, "note: perf_event_open says EPERM unfiltered: not told apart\n");
    if (!load_seccomp_filter(false).ok()) return 1;
    errno = 0;
    if (syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0) != -1 || errno != kernels) return 2;
    errno = 0;
    if (syscall(SYS_init_module, nullptr, 0, "") != -1 || errno != EPERM) return 3;
    return 0;
  }));
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns([] {
    if (!load_seccomp_filter(true).ok()) return 1;
    errno = 0;
    if (syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0) != -1 || errno != EPERM) return 2;
    return 0;
  }));
}

// The program is built once per process and handed out as is; a child loads it without
// building it again (exec's command: a CLONE_VM child of the joiner, seccomp.h).
TEST(IsolationSeccomp, ProgramIsBuiltOnceAndLoadsAsMade) {
  auto a = seccomp_program(false);
  auto b = seccomp_program(false);
  auto priv = seccomp_program(true);
  ASSERT_TRUE(a.ok() && b.ok() && priv.ok());
  ASSERT_FALSE(a->empty());
  ASSERT_EQ(a->size(), b->size());
  EXPECT_EQ(std::memcmp(a->data(), b->data(), a->size() * sizeof(sock_filter)), 0);
  // The privileged filter has more: perf_event_open, bpf, and the mknod argument rules.
  EXPECT_GT(priv->size(), a->size());
  EXPECT_TRUE(prepare_seccomp_filters().ok());
  const std::vector<sock_filter> prog = *a;
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns([&] {
    if (!load_seccomp_program(prog).ok()) return 1;
    if (prctl(PR_GET_SECCOMP) != 2) return 2;
    errno = 0;
    if (syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0) != -1 ||
        errno != ENOSYS)
      return 3;
    errno = 0;
    if (syscall(SYS_init_module, nullptr, 0, "") != -1 || errno != EPERM) return 4;
    return 0;
  }));
  // A program that is not one (empty) is refused by the kernel, not loaded half.
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns(
      [] { return load_seccomp_program({}).ok() || prctl(PR_GET_SECCOMP) != 0 ? 1 : 0; }));
}

// The run directory keeps each program this executable built: the next process reads it instead
// of building it (exec's ~1.4 ms), and takes only a file of root's that no one else may write,
// of whole instructions.
TEST(IsolationSeccomp, ProgramKeptInTheRunDirectory) {
  char tmpl[] = "/tmp/berth-seccomp-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  forget_seccomp_programs();
  auto built = seccomp_program(false);
  ASSERT_TRUE(built.ok());
  forget_seccomp_programs();
  ASSERT_TRUE(prepare_seccomp_program(false, dir).ok());
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u) << "one program, no temporary file left";
  const std::string file = files[0];
  EXPECT_NE(file.find("seccomp-userns-"), std::string::npos) << file;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(static_cast<size_t>(st.st_size), built->size() * sizeof(sock_filter));
  auto same_as_built = [&] {
    auto p = seccomp_program(false);
    return p.ok() && p->size() == built->size() &&
           std::memcmp(p->data(), built->data(), p->size() * sizeof(sock_filter)) == 0;
  };
  // Read back by a process that holds none (here: after forgetting).
  forget_seccomp_programs();
  ASSERT_TRUE(prepare_seccomp_program(false, dir).ok());
  EXPECT_TRUE(same_as_built());
  // A stored program another user may write is not taken: it is built and stored again.
  const sock_filter allow_all = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  auto store = [&](const void* data, size_t n, mode_t mode) {
    ::unlink(file.c_str());
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data, n), static_cast<ssize_t>(n));
    ::fchmod(fd, mode);
    ::close(fd);
  };
  store(&allow_all, sizeof allow_all, 0666);
  forget_seccomp_programs();
  ASSERT_TRUE(prepare_seccomp_program(false, dir).ok());
  EXPECT_TRUE(same_as_built()) << "a group- or world-writable program was loaded";
  // Nor a torn one (not a whole number of instructions).
  store("\x06\x00\x00", 3, 0600);
  forget_seccomp_programs();
  ASSERT_TRUE(prepare_seccomp_program(false, dir).ok());
  EXPECT_TRUE(same_as_built());
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), built->size() * sizeof(sock_filter)) << "rewritten";
  // Held in memory: the directory is not read again.
  ASSERT_TRUE(prepare_seccomp_program(false, dir + "/none").ok());
  std::filesystem::remove_all(dir);
  forget_seccomp_programs();
}

TEST(IsolationSeccomp, LoadFailsWithoutCapSysAdmin) {
  // Without no_new_privs, seccomp(2) requires CAP_SYS_ADMIN; a plain child that dropped it fails.
  int rc = testing::run_in_userns([] {
    cap_t caps = cap_get_proc();
    cap_value_t sys_admin = CAP_SYS_ADMIN;
    cap_set_flag(caps, CAP_EFFECTIVE, 1, &sys_admin, CAP_CLEAR);
    if (cap_set_proc(caps) != 0) return 1;
    cap_free(caps);
    auto st = load_seccomp_filter(false);
    return st.ok() ? 2 : 0;
  });
  if (rc == testing::kNoUserns) GTEST_SKIP() << "user namespaces are not available";
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace berth::isolation

namespace berth::isolation {
namespace {

// The program as the kernel's action cache runs it when it is loaded (seccomp_cache_prepare):
// syscall number and architecture only. The return value for nr, or nullopt when the program
// looks at an argument; *steps counts the instructions run.
std::optional<uint32_t> run_on(const std::vector<sock_filter>& prog, uint32_t arch, uint32_t nr,
                               int* steps) {
  uint32_t a = 0;
  *steps = 0;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    ++*steps;
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k == offsetof(seccomp_data, nr))
          a = nr;
        else if (f.k == offsetof(seccomp_data, arch))
          a = arch;
        else
          return std::nullopt;
        break;
      case BPF_RET | BPF_K: return f.k;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > f.k ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & f.k) ? f.jt : f.jf; break;
      case BPF_ALU | BPF_AND | BPF_K: a &= f.k; break;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

// What each syscall number gets, for both ABIs of an x86-64 host, is the blocklist's answer; and
// the program decides it in a few comparisons (a binary tree: the kernel runs it for every
// number of each ABI at each load, with interrupts off, in every exec and start).
TEST(IsolationSeccomp, EveryNumberGetsTheBlocklistsAnswerInAFewSteps) {
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) GTEST_SKIP() << "x86-64 only";
  for (bool privileged : {false, true}) {
    auto prog = seccomp_program(privileged);
    ASSERT_TRUE(prog.ok()) << prog.error().message();
    std::map<std::pair<uint32_t, int>, uint32_t> want;  // (arch, nr) -> action
    for (const auto& b : blocklist_for(privileged))
      for (uint32_t arch : {uint32_t{SCMP_ARCH_X86_64}, uint32_t{SCMP_ARCH_X86}}) {
        int nr = seccomp_syscall_resolve_name_arch(arch, b.name.c_str());
        if (nr >= 0) want[{arch, nr}] = SECCOMP_RET_ERRNO | static_cast<uint32_t>(b.errno_value);
      }
    int most = 0, args = 0;
    for (uint32_t arch : {uint32_t{SCMP_ARCH_X86_64}, uint32_t{SCMP_ARCH_X86}}) {
      for (int nr = 0; nr < 512; ++nr) {
        int steps = 0;
        auto got = run_on(*prog, arch, static_cast<uint32_t>(nr), &steps);
        most = std::max(most, steps);
        if (!got) {  // mknod/mknodat of a privileged CT look at the mode
          ++args;
          continue;
        }
        auto it = want.find({arch, nr});
        EXPECT_EQ(*got, it == want.end() ? SECCOMP_RET_ALLOW : it->second)
            << (privileged ? "privileged " : "userns ") << arch << " " << nr;
      }
    }
    EXPECT_EQ(args, privileged ? 4 : 0);
    EXPECT_LE(most, 16) << "instructions to decide one syscall number";
  }
}

}  // namespace
}  // namespace berth::isolation
