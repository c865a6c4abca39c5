#include "sys/close_behind.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test_pipe.h"

namespace berth::sys {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

using Pipe = TestPipe;

TEST(CloseBehind, WithoutAScopeClosesAtOnce) {
  Pipe p;
  const int w = p.take_w();
  close_behind(UniqueFd(w));
  EXPECT_TRUE(p.writer_closed());
  EXPECT_FALSE(is_open(w));
}

TEST(CloseBehind, TheScopesWaitEndsEveryCloseItWasGiven) {
  Pipe a, b;
  {
    CloseBehind scope;
    close_behind(UniqueFd(a.take_w()));
    close_behind(UniqueFd(b.take_w()));
    scope.wait();
    EXPECT_TRUE(a.writer_closed());
    EXPECT_TRUE(b.writer_closed());
    Pipe c;
    close_behind(UniqueFd(c.take_w()));
  }  // the end of the scope waits too
}

TEST(CloseBehind, TheEndOfAScopeWaits) {
  Pipe a;
  {
    CloseBehind scope;
    close_behind(UniqueFd(a.take_w()));
  }
  EXPECT_TRUE(a.writer_closed());
}

TEST(CloseBehind, AnInnerScopeHidesTheOuterUntilItEnds) {
  Pipe a, b;
  CloseBehind outer;
  {
    CloseBehind inner;
    close_behind(UniqueFd(a.take_w()));
  }
  EXPECT_TRUE(a.writer_closed());      // the inner scope's end waited for it
  close_behind(UniqueFd(b.take_w()));  // the outer scope's again
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
