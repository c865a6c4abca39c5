// Process creation with clone3(2) and pidfds, and the owner type for a child process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::sys {

// A child process we created: SIGKILLed and reaped on destruction unless released.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ChildProcess(ChildProcess&& o) noexcept
      : pid_(std::exchange(o.pid_, 0)), pidfd_(std::move(o.pidfd_)) {}
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ~ChildProcess() { kill_and_reap(); }

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // Wait for exit; returns the wait status (as waitpid).
  Result<int> wait();
  // True if the child has exited (it stays a zombie for wait()).
  bool has_exited() const;
  // Hand the process over (it keeps running; nobody reaps it here).
  pid_t release();
  void kill_and_reap();

 private:
  pid_t pid_ = 0;
  UniqueFd pidfd_;
};

// clone3 with the given CLONE_* flags (CLONE_PIDFD is added). If cgroup_fd >= 0,
// CLONE_INTO_CGROUP is used. The child runs fn() and _exit()s with its return value; fn must
// only use async-signal-safe calls if the caller is multi-threaded (the CLI is not).
Result<ChildProcess> clone_child(uint64_t flags, int cgroup_fd, const std::function<int()>& fn);

// posix_spawn's child, made with clone3: CLONE_VM|CLONE_VFORK|CLONE_PIDFD, and CLONE_INTO_CGROUP
// when cgroup_fd >= 0. fn(arg) runs on a stack of its own in this process's memory (no copy of the
// page tables, no copy-on-write faults) and its return value is the child's exit status; this
// returns once the child has exec'd or ended: its pid (its pidfd in *pidfd when pidfd is not
// null), or -1 with errno. Every signal is blocked in the caller meanwhile, so the child starts
// with all of them blocked and none of the caller's handlers can run in it. fn may only make
// calls that leave the caller's memory as a finished call would (no locks held across a kill).
// x86-64 only (ENOSYS elsewhere).
pid_t clone_vfork(int cgroup_fd, int (*fn)(void*), void* arg, int* pidfd);

// clone_vfork's child that also shares the caller's file table (CLONE_FILES): what it opens stays
// open in the caller once it has ended. Returns once the child has ended (a zombie for the caller
// to reap: it sends no SIGCHLD, so waitpid needs __WALL), its pid, or -1 with errno. For a
// single-threaded caller only (fn may allocate: no other thread can hold the allocator's lock
// meanwhile). x86-64 only (ENOSYS elsewhere).
pid_t clone_vfork_files(int (*fn)(void*), void* arg);

// The host ids that own a user namespace the caller makes (its creator's euid/egid).
struct NsOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// clone_child with CLONE_NEWUSER in flags, the new user namespace owned by `owner` instead of the
// caller (root): the kernel charges every per-user count made inside it (inotify instances and
// watches, user/mount/pid/... namespaces; kernel/ucount.c) at the host level to its owner, so a
// CT's objects count against the CT's own host uid (its LOCAL_UID), not against host root's. The
// caller's effective ids are switched for the clone3 call only, with SECBIT_NO_SETUID_FIXUP so it
// keeps its capabilities (CLONE_INTO_CGROUP and the namespaces need them); its ids and secure bits
// are back when this returns, and the child starts with the caller's secure bits. Needs
// CAP_SETUID, CAP_SETGID and CAP_SETPCAP.
Result<ChildProcess> clone_child_owned(NsOwner owner, uint64_t flags, int cgroup_fd,
                                       const std::function<int()>& fn);

// Run fn with the effective ids of `owner`, keeping this process's capabilities
// (SECBIT_NO_SETUID_FIXUP); ids and secure bits are restored before this returns. As the owner
// of a CT's user namespace the caller has every capability in it (the kernel's owner rule), even
// one its own effective set lacks (a host root without CAP_SYS_RESOURCE still reads and sets the
// CT's rlimits). fn must not create files (they would belong to the owner).
Status with_effective_ids(NsOwner owner, const std::function<void()>& fn);

// The host uid that owns the user namespace of process pid (NS_GET_OWNER_UID).
Result<uid_t> userns_owner_of(pid_t pid);

// Write uid_map and gid_map of pid: inside 0 -> host base, count ids.
Status write_id_maps(pid_t pid, uint32_t uid_base, uint32_t gid_base, uint32_t count);

// A user namespace with the map 0 -> base (count ids), for idmapped mounts, made by a short-lived
// helper process. fd() is ready as soon as make returns (the maps written, the namespace open);
// the helper ends on its own right after and is reaped when this goes: made before other work
// (a mount), its end costs the caller nothing. On x86-64 the helper shares this process's memory
// (CLONE_VM: no page tables copied, no address space torn down at its end).
class IdmapUserns {
 public:
  static Result<IdmapUserns> make(uint32_t uid_base, uint32_t gid_base, uint32_t count);
  IdmapUserns(IdmapUserns&& o) noexcept
      : ns_(std::move(o.ns_)),
        helper_(std::move(o.helper_)),
        stack_(std::exchange(o.stack_, nullptr)) {}
  IdmapUserns& operator=(IdmapUserns&&) = delete;
  IdmapUserns(const IdmapUserns&) = delete;
  IdmapUserns& operator=(const IdmapUserns&) = delete;
  ~IdmapUserns();

  int fd() const { return ns_.get(); }
  UniqueFd take_fd() { return std::move(ns_); }

 private:
  IdmapUserns() = default;
  UniqueFd ns_;
  ChildProcess helper_;
  void* stack_ = nullptr;  // the helper's (CLONE_VM), unmapped once it is reaped
};

// IdmapUserns's namespace alone (its helper reaped before this returns).
Result<UniqueFd> make_userns_fd(uint32_t uid_base, uint32_t gid_base, uint32_t count);

// Crash injection for the tests of what a killed command leaves (the caller's own environment, as
// BERTH_FAIL_STEP): when BERTH_KILL_AT names `point`, the process SIGKILLs itself there, so nothing
// of its own cleanup runs. Points: storage's "disk_made" (create, the new disk mounted in the
// .tmp), "disk_mounted" (mount, the disk mounted and VE_ROOT not yet); runtime's "clone_copied"
// (clone, DST's files copied and fixed up in its .tmp, its disk mounted there, its id range
// reserved, not yet renamed); migrate's "migrate_checked", "migrate_stopped", "migrate_copied",
// "migrate_started", "migrate_committed" (offline) and "migrate_copied_running",
// "migrate_predumped", "migrate_dumped", "migrate_restored", "migrate_committed" (online).
void crash_point(std::string_view point);

// waitpid status -> shell-style exit code (128+signal for a signal).
int exit_code_of(int wait_status);

// How a process takes signal sig now. A PID namespace's init drops, at the sending, a signal from
// outside its namespace that it neither catches nor blocks: an init just exec'd that has not yet
// set its handlers loses a stop's halt signal so. kHandled: it has a handler for it (SigCgt) or
// waits for it (rt_sigtimedwait); kBlocked: it blocks it (SigBlk) and has no handler: the signal
// waits until it is unblocked, which an init reading its signals from a signalfd (systemd) never
// does, but an init that unblocks it without a handler then drops it (busybox's sh blocks every
// signal for a moment around each wait for a child).
enum class SignalTake { kNo, kHandled, kBlocked };
// From the text of /proc/PID/status (its SigCgt and SigBlk masks).
SignalTake status_signal_take(std::string_view status, int sig);
// Whether a task whose /proc/PID/syscall reads `syscall_text` waits in rt_sigtimedwait(2)
// ("128 0x<set> ..." on x86-64). While it waits there the kernel shows the set it waits for
// neither in SigBlk nor in SigCgt (it keeps the mask it unblocked for the wait apart), and
// busybox's init waits so for its signals.
bool waits_in_sigtimedwait(std::string_view syscall_text);
// How process pid takes sig now: status_signal_take of its main thread (the one a signal to the
// process is checked against), kHandled as well when that thread waits in rt_sigtimedwait(2)
// (taken to wait for sig: its set is in the process's memory, not read) or its syscall file may
// not be read here (cannot tell). kNo when pid is gone.
SignalTake signal_take(pid_t pid, int sig);

}  // namespace berth::sys
