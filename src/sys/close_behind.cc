#include "sys/close_behind.h"

#include <system_error>
#include <utility>

namespace berth::sys {
namespace {

thread_local CloseBehind* t_scope = nullptr;

}  // namespace

CloseBehind::CloseBehind() : outer_(t_scope) { t_scope = this; }

CloseBehind::~CloseBehind() {
  wait();
  t_scope = outer_;
}

void CloseBehind::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return ending_ || !queue_.empty(); });
    if (queue_.empty()) return;  // ending, and nothing left
    std::vector<UniqueFd> now;
    now.swap(queue_);
    lock.unlock();
    now.clear();  // the closes (the first may wait for the kernel)
    lock.lock();
  }
}

bool CloseBehind::give(UniqueFd& fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closer_.joinable()) {
    try {
      closer_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      return false;  // no thread to be had (the caller's process limit)
    }
  }
  queue_.push_back(std::move(fd));
  cv_.notify_one();
  return true;
}

void CloseBehind::wait() {
  if (!closer_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ending_ = true;
  }
  cv_.notify_one();
  closer_.join();
  ending_ = false;
}

void close_behind(UniqueFd fd) {
  if (!fd || !t_scope) return;
  (void)t_scope->give(fd);  // without a thread, fd is still ours and closes here
}

}  // namespace berth::sys
