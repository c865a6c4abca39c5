#include "checkpoint/criu.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>

#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "rpc.pb-c.h"
#include "sys/fs.h"

namespace berth::checkpoint {
namespace {

// The forked child's status when in_child() failed (criu was not run); read only by run().
constexpr int kChildSetupFailed = 126;
constexpr int kExecFailed = 127;  // criu could not be exec'ed

// criu_opts keeps pointers into these; they live as long as the request.
struct OptsStore {
  CriuOpts opts = CRIU_OPTS__INIT;
  std::deque<std::string> strings;
  std::vector<char*> external;
  std::deque<ExtMountMap> ext_mnt;
  std::vector<ExtMountMap*> ext_mnt_ptrs;
  std::deque<InheritFd> inherit;
  std::vector<InheritFd*> inherit_ptrs;
  std::vector<char*> irmap;
  CgroupRoot cg_root = CGROUP_ROOT__INIT;
  CgroupRoot* cg_root_ptr = nullptr;

  char* keep(const std::string& s) {
    strings.push_back(s);
    return strings.back().data();
  }
};

void fill(OptsStore& st, Request req, const CriuOptions& o) {
  CriuOpts& c = st.opts;
  c.images_dir_fd = o.images_dir_fd;
  if (!o.log_file.empty()) c.log_file = st.keep(o.log_file);
  c.has_log_level = true;
  c.log_level = o.log_level;
  if (o.pid) c.has_pid = true, c.pid = o.pid;
  if (req == Request::kDump || req == Request::kPreDump) {
    c.has_leave_running = true;
    c.leave_running = o.leave_running;
  }
  c.has_tcp_established = true;
  c.tcp_established = o.tcp_established;
  c.has_file_locks = true;
  c.file_locks = o.file_locks;
  c.has_ext_unix_sk = true;
  c.ext_unix_sk = o.ext_unix_sk;
  if (!o.root.empty()) c.root = st.keep(o.root);
  if (o.rst_sibling) c.has_rst_sibling = true, c.rst_sibling = true;
  if (!o.parent_img.empty()) c.parent_img = st.keep(o.parent_img);
  if (o.track_mem) c.has_track_mem = true, c.track_mem = true;
  if (o.auto_ext_mnt) {
    c.has_auto_ext_mnt = c.has_ext_sharing = c.has_ext_masters = true;
    c.auto_ext_mnt = c.ext_sharing = c.ext_masters = true;
  }
  for (const auto& e : o.external) st.external.push_back(st.keep(e));
  c.n_external = st.external.size();
  c.external = st.external.data();
  for (const auto& [k, v] : o.ext_mnt) {
    st.ext_mnt.push_back(EXT_MOUNT_MAP__INIT);
    st.ext_mnt.back().key = st.keep(k);
    st.ext_mnt.back().val = st.keep(v);
    st.ext_mnt_ptrs.push_back(&st.ext_mnt.back());
  }
  c.n_ext_mnt = st.ext_mnt_ptrs.size();
  c.ext_mnt = st.ext_mnt_ptrs.data();
  for (const auto& [k, fd] : o.inherit_fd) {
    st.inherit.push_back(INHERIT_FD__INIT);
    st.inherit.back().key = st.keep(k);
    st.inherit.back().fd = fd;
    st.inherit_ptrs.push_back(&st.inherit.back());
  }
  c.n_inherit_fd = st.inherit_ptrs.size();
  c.inherit_fd = st.inherit_ptrs.data();
  if (o.nftables_lock) {
    c.has_network_lock = true;
    c.network_lock = CRIU_NETWORK_LOCK_METHOD__NFTABLES;
  }
  if (o.soft_cgroups) {
    c.has_manage_cgroups = c.has_manage_cgroups_mode = true;
    c.manage_cgroups = true;
    c.manage_cgroups_mode = CRIU_CG_MODE__SOFT;
  }
  if (!o.freeze_cgroup.empty()) c.freeze_cgroup = st.keep(o.freeze_cgroup);
  for (const auto& p : o.irmap_scan_paths) st.irmap.push_back(st.keep(p));
  c.n_irmap_scan_paths = st.irmap.size();
  c.irmap_scan_paths = st.irmap.data();
  if (!o.cgroup_root.empty()) {
    st.cg_root.path = st.keep(o.cgroup_root);
    st.cg_root_ptr = &st.cg_root;
    c.n_cg_root = 1;
    c.cg_root = &st.cg_root_ptr;
  }
  c.has_notify_scripts = true;
  c.notify_scripts = true;
}

CriuReqType req_type(Request r) {
  switch (r) {
    case Request::kDump: return CRIU_REQ_TYPE__DUMP;
    case Request::kPreDump: return CRIU_REQ_TYPE__PRE_DUMP;
    case Request::kRestore: return CRIU_REQ_TYPE__RESTORE;
    case Request::kCheck: return CRIU_REQ_TYPE__CHECK;
    case Request::kVersion: return CRIU_REQ_TYPE__VERSION;
  }
  return CRIU_REQ_TYPE__EMPTY;
}

const char* req_name(Request r) {
  switch (r) {
    case Request::kDump: return "dump";
    case Request::kPreDump: return "pre-dump";
    case Request::kRestore: return "restore";
    case Request::kCheck: return "check";
    case Request::kVersion: return "version";
  }
  return "?";
}

Status send_req(int sock, const CriuReq& req) {
  size_t len = criu_req__get_packed_size(&req);
  std::vector<uint8_t> buf(len);
  criu_req__pack(&req, buf.data());
  if (::send(sock, buf.data(), len, MSG_NOSIGNAL) != static_cast<ssize_t>(len))
    return Error::from_errno(errno, "send a request to criu");
  return {};
}

struct RespDeleter {
  void operator()(CriuResp* r) const { criu_resp__free_unpacked(r, nullptr); }
};
using RespPtr = std::unique_ptr<CriuResp, RespDeleter>;

// One message; null at EOF (criu exited without answering).
Result<RespPtr> recv_resp(int sock) {
  for (;;) {
    ssize_t want = ::recv(sock, nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (want < 0 && errno == EINTR) continue;
    if (want < 0) return Error::from_errno(errno, "read criu's answer");
    if (want == 0) return RespPtr();
    std::vector<uint8_t> buf(static_cast<size_t>(want));
    ssize_t n = ::recv(sock, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read criu's answer");
    CriuResp* r = criu_resp__unpack(nullptr, static_cast<size_t>(n), buf.data());
    if (!r) return Error::invalid("criu sent a message that is not a criu_resp");
    return RespPtr(r);
  }
}

int wait_exit(pid_t pid) {
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) return -1;
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  return 128 + WTERMSIG(ws);
}

}  // namespace

std::string criu_binary() {
  if (const char* env = std::getenv("BERTH_CRIU"); env && *env) return env;
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin";
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(pos, end - pos);
    pos = end + 1;
    if (dir.empty()) continue;
    std::string cand = dir + "/criu";
    if (::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return "";
}

std::string log_tail(const std::string& path, int n) {
  auto text = sys::read_file(path);
  if (!text.ok()) return "";
  std::vector<std::string> lines, errors;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    if (line.find("Error (") != std::string::npos) errors.push_back(line);
    lines.push_back(std::move(line));
  }
  std::string out;
  // CRIU's errors say why; the last lines say where it stopped.
  size_t ne = errors.size() > 3 ? errors.size() - 3 : 0;
  for (size_t i = ne; i < errors.size(); ++i) out += "\n  " + errors[i];
  size_t first = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0;
  for (size_t i = first; i < lines.size(); ++i)
    if (lines[i].find("Error (") == std::string::npos) out += "\n  " + lines[i];
  return out;
}

Result<CriuResult> run(Request req, const CriuOptions& opts, const NotifyFn& notify,
                       const std::string& log_path) {
  std::string bin = criu_binary();
  if (bin.empty())
    return Error::with_status(exitcode::kChkpntFailed,
                              "CRIU is not installed (apt-get install criu)");
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
    return Error::from_errno(errno, "socketpair for criu");
  UniqueFd ours(sp[0]), theirs(sp[1]);
  std::vector<int> keep = {theirs.get()};
  if (opts.images_dir_fd >= 0) keep.push_back(opts.images_dir_fd);
  for (const auto& [k, fd] : opts.inherit_fd) keep.push_back(fd);
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork for criu");
  if (pid == 0) {
    for (int fd : keep) {
      int fl = ::fcntl(fd, F_GETFD);
      if (fl >= 0) ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    // CRIU's words go to its log; ours stay clean.
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    if (opts.in_child && !opts.in_child()) ::_exit(kChildSetupFailed);
    std::string fd = std::to_string(theirs.get());
    ::execl(bin.c_str(), "criu", "swrk", fd.c_str(), static_cast<char*>(nullptr));
    ::_exit(kExecFailed);
  }
  theirs.reset();

  OptsStore st;
  fill(st, req, opts);
  CriuReq r = CRIU_REQ__INIT;
  r.type = req_type(req);
  if (req != Request::kVersion) r.opts = &st.opts;
  auto sent = send_req(ours.get(), r);
  auto finish = [&](Error e) -> Error {
    ours.reset();
    (void)wait_exit(pid);
    return e;
  };
  if (!sent.ok()) return finish(sent.error());

  CriuResult out;
  for (;;) {
    auto resp = recv_resp(ours.get());
    if (!resp.ok()) return finish(resp.error());
    if (!*resp) {
      ours.reset();
      int rc = wait_exit(pid);
      std::string why = "criu " + std::string(req_name(req)) + " ended without an answer" +
                        (rc == kExecFailed         ? " (could not run `" + bin + "`)"
                         : rc == kChildSetupFailed ? " (its mount namespace could not be set up)"
                                                   : " (exit " + std::to_string(rc) + ")");
      if (!log_path.empty()) why += log_tail(log_path, 5);
      return Error::with_status(exitcode::kChkpntFailed, why);
    }
    CriuResp& m = **resp;
    if (m.type == CRIU_REQ_TYPE__NOTIFY) {
      Status ok;
      if (notify && m.notify)
        ok =
            notify(m.notify->script ? m.notify->script : "", m.notify->has_pid ? m.notify->pid : 0);
      CriuReq ack = CRIU_REQ__INIT;
      ack.type = CRIU_REQ_TYPE__NOTIFY;
      ack.has_notify_success = true;
      ack.notify_success = ok.ok();
      auto s = send_req(ours.get(), ack);
      if (!s.ok()) return finish(s.error());
      if (!ok.ok()) {
        // CRIU fails the request now; its answer follows, but ours says why.
        auto rest = recv_resp(ours.get());
        (void)rest;
        return finish(ok.error());
      }
      continue;
    }
    if (!m.success) {
      std::string why = "criu " + std::string(req_name(req)) + " failed";
      if (m.cr_errmsg && *m.cr_errmsg) why += ": " + std::string(m.cr_errmsg);
      if (m.has_cr_errno && m.cr_errno) why += std::string(" (") + std::strerror(m.cr_errno) + ")";
      if (!log_path.empty()) why += log_tail(log_path, 5);
      return finish(Error::with_status(
          req == Request::kRestore ? exitcode::kRestoreFailed : exitcode::kChkpntFailed, why));
    }
    if (m.restore) out.restored_pid = m.restore->pid;
    if (m.version)
      out.version = std::to_string(m.version->major_number) + "." +
                    std::to_string(m.version->minor_number) +
                    (m.version->has_sublevel ? "." + std::to_string(m.version->sublevel) : "");
    break;
  }
  ours.reset();
  // The answer is what counts; CRIU's exit status after it (non-zero after some successful
  // pre-dumps) says nothing more.
  (void)wait_exit(pid);
  return out;
}

}  // namespace berth::checkpoint
