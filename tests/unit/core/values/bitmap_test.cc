// CPUMASK / NODEMASK lists.
#include "core/values/bitmap.h"

#include <gtest/gtest.h>

namespace berth::values {
namespace {

TEST(ValuesBitmap, Normalizes) {
  EXPECT_EQ(normalize_bitmap("0-2,7").value(), "0-2,7");
  EXPECT_EQ(normalize_bitmap("7,0,1,2,3").value(), "0-3,7");
  EXPECT_EQ(normalize_bitmap("0-1,1-3").value(), "0-3");
  EXPECT_EQ(normalize_bitmap("all").value(), "all");
  EXPECT_EQ(normalize_bitmap("0-4095").value(), "all");
  EXPECT_EQ(normalize_bitmap("0-3", 4).value(), "all");
  EXPECT_EQ(normalize_bitmap("5").value(), "5");
}

TEST(ValuesBitmap, BadListsAre21) {
  for (const char* bad : {"", ",", "0,", ",0", "0,,1", "3-1", "a", "0-", "-1", "1-2-3", "4096",
                          "0-4096", " 0", "auto"}) {
    auto r = normalize_bitmap(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), 21) << bad;
  }
}

TEST(ValuesBitmap, CpuMaskKinds) {
  auto a = parse_cpumask("auto", true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, CpuMask::Kind::kAuto);
  EXPECT_EQ(a->cpuset(), "");
  EXPECT_FALSE(parse_cpumask("auto", false).ok());
  auto all = parse_cpumask("all", false).value();
  EXPECT_EQ(all.kind, CpuMask::Kind::kAll);
  EXPECT_EQ(all.text(), "all");
  auto l = parse_cpumask("3,1-2", false).value();
  EXPECT_EQ(l.kind, CpuMask::Kind::kList);
  EXPECT_EQ(l.cpuset(), "1-3");
}

}  // namespace
}  // namespace berth::values
