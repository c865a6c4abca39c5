// A small HTTP, SSE and websocket client for the berthd tests (Boost.Beast, synchronous), over
// berthd's unix socket or over TLS (the self-signed certificate is not verified: the tests talk
// to the berthd they started). One connection per request, so tests never share state by
// accident; socket timeouts bound every read.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace berth::itest {

struct HttpResult {
  int status = 0;  // 0: no answer (connection failed)
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names (last value wins)
  nlohmann::json json() const;                 // discarded value when not JSON
};

struct Endpoint {
  std::string unix_path;  // when set: the unix socket
  std::string host = "127.0.0.1";
  int port = 0;  // TLS
};

using Headers = std::map<std::string, std::string>;

HttpResult http_request(const Endpoint& ep, const std::string& method, const std::string& target,
                        const std::string& body = "", const Headers& headers = {});
// Raw bytes sent as they are (a request the client library would refuse to build); the raw
// answer's status and body.
HttpResult raw_request(const Endpoint& ep, const std::string& bytes);

// GET target as an event stream; calls during() once the stream is open, then reads for ms
// milliseconds (or until stop_when returns true for the text so far). Returns the text read.
std::string read_events(const Endpoint& ep, const std::string& target, const Headers& headers,
                        const std::function<void()>& during, int ms,
                        const std::function<bool(const std::string&)>& stop_when = {});

class WsClient {
 public:
  // Opens a websocket to target; ok() false (and status() the HTTP status) when refused.
  WsClient(const Endpoint& ep, const std::string& target, const Headers& headers = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;
  bool ok() const;
  int status() const;
  void send_binary(const std::string& data);
  void send_text(const std::string& data);
  // Read frames until the text received (all binary frames concatenated) contains needle or ms
  // pass; returns everything received.
  std::string read_until(const std::string& needle, int ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::itest
