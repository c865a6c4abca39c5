// NUMFILE/LOCKEDPAGES rlimits, SHMPAGES IPC sysctls, the I/O device of the cgroup limits, and the
// live application of all of a CT's limits (see ct_limits.h).
#include "runtime/ct_limits.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>

#include "core/exit_codes.h"
#include "core/units.h"
#include "storage/disk.h"
#include "state/ct_cgroup.h"
#include "runtime/exec.h"
#include "state/status.h"
#include "sys/blockdev.h"
#include "sys/fs.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

// The kernel's defaults for kernel.shmmax and kernel.shmall (ULONG_MAX - 2^24).
constexpr uint64_t kShmDefault = 18446744073692774399ULL;
// devpts' default and highest max= (NR_UNIX98_PTY_MAX).
constexpr uint64_t kPtyMax = 1ULL << 20;

uint64_t rl(uint64_t v, uint64_t unit) {
  if (v >= units::kUnlimited) return RLIM_INFINITY;
  return v > RLIM_INFINITY / unit ? RLIM_INFINITY : v * unit;
}

Result<units::BarrierLimit> barrier_limit(std::string_view key, const std::string& v,
                                          units::Kind kind) {
  auto bl = units::parse_barrier_limit(v, kind);
  if (!bl.ok())
    return Error::with_status(
        exitcode::kBadValue,
        "invalid value `" + v + "` of " + std::string(key) + ": barrier[:limit] expected");
  return *bl;
}

struct RlimitKey {
  const char* key;
  __rlimit_resource_t resource;
  const char* what;
  std::optional<Rlimit> ProcLimits::*field;
};
constexpr RlimitKey kRlimits[] = {
    {"NUMFILE", RLIMIT_NOFILE, "open files", &ProcLimits::nofile},
    {"LOCKEDPAGES", RLIMIT_MEMLOCK, "bytes of locked memory", &ProcLimits::memlock}};

std::string text(uint64_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

Status write_inotify_sysctls(const ProcLimits& pl) {
  if (pl.inotify_instances)
    BERTH_RETURN_IF_ERROR(sys::write_file("/proc/sys/user/max_inotify_instances",
                                          std::to_string(*pl.inotify_instances)));
  if (pl.inotify_watches)
    BERTH_RETURN_IF_ERROR(
        sys::write_file("/proc/sys/user/max_inotify_watches", std::to_string(*pl.inotify_watches)));
  return {};
}

// A positive count no larger than the kernel's int sysctls take; unlimited is INT_MAX.
Result<uint64_t> count_value(std::string_view key, const std::string& v) {
  auto n = units::parse_barrier_limit(v, units::Kind::kItems);
  if (n.ok() && n->limit >= units::kUnlimited)
    return static_cast<uint64_t>(INT32_MAX);  // a new userns's value
  if (!n.ok() || n->limit == 0 || n->limit > static_cast<uint64_t>(INT32_MAX))
    return Error::with_status(exitcode::kBadValue, "invalid value `" + v + "` of " +
                                                       std::string(key) + ": 1.." +
                                                       std::to_string(INT32_MAX) + " expected");
  return n->limit;
}

Status write_ipc_sysctls(const ProcLimits& pl) {
  if (pl.shmmax)
    BERTH_RETURN_IF_ERROR(sys::write_file("/proc/sys/kernel/shmmax", std::to_string(*pl.shmmax)));
  if (pl.shmall)
    BERTH_RETURN_IF_ERROR(sys::write_file("/proc/sys/kernel/shmall", std::to_string(*pl.shmall)));
  return {};
}

bool has(const std::vector<std::string>& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

// Run fn as the owner of pid's user namespace (sys::with_effective_ids): the CT's processes are in
// a user namespace owned by its LOCAL_UID, and prlimit(2) on them needs CAP_SYS_RESOURCE there,
// which host root has as that owner even when its own effective set lacks it. A process gone
// already: fn alone (it sees ESRCH).
Status as_owner_of(pid_t pid, const std::function<void()>& fn) {
  auto owner = sys::userns_owner_of(pid);
  if (!owner.ok()) {
    fn();
    return {};
  }
  return sys::with_effective_ids({*owner, ::getegid()}, fn);
}

// prlimit(2) on every process of the CT. A hard limit above a process's own can only be set with
// CAP_SYS_RESOURCE: that process keeps its hard limit (and gets the soft one below it).
Status set_rlimits_live(const std::vector<pid_t>& pids, const ProcLimits& pl,
                        std::vector<std::string>& not_live) {
  for (const auto& k : kRlimits) {
    if (!(pl.*k.field)) continue;
    struct rlimit self;
    if (::getrlimit(k.resource, &self) != 0) return Error::from_errno(errno, "getrlimit");
    Rlimit want = clamp_rlimit(*(pl.*k.field), self.rlim_max);
    bool short_of = false;
    for (pid_t pid : pids) {
      Status st;
      auto one = [&]() {
        struct rlimit old;
        if (::prlimit(pid, static_cast<enum __rlimit_resource>(k.resource), nullptr, &old) != 0) {
          if (errno != ESRCH)
            st = Error::from_errno(errno, "read rlimit of pid " + std::to_string(pid));
          return;
        }
        Rlimit got = want;
        if (want.hard > old.rlim_max) {
          got = clamp_rlimit(want, old.rlim_max);
          short_of = true;
        }
        struct rlimit nl {
          got.soft, got.hard
        };
        if (::prlimit(pid, static_cast<enum __rlimit_resource>(k.resource), &nl, nullptr) != 0 &&
            errno != ESRCH)
          st = Error::from_errno(errno,
                                 std::string("set ") + k.key + " on pid " + std::to_string(pid));
      };
      BERTH_RETURN_IF_ERROR(as_owner_of(pid, one));
      BERTH_RETURN_IF_ERROR(std::move(st));
    }
    if (short_of)
      not_live.push_back(
          std::string(k.key) +
          ": running processes keep a lower hard limit (raising it needs a restart)");
  }
  return {};
}

}  // namespace

const std::vector<std::string_view>& proc_limit_keys() {
  static const std::vector<std::string_view> kKeys = {
      "NUMFILE", "LOCKEDPAGES", "SHMPAGES", "NUMPTY", "INOTIFY_INSTANCES", "INOTIFY_WATCHES"};
  return kKeys;
}

Result<ProcLimits> proc_limits_from(const cgroups::KeyLookup& get) {
  ProcLimits pl;
  if (auto v = get("NUMFILE")) {
    BERTH_ASSIGN_OR_RETURN(auto bl, barrier_limit("NUMFILE", *v, units::Kind::kItems));
    pl.nofile = Rlimit{rl(bl.barrier, 1), rl(bl.limit, 1)};
  }
  if (auto v = get("LOCKEDPAGES")) {
    BERTH_ASSIGN_OR_RETURN(auto bl, barrier_limit("LOCKEDPAGES", *v, units::Kind::kPages));
    pl.memlock = Rlimit{rl(bl.barrier, units::kPageSize), rl(bl.limit, units::kPageSize)};
  }
  if (auto v = get("SHMPAGES")) {
    BERTH_ASSIGN_OR_RETURN(auto bl, barrier_limit("SHMPAGES", *v, units::Kind::kPages));
    bool unlimited = bl.limit >= kShmDefault / units::kPageSize;  // "unlimited" included
    pl.shmall = unlimited ? kShmDefault : bl.limit;
    pl.shmmax = unlimited ? kShmDefault : bl.limit * units::kPageSize;
  }
  if (auto v = get("NUMPTY")) {
    BERTH_ASSIGN_OR_RETURN(auto bl, barrier_limit("NUMPTY", *v, units::Kind::kItems));
    pl.pty_max = std::min<uint64_t>(bl.limit, kPtyMax);
  }
  if (auto v = get("INOTIFY_INSTANCES")) {
    BERTH_ASSIGN_OR_RETURN(pl.inotify_instances, count_value("INOTIFY_INSTANCES", *v));
  }
  if (auto v = get("INOTIFY_WATCHES")) {
    BERTH_ASSIGN_OR_RETURN(pl.inotify_watches, count_value("INOTIFY_WATCHES", *v));
  }
  return pl;
}

Rlimit clamp_rlimit(Rlimit want, uint64_t ceiling) {
  Rlimit out;
  out.hard = std::min(want.hard, ceiling);
  out.soft = std::min(want.soft, out.hard);
  return out;
}

std::vector<std::string> rlimit_clamp_notes(const ProcLimits& pl) {
  std::vector<std::string> out;
  for (const auto& k : kRlimits) {
    if (!(pl.*k.field)) continue;
    struct rlimit self;
    if (::getrlimit(k.resource, &self) != 0) continue;
    Rlimit want = *(pl.*k.field);
    if (want.hard <= self.rlim_max) continue;
    out.push_back(std::string(k.key) + " " + text(want.hard) +
                  " is above the host's hard limit of " + text(self.rlim_max) + " " + k.what +
                  "; the CT gets " + text(self.rlim_max));
  }
  return out;
}

ProcLimits rlimits_of(pid_t pid) {
  ProcLimits pl;
  (void)as_owner_of(pid, [&]() {
    for (const auto& k : kRlimits) {
      struct rlimit cur;
      if (::prlimit(pid, static_cast<enum __rlimit_resource>(k.resource), nullptr, &cur) == 0)
        pl.*k.field = Rlimit{cur.rlim_cur, cur.rlim_max};
    }
  });
  return pl;
}

Status apply_proc_limits_self(const ProcLimits& pl) {
  for (const auto& k : kRlimits) {
    if (!(pl.*k.field)) continue;
    struct rlimit cur;
    if (::getrlimit(k.resource, &cur) != 0) return Error::from_errno(errno, "getrlimit");
    Rlimit v = clamp_rlimit(*(pl.*k.field), cur.rlim_max);
    struct rlimit nl {
      v.soft, v.hard
    };
    if (::setrlimit(k.resource, &nl) != 0)
      return Error::from_errno(errno, std::string("set ") + k.key + " rlimit");
  }
  return write_ipc_sysctls(pl).context("set SHMPAGES");
}

Status apply_userns_limits_self(const ProcLimits& pl) {
  return write_inotify_sysctls(pl).context("set INOTIFY_INSTANCES/INOTIFY_WATCHES");
}

Status apply_userns_limits_live(pid_t init, const ProcLimits& pl) {
  // The writer child's status when it could not join the namespace (else kOk or kHelperFailed).
  constexpr int kJoinFailed = 100;
  std::string path = "/proc/" + std::to_string(init) + "/ns/user";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::from_errno(errno, "open `" + path + "`");
  int nsfd = ns.get();
  // The child joins only the CT's user namespace: /proc/sys/user follows the caller's user
  // namespace, and the host's /proc (still this process's) is not the CT's masked one.
  BERTH_ASSIGN_OR_RETURN(sys::ChildProcess c, sys::clone_child(0, -1, [&]() -> int {
                           if (::setns(nsfd, CLONE_NEWUSER) != 0) return kJoinFailed;
                           auto st = write_inotify_sysctls(pl);
                           return st.ok() ? exitcode::kOk : exitcode::kHelperFailed;
                         }));
  BERTH_ASSIGN_OR_RETURN(int ws, c.wait());
  int rc = sys::exit_code_of(ws);
  if (rc == kJoinFailed)
    return Error::with_status(exitcode::kSystem, "join the CT's user namespace");
  if (rc != 0)
    return Error::with_status(exitcode::kSystem, "write the CT's /proc/sys/user/max_inotify_*");
  return {};
}

bool enforced_on_host(std::string_view key) {
  if (key != "TCPSNDBUF" && key != "TCPRCVBUF") return false;
  auto cg = state::cgroup_backend();
  if (!cg.ok() || std::string_view((*cg)->name()) != "v1") return false;
  for (const auto& h : (*cg)->hierarchies()) {
    std::string opts = "," + h.options + ",";
    if (opts.find(",memory,") != std::string::npos)
      return sys::path_exists(h.mount + "/memory.kmem.tcp.limit_in_bytes");
  }
  return false;
}

Result<cgroups::Resources> ct_resources(const CtConfig& ct, std::vector<std::string>* notes) {
  BERTH_ASSIGN_OR_RETURN(cgroups::Resources r, cgroups::resources_from_config(ct));
  bool limited = (r.io_bps && *r.io_bps != cgroups::kNoLimit) ||
                 (r.io_iops && *r.io_iops != cgroups::kNoLimit);
  if (!r.io_bps && !r.io_iops) return r;
  // A CT with a disk writes through its loop device (the one to throttle: the bios the CT issues
  // go there) once the disk is mounted; start sets it again after mounting (start.cc).
  auto disk =
      sys::disk_of_path(storage::has_disk(ct) ? storage::disk_mount_path(ct) : ct.ve_private());
  if (disk.ok()) r.io_device = *disk;
  if (r.io_device.empty() && limited && notes)
    notes->push_back("IOLIMIT/IOPSLIMIT: the private area `" + ct.ve_private() +
                     "` is not on a block device; I/O is not limited");
  return r;
}

Status apply_live_limits(const CtConfig& before, const CtConfig& after,
                         const std::vector<std::string>& touched,
                         std::vector<std::string>& not_live, std::vector<std::string>& notes) {
  auto get_before = [&](std::string_view k) { return before.get(k); };
  auto get_after = [&](std::string_view k) { return after.get(k); };
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string group = state::ct_group_of(after);

  auto keys = cgroups::changed_resource_keys(get_before, get_after);
  for (auto k : cgroups::resource_keys())
    if (has(touched, k) && !has(keys, k)) keys.emplace_back(k);
  if (!keys.empty()) {
    BERTH_ASSIGN_OR_RETURN(cgroups::Resources all, ct_resources(after, &notes));
    auto st = cg->apply(group, cgroups::only_keys(all, keys));
    if (!st.ok()) {
      // EBUSY/EINVAL: the kernel will not take the value now (a memory limit below what the
      // CT uses): it applies at the next start.
      int code = st.error().code();
      if (code != EBUSY && code != EINVAL) return std::move(st).context("apply resource limits");
      std::string list;
      for (const auto& k : keys) list += (list.empty() ? "" : ",") + k;
      not_live.push_back(list + ": " + st.error().message());
    }
  }

  std::vector<std::string> pkeys;
  for (auto k : proc_limit_keys())
    if (before.get(k) != after.get(k) || has(touched, k)) pkeys.emplace_back(k);
  if (pkeys.empty()) return {};
  BERTH_ASSIGN_OR_RETURN(ProcLimits all, proc_limits_from(get_after));
  ProcLimits pl;
  if (has(pkeys, "NUMFILE")) pl.nofile = all.nofile;
  if (has(pkeys, "LOCKEDPAGES")) pl.memlock = all.memlock;
  if (has(pkeys, "SHMPAGES")) {
    // A removed SHMPAGES gives the kernel's defaults back.
    pl.shmall = all.shmall.value_or(kShmDefault);
    pl.shmmax = all.shmmax.value_or(kShmDefault);
  }
  for (auto& n : rlimit_clamp_notes(pl)) notes.push_back(std::move(n));
  BERTH_RETURN_IF_ERROR(set_rlimits_live(cg->pids(group), pl, not_live));
  if (pl.shmall) {
    ProcLimits shm;
    shm.shmall = pl.shmall;
    shm.shmmax = pl.shmmax;
    BERTH_RETURN_IF_ERROR(
        run_in_ct(after, [&] { return write_ipc_sysctls(shm); }).context("set SHMPAGES"));
  }
  if ((has(pkeys, "INOTIFY_INSTANCES") || has(pkeys, "INOTIFY_WATCHES")) &&
      !after.is_privileged()) {
    ProcLimits ino;
    if (has(pkeys, "INOTIFY_INSTANCES")) ino.inotify_instances = all.inotify_instances;
    if (has(pkeys, "INOTIFY_WATCHES")) ino.inotify_watches = all.inotify_watches;
    BERTH_ASSIGN_OR_RETURN(state::CtStatus st, state::query_status(after));
    if (st.running)
      BERTH_RETURN_IF_ERROR(
          apply_userns_limits_live(st.init_pid, ino).context("set inotify limits"));
  }
  if (has(pkeys, "NUMPTY")) {
    std::string opt = "max=" + std::to_string(all.pty_max.value_or(kPtyMax));
    BERTH_RETURN_IF_ERROR(run_in_ct(after, [&]() -> Status {
                            if (::mount("devpts", "/dev/pts", nullptr,
                                        MS_REMOUNT | MS_NOSUID | MS_NOEXEC, opt.c_str()) != 0)
                              return Error::from_errno(errno, "remount /dev/pts with " + opt);
                            return {};
                          }).context("set NUMPTY"));
  }
  return {};
}

}  // namespace berth::runtime
