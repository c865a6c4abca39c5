#include "runtime/sync.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "sys/fd_passing.h"

namespace berth::runtime {
namespace {
struct Wire {
  uint32_t type;
  int32_t exit_status;
  int32_t err;
  char text[1024];
};

// Sends the first len bytes of w as one message; the errno, or 0.
int send_wire(int fd, const Wire& w, size_t len) {
  ssize_t n;
  do n = ::send(fd, &w, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}
}  // namespace

Result<SyncPair> make_sync_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Error::from_errno(errno, "socketpair");
  return SyncPair{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

Status sync_send(int fd, SyncMsg type, int exit_status, const std::string& text, int err) {
  Wire w{};
  w.type = static_cast<uint32_t>(type);
  w.exit_status = exit_status;
  w.err = err;
  std::strncpy(w.text, text.c_str(), sizeof w.text - 1);
  if (int err = send_wire(fd, w, offsetof(Wire, text) + std::strlen(w.text) + 1); err != 0)
    return Error::from_errno(err, "send sync message");
  return {};
}

Status sync_send_fd(int sock, int fd_to_send) {
  Wire w{};
  w.type = static_cast<uint32_t>(SyncMsg::kFd);
  if (sys::send_with_fd(sock, &w, offsetof(Wire, text) + 1, fd_to_send) < 0)
    return Error::from_errno(errno, "send fd");
  return {};
}

Result<Received> sync_recv(int fd) {
  Wire w{};
  struct iovec iov {
    &w, sizeof w
  };
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct msghdr msg {};
  auto receive = [&](int flags) {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t got;
    do got = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | flags);
    while (got < 0 && errno == EINTR);
    return got;
  };
  ssize_t n = receive(0);
  // A peer that exits with one of our messages unread (a child that failed before it read
  // kCgroupDone) makes the kernel report ECONNRESET, once, ahead of what the peer sent before it
  // closed: its error message is still queued behind it.
  if (n < 0 && errno == ECONNRESET) n = receive(MSG_DONTWAIT);
  Received r;
  if (n < 0) {
    if (errno == ECONNRESET || errno == EAGAIN) {
      r.eof = true;
      return r;
    }
    return Error::from_errno(errno, "receive sync message");
  }
  if (n == 0) {
    r.eof = true;
    return r;
  }
  r.type = static_cast<SyncMsg>(w.type);
  r.exit_status = w.exit_status;
  r.err = w.err;
  w.text[sizeof w.text - 1] = 0;
  r.text = w.text;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      std::memcpy(&got, CMSG_DATA(c), sizeof got);
      r.fd.reset(got);
    }
  }
  return r;
}

Status sync_expect(int fd, SyncMsg type) {
  BERTH_ASSIGN_OR_RETURN(Received r, sync_recv(fd));
  if (r.eof) return Error::from_errno(EPIPE, "parent went away");
  if (r.type != type)
    return Error::invalid("unexpected sync message " + std::to_string(static_cast<int>(r.type)));
  return {};
}

void sync_report_error(int fd, const Error& err) {
  (void)sync_send(fd, SyncMsg::kError, err.exit_status(), err.message(), err.code());
}

void sync_report_errno(int fd, int err, const char* what, int exit_status) noexcept {
  Wire w{};
  w.type = static_cast<uint32_t>(SyncMsg::kError);
  w.exit_status = exit_status;
  w.err = err;
  size_t n = 0;
  auto put = [&](const char* s) {
    while (s && *s && n + 1 < sizeof w.text) w.text[n++] = *s++;
  };
  const char* name = strerrorname_np(err);
  const char* desc = strerrordesc_np(err);
  put(what);
  put(": ");
  put(name ? name : "E?");
  put(" (");
  put(desc ? desc : "unknown error");
  put(")");
  (void)send_wire(fd, w, offsetof(Wire, text) + n + 1);
}

Error error_from(const Received& r) {
  return Error::restored(r.err, r.exit_status ? r.exit_status : 3, r.text);
}

}  // namespace berth::runtime
