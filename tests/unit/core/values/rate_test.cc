// RATE: entries, lists, merging and what is not enforced.
#include "core/values/rate.h"

#include <gtest/gtest.h>

namespace berth::values {
namespace {

TEST(ValuesRate, EntriesAndLists) {
  auto e = parse_rate_entry("eth0:1:8000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, (RateEntry{"eth0", 1, 8000}));
  auto l = parse_rate_list(" *:1:100\teth0:2:5 *:1:200 ");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(format_rate_list(*l), "eth0:2:5 *:1:200");
  EXPECT_TRUE(parse_rate_list("").value().empty());
  EXPECT_EQ(parse_rate_entry("*:65535:17179869").value().kbit, kMaxRateKbit);
}

TEST(ValuesRate, BadEntriesAre21) {
  for (const char* bad :
       {"", "eth0:1", "eth0:x:1", "eth0:1:-5", "eth0:1:2:3", "*:1:17179870", "*:65536:1", "a/b:1:1",
        ":1:1", "eth0::1", "eth0:1:", "averyveryverylongname:1:1"}) {
    auto r = parse_rate_entry(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), 21) << bad;
    EXPECT_NE(r.error().message().find("invalid rate"), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(parse_rate_list("*:1:1 bad").ok());
}

TEST(ValuesRate, MergeAndUnenforced) {
  auto merged = merge_rates(parse_rate_list("*:1:1 *:2:2").value(),
                            {RateEntry{"*", 1, 9}, RateEntry{"eth0", 3, 4}});
  EXPECT_EQ(format_rate_list(merged), "*:2:2 *:1:9 eth0:3:4");
  EXPECT_EQ(unenforced_rates(merged), (std::vector<std::string>{"*:2:2", "eth0:3:4"}));
}

}  // namespace
}  // namespace berth::values
