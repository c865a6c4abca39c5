// How the beancounter server (and `berth ubc`) reaches into a running CT without trusting the
// paths inside it. The CT's root owns its mount namespace: any path under /proc/<init>/root may
// be a symlink, a bind of something else, or a file system the CT serves itself. So:
//   - the CT's procfs (for listing its pids) is not looked up inside the CT at all: the server
//     makes its own procfs instance of the CT's pid namespace (fsopen/fsmount in a child that
//     joined that pid namespace), a detached mount that nothing in the CT can replace;
//   - the one path that must be looked up inside the CT, its /dev/pts (numpty), is resolved
//     beneath the CT's root with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//     RESOLVE_NO_MAGICLINKS), with the thread's fs ids set to the CT's root (no DAC override:
//     what the CT's root cannot read, neither can the lookup), and counted only if it is a devpts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::ubc {

// A procfs instance of the pid namespace of the process `pidfd` refers to (the CT's init): the
// root directory of a detached mount, O_DIRECTORY. Only names are read from it (pids).
Result<UniqueFd> open_pidns_procfs(int pidfd);

// The thread's fs ids (setfsuid/setfsgid) are the CT's root's for the lifetime of this object;
// the kernel clears the thread's effective file capabilities (DAC override and search, fowner)
// while the fsuid is not 0. Per thread: other threads of the server keep theirs.
class FsIdsAs {
 public:
  FsIdsAs(uid_t uid, gid_t gid);
  ~FsIdsAs();
  FsIdsAs(const FsIdsAs&) = delete;
  FsIdsAs& operator=(const FsIdsAs&) = delete;
  // Whether the thread's fs ids are the requested ones now (setfsuid does not report failure).
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
  uid_t old_uid_;
  gid_t old_gid_;
};

// Number of ptys (entries named by a number) in the devpts at the CT's /dev/pts, looked up
// beneath the root of process `init` as the CT's root (uid, gid), never following a symlink
// and never leaving that root; nullopt when it is not a devpts reached that way.
std::optional<uint64_t> count_ct_ptys(pid_t init, uid_t uid, gid_t gid);

// The server keeps only what it needs once it is mounted: CAP_SYS_ADMIN (a procfs per CT's pid
// namespace, setns, its own unmount), CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (the CTs' processes'
// /proc/<pid>/fd and /proc/<init>/root), CAP_SETUID and CAP_SETGID (FsIdsAs). Everything else
// (DAC override, fowner, chown, kill, net admin, module loading, ...) leaves its bounding,
// permitted, effective and inheritable sets.
Status drop_server_capabilities();

}  // namespace berth::ubc
