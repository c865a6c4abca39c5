// The VPS seccomp blocklist and its loader (libseccomp).
//
// Compared with Docker's default profile this is short on purpose: a VPS runs systemd, sshd,
// databases and nested containers, so an allowlist would break something every release. The
// entries below are the calls whose effect is host-wide or which have been used to escape.
#include "isolation/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <errno.h>
#include <seccomp.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "core/unique_fd.h"

namespace berth::isolation {
namespace {

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

// 32-bit ABIs the native architecture can also run. A filter without them would kill (libseccomp's
// default bad-arch action) rather than filter such processes; with them, they are filtered alike.
std::vector<uint32_t> companion_arches() {
  switch (seccomp_arch_native()) {
    case SCMP_ARCH_X86_64: return {SCMP_ARCH_X86, SCMP_ARCH_X32};
    case SCMP_ARCH_AARCH64: return {SCMP_ARCH_ARM};
    case SCMP_ARCH_S390X: return {SCMP_ARCH_S390};
    default: return {};  // ppc64le and the others: no second ABI
  }
}

}  // namespace

std::vector<BlockedSyscall> default_blocklist() {
  // Not blocked, on purpose:
  //   name_to_handle_at   only produces a handle; open_by_handle_at is the dangerous half
  //   quotactl            quotas inside the CT (later: per-CT ugid quota)
  //   userfaultfd         needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd; used by CRIU, QEMU
  //   personality         i386 userlands (linux32) and old binaries need it
  //   reboot              in a PID namespace it only ends the CT's init (Berth's halt uses it)
  //   mount, umount2, pivot_root, unshare, setns   left to user namespaces and capabilities
  //   adjtimex, clock_adjtime   their mode is behind a pointer seccomp cannot read; reads (mode 0)
  //                       are used by timedatectl and ntp_gettime(), and changes need CAP_SYS_TIME
  //                       in the initial user namespace, which a CT lacks by default (caps.cc)
  //   capset, prctl       drop_caps() runs after the filter is loaded
  return {
      {"kexec_load", EPERM, false, "replaces the running host kernel"},
      {"kexec_file_load", EPERM, false, "replaces the running host kernel"},
      {"init_module", EPERM, false, "kernel modules are loaded into the host kernel"},
      {"finit_module", EPERM, false, "kernel modules are loaded into the host kernel"},
      {"delete_module", EPERM, false, "unloading a module affects every CT and the host"},
      {"open_by_handle_at", EPERM, false,
       "opens any inode of a filesystem by handle, bypassing the CT root (the 'shocker' escape)"},
      {"iopl", EPERM, false, "raw I/O port access reaches host hardware"},
      {"ioperm", EPERM, false, "raw I/O port access reaches host hardware"},
      {"swapon", EPERM, false, "swap areas are a host resource"},
      {"swapoff", EPERM, false, "swap areas are a host resource"},
      {"acct", EPERM, false, "process accounting is configured host-wide"},
      {"syslog", EPERM, false,
       "reads and clears the host kernel log (CAP_SYS_ADMIN alone allows it in a privileged CT)"},
      {"lookup_dcookie", EPERM, false, "oprofile interface that resolves host paths"},
      {"perf_event_open", EPERM, true,
       "CAP_SYS_ADMIN in the initial userns allows system-wide profiling; a userns CT gets "
       "perf_event_paranoid's per-process limits instead"},
      {"bpf", EPERM, true,
       "CAP_SYS_ADMIN in the initial userns loads tracing programs that read host memory; a "
       "userns CT is limited by unprivileged_bpf_disabled"},
      {"keyctl", ENOSYS, false,
       "kernel keyrings are not fully namespaced; ENOSYS (as Docker) makes systemd and others "
       "fall back to running without them"},
      {"add_key", ENOSYS, false, "kernel keyrings are not fully namespaced (see keyctl)"},
      {"request_key", ENOSYS, false, "kernel keyrings are not fully namespaced (see keyctl)"},
      {"clock_settime", EPERM, false, "CLOCK_REALTIME is host-wide (time namespaces skip it)"},
      {"clock_settime64", EPERM, false, "CLOCK_REALTIME is host-wide (32-bit time64 variant)"},
      {"settimeofday", EPERM, false, "sets the host's realtime clock"},
      {"stime", EPERM, false, "sets the host's realtime clock (32-bit ABIs)"},
      {"io_uring_setup", ENOSYS, false,
       "io_uring has been the source of many kernel privilege escalations (Docker's default "
       "profile "
       "blocks it since 2023, ChromeOS and Android too); ENOSYS, as on a kernel without it, makes "
       "programs (libuv, liburing users, QEMU, databases) fall back to ordinary I/O"},
      {"io_uring_enter", ENOSYS, false, "io_uring (see io_uring_setup)"},
      {"io_uring_register", ENOSYS, false, "io_uring (see io_uring_setup)"},
  };
}

std::vector<BlockedSyscall> blocklist_for(bool privileged) {
  std::vector<BlockedSyscall> out;
  for (auto& b : default_blocklist())
    if (privileged || !b.privileged_only) out.push_back(std::move(b));
  return out;
}

namespace {

// The filter for one kind of CT, built with libseccomp and exported as the BPF program the kernel
// loads.
Result<std::vector<sock_filter>> build_filter(bool privileged) {
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error::invalid("initialise seccomp filter");

  // A failure here means this libseccomp lacks the ABI; processes of that ABI are then killed
  // by the bad-arch action rather than run unfiltered, so it is not an error.
  for (uint32_t arch : companion_arches()) (void)seccomp_arch_add(ctx.get(), arch);
  // A binary tree over syscall numbers instead of one comparison after another: loading the
  // filter makes the kernel run it for every syscall number of each ABI (the action cache of
  // seccomp_cache_prepare, with interrupts off), about 900 runs per load, each now a few
  // comparisons deep. libseccomp before 2.5 lacks the attribute: its default order then.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

  int rc = 0;
  for (const BlockedSyscall& b : blocklist_for(privileged)) {
    int nr = seccomp_syscall_resolve_name(b.name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: nothing to filter
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(static_cast<uint32_t>(b.errno_value)), nr, 0);
    if (rc < 0) return Error::from_errno(-rc, "add seccomp rule for `" + b.name + "`");
  }

  if (privileged) {
    // A privileged CT's root holds CAP_MKNOD in the host's user namespace: refuse making block
    // and character device nodes (the CT's own nodes were made before the filter was loaded).
    // Also the wall on cgroup v2, which has no devices controller file to write.
    for (unsigned type : {unsigned(S_IFBLK), unsigned(S_IFCHR)}) {
      rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknod), 1,
                            SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, type));
      if (rc >= 0)
        rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, type));
      if (rc < 0) return Error::from_errno(-rc, "add seccomp rule for mknod");
    }
  }

  // libseccomp 2.5 exports only to an fd: a memfd, read back.
  UniqueFd mem(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!mem) return Error::from_errno(errno, "memfd for the seccomp filter");
  rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc < 0) return Error::from_errno(-rc, "export the seccomp filter");
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0 ||
      size > static_cast<off_t>(BPF_MAXINSNS * sizeof(sock_filter)))
    return Error::invalid("the exported seccomp filter has " + std::to_string(size) + " bytes");
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), prog.data(), static_cast<size_t>(size), 0) != size)
    return Error::from_errno(errno, "read the exported seccomp filter");
  return prog;
}

struct FilterCache {
  std::mutex mu;
  std::optional<std::vector<sock_filter>> prog[2];  // [privileged]
};

FilterCache& filter_cache() {
  static FilterCache* c = new FilterCache;  // never destroyed: forks and exits use it freely
  return *c;
}

}  // namespace

Result<std::vector<sock_filter>> seccomp_program(bool privileged) {
  FilterCache& c = filter_cache();
  std::lock_guard lock(c.mu);
  auto& slot = c.prog[privileged ? 1 : 0];
  if (!slot) {
    BERTH_ASSIGN_OR_RETURN(auto prog, build_filter(privileged));
    slot = std::move(prog);
  }
  return *slot;
}

namespace {

// What decides the program's bytes: this executable (any rebuild or upgrade: another name), the
// libseccomp it runs, the kernel, the kind. FNV-1a, 64 bits: a name, not a secret (the directory
// is root's).
std::string cache_name(bool privileged) {
  struct stat exe {};
  struct utsname uts {};
  if (::stat("/proc/self/exe", &exe) != 0 || ::uname(&uts) != 0) return "";
  const scmp_version* v = seccomp_version();
  std::string key = std::string("berth-seccomp 1 ") + uts.release + " " +
                    std::to_string(exe.st_dev) + " " + std::to_string(exe.st_ino) + " " +
                    std::to_string(exe.st_size) + " " + std::to_string(exe.st_mtim.tv_sec) + "." +
                    std::to_string(exe.st_mtim.tv_nsec) + " " + std::to_string(v ? v->major : 0) +
                    "." + std::to_string(v ? v->minor : 0) + "." + std::to_string(v ? v->micro : 0);
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  char name[64];
  std::snprintf(name, sizeof name, "seccomp-%s-%016llx.bpf", privileged ? "priv" : "userns",
                static_cast<unsigned long long>(h));
  return name;
}

// A program this host stored before: root's regular file, written by no one else, a whole number
// of instructions. Anything else is ignored (built again).
std::optional<std::vector<sock_filter>> read_cached(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 022) != 0 || st.st_size <= 0 ||
      st.st_size % static_cast<off_t>(sizeof(sock_filter)) != 0 ||
      st.st_size > static_cast<off_t>(BPF_MAXINSNS * sizeof(sock_filter)))
    return std::nullopt;
  std::vector<sock_filter> prog(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  if (::pread(fd.get(), prog.data(), static_cast<size_t>(st.st_size), 0) != st.st_size)
    return std::nullopt;
  return prog;
}

// Written whole under a temporary name, then renamed: a reader sees all of it or nothing.
void write_cached(const std::string& path, const std::vector<sock_filter>& prog) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return;
  size_t bytes = prog.size() * sizeof(sock_filter);
  bool ok = ::write(fd.get(), prog.data(), bytes) == static_cast<ssize_t>(bytes);
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

Status prepare_seccomp_program(bool privileged, const std::string& cache_dir) {
  FilterCache& c = filter_cache();
  std::string path;
  {
    std::lock_guard lock(c.mu);
    auto& slot = c.prog[privileged ? 1 : 0];
    if (slot) return {};
    std::string name = cache_dir.empty() ? "" : cache_name(privileged);
    if (!name.empty()) {
      path = cache_dir + "/" + name;
      if (auto prog = read_cached(path)) {
        slot = std::move(*prog);
        return {};
      }
    }
  }
  BERTH_ASSIGN_OR_RETURN(auto prog, seccomp_program(privileged));
  if (!path.empty()) write_cached(path, prog);
  return {};
}

void forget_seccomp_programs() {
  FilterCache& c = filter_cache();
  std::lock_guard lock(c.mu);
  for (auto& p : c.prog) p.reset();
}

Status prepare_seccomp_filters(const std::string& cache_dir) {
  for (bool privileged : {false, true})
    BERTH_RETURN_IF_ERROR(prepare_seccomp_program(privileged, cache_dir));
  return {};
}

Status load_seccomp_filter(bool privileged) {
  BERTH_ASSIGN_OR_RETURN(auto prog, seccomp_program(privileged));
  return load_seccomp_program(prog);
}

Status load_seccomp_program(const std::vector<sock_filter>& prog) {
  // No flags and no no_new_privs (setuid su/sudo must work in a VPS): loading needs
  // CAP_SYS_ADMIN in the current user namespace (ARCHITECTURE.md section 2).
  struct sock_fprog fprog {};
  fprog.len = static_cast<unsigned short>(prog.size());
  fprog.filter = const_cast<sock_filter*>(prog.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
    return Error::from_errno(errno, "load seccomp filter");
  return {};
}

}  // namespace berth::isolation
