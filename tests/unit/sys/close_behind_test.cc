#include "sys/close_behind.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace berth::sys {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// The read end of a pipe sees POLLHUP once every write end is closed: a close done by another
// thread is seen without reusing descriptor numbers.
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    r = p[0], w = p[1];
  }
  ~Pipe() { ::close(r); }
  bool writer_closed() const {
    pollfd p{r, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
  }
};

TEST(CloseBehind, WithoutAScopeClosesAtOnce) {
  Pipe p;
  close_behind(UniqueFd(p.w));
  EXPECT_TRUE(p.writer_closed());
  EXPECT_FALSE(is_open(p.w));
}

TEST(CloseBehind, TheScopesWaitEndsEveryCloseItWasGiven) {
  Pipe a, b;
  {
    CloseBehind scope;
    close_behind(UniqueFd(a.w));
    close_behind(UniqueFd(b.w));
    scope.wait();
    EXPECT_TRUE(a.writer_closed());
    EXPECT_TRUE(b.writer_closed());
    Pipe c;
    close_behind(UniqueFd(c.w));
  }  // the end of the scope waits too
}

TEST(CloseBehind, TheEndOfAScopeWaits) {
  Pipe a;
  {
    CloseBehind scope;
    close_behind(UniqueFd(a.w));
  }
  EXPECT_TRUE(a.writer_closed());
}

TEST(CloseBehind, AnInnerScopeHidesTheOuterUntilItEnds) {
  Pipe a, b;
  CloseBehind outer;
  {
    CloseBehind inner;
    close_behind(UniqueFd(a.w));
  }
  EXPECT_TRUE(a.writer_closed());  // the inner scope's end waited for it
  close_behind(UniqueFd(b.w));     // the outer scope's again
  outer.wait();
  EXPECT_TRUE(b.writer_closed());
}

TEST(CloseBehind, AnInvalidDescriptorIsNothing) {
  CloseBehind scope;
  close_behind(UniqueFd());
  scope.wait();
}

}  // namespace
}  // namespace berth::sys
