// daemon/guard: the pieces of berthd's authentication that hold state between requests: the
// limiter of failed logins per source address and the panel's sessions (cookie + CSRF token).
// Both are bounded in memory and take the time as an argument, so unit tests drive them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace berth::daemon {

// At most kMaxFailures failed logins per source address in any kWindowS seconds; then that
// address is refused (429) until the oldest failure leaves the window. A success does not clear
// the record (a guesser with one good token must not reset its budget). At most kMaxAddresses
// addresses are tracked; the one whose last failure is oldest is forgotten first.
class LoginLimiter {
 public:
  static constexpr int kMaxFailures = 5;
  static constexpr int64_t kWindowS = 60;
  static constexpr size_t kMaxAddresses = 10000;

  // Seconds to wait before address may try again (0: may try now).
  int64_t retry_after(const std::string& address, int64_t now);
  void record_failure(const std::string& address, int64_t now);

 private:
  void prune(std::deque<int64_t>& d, int64_t now) const;
  std::mutex mu_;
  std::map<std::string, std::deque<int64_t>> failures_;
};

struct Session {
  std::string user;  // token name
  std::string csrf;  // the X-CSRF-Token the session's non-GET requests must carry
  int64_t created = 0, last_used = 0;
};

// Sessions by the SHA-256 of their cookie value (the cookie itself is not kept). A session ends
// after kIdleS without a request, kMaxAgeS after login, on logout, or when its token is deleted
// (the caller checks the user still exists). At most kMaxSessions; the least recently used goes.
class SessionStore {
 public:
  static constexpr int64_t kIdleS = 3600;
  static constexpr int64_t kMaxAgeS = 12 * 3600;
  static constexpr size_t kMaxSessions = 4096;

  struct Created {
    std::string cookie, csrf;
  };
  // A new session for user; nullopt when no randomness.
  std::optional<Created> create(const std::string& user, int64_t now);
  // The live session of cookie (its last use updated), or nullopt.
  std::optional<Session> find(const std::string& cookie, int64_t now);
  void remove(const std::string& cookie);
  void remove_user(const std::string& user);

 private:
  std::mutex mu_;
  std::map<std::string, Session> by_hash_;
};

// Whether an Origin header value names the same origin as a request to Host `host`:
// "https://<host>" (scheme and host compared without case). An empty origin (a client that is
// no browser sends none) is allowed; "null" and anything else is not.
bool same_origin(const std::string& origin, const std::string& host);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(const std::string& header, const std::string& name);

}  // namespace berth::daemon
