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

void CloseBehind::wait() {
  for (auto& t : closing_) t.join();
  closing_.clear();
}

void close_behind(UniqueFd fd) {
  if (!fd || !t_scope) return;
  try {
    t_scope->closing_.emplace_back([fd = std::move(fd)]() mutable { fd.reset(); });
  } catch (const std::system_error&) {
    // No thread to be had (the caller's process limit): the lambda that held fd is gone, and
    // the close happened here, with it.
  }
}

}  // namespace berth::sys
