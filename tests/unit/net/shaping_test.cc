#include "net/shaping.h"

#include <gtest/gtest.h>

namespace berth::net {
namespace {

TEST(RateParse, VirtuozzoForm) {
  auto e = parse_rate_entry("*:1:10240");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->dev, "*");
  EXPECT_EQ(e->cls, 1u);
  EXPECT_EQ(e->kbit, 10240u);
  auto n = parse_rate_entry("venet0:2:0");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->dev, "venet0");
  EXPECT_EQ(n->cls, 2u);
  EXPECT_EQ(n->kbit, 0u);
}

TEST(RateParse, BadFormsAreExit21) {
  for (const char* bad :
       {"", "*", "*:1", "*:1:", ":1:5", "*:x:5", "*:1:5k", "*:1:-5", "*:1:5:6", "a/b:1:5",
        "toolongdevicename:1:5", "*:70000:5", "*:1:17179870", "*:1:99999999999999999999"}) {
    auto r = parse_rate_entry(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), 21) << bad;
  }
  EXPECT_TRUE(parse_rate_entry("*:1:17179869").ok());
}

TEST(RateParse, ListLaterEntryReplacesSameSlot) {
  auto l = parse_rate_list("eth0:1:8000  *:2:100 eth0:1:9000");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(format_rate_list(*l), "*:2:100 eth0:1:9000");
  EXPECT_TRUE(parse_rate_list("")->empty());
  auto bad = parse_rate_list("*:1:5 junk");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().exit_status(), 21);
}

TEST(RateParse, MergeKeepsOtherSlots) {
  std::vector<RateEntry> base = {{"*", 1, 100}, {"eth0", 1, 200}};
  auto m = merge_rates(base, {{"*", 1, 300}, {"*", 2, 5}});
  EXPECT_EQ(format_rate_list(m), "eth0:1:200 *:1:300 *:2:5");
}

TEST(RateSelect, NamedDeviceWinsOverStar) {
  auto l = *parse_rate_list("*:1:1000 venet0:1:500 eth1:1:50 venet0:2:7");
  EXPECT_EQ(link_rate_kbit(l, "venet0"), 500u);
  EXPECT_EQ(link_rate_kbit(l, "eth0"), 1000u);
  EXPECT_EQ(link_rate_kbit(*parse_rate_list("venet0:1:500 *:1:1000"), "venet0"), 500u);
  EXPECT_EQ(link_rate_kbit(*parse_rate_list("*:2:1000"), "venet0"), 0u);
  EXPECT_EQ(link_rate_kbit({}, "venet0"), 0u);
  EXPECT_EQ(unenforced_rates(l), std::vector<std::string>{"venet0:2:7"});
}

TEST(Tbf, SizesFromRate) {
  auto p = tbf_params(8000);  // 8 Mbit/s = 1,000,000 bytes/s
  EXPECT_EQ(p.rate_bytes, 1000000u);
  EXPECT_EQ(p.burst_bytes, 65536u);            // 20 ms would be 20000: the 64 KiB floor
  EXPECT_EQ(p.limit_bytes, 65536u + 100000u);  // bucket + 100 ms
  auto g = tbf_params(8000000);                // 8 Gbit/s = 1e9 bytes/s
  EXPECT_EQ(g.rate_bytes, 1000000000u);
  EXPECT_EQ(g.burst_bytes, 20000000u);
  EXPECT_EQ(g.limit_bytes, 120000000u);
  auto top = tbf_params(kMaxRateKbit);
  EXPECT_EQ(top.rate_bytes, 2147483625u);
  EXPECT_LE(top.limit_bytes, 2147483647u);
  EXPECT_GT(tbf_params(1).rate_bytes, 0u);
}

TEST(Ifb, NameAndAlias) {
  EXPECT_EQ(ifb_ifname("vbabcde101"), "vqabcde101");
  EXPECT_EQ(ifb_ifname("vbab2147483644").size(), 14u);
  EXPECT_EQ(ifb_alias("berth:t1:101"), "berth:t1:101:ifb");
}

TEST(CounterFile, RoundTripAndSum) {
  Counters c{10, 2, 30, 4};
  auto back = parse_counters(format_counters(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
  Counters sum = c;
  sum += Counters{1, 1, 1, 1};
  EXPECT_EQ(sum, (Counters{11, 3, 31, 5}));
  EXPECT_EQ(*parse_counters(""), Counters{});
  EXPECT_EQ(parse_counters("IN_BYTES=\"7\"\n")->bytes_in, 7u);
  EXPECT_FALSE(parse_counters("OUT_BYTES=\"x\"\n").ok());
}

}  // namespace
}  // namespace berth::net
