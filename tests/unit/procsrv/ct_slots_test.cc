// The beancounter server's per-CT bounds (ct_slots.h): one computation per CT and kind per
// kFresh, none shared between CTs, a CT's readers never pile up on a computation, and the bytes a
// CT's open handles hold are counted and capped.
#include "procsrv/ct_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace berth::procsrv {
namespace {

TEST(CtSlotsTest, ComputesOncePerFreshWindowPerCtAndKind) {
  CtSlots slots;
  int computed = 0;
  auto compute = [&] { return "text " + std::to_string(++computed); };
  Text a = slots.text("101", Served::kUbc, compute);
  Text b = slots.text("101", Served::kUbc, compute);
  EXPECT_EQ(computed, 1);
  EXPECT_EQ(a.get(), b.get()) << "a read within kFresh shares the text";
  // Another kind and another CT have their own.
  slots.text("101", Served::kMeminfo, compute);
  slots.text("102", Served::kUbc, compute);
  EXPECT_EQ(computed, 3);
  std::this_thread::sleep_for(CtSlots::kFresh + std::chrono::milliseconds(5));
  Text c = slots.text("101", Served::kUbc, compute);
  EXPECT_EQ(*c, "text 4") << "a read after kFresh computes anew";
}

TEST(CtSlotsTest, ALiveChangeOfTheLimitsIsShownAtTheNextRead) {
  CtSlots slots;
  int computed = 0;
  auto compute = [&] { return "text " + std::to_string(++computed); };
  EXPECT_EQ(*slots.text("101", Served::kCpuinfo, compute), "text 1");
  EXPECT_EQ(*slots.text("101", Served::kCpuinfo, compute), "text 1");
  // `berth set` left a stamp: the next read computes anew, within kFresh.
  EXPECT_EQ(*slots.text("101", Served::kCpuinfo, compute, "5.1\n"), "text 2");
  EXPECT_EQ(*slots.text("101", Served::kCpuinfo, compute, "5.1\n"), "text 2");
  EXPECT_EQ(*slots.text("101", Served::kCpuinfo, compute, "6.7\n"), "text 3");
  // Another CT's stamp is its own.
  EXPECT_EQ(*slots.text("102", Served::kCpuinfo, compute), "text 4");
  EXPECT_EQ(*slots.text("102", Served::kCpuinfo, compute), "text 4");
}

TEST(CtSlotsTest, ReadersDuringAComputationGetTheLastTextWithoutWaiting) {
  CtSlots slots;
  slots.text("101", Served::kUbc, [] { return std::string("old"); });
  std::this_thread::sleep_for(CtSlots::kFresh + std::chrono::milliseconds(5));
  std::promise<void> started, release;
  auto slow = std::async(std::launch::async, [&] {
    return slots.text("101", Served::kUbc, [&] {
      started.set_value();
      release.get_future().wait();
      return std::string("new");
    });
  });
  started.get_future().wait();
  // While the slow computation runs: no second computation, no wait.
  std::atomic<int> computed{0};
  Text t = slots.text("101", Served::kUbc, [&] {
    ++computed;
    return std::string("second");
  });
  EXPECT_EQ(*t, "old");
  EXPECT_EQ(computed.load(), 0);
  // Another CT is not held up by it at all.
  EXPECT_EQ(*slots.text("102", Served::kUbc, [] { return std::string("other"); }), "other");
  release.set_value();
  EXPECT_EQ(*slow.get(), "new");
}

TEST(CtSlotsTest, HeldTextsAreCountedAndCapped) {
  CtSlots slots;
  const std::string big(256 * 1024, 'x');
  std::vector<Text> handles;
  int computed = 0;
  // A CT that keeps every handle while its text changes on every computation.
  for (int i = 0; i < 24; ++i) {
    std::this_thread::sleep_for(CtSlots::kFresh + std::chrono::milliseconds(1));
    handles.push_back(slots.text("101", Served::kUbc, [&] {
      ++computed;
      return big + std::to_string(i);
    }));
  }
  size_t held = slots.held("101");
  EXPECT_LE(held, CtSlots::kBudget + big.size() + 16)
      << "past the budget, opens share the newest text";
  EXPECT_LT(computed, 24);
  EXPECT_EQ(slots.held("102"), 0u) << "another CT's budget is its own";
  handles.clear();
  EXPECT_LE(slots.held("101"), big.size() + 16)
      << "released handles give their bytes back (the cached one stays)";
}

}  // namespace
}  // namespace berth::procsrv

namespace berth::procsrv {
namespace {

TEST(CtSlotsTest, PacesEachCtOnItsOwn) {
  CtSlots slots;
  using Clock = std::chrono::steady_clock;
  // The burst passes at once.
  const auto start = Clock::now();
  auto t0 = start;
  for (int i = 0; i < CtSlots::kBurst; ++i) slots.pace("101");
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(100));
  // Past it, turns come at kOpsPerSecond: 200 more end about 100 ms after the first turn (counted
  // from the burst's start: the time a slow burst loop took, on a loaded machine or under ASan,
  // has already earned turns back).
  for (int i = 0; i < 200; ++i) slots.pace("101");
  auto paced = Clock::now() - start;
  EXPECT_GE(paced, std::chrono::milliseconds(200 * 1000 / CtSlots::kOpsPerSecond - 10));
  // Another CT's turns are its own: not slowed by 101's flood.
  t0 = Clock::now();
  for (int i = 0; i < 100; ++i) slots.pace("102");
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(20));
}

}  // namespace
}  // namespace berth::procsrv
