#include "sys/poll_set.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test_pipe.h"

#include <memory>
#include <vector>

namespace berth::sys {
namespace {

using Pipe = TestPipe;

// A set, two pipes, and their read ends asked for (serials 10 and 11).
struct PollSetTwoPipes : ::testing::Test {
  PollSet set;
  Pipe a, b;
  std::vector<pollfd> both{{a.r, POLLIN, 0}, {b.r, POLLIN, 0}};
};

TEST_F(PollSetTwoPipes, ReportsWhatIsReadyAndTimesOut) {
  std::vector<pollfd>& fds = both;
  EXPECT_EQ(set.wait(fds, {10, 11}, 0), 0);
  b.put();
  EXPECT_EQ(set.wait(fds, {10, 11}, 1000), 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_TRUE(fds[1].revents & POLLIN);
  // Level-triggered, as poll(2): still readable, still reported.
  EXPECT_EQ(set.wait(fds, {10, 11}, 0), 1);
  EXPECT_TRUE(fds[1].revents & POLLIN);
}

TEST_F(PollSetTwoPipes, ADescriptorNoLongerAskedForIsNotReported) {
  EXPECT_EQ(set.wait(both, {10, 11}, 0), 0);
  a.put();
  std::vector<pollfd> only_b{{b.r, POLLIN, 0}};
  EXPECT_EQ(set.wait(only_b, {11}, 0), 0);
  // Asked for again: registered again.
  EXPECT_EQ(set.wait(both, {10, 11}, 0), 1);
  EXPECT_TRUE(both[0].revents & POLLIN);
}

TEST(PollSet, ANumberReusedByAnotherFileIsWatchedAsThatFile) {
  PollSet set;
  auto* a = new Pipe;
  const int number = a->r;
  std::vector<pollfd> fds{{number, POLLIN, 0}};
  EXPECT_EQ(set.wait(fds, {10}, 0), 0);
  delete a;  // both ends closed: the number is free again
  Pipe b;
  // Make b's read end take the old number (the lowest free one may be it already).
  if (b.r != number) {
    ASSERT_EQ(::dup2(b.r, number), number);
    ::close(b.r);
    b.r = number;
  }
  fds = {{number, POLLIN, 0}};
  EXPECT_EQ(set.wait(fds, {12}, 0), 0);
  b.put();
  EXPECT_EQ(set.wait(fds, {12}, 1000), 1);
  EXPECT_TRUE(fds[0].revents & POLLIN);
}

TEST(PollSet, ARegistrationThatOutlivedItsDescriptorIsIgnored) {
  PollSet set;
  Pipe a;
  std::vector<pollfd> fds{{a.r, POLLIN, 0}};
  EXPECT_EQ(set.wait(fds, {10}, 0), 0);
  // A copy keeps a's file open (as a process forked meanwhile would); the number goes to b.
  int copy = ::fcntl(a.r, F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(copy, 0);
  const int number = a.r;
  Pipe b;
  ASSERT_EQ(::dup2(b.r, number), number);  // closes a.r's number, not a's file
  ::close(b.r);
  b.r = number;
  a.r = -1;
  a.put();  // a's old registration is ready; b is not
  fds = {{number, POLLIN, 0}};
  EXPECT_EQ(set.wait(fds, {11}, 50), 0);
  EXPECT_EQ(fds[0].revents, 0);
  b.put();
  EXPECT_EQ(set.wait(fds, {11}, 1000), 1);
  ::close(copy);
}

// The same outlived registration, ready all along: the wait sleeps until its timeout instead of
// returning at once to itself again and again (it spun on the CPU for the whole timeout).
TEST(PollSet, AReadyRegistrationThatOutlivedItsDescriptorDoesNotSpin) {
  PollSet set;
  Pipe a, b;
  std::vector<pollfd> fds{{a.r, POLLIN, 0}};
  EXPECT_EQ(set.wait(fds, {10}, 0), 0);
  int copy = ::fcntl(a.r, F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(copy, 0);
  ::close(a.r);
  a.r = -1;
  a.put();  // ready for good: nobody reads it
  fds = {{b.r, POLLIN, 0}};
  timespec cpu0{}, cpu1{}, wall0{}, wall1{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  ::clock_gettime(CLOCK_MONOTONIC, &wall0);
  EXPECT_EQ(set.wait(fds, {11}, 300), 0);
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  ::clock_gettime(CLOCK_MONOTONIC, &wall1);
  auto ms = [](const timespec& x, const timespec& y) {
    return (y.tv_sec - x.tv_sec) * 1000.0 + (y.tv_nsec - x.tv_nsec) / 1e6;
  };
  EXPECT_GE(ms(wall0, wall1), 250.0);  // it waited
  EXPECT_LT(ms(cpu0, cpu1), 100.0);    // asleep, not spinning
  // Still watching what it is asked for.
  b.put();
  EXPECT_EQ(set.wait(fds, {11}, 1000), 1);
  EXPECT_TRUE(fds[0].revents & POLLIN);
  ::close(copy);
}

// A descriptor or a serial given twice in one call is answered (by poll(2)), and the set goes on
// watching what the next call asks for.
TEST(PollSet, TheSameDescriptorOrSerialTwiceIsStillAnswered) {
  PollSet set;
  Pipe a, b;
  a.put();
  std::vector<pollfd> same_fd{{a.r, POLLIN, 0}, {a.r, POLLIN, 0}};
  EXPECT_EQ(set.wait(same_fd, {10, 11}, 0), 2);
  EXPECT_TRUE(same_fd[0].revents & POLLIN);
  EXPECT_TRUE(same_fd[1].revents & POLLIN);
  std::vector<pollfd> same_serial{{a.r, POLLIN, 0}, {b.r, POLLIN, 0}};
  EXPECT_EQ(set.wait(same_serial, {12, 12}, 0), 1);
  EXPECT_TRUE(same_serial[0].revents & POLLIN);
  EXPECT_EQ(same_serial[1].revents, 0);
  std::vector<pollfd> both{{a.r, POLLIN, 0}, {b.r, POLLIN, 0}};
  b.put();
  EXPECT_EQ(set.wait(both, {13, 14}, 0), 2);
}

// Many descriptors asked for, call after call, with one changing: only the ready one is reported,
// at its own place, and a descriptor dropped from the list is no longer reported.
TEST(PollSet, OnlyTheReadyOneOfManyIsReportedAtItsPlace) {
  PollSet set;
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<pollfd> fds;
  std::vector<uint64_t> serials;
  for (int i = 0; i < 200; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    fds.push_back({pipes.back()->r, POLLIN, 0});
    serials.push_back(100 + static_cast<uint64_t>(i));
  }
  EXPECT_EQ(set.wait(fds, serials, 0), 0);
  pipes[137]->put();
  EXPECT_EQ(set.wait(fds, serials, 1000), 1);
  for (size_t i = 0; i < fds.size(); ++i) EXPECT_EQ(fds[i].revents != 0, i == 137) << i;
  // The ready one moved to the front, the last one dropped.
  std::swap(fds[0], fds[137]);
  std::swap(serials[0], serials[137]);
  pipes[199]->put();
  fds.pop_back();
  serials.pop_back();
  EXPECT_EQ(set.wait(fds, serials, 0), 1);
  EXPECT_TRUE(fds[0].revents & POLLIN);
}

TEST(PollSet, NegativeDescriptorsAreNeverReady) {
  PollSet set;
  Pipe a;
  a.put();
  std::vector<pollfd> fds{{-1, POLLIN, 0}, {a.r, POLLIN, 0}};
  EXPECT_EQ(set.wait(fds, {10, 11}, 0), 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_TRUE(fds[1].revents & POLLIN);
}

}  // namespace
}  // namespace berth::sys
