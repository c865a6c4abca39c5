// The VPS seccomp blocklist and its loader (libseccomp).
//
// Compared with Docker's default profile this is short on purpose: a VPS runs systemd, sshd,
// databases and nested containers, so an allowlist would break something every release. The
// entries below are the calls whose effect is host-wide or which have been used to escape.
#include "isolation/seccomp.h"

#include <sys/stat.h>

#include <errno.h>
#include <seccomp.h>

#include <memory>

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

Status load_seccomp_filter(bool privileged) {
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error::invalid("initialise seccomp filter");

  // libseccomp sets no_new_privs before loading unless told not to. A VPS must keep setuid
  // su/sudo working, so we load with CAP_SYS_ADMIN instead (ARCHITECTURE.md section 2).
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return Error::from_errno(-rc, "disable no_new_privs in the seccomp filter");

  // A failure here means this libseccomp lacks the ABI; processes of that ABI are then killed
  // by the bad-arch action rather than run unfiltered, so it is not an error.
  for (uint32_t arch : companion_arches()) (void)seccomp_arch_add(ctx.get(), arch);

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

  rc = seccomp_load(ctx.get());
  if (rc < 0) return Error::from_errno(-rc, "load seccomp filter");
  return {};
}

}  // namespace berth::isolation
