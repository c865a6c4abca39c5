// units: vzctl sizes, suffixes, fractions, barrier:limit pairs and `unlimited`.
#include "core/units.h"

#include <gtest/gtest.h>

namespace berth::units {
namespace {

uint64_t size_ok(std::string_view s, uint64_t mult = 1) {
  auto r = parse_size(s, mult);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : 0;
}

void size_bad(std::string_view s, uint64_t mult = 1) {
  auto r = parse_size(s, mult);
  ASSERT_FALSE(r.ok()) << s << " parsed as " << *r;
  EXPECT_EQ(r.error().exit_status(), 21) << s;
  EXPECT_NE(r.error().message().find(std::string(s)), std::string::npos) << r.error().message();
}

TEST(UnitsParseSize, Suffixes) {
  EXPECT_EQ(size_ok("100"), 100u);
  EXPECT_EQ(size_ok("1B"), 1u);
  EXPECT_EQ(size_ok("1K"), 1024u);
  EXPECT_EQ(size_ok("1k"), 1024u);
  EXPECT_EQ(size_ok("512M"), 512ull << 20);
  EXPECT_EQ(size_ok("2G"), 2ull << 30);
  EXPECT_EQ(size_ok("3T"), 3ull << 40);
  EXPECT_EQ(size_ok("10P"), 10 * kPageSize);
  EXPECT_EQ(size_ok("10p"), 10 * kPageSize);
}

TEST(UnitsParseSize, DefaultMultiplierOnlyForBareNumbers) {
  EXPECT_EQ(size_ok("5", 1024), 5120u);
  EXPECT_EQ(size_ok("5K", 1024), 5120u);  // a suffix overrides the default unit
  EXPECT_EQ(size_ok("5B", 1024), 5u);
}

TEST(UnitsParseSize, Fractions) {
  EXPECT_EQ(size_ok("2.2G"), 2362232012u);  // floor(2.2 * 2^30), as vzctl's strtold path
  EXPECT_EQ(size_ok("1.5K"), 1536u);
  EXPECT_EQ(size_ok("0.5M"), 512u << 10);
  EXPECT_EQ(size_ok("1.5"), 1u);  // bare fraction truncates
  EXPECT_EQ(size_ok("5."), 5u);
  size_bad(".5G");
  size_bad("1..5G");
  size_bad("1.2.3");
}

TEST(UnitsParseSize, Unlimited) {
  EXPECT_EQ(size_ok("unlimited"), kUnlimited);
  EXPECT_EQ(size_ok("unlimited", 4096), kUnlimited);
  size_bad("Unlimited");
  size_bad("unlimitedX");
  size_bad("unlimited:");
}

TEST(UnitsParseSize, Garbage) {
  size_bad("");
  size_bad("-5");
  size_bad("+5");
  size_bad(" 5");
  size_bad("5 ");
  size_bad("5KB");
  size_bad("5X");
  size_bad("K");
  size_bad("0x10");
  size_bad("1e3");
  size_bad(std::string_view("5\0K", 3));
}

TEST(UnitsParseSize, Overflow) {
  EXPECT_EQ(size_ok("9223372036854775807"), kUnlimited);  // LONG_MAX is `unlimited`
  size_bad("9223372036854775808");
  size_bad("18446744073709551616");
  size_bad("99999999999999999999999");
  size_bad("8388608T");  // 2^63 bytes
  EXPECT_EQ(size_ok("8388607T"), 8388607ull << 40);
  size_bad("9000000000000000000", 1024);
  size_bad("8388608.5T");
  size_bad("100000000000000000000.5");
}

TEST(UnitsParseUbc, PagesConvertSuffixedSizesRoundingUp) {
  EXPECT_EQ(*parse_ubc_value("100", Kind::kPages), 100u);
  EXPECT_EQ(*parse_ubc_value("512M", Kind::kPages), 131072u);
  EXPECT_EQ(*parse_ubc_value("1K", Kind::kPages), 1u);
  EXPECT_EQ(*parse_ubc_value("4097B", Kind::kPages), 2u);
  EXPECT_EQ(*parse_ubc_value("10P", Kind::kPages), 10u);
  EXPECT_EQ(*parse_ubc_value("unlimited", Kind::kPages), kUnlimited);
}

TEST(UnitsParseUbc, BytesKeepBytes) {
  EXPECT_EQ(*parse_ubc_value("14372700", Kind::kBytes), 14372700u);
  EXPECT_EQ(*parse_ubc_value("2M", Kind::kBytes), 2u << 20);
  EXPECT_EQ(*parse_ubc_value("1P", Kind::kBytes), kPageSize);
}

TEST(UnitsParseUbc, ItemsRefuseSuffixes) {
  EXPECT_EQ(*parse_ubc_value("240", Kind::kItems), 240u);
  EXPECT_EQ(*parse_ubc_value("unlimited", Kind::kItems), kUnlimited);
  for (const char* s : {"1K", "1M", "10P", "5B", "1k"}) {
    auto r = parse_ubc_value(s, Kind::kItems);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_EQ(r.error().exit_status(), 21);
    }
  }
  EXPECT_FALSE(parse_ubc_value("", Kind::kItems).ok());
  EXPECT_FALSE(parse_ubc_value("-1", Kind::kItems).ok());
}

TEST(UnitsBarrierLimit, SingleValueSetsBoth) {
  EXPECT_EQ(*parse_barrier_limit("240", Kind::kItems), (BarrierLimit{240, 240}));
  EXPECT_EQ(*parse_barrier_limit("unlimited", Kind::kPages),
            (BarrierLimit{kUnlimited, kUnlimited}));
}

TEST(UnitsBarrierLimit, Pairs) {
  EXPECT_EQ(*parse_barrier_limit("188:206", Kind::kItems), (BarrierLimit{188, 206}));
  EXPECT_EQ(*parse_barrier_limit("0:256M", Kind::kPages), (BarrierLimit{0, 65536}));
  EXPECT_EQ(*parse_barrier_limit("33792:unlimited", Kind::kPages),
            (BarrierLimit{33792, kUnlimited}));
  EXPECT_EQ(*parse_barrier_limit("5:5", Kind::kItems), (BarrierLimit{5, 5}));
}

TEST(UnitsBarrierLimit, BarrierAboveLimitIsAnError) {
  for (const char* s : {"10:5", "unlimited:5", "2G:1G"}) {
    auto r = parse_barrier_limit(s, Kind::kBytes);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().exit_status(), 21);
    EXPECT_NE(r.error().message().find(s), std::string::npos) << r.error().message();
  }
}

TEST(UnitsBarrierLimit, Malformed) {
  for (const char* s : {"", ":", "5:", ":5", "1:2:3", "5::6", "a:b", "1K:2K"}) {
    auto r = parse_barrier_limit(s, Kind::kItems);
    EXPECT_FALSE(r.ok()) << s;
  }
}

TEST(UnitsFormat, AsVzctlWrites) {
  EXPECT_EQ(format_barrier_limit({240, 240}), "240");
  EXPECT_EQ(format_barrier_limit({188, 206}), "188:206");
  EXPECT_EQ(format_barrier_limit({0, kUnlimited}), "0:unlimited");
  EXPECT_EQ(format_barrier_limit({kUnlimited, kUnlimited}), "unlimited");
  EXPECT_EQ(format_barrier_limit({0, 0}), "0");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(kUnlimited), "unlimited");
}

TEST(UnitsFormat, RoundTrip) {
  for (const char* s :
       {"240", "188:206", "0:unlimited", "unlimited", "0", "1:9223372036854775806"}) {
    auto bl = parse_barrier_limit(s, Kind::kItems);
    ASSERT_TRUE(bl.ok()) << s;
    EXPECT_EQ(format_barrier_limit(*bl), s);
  }
}

TEST(UnitsHuman, Bytes) {
  EXPECT_EQ(human_bytes(0), "0");
  EXPECT_EQ(human_bytes(1023), "1023");
  EXPECT_EQ(human_bytes(1024), "1K");
  EXPECT_EQ(human_bytes(512ull << 20), "512M");
  EXPECT_EQ(human_bytes(3ull << 29), "1.5G");
  EXPECT_EQ(human_bytes(2ull << 40), "2T");
}

}  // namespace
}  // namespace berth::units
