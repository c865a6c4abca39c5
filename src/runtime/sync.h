// The parent/child sync channel: one SOCK_SEQPACKET socketpair with small typed messages
// (crun's sync socket). The child reports a failure by sending its Error and exiting; a clean
// exec closes its CLOEXEC end, which the parent reads as success.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::runtime {

enum class SyncMsg : uint32_t {
  kMapsDone = 1,    // parent -> child: uid/gid maps are written
  kCgroupDone = 2,  // parent -> child: the child is in its cgroup
  kError = 3,       // child -> parent: setup failed (errno, exit status, text)
  kFd = 4,          // either way: carries one fd (SCM_RIGHTS)
  kGo = 5,          // generic "continue"
};

struct SyncPair {
  UniqueFd parent;
  UniqueFd child;
};

Result<SyncPair> make_sync_pair();
// err: the errno of a kError (so the parent's Error has the child's code(), not only its text).
Status sync_send(int fd, SyncMsg type, int exit_status = 0, const std::string& text = "",
                 int err = 0);
// Receive one message. EOF is reported as ok with *eof = true.
struct Received {
  bool eof = false;
  SyncMsg type{};
  int exit_status = 0;
  int err = 0;  // errno of a kError
  std::string text;
  UniqueFd fd;
};
Result<Received> sync_recv(int fd);
Status sync_send_fd(int sock, int fd_to_send);
// Child side: wait for one message of the given type (anything else, or EOF, is an error).
Status sync_expect(int fd, SyncMsg type);
// Child side: send err to the parent (best effort).
void sync_report_error(int fd, const Error& err);
// The same for a child that must not allocate (runtime/exec.cc): the message is
// "<what>: <errno name> (<description>)", as Error::from_errno(err, what) would give it.
void sync_report_errno(int fd, int err, const char* what, int exit_status) noexcept;
// Parent side: turn a kError message into an Error: the child's errno, exit status and message.
Error error_from(const Received& r);

}  // namespace berth::runtime
