// Per-CT load averages: the kernel's decay, /proc/loadavg's line, the state file for vzlist.
#include "ubc/loadavg.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ubc/proc_view.h"

namespace berth::ubc {
namespace {

TEST(LoadavgTest, DecaysAsTheKernelsAverages) {
  LoadAvg l;
  fold_sample(l, 2, kLoadInterval);
  // One 5 s sample of 2 tasks: 2 * (1 - e^(-5/60)) for the 1-minute average.
  EXPECT_NEAR(l.avg[0], 2 * (1 - std::exp(-5.0 / 60)), 1e-9);
  EXPECT_NEAR(l.avg[1], 2 * (1 - std::exp(-5.0 / 300)), 1e-9);
  EXPECT_NEAR(l.avg[2], 2 * (1 - std::exp(-5.0 / 900)), 1e-9);
  // A steady load converges on itself; the 1-minute average first.
  for (int i = 0; i < 12 * 30; ++i) fold_sample(l, 2, kLoadInterval);
  EXPECT_NEAR(l.avg[0], 2.0, 1e-6);
  EXPECT_NEAR(l.avg[2], 2 * (1 - std::exp(-(1 + 12 * 30) * 5.0 / 900)),
              1e-6);  // 15 minutes: still rising
  // And decays when idle: after one minute the 1-minute average is down to 1/e.
  for (int i = 0; i < 12; ++i) fold_sample(l, 0, kLoadInterval);
  EXPECT_NEAR(l.avg[0], 2.0 / std::exp(1.0), 1e-3);
  EXPECT_GT(l.avg[1], l.avg[0]);
}

TEST(LoadavgTest, RendersProcLoadavgsLine) {
  LoadAvg l;
  l.avg = {0.5, 0.125, 12.345};
  l.running = 2;
  l.threads = 87;
  EXPECT_EQ(render_loadavg(l, 4242), "0.50 0.12 12.35 2/87 4242\n");
  EXPECT_EQ(render_loadavg(LoadAvg{}, 1), "0.00 0.00 0.00 0/0 1\n");
}

TEST(LoadavgTest, StateFileRoundTrips) {
  LoadAvg l;
  l.avg = {1.5, 0.75, 0.25};
  l.running = 3;
  l.threads = 40;
  auto back = parse_load_state(format_load_state(l));
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ(back->avg[0], 1.5);
  EXPECT_EQ(back->threads, 40u);
  for (const char* bad : {"", "1 2", "nan 0 0 1 1", "-1 0 0 1 1", "a b c d e"})
    EXPECT_FALSE(parse_load_state(bad)) << bad;
}

TEST(LoadavgTest, TaskStateFollowsTheLastParenthesis) {
  EXPECT_EQ(stat_state("12 (sh) R 1 12 12 0"), 'R');
  EXPECT_EQ(stat_state("13 (a) b) D 1"), 'D');  // a name with ") " in it
  EXPECT_EQ(stat_state("14 (x)S"), 0);
  EXPECT_EQ(stat_state("garbage"), 0);
  EXPECT_EQ(parse_node("/.proc/7/loadavg").kind, Node::kProcLoadavg);
}

}  // namespace
}  // namespace berth::ubc
