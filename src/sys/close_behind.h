// Closes the kernel makes wait, taken off the caller's path.
//
// Closing an nf_tables netlink socket while deleted nf_tables objects are pending (this command's
// or any other's on the host) waits for an RCU grace period: at the socket's release the kernel
// flushes its queue of deleted objects, which it frees only after a grace period (5-20 ms on a
// busy host). A command with more to do (destroy: the disk, the id ranges, the config; stop: the
// unmount) gives such closes to a CloseBehind scope, whose one thread closes them in order while
// the command goes on (after the first wait the kernel's queue is empty, so the rest close at
// once); the scope's end waits for every close it was given, so the command still ends after
// them and leaves nothing running. What was sent on a socket is done (acknowledged by the kernel)
// before its close.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/unique_fd.h"

namespace berth::sys {

class CloseBehind {
 public:
  // Becomes the calling thread's scope (an inner scope hides an outer one until it ends).
  CloseBehind();
  // wait(), then the outer scope (if any) is the thread's scope again.
  ~CloseBehind();
  CloseBehind(const CloseBehind&) = delete;
  CloseBehind& operator=(const CloseBehind&) = delete;

  // Waits until every close given so far is done (the scope takes more afterwards).
  void wait();

 private:
  friend void close_behind(UniqueFd fd);
  // Queues fd for the closing thread (started with the first); false if no thread could be had.
  bool give(UniqueFd& fd);
  void run();

  CloseBehind* outer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<UniqueFd> queue_;
  bool ending_ = false;
  std::thread closer_;
};

// Closes fd on the thread of the calling thread's CloseBehind scope; without a scope, or without
// a thread to be had, here and now.
void close_behind(UniqueFd fd);

}  // namespace berth::sys
