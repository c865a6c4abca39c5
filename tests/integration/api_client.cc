#include "api_client.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <variant>

namespace berth::itest {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using unix_sock = net::local::stream_protocol;

// Asio's synchronous reads wait in poll() with no timeout whatever SO_RCVTIMEO says: a deadline
// thread shuts the socket down when the time is up, so the blocked read fails.
class Deadline {
 public:
  Deadline(int fd, int ms) : fd_(fd) {
    thread_ = std::thread([this, ms] {
      std::unique_lock<std::mutex> g(mu_);
      if (!cv_.wait_for(g, std::chrono::milliseconds(ms), [&] { return done_; }))
        ::shutdown(fd_, SHUT_RDWR);
    });
  }
  ~Deadline() {
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

void timeouts(int fd, int ms) {
  struct timeval tv {
    ms / 1000, (ms % 1000) * 1000
  };
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A connected stream: the unix socket, or TLS over TCP.
struct Conn {
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<unix_sock::socket> us;
  std::unique_ptr<tcp::socket> ts;
  std::unique_ptr<beast::ssl_stream<tcp::socket&>> tls;
  bool ok = false;

  Conn(const Endpoint& ep, int timeout_ms) {
    beast::error_code ec;
    if (!ep.unix_path.empty()) {
      us = std::make_unique<unix_sock::socket>(ioc);
      us->connect(unix_sock::endpoint(ep.unix_path), ec);
      if (ec) return;
      timeouts(us->native_handle(), timeout_ms);
      ok = true;
      return;
    }
    ctx.set_verify_mode(ssl::verify_none);
    ts = std::make_unique<tcp::socket>(ioc);
    ts->connect(tcp::endpoint(net::ip::make_address(ep.host), static_cast<unsigned short>(ep.port)),
                ec);
    if (ec) return;
    timeouts(ts->native_handle(), timeout_ms);
    tls = std::make_unique<beast::ssl_stream<tcp::socket&>>(*ts, ctx);
    Deadline d(ts->native_handle(), 10000);
    tls->handshake(ssl::stream_base::client, ec);
    ok = !ec;
  }
  int fd() const { return us ? us->native_handle() : ts->native_handle(); }
  template <class F>
  auto with(F&& f) {
    if (us) return f(*us);
    return f(*tls);
  }
};

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& body, const Headers& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, "berthd");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    if (!headers.count("Content-Type")) req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

template <class Stream>
HttpResult read_response(Stream& s) {
  HttpResult out;
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  beast::error_code ec;
  http::read(s, buf, parser, ec);
  if (ec) return out;
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

}  // namespace

nlohmann::json HttpResult::json() const { return nlohmann::json::parse(body, nullptr, false); }

HttpResult http_request(const Endpoint& ep, const std::string& method, const std::string& target,
                        const std::string& body, const Headers& headers) {
  Conn c(ep, 120000);
  if (!c.ok) return {};
  Deadline d(c.fd(), 120000);
  auto req = make_request(method, target, body, headers);
  return c.with([&](auto& s) {
    beast::error_code ec;
    http::write(s, req, ec);
    if (ec) return HttpResult{};
    return read_response(s);
  });
}

HttpResult raw_request(const Endpoint& ep, const std::string& bytes) {
  Conn c(ep, 10000);
  if (!c.ok) return {};
  Deadline d(c.fd(), 10000);
  return c.with([&](auto& s) {
    beast::error_code ec;
    net::write(s, net::buffer(bytes), ec);
    return read_response(s);
  });
}

std::string read_events(const Endpoint& ep, const std::string& target, const Headers& headers,
                        const std::function<void()>& during, int ms,
                        const std::function<bool(const std::string&)>& stop_when) {
  Conn c(ep, 10000);
  if (!c.ok) return "";
  Deadline d(c.fd(), ms);
  auto req = make_request("GET", target, "", headers);
  return c.with([&](auto& s) {
    beast::error_code ec;
    http::write(s, req, ec);
    std::string text;
    char buf[4096];
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::milliseconds(ms);
    std::thread side;
    // Blocking reads, bounded by the socket timeout (what is left of ms); `during` runs in its
    // own thread once the stream is open, so the stream is only ever read here.
    while (!ec) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      size_t n = s.read_some(net::buffer(buf), ec);
      text.append(buf, n);
      if (!side.joinable() && text.find("\r\n\r\n") != std::string::npos && during)
        side = std::thread(during);
      if (stop_when && stop_when(text)) break;
    }
    if (side.joinable()) side.join();
    return text;
  });
}

struct WsClient::Impl {
  Conn conn;
  std::unique_ptr<websocket::stream<unix_sock::socket&>> wu;
  std::unique_ptr<websocket::stream<beast::ssl_stream<tcp::socket&>&>> wt;
  int status = 0;
  Impl(const Endpoint& ep) : conn(ep, 500) {}
  template <class F>
  auto with(F&& f) {
    if (wu) return f(*wu);
    return f(*wt);
  }
};

WsClient::WsClient(const Endpoint& ep, const std::string& target, const Headers& headers)
    : impl_(std::make_unique<Impl>(ep)) {
  if (!impl_->conn.ok) return;
  timeouts(impl_->conn.fd(), 10000);
  auto decorate = [headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  };
  beast::error_code ec;
  websocket::response_type res;
  Deadline d(impl_->conn.fd(), 10000);
  if (impl_->conn.us) {
    impl_->wu = std::make_unique<websocket::stream<unix_sock::socket&>>(*impl_->conn.us);
    impl_->wu->set_option(websocket::stream_base::decorator(decorate));
    impl_->wu->handshake(res, "berthd", target, ec);
  } else {
    impl_->wt =
        std::make_unique<websocket::stream<beast::ssl_stream<tcp::socket&>&>>(*impl_->conn.tls);
    impl_->wt->set_option(websocket::stream_base::decorator(decorate));
    impl_->wt->handshake(res, "berthd", target, ec);
  }
  impl_->status = static_cast<int>(res.result_int());
}

WsClient::~WsClient() = default;
bool WsClient::ok() const { return impl_->status == 101; }
int WsClient::status() const { return impl_->status; }

void WsClient::send_binary(const std::string& data) {
  impl_->with([&](auto& w) {
    beast::error_code ec;
    w.binary(true);
    w.write(net::buffer(data), ec);
    return 0;
  });
}

void WsClient::send_text(const std::string& data) {
  impl_->with([&](auto& w) {
    beast::error_code ec;
    w.text(true);
    w.write(net::buffer(data), ec);
    return 0;
  });
}

std::string WsClient::read_until(const std::string& needle, int ms) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  // Blocking reads bounded by a deadline that shuts the socket down: a websocket stream is
  // unusable after that, so this is the last read of a client that waits in vain.
  Deadline d(impl_->conn.fd(), ms);
  while (std::chrono::steady_clock::now() < deadline && text.find(needle) == std::string::npos) {
    beast::flat_buffer buf;
    beast::error_code ec;
    impl_->with([&](auto& w) {
      w.read(buf, ec);
      return 0;
    });
    text += beast::buffers_to_string(buf.data());
    if (ec) break;
  }
  return text;
}

}  // namespace berth::itest
