// daemon/server: berthd's transports over Boost.Beast: the root-only unix socket (0600, peer
// uid 0 checked with SO_PEERCRED) and HTTPS (OpenSSL; a self-signed certificate made on first
// run unless the operator gives one). One thread per connection (bounded), synchronous HTTP with
// socket timeouts, body and header limits; the event stream (SSE) and the console websocket
// are served here after Api::authorize_stream().
#pragma once

#include <atomic>
#include <string>

#include "core/error.h"
#include "daemon/api.h"
#include "daemon/events.h"

namespace berth::daemon {

struct ServerOptions {
  std::string unix_path;   // "" : no unix socket
  std::string tls_listen;  // "addr:port"; "" : no TCP
  std::string cert, key;   // PEM files
  int io_timeout_s = 30;   // to send a request, to read an answer (the watchdog's deadline)
};

// Make a self-signed certificate (EC P-256, 10 years, CN = hostname) into cert and key (0600)
// when cert does not exist.
Status ensure_certificate(const std::string& cert, const std::string& key);

// Serve until stop is set (checked about once a second). Errors: a socket that cannot be made.
Status serve(const ServerOptions& opts, Api& api, EventHub& hub, const std::atomic<bool>& stop);

}  // namespace berth::daemon
