#include "daemon/events.h"

#include <chrono>

namespace berth::daemon {

bool Subscription::next(Event& out, int timeout_ms) {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait_for(g, std::chrono::milliseconds(timeout_ms),
               [&] { return !queue_.empty() || dropped_; });
  if (dropped_ || queue_.empty()) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool Subscription::dropped() const {
  std::lock_guard<std::mutex> g(mu_);
  return dropped_;
}

std::shared_ptr<Subscription> EventHub::subscribe(const auth::Principal& who) {
  std::lock_guard<std::mutex> g(mu_);
  if (subs_.size() >= kMaxSubscribers) return nullptr;
  auto s = std::make_shared<Subscription>(who);
  subs_.insert(s);
  return s;
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription>& s) {
  std::lock_guard<std::mutex> g(mu_);
  subs_.erase(s);
}

size_t EventHub::subscribers() const {
  std::lock_guard<std::mutex> g(mu_);
  return subs_.size();
}

void EventHub::publish(const std::string& type, const std::string& ctid, const std::string& json) {
  std::lock_guard<std::mutex> g(mu_);
  Event e{++seq_, type, ctid, json};
  for (const auto& s : subs_) {
    if (!s->who_.may_see(ctid)) continue;
    std::lock_guard<std::mutex> sg(s->mu_);
    if (s->dropped_) continue;
    if (s->queue_.size() >= kMaxQueue) {
      s->dropped_ = true;
      s->queue_.clear();
    } else {
      s->queue_.push_back(e);
    }
    s->cv_.notify_one();
  }
}

}  // namespace berth::daemon
