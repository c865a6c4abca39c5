// A pipe for the sys/ unit tests that watch descriptors (close_behind, poll_set): both ends are
// closed at the end unless taken (take_w: the write end given away, e.g. to a close).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <utility>

namespace berth::sys {

struct TestPipe {
  int r = -1, w = -1;
  TestPipe() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    r = p[0], w = p[1];
  }
  TestPipe(const TestPipe&) = delete;
  TestPipe& operator=(const TestPipe&) = delete;
  ~TestPipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  int take_w() { return std::exchange(w, -1); }
  void put() { EXPECT_EQ(::write(w, "x", 1), 1); }
  // The read end sees POLLHUP once every write end is closed: a close done by another thread is
  // seen without reusing descriptor numbers.
  bool writer_closed() const {
    pollfd p{r, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
  }
};

}  // namespace berth::sys
