// CT capability set and the child-side capability drop (libcap).
#include "isolation/caps.h"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/exit_codes.h"

namespace berth::isolation {
namespace {

// vzctl 4.x on upstream kernels (src/lib/cap.c, CAPDEFAULTMASK_UPSTREAM) gives a CT exactly these.
// Its mask is 32 bits wide, so every capability numbered 32 and above was off; we keep that.
//
// Kept, with the reason a VPS needs each one:
constexpr int kDefaultCaps[] = {
    CAP_CHOWN,             // package managers and daemons chown files
    CAP_DAC_OVERRIDE,      // root reads and writes any file of the CT
    CAP_DAC_READ_SEARCH,   // backups, find(1) as root
    CAP_FOWNER,            // chmod/utime on others' files
    CAP_FSETID,            // keep setuid bits on chmod
    CAP_KILL,              // root signals any CT process
    CAP_SETGID,            // su, sshd, cron switch groups
    CAP_SETUID,            // su, sshd, cron switch users
    CAP_SETPCAP,           // systemd drops caps for its services (CapabilityBoundingSet=)
    CAP_LINUX_IMMUTABLE,   // chattr +i/+a on the CT's own files (vzctl allowed it)
    CAP_NET_BIND_SERVICE,  // servers on ports below 1024
    CAP_NET_BROADCAST,     // broadcast/multicast sockets
    CAP_NET_ADMIN,         // the CT's own network namespace: addresses, routes, firewall
    CAP_NET_RAW,           // ping, DHCP clients
    CAP_IPC_LOCK,          // mlock (databases, gpg); limited by RLIMIT_MEMLOCK and the memcg
    CAP_IPC_OWNER,         // root manages any SysV IPC object of the CT's IPC namespace
    CAP_SYS_CHROOT,        // sshd privilege separation, build tools
    CAP_SYS_PTRACE,        // strace, gdb on the CT's processes (PID namespace bounds it)
    CAP_SYS_ADMIN,         // mount inside the CT's own user/mount namespace, sethostname
    CAP_SYS_BOOT,          // reboot(2) in a PID namespace only ends that namespace's init; halt
    CAP_SYS_NICE,          // nice/ionice below 0, realtime for audio/ntp daemons
    CAP_SYS_RESOURCE,      // raise rlimits up to the hard limit, reserved ext4 space
    CAP_SYS_TTY_CONFIG,    // vhangup(2) by getty/login
    CAP_MKNOD,             // device nodes; access is still decided by the devices cgroup
    CAP_LEASE,             // file leases (samba, nfs)
    CAP_AUDIT_WRITE,       // login, sshd, sudo write audit records (refused cleanly in a userns)
    CAP_SETFCAP,           // dpkg/rpm set file capabilities (ping, mtr)
};
// Dropped by default (turn on with CAPABILITY="NAME:on" at your own risk):
//   SYS_MODULE     kernel modules are host-wide
//   SYS_RAWIO      raw I/O ports and /dev/mem reach host hardware
//   SYS_PACCT      process accounting is host-wide (acct(2))
//   SYS_TIME       the realtime clock is host-wide (no time namespace for CLOCK_REALTIME)
//   AUDIT_CONTROL  the audit rules are host-wide. vzctl set bit 30 as "VE_ADMIN", which upstream
//                  kernels read as AUDIT_CONTROL; we do not carry that accident over.
//   MAC_OVERRIDE, MAC_ADMIN  the host's LSM policy (AppArmor/SELinux) is not the CT's
//   SYSLOG         the kernel log ring is host-wide
//   WAKE_ALARM, BLOCK_SUSPEND  host power management
//   AUDIT_READ     host audit log multicast
//   PERFMON, BPF   system-wide tracing can read host memory
//   CHECKPOINT_RESTORE  vzctl never gave it (bits >= 32); CRIU runs on the host side

// Names OpenVZ kernels had that upstream lacks.
struct LegacyCap {
  std::string_view name;
  int cap;
};
constexpr LegacyCap kLegacyCaps[] = {
    {"ve_admin", CAP_NET_ADMIN},  // OpenVZ gated per-CT network administration on VE_ADMIN
    {"setveid", -1},              // entering other CTs; no upstream equivalent
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct CapTextDeleter {
  void operator()(char* p) const { cap_free(p); }
};

std::string cap_name(int cap) {
  std::unique_ptr<char, CapTextDeleter> n(cap_to_name(static_cast<cap_value_t>(cap)));
  if (!n) return std::to_string(cap);
  std::string s(n.get());
  return s.rfind("cap_", 0) == 0 ? s.substr(4) : s;
}

int kernel_last_cap() { return static_cast<int>(cap_max_bits()) - 1; }

}  // namespace

std::vector<int> default_ct_capabilities(int last_cap) {
  std::vector<int> out;
  for (int c : kDefaultCaps)
    if (c <= last_cap) out.push_back(c);
  std::sort(out.begin(), out.end());
  return out;
}

Result<int> parse_cap_name(std::string_view name) {
  std::string n = lower(name);
  if (n.rfind("cap_", 0) == 0) n.erase(0, 4);
  for (const auto& l : kLegacyCaps)
    if (n == l.name) return l.cap;
  // libcap also accepts bare numbers; vzctl only knew names.
  bool has_alpha = std::any_of(n.begin(), n.end(),
                               [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
  cap_value_t v = 0;
  if (n.empty() || !has_alpha || cap_from_name(("cap_" + n).c_str(), &v) != 0)
    return Error::invalid("unknown capability `" + std::string(name) + "`", exitcode::kCapability);
  return static_cast<int>(v);
}

Result<std::vector<int>> apply_capability_setting(std::vector<int> base, std::string_view setting,
                                                  int last_cap) {
  std::string text(setting);
  std::replace(text.begin(), text.end(), ',', ' ');
  for (const std::string& tok : split_words(text)) {
    auto colon = tok.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return Error::invalid("invalid capability setting `" + tok + "` (want name:on|off)",
                            exitcode::kBadValue);
    std::string state = lower(std::string_view(tok).substr(colon + 1));
    if (state != "on" && state != "off")
      return Error::invalid("invalid capability setting `" + tok + "` (want name:on|off)",
                            exitcode::kBadValue);
    BERTH_ASSIGN_OR_RETURN(int cap, parse_cap_name(std::string_view(tok).substr(0, colon)));
    if (cap < 0) continue;
    auto it = std::find(base.begin(), base.end(), cap);
    if (state == "on" && it == base.end() && cap <= last_cap) base.push_back(cap);
    if (state == "off" && it != base.end()) base.erase(it);
  }
  std::sort(base.begin(), base.end());
  return base;
}

Result<std::vector<int>> ct_capabilities(const CtConfig& cfg) {
  int last = kernel_last_cap();
  return apply_capability_setting(default_ct_capabilities(last), cfg.get_or("CAPABILITY", ""), last)
      .context("CT " + cfg.ctid() + " capabilities");
}

std::string capability_names(const std::vector<int>& caps) {
  std::string out;
  for (int c : caps) {
    if (!out.empty()) out += ' ';
    out += cap_name(c);
  }
  return out;
}

bool in_own_bound(int c) { return cap_get_bound(static_cast<cap_value_t>(c)) == 1; }

bool in_fresh_userns_bound(int /*c*/) { return true; }

CapPlan plan_caps(const std::vector<int>& keep, bool (*in_bound)(int)) {
  auto kept = [&](int c) { return std::find(keep.begin(), keep.end(), c) != keep.end(); };
  int last = kernel_last_cap();
  CapPlan p;
  // The bounding set goes first: dropping from it needs CAP_SETPCAP, which keep may not hold.
  // It is what limits an exec'ed setuid-root binary, so it is the set that matters for su/sudo.
  for (int c = 0; c <= last; ++c)
    if (!kept(c) && in_bound(c)) p.drop_bound.push_back(c);
  // Only what the process still has can be kept: a host whose own bounding set lacks a cap
  // (e.g. CAP_SYS_RESOURCE on some VMs) cannot give it to a privileged CT either.
  for (int c : keep)
    if (c >= 0 && c <= last && c < 64 && in_bound(c))
      p.keep[c / 32] |= 1U << static_cast<unsigned>(c % 32);
  return p;
}

int apply_cap_plan(const CapPlan& p, int* failed_cap) noexcept {
  for (int c : p.drop_bound) {
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
      *failed_cap = c;
      return errno;
    }
  }
  struct __user_cap_header_struct hdr {};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  struct __user_cap_data_struct data[2]{};
  for (size_t w = 0; w < 2; ++w)
    data[w].effective = data[w].permitted = data[w].inheritable = p.keep[w];
  if (::syscall(SYS_capset, &hdr, data) != 0) {
    *failed_cap = -1;
    return errno;
  }
  // Ambient caps would survive exec of non-setuid programs; a CT starts with none.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *failed_cap = -2;
    return errno;
  }
  return 0;
}

Status drop_caps(const std::vector<int>& keep) {
  int failed = 0;
  int err = apply_cap_plan(plan_caps(keep, in_own_bound), &failed);
  if (err == 0) return {};
  if (failed >= 0)
    return Error::from_errno(err, "drop `" + cap_name(failed) + "` from the bounding set")
        .status(exitcode::kCapability);
  if (failed == -1)
    return Error::from_errno(err, "set capabilities `" + capability_names(keep) + "`")
        .status(exitcode::kCapability);
  return Error::from_errno(err, "clear ambient capabilities").status(exitcode::kCapability);
}

}  // namespace berth::isolation
