// daemon/events: the event stream's hub. Producers (the state poller, the job poller) publish
// events of a CT; each subscriber (one SSE connection) receives those of the CTs its principal
// may see (admin: all). A subscriber's queue is bounded: one that does not read is dropped
// (its connection closes) rather than growing berthd's memory.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "auth/tokens.h"

namespace berth::daemon {

struct Event {
  uint64_t seq = 0;
  std::string type;  // "ct", "job", "ubc"
  std::string ctid;
  std::string data;  // JSON text
};

class EventHub;

class Subscription {
 public:
  explicit Subscription(auth::Principal who) : who_(std::move(who)) {}
  // The next event, waiting up to timeout_ms; false on timeout or when dropped.
  bool next(Event& out, int timeout_ms);
  bool dropped() const;

 private:
  friend class EventHub;
  auth::Principal who_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  bool dropped_ = false;
};

class EventHub {
 public:
  static constexpr size_t kMaxQueue = 1000;
  static constexpr size_t kMaxSubscribers = 512;

  // nullptr when there are kMaxSubscribers already.
  std::shared_ptr<Subscription> subscribe(const auth::Principal& who);
  void unsubscribe(const std::shared_ptr<Subscription>& s);
  void publish(const std::string& type, const std::string& ctid, const std::string& json);
  size_t subscribers() const;

 private:
  mutable std::mutex mu_;
  std::set<std::shared_ptr<Subscription>> subs_;
  uint64_t seq_ = 0;
};

}  // namespace berth::daemon
