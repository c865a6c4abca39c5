// The one rule per scalar kind: parse_u64, interface names, host names, splitting, printable.
#include "core/values/text.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::values {
namespace {

TEST(ValuesParseU64, PlainDecimalOnly) {
  EXPECT_EQ(parse_u64("0"), 0u);
  EXPECT_EQ(parse_u64("42"), 42u);
  EXPECT_EQ(parse_u64("007"), 7u);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  for (const char* bad :
       {"", "-1", "+1", " 1", "1 ", "1k", "0x10", "1.5", "18446744073709551616", "١"})
    EXPECT_FALSE(parse_u64(bad).has_value()) << bad;
}

TEST(ValuesParseU64, Max) {
  EXPECT_EQ(parse_u64_max("7", 7), 7u);
  EXPECT_FALSE(parse_u64_max("8", 7).has_value());
  EXPECT_FALSE(parse_u64_max("x", 7).has_value());
}

TEST(ValuesSplit, AnyDropsEmptyKeepKeepsThem) {
  EXPECT_EQ(split_any(" a  b\tc ", " \t"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_any("", " ").empty());
  EXPECT_TRUE(split_any("   ", " ").empty());
  EXPECT_EQ(split_keep("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_keep("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(split_keep(":x:", ':'), (std::vector<std::string>{"", "x", ""}));
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({}, ","), "");
}

TEST(ValuesPrintable, EscapesControlCharacters) {
  EXPECT_EQ(printable("a\nb\tc\x01\x7f"), "a\\nb\\tc\\x01\\x7f");
  EXPECT_EQ(printable("plain text"), "plain text");
}

TEST(ValuesIfname, OneRule) {
  for (const char* ok :
       {"eth0", "veth101.0", "v2147483644.0", "br-lan", "a", "123456789012345", "wlan_1", "x@y"})
    EXPECT_TRUE(is_valid_ifname(ok)) << ok;
  for (const char* bad : {"", ".", "..", "1234567890123456", "a/b", "a:b", "a,b", "a;b", "a=b",
                          "a*", "a b", "a\tb", "a\"b", "a$b", "a\nb", "a\x7f"})
    EXPECT_FALSE(is_valid_ifname(bad)) << bad;
}

TEST(ValuesHostname, Rfc1123) {
  std::string label63(63, 'a');
  for (std::string ok : {std::string("a"), std::string("ct101.example.org"), std::string("1host-2"),
                         std::string("A-B.c"), label63 + ".b"})
    EXPECT_TRUE(is_valid_hostname(ok)) << ok;
  std::string long_name;
  for (int i = 0; i < 26; ++i) long_name += "abcdefghi.";
  long_name += "x";
  for (std::string bad : {std::string(), std::string("-a"), std::string("a-"), std::string("a..b"),
                          std::string(".a"), std::string("a."), std::string("a_b"),
                          std::string("a b"), label63 + "a", long_name, std::string("a/b")})
    EXPECT_FALSE(is_valid_hostname(bad)) << bad;
}

}  // namespace
}  // namespace berth::values
