// poll(2) for a long-lived loop over many descriptors that change little between calls.
//
// poll(2) registers and scans every descriptor at every call: with 1000 VPSs the watcher's 2000
// consoles and pidfds cost it 0.5-2.6 ms of CPU per wake-up (perf stat), and every answer it gave
// a command waited that long. A PollSet keeps the descriptors in an epoll instance and registers
// again only what changed since the last call, so a wake-up costs what is ready.
//
// The caller gives each descriptor a serial that names the file it holds: when a descriptor is
// closed its number may come back for another file, whose serial must differ (the kernel drops a
// closed file from the epoll set; the new one must be added). Level-triggered, as poll(2).
#pragma once

#include <poll.h>
#include <sys/epoll.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/unique_fd.h"

namespace berth::sys {

class PollSet {
 public:
  // Like poll(2) on fds (revents filled in, in order); serials[i] names the file of fds[i].
  // Returns how many are ready, 0 on timeout, -1 with errno (EINTR included). Without epoll (or
  // when a descriptor cannot be added) it is poll(2) itself.
  int wait(std::vector<pollfd>& fds, const std::vector<uint64_t>& serials, int timeout_ms);

 private:
  // What the epoll set holds for a descriptor. Kept by number (descriptors are small numbers), so
  // a call walks what it is given without hashing or building anything per descriptor: with 1000
  // VPSs the watcher's call got 2000 descriptors and hashed each into two fresh tables at every
  // wake-up (bench/README.md, "The watcher with 1000 children").
  struct Registered {
    uint64_t serial = 0;
    short events = 0;
    bool live = false;  // in the epoll set
    uint64_t seen = 0;  // the call that asked for it last
    size_t at = 0;      // its place in that call's fds
  };
  void drop_all();
  UniqueFd epoll_;
  bool broken_ = false;                          // epoll refused something: poll(2) from now on
  uint64_t call_ = 0;                            // calls so far
  std::vector<Registered> by_fd_;                // by descriptor
  std::vector<int> live_;                        // the descriptors in the epoll set
  std::unordered_map<uint64_t, int> serial_fd_;  // a live registration's serial -> descriptor
  std::vector<epoll_event> ready_;
};

}  // namespace berth::sys
