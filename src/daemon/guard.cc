#include "daemon/guard.h"

#include <algorithm>
#include <cctype>

#include "auth/tokens.h"

namespace berth::daemon {

void LoginLimiter::prune(std::deque<int64_t>& d, int64_t now) const {
  while (!d.empty() && d.front() <= now - kWindowS) d.pop_front();
}

int64_t LoginLimiter::retry_after(const std::string& address, int64_t now) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return 0;
  prune(it->second, now);
  if (it->second.empty()) {
    failures_.erase(it);
    return 0;
  }
  if (static_cast<int>(it->second.size()) < kMaxFailures) return 0;
  return it->second.front() + kWindowS - now;
}

void LoginLimiter::record_failure(const std::string& address, int64_t now) {
  std::lock_guard<std::mutex> g(mu_);
  if (failures_.size() >= kMaxAddresses && !failures_.count(address)) {
    auto oldest = std::min_element(failures_.begin(), failures_.end(), [](auto& a, auto& b) {
      int64_t ta = a.second.empty() ? 0 : a.second.back();
      int64_t tb = b.second.empty() ? 0 : b.second.back();
      return ta < tb;
    });
    failures_.erase(oldest);
  }
  auto& d = failures_[address];
  prune(d, now);
  d.push_back(now);
  // Keep no more than the limit needs.
  while (static_cast<int>(d.size()) > kMaxFailures) d.pop_front();
}

std::optional<SessionStore::Created> SessionStore::create(const std::string& user, int64_t now) {
  auto cookie = auth::random_hex(32);
  auto csrf = auth::random_hex(32);
  if (!cookie.ok() || !csrf.ok()) return std::nullopt;
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end();)
    it = (now - it->second.last_used > kIdleS || now - it->second.created > kMaxAgeS)
             ? by_hash_.erase(it)
             : std::next(it);
  if (by_hash_.size() >= kMaxSessions) {
    auto lru = std::min_element(by_hash_.begin(), by_hash_.end(), [](auto& a, auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    by_hash_.erase(lru);
  }
  by_hash_[auth::sha256_hex(*cookie)] = Session{user, *csrf, now, now};
  return Created{*cookie, *csrf};
}

std::optional<Session> SessionStore::find(const std::string& cookie, int64_t now) {
  if (cookie.size() != 64) return std::nullopt;
  std::string h = auth::sha256_hex(cookie);
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_hash_.find(h);
  if (it == by_hash_.end()) return std::nullopt;
  if (now - it->second.last_used > kIdleS || now - it->second.created > kMaxAgeS) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

void SessionStore::remove(const std::string& cookie) {
  std::lock_guard<std::mutex> g(mu_);
  by_hash_.erase(auth::sha256_hex(cookie));
}

void SessionStore::remove_user(const std::string& user) {
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end();)
    it = it->second.user == user ? by_hash_.erase(it) : std::next(it);
}

std::string cookie_value(const std::string& header, const std::string& name) {
  size_t i = 0;
  while (i < header.size()) {
    size_t semi = header.find(';', i);
    if (semi == std::string::npos) semi = header.size();
    std::string part = header.substr(i, semi - i);
    size_t b = part.find_first_not_of(' ');
    if (b != std::string::npos) part = part.substr(b);
    size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
    i = semi + 1;
  }
  return "";
}

bool same_origin(const std::string& origin, const std::string& host) {
  if (origin.empty()) return true;
  const std::string want = "https://" + host;
  if (host.empty() || origin.size() != want.size()) return false;
  return std::equal(origin.begin(), origin.end(), want.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace berth::daemon
