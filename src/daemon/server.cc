#include "daemon/server.h"

#include <fcntl.h>
#include <poll.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/exit_codes.h"
#include "daemon/worker.h"
#include "monitor/client.h"

extern char** environ;

namespace berth::daemon {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ws = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using unix_sock = net::local::stream_protocol;

constexpr int kMaxConnections = 1024;
std::atomic<int> kIoTimeoutS{30};    // to read a request, to write an answer (--io-timeout)
constexpr int kConsoleIdleS = 3600;  // a console with no traffic either way
std::atomic<int> g_connections{0};

// Asio's synchronous operations wait in poll() without a timeout (a socket's SO_RCVTIMEO only
// makes them poll again), so every connection has a deadline kept here, and a thread shuts down
// the socket of a connection past it: the blocked read or write then fails and the connection's
// thread ends. This bounds slow or silent clients (slowloris) and clients that stop reading.
class Watchdog {
 public:
  static Watchdog& get() {
    static Watchdog* w = new Watchdog();
    return *w;
  }
  void arm(int fd, int seconds) {
    std::lock_guard<std::mutex> g(mu_);
    deadlines_[fd] = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  }
  void disarm(int fd) {
    std::lock_guard<std::mutex> g(mu_);
    deadlines_.erase(fd);
  }

 private:
  Watchdog() {
    std::thread([this] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        auto now = std::chrono::steady_clock::now();
        std::lock_guard<std::mutex> g(mu_);
        for (auto it = deadlines_.begin(); it != deadlines_.end();) {
          if (it->second < now) {
            ::shutdown(it->first, SHUT_RDWR);
            it = deadlines_.erase(it);
          } else {
            ++it;
          }
        }
      }
    }).detach();
  }
  std::mutex mu_;
  std::map<int, std::chrono::steady_clock::time_point> deadlines_;
};

// The connection's deadline from now on (0 seconds: none until armed again).
struct Deadline {
  int fd;
  explicit Deadline(int f) : fd(f) {}
  ~Deadline() { Watchdog::get().disarm(fd); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  void in(int seconds) const { Watchdog::get().arm(fd, seconds); }
};

http::response<http::string_body> to_beast(const Response& r, unsigned version, bool keep_alive,
                                           bool head) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "berthd");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : r.headers) res.insert(k, v);
  res.keep_alive(keep_alive);
  if (!head) res.body() = r.body;
  res.prepare_payload();
  if (head) res.content_length(r.body.size());
  return res;
}

Request from_beast(const http::request<http::string_body>& req, const std::string& from,
                   bool unix_root, bool& ok) {
  Request r;
  r.method = std::string(req.method_string());
  r.from = from;
  r.unix_root = unix_root;
  ok = split_target(std::string_view(req.target().data(), req.target().size()), r.path, r.query);
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = req.body();
  return r;
}

// ---- server-sent events ----

template <class Stream>
void serve_events(Stream& stream, const std::shared_ptr<Subscription>& sub,
                  const std::atomic<bool>& stop, const Deadline& deadline) {
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n: berthd events\n\n";
  beast::error_code ec;
  net::write(stream, net::buffer(head), ec);
  while (!ec && !stop && !sub->dropped()) {
    Event e;
    std::string out;
    if (sub->next(e, 15000))
      out = "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + e.data + "\n\n";
    else
      out = ": ping\n\n";  // keeps proxies open and finds a client that left
    deadline.in(kIoTimeoutS);
    net::write(stream, net::buffer(out), ec);
  }
}

// ---- console websocket ----

// A pty with `berthd _worker shell CTID` on its slave (a root shell inside, as `berth enter`).
struct ShellPty {
  int master = -1;
  pid_t pid = -1;
};

ShellPty spawn_shell(const std::string& exe, const std::string& ctid) {
  ShellPty s;
  int master = -1, slave = -1;
  struct winsize wz {
    24, 80, 0, 0
  };
  if (::openpty(&master, &slave, nullptr, nullptr, &wz) != 0) return s;
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  char name[64] = {};
  if (::ptsname_r(master, name, sizeof name) != 0) {
    ::close(master);
    ::close(slave);
    return s;
  }
  ::close(slave);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  // setsid happens before the file actions: opening the slave then makes it the controlling tty.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_addopen(&fa, 0, name, O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, 0, 1);
  posix_spawn_file_actions_adddup2(&fa, 0, 2);
  std::vector<std::string> args{"berthd", "_worker", "shell", ctid};
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  av.push_back(nullptr);
  if (posix_spawn(&s.pid, exe.c_str(), &fa, &attr, av.data(), environ) != 0) {
    ::close(master);
    s.pid = -1;
  } else {
    s.master = master;
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return s;
}

// Relay between the websocket and fd until either side ends. Binary frames are terminal bytes;
// a text frame {"type":"resize","cols":C,"rows":R} resizes (a pty only). Runs its own io_context
// (async reads on both sides, so a TLS stream is never used from two threads).
template <class WsStream>
void relay(WsStream& wsock, net::io_context& ioc, int fd, bool is_pty, bool fd_is_seqpacket,
           const Deadline& deadline) {
  net::posix::stream_descriptor term(ioc, ::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  beast::flat_buffer in;
  std::array<char, 8192> out{};
  bool done = false;
  std::deque<std::string> queue;
  bool writing = false;
  std::function<void()> write_next = [&] {
    if (writing || queue.empty() || done) return;
    writing = true;
    wsock.binary(true);
    wsock.async_write(net::buffer(queue.front()), [&](beast::error_code ec, size_t) {
      writing = false;
      queue.pop_front();
      if (ec) {
        done = true;
        term.cancel();
        return;
      }
      write_next();
    });
  };
  std::function<void()> read_term = [&] {
    term.async_read_some(net::buffer(out), [&](beast::error_code ec, size_t n) {
      if (ec || n == 0) {
        done = true;
        beast::error_code ignore;
        wsock.async_close(ws::close_code::normal, [](beast::error_code) {});
        return;
      }
      deadline.in(kConsoleIdleS);
      queue.emplace_back(out.data(), n);
      if (queue.size() > 256) {  // a client that does not read: drop it
        done = true;
        return;
      }
      write_next();
      read_term();
    });
  };
  std::function<void()> read_ws = [&] {
    wsock.async_read(in, [&](beast::error_code ec, size_t) {
      if (ec) {
        done = true;
        term.cancel();
        return;
      }
      std::string data = beast::buffers_to_string(in.data());
      in.consume(in.size());
      deadline.in(kConsoleIdleS);
      if (wsock.got_text()) {
        auto j = Json::parse(data, nullptr, false);
        if (is_pty && !j.is_discarded() && j.is_object() && j.value("type", "") == "resize") {
          int cols = j.value("cols", 0), rows = j.value("rows", 0);
          if (cols > 0 && cols <= 1000 && rows > 0 && rows <= 1000) {
            struct winsize wz {
              static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0, 0
            };
            ::ioctl(fd, TIOCSWINSZ, &wz);
          }
        }
      } else if (!data.empty()) {
        // The watcher's console connection takes one message per send.
        if (fd_is_seqpacket)
          (void)::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        else
          (void)!::write(fd, data.data(), data.size());
      }
      read_ws();
    });
  };
  read_term();
  read_ws();
  ioc.run();
}

template <class Stream>
void serve_console(Stream& stream, http::request<http::string_body>& breq, const Request& req,
                   Api& api, const std::string& ctid, const std::string& exe, net::io_context& ioc,
                   const Deadline& deadline) {
  std::string kind = req.query.count("kind") ? req.query.at("kind") : "console";
  beast::error_code ec;
  ws::stream<Stream&> wsock(stream);
  wsock.read_message_max(64 * 1024);
  int fd = -1;
  ShellPty shell;
  UniqueFd console;
  if (!api.is_running(ctid)) {
    // fd stays -1: answered below.
  } else if (kind == "shell") {
    shell = spawn_shell(exe, ctid);
    fd = shell.master;
  } else {
    auto c = monitor::attach_console(api.host(), ctid);
    if (c.ok()) {
      console = std::move(c).value();
      fd = console.get();
    }
  }
  if (fd < 0) {
    http::response<http::string_body> res =
        to_beast(error_response(409, exitcode::kNotRunning, "no " + kind + " for CT " + ctid), 11,
                 false, false);
    http::write(stream, res, ec);
    return;
  }
  api.audit(req, "console", "console " + kind, ctid, "opened");
  wsock.accept(breq, ec);
  if (!ec) {
    // The connection's own context (nothing else runs it): the websocket's and the terminal's
    // reads are asynchronous, so a TLS stream is never used from two threads.
    deadline.in(kConsoleIdleS);
    relay(wsock, ioc, fd, kind == "shell", kind != "shell", deadline);
  }
  if (shell.pid > 0) {
    ::kill(shell.pid, SIGHUP);
    ::close(shell.master);
    int st = 0;
    while (::waitpid(shell.pid, &st, 0) < 0 && errno == EINTR) {}
  }
}

// ---- one connection ----

template <class Stream>
void session(Stream& stream, Api& api, EventHub& hub, const std::string& from, bool unix_root,
             const std::atomic<bool>& stop, const std::string& exe, net::io_context& ioc,
             const Deadline& deadline) {
  beast::flat_buffer buf;
  for (int n = 0; n < 1000 && !stop; ++n) {
    deadline.in(kIoTimeoutS);
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    parser.header_limit(kMaxHeaderBytes);
    beast::error_code ec;
    // The header first, with no body limit (Beast would refuse a large Content-Length while
    // reading the header, before this can answer it); the limit is set for the body below.
    parser.body_limit(boost::none);
    http::read_header(stream, buf, parser, ec);
    if (ec == http::error::header_limit) {
      auto res = to_beast(error_response(400, exitcode::kBadArgument, "the headers are too large"),
                          11, false, false);
      http::write(stream, res, ec);
      return;
    }
    if (ec) return;
    // A declared body over the limit: read it away (up to 1 MiB, so the client, which sent it
    // before it reads, sees the answer rather than a reset), then answer 413 and close.
    auto declared = parser.content_length();
    if (declared && *declared > kMaxBodyBytes) {
      if (*declared <= 1024 * 1024) {
        size_t have = std::min<size_t>(buf.size(), static_cast<size_t>(*declared));
        buf.consume(have);
        std::vector<char> sink(static_cast<size_t>(*declared) - have);
        net::read(stream, net::buffer(sink), ec);
      }
      auto res = to_beast(error_response(413, exitcode::kBadArgument, "the body is too large"), 11,
                          false, false);
      http::write(stream, res, ec);
      return;
    }
    parser.body_limit(kMaxBodyBytes);
    http::read(stream, buf, parser, ec);
    if (ec == http::error::body_limit) {
      auto res = to_beast(error_response(413, exitcode::kBadArgument, "the body is too large"), 11,
                          false, false);
      http::write(stream, res, ec);
      return;
    }
    if (ec) return;
    auto breq = parser.release();
    bool ok = true;
    Request req = from_beast(breq, from, unix_root, ok);
    if (!ok) {
      auto res = to_beast(error_response(400, exitcode::kBadArgument, "bad request target"),
                          breq.version(), false, false);
      http::write(stream, res, ec);
      return;
    }
    if (req.method == "GET" && req.path == "/v1/events") {
      auto a = api.authorize_stream(req, "");
      if (auto* r = std::get_if<Response>(&a)) {
        auto res = to_beast(*r, breq.version(), false, false);
        http::write(stream, res, ec);
        return;
      }
      auto sub = hub.subscribe(std::get<auth::Principal>(a));
      if (!sub) {
        auto res = to_beast(error_response(503, exitcode::kResource, "too many event streams"),
                            breq.version(), false, false);
        http::write(stream, res, ec);
        return;
      }
      serve_events(stream, sub, stop, deadline);
      hub.unsubscribe(sub);
      return;
    }
    RouteResult rr = route(req.method, req.path);
    if (rr.match && rr.match->id == RouteId::kCtConsole && ws::is_upgrade(breq)) {
      std::string ctid = rr.match->params["ctid"];
      auto a = api.authorize_stream(req, ctid);
      if (auto* r = std::get_if<Response>(&a)) {
        auto res = to_beast(*r, breq.version(), false, false);
        http::write(stream, res, ec);
        return;
      }
      std::string kind = req.query.count("kind") ? req.query.at("kind") : "console";
      if (kind != "console" && kind != "shell") {
        auto res = to_beast(error_response(400, exitcode::kBadValue, "kind: console or shell"),
                            breq.version(), false, false);
        http::write(stream, res, ec);
        return;
      }
      serve_console(stream, breq, req, api, ctid, exe, ioc, deadline);
      return;
    }
    // A long operation (a start waits for the CT's boot) is not the client's slowness.
    Watchdog::get().disarm(deadline.fd);
    Response r = api.handle(req);
    deadline.in(kIoTimeoutS);
    bool keep = breq.keep_alive() && !stop;
    auto res = to_beast(r, breq.version(), keep, req.method == "HEAD");
    http::write(stream, res, ec);
    if (ec || !keep) return;
  }
}

struct ConnectionSlot {
  ConnectionSlot() { ++g_connections; }
  ~ConnectionSlot() { --g_connections; }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
};

// Wait (a second at most, so the caller sees stop) for one connection; it gets a context of its
// own (nothing runs it but a console, see serve_console). false: none, or over the cap.
template <class Acceptor, class Socket>
bool accept_one(Acceptor& acc, std::shared_ptr<net::io_context>& ioc,
                std::shared_ptr<Socket>& sock) {
  struct pollfd p {
    acc.native_handle(), POLLIN, 0
  };
  if (::poll(&p, 1, 1000) <= 0) return false;
  ioc = std::make_shared<net::io_context>(1);
  sock = std::make_shared<Socket>(*ioc);
  beast::error_code ec;
  acc.accept(*sock, ec);
  return !ec && g_connections < kMaxConnections;
}

void accept_unix(unix_sock::acceptor& acc, Api& api, EventHub& hub, const std::atomic<bool>& stop,
                 const std::string& exe) {
  while (!stop) {
    std::shared_ptr<net::io_context> ioc;
    std::shared_ptr<unix_sock::socket> sock;
    if (!accept_one(acc, ioc, sock)) continue;
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(sock->native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        cred.uid != 0)
      continue;
    std::thread([ioc, sock, &api, &hub, &stop, exe] {
      ConnectionSlot slot;
      Deadline deadline(sock->native_handle());
      session(*sock, api, hub, "unix", true, stop, exe, *ioc, deadline);
      beast::error_code ignore;
      sock->shutdown(unix_sock::socket::shutdown_both, ignore);
    }).detach();
  }
}

void accept_tls(tcp::acceptor& acc, ssl::context& ctx, Api& api, EventHub& hub,
                const std::atomic<bool>& stop, const std::string& exe) {
  while (!stop) {
    std::shared_ptr<net::io_context> ioc;
    std::shared_ptr<tcp::socket> sock;
    if (!accept_one(acc, ioc, sock)) continue;
    beast::error_code ec;
    sock->set_option(tcp::no_delay(true), ec);
    auto ep = sock->remote_endpoint(ec);
    std::string from = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    std::thread([ioc, sock, &ctx, &api, &hub, &stop, exe, from] {
      ConnectionSlot slot;
      Deadline deadline(sock->native_handle());
      deadline.in(kIoTimeoutS);
      beast::ssl_stream<tcp::socket&> stream(*sock, ctx);
      beast::error_code hec;
      stream.handshake(ssl::stream_base::server, hec);
      if (hec) return;
      session(stream, api, hub, from, false, stop, exe, *ioc, deadline);
      beast::error_code ignore;
      stream.shutdown(ignore);
    }).detach();
  }
}

}  // namespace

Status ensure_certificate(const std::string& cert, const std::string& key) {
  if (::access(cert.c_str(), F_OK) == 0) return {};
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  if (!pkey) return Error::from_errno(EIO, "make the TLS key");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
  X509_set_pubkey(x, pkey);
  char host[256] = "berthd";
  ::gethostname(host, sizeof host - 1);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<unsigned char*>(host), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Berth (self-signed)"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  bool ok = X509_sign(x, pkey, EVP_sha256()) > 0;
  std::string key_tmp = key + ".tmp", cert_tmp = cert + ".tmp";
  int kfd = ::open(key_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  FILE* kf = kfd >= 0 ? ::fdopen(kfd, "w") : nullptr;
  ok = ok && kf && PEM_write_PrivateKey(kf, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (kf) std::fclose(kf);
  FILE* cf = std::fopen(cert_tmp.c_str(), "we");
  ok = ok && cf && PEM_write_X509(cf, x) == 1;
  if (cf) std::fclose(cf);
  X509_free(x);
  EVP_PKEY_free(pkey);
  if (!ok || ::rename(key_tmp.c_str(), key.c_str()) != 0 ||
      ::rename(cert_tmp.c_str(), cert.c_str()) != 0)
    return Error::from_errno(EIO, "write the TLS certificate `" + cert + "`");
  return {};
}

Status serve(const ServerOptions& opts, Api& api, EventHub& hub, const std::atomic<bool>& stop) {
  kIoTimeoutS = opts.io_timeout_s;
  std::string exe = self_exe();
  net::io_context ioc;
  std::vector<std::thread> threads;
  std::unique_ptr<unix_sock::acceptor> uacc;
  std::unique_ptr<tcp::acceptor> tacc;
  std::unique_ptr<ssl::context> ctx;
  try {
    if (!opts.unix_path.empty()) {
      ::unlink(opts.unix_path.c_str());
      mode_t old = ::umask(0177);
      uacc = std::make_unique<unix_sock::acceptor>(ioc, unix_sock::endpoint(opts.unix_path));
      ::umask(old);
      ::chmod(opts.unix_path.c_str(), 0600);
    }
    if (!opts.tls_listen.empty()) {
      size_t colon = opts.tls_listen.rfind(':');
      std::string addr = opts.tls_listen.substr(0, colon);
      if (addr.empty()) addr = "::";
      if (addr.front() == '[') addr = addr.substr(1, addr.size() - 2);
      auto port = static_cast<unsigned short>(std::stoi(opts.tls_listen.substr(colon + 1)));
      ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
      ctx->use_certificate_chain_file(opts.cert);
      ctx->use_private_key_file(opts.key, ssl::context::pem);
      tcp::endpoint ep(net::ip::make_address(addr), port);
      tacc = std::make_unique<tcp::acceptor>(ioc);
      tacc->open(ep.protocol());
      tacc->set_option(tcp::acceptor::reuse_address(true));
      tacc->bind(ep);
      tacc->listen(256);
    }
  } catch (const std::exception& e) {
    return Error::with_status(exitcode::kSystem, std::string("listen: ") + e.what());
  }
  // Accepts wake up once a second to look at stop (non-blocking acceptors, polled).
  if (uacc) uacc->non_blocking(true);
  if (tacc) tacc->non_blocking(true);
  if (uacc) threads.emplace_back([&] { accept_unix(*uacc, api, hub, stop, exe); });
  if (tacc) threads.emplace_back([&] { accept_tls(*tacc, *ctx, api, hub, stop, exe); });
  for (auto& t : threads) t.join();
  if (!opts.unix_path.empty()) ::unlink(opts.unix_path.c_str());
  // Give connections a moment to finish their current response.
  for (int i = 0; i < 20 && g_connections > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return {};
}

}  // namespace berth::daemon
