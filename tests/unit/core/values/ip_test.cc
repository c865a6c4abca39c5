// IP addresses: parsing, canonical forms, lists, and the classes a VPS can never hold.
#include "core/values/ip.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace berth::values {
namespace {

std::vector<std::string> texts(const std::vector<IpAddr>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.text);
  return out;
}

TEST(ValuesIp, ParsesV4AndV6Canonically) {
  auto a = parse_ip("198.18.0.1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(a->text, "198.18.0.1");
  EXPECT_EQ(a->host_prefix(), 32);
  EXPECT_EQ(a->bytes[0], 198);
  EXPECT_EQ(a->bytes[3], 1);
  auto b = parse_ip("FD00:B:0::0001/64");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->is_v6());
  EXPECT_EQ(b->text, "fd00:b::1");
  EXPECT_EQ(b->host_prefix(), 128);
}

TEST(ValuesIp, BadAddressesAreExit71) {
  for (const char* s : {"300.1.1.1", "", "1.2.3", "198.18.0.1/33", "fd00::1/129", "198.18.0.1/",
                        "198.18.0.1/x", "::g", "1.2.3.4 ", "198.18.0.1/-1"}) {
    auto r = parse_ip(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().exit_status(), 71) << s;
  }
}

TEST(ValuesIp, ListDropsDuplicatesAndAnyAddressKeepsOrder) {
  auto l =
      parse_ip_list("  198.18.0.2 fd00:b::1 198.18.0.1/24\t198.18.0.2/32 0.0.0.0 :: fd00:b:0::1 ");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(texts(*l), (std::vector<std::string>{"198.18.0.2", "fd00:b::1", "198.18.0.1"}));
  EXPECT_TRUE(parse_ip_list("").ok());
  EXPECT_TRUE(parse_ip_list("")->empty());
  EXPECT_FALSE(parse_ip_list("198.18.0.1 bogus").ok());
}

TEST(ValuesIp, CanonicalForms) {
  EXPECT_EQ(canonical_ip("FD00::0001/64", true), "fd00::1/64");
  EXPECT_EQ(canonical_ip("198.18.0.1/024", true), "198.18.0.1/24");
  EXPECT_FALSE(canonical_ip("198.18.0.1/24", false).has_value());
  EXPECT_FALSE(canonical_ip("198.18.0.300", true).has_value());
  EXPECT_EQ(ip_part("198.18.0.1/24"), "198.18.0.1");
}

TEST(ValuesIp, Prefixes) {
  EXPECT_TRUE(in_prefix(*parse_ip("198.18.1.7"), *parse_ip("198.18.0.0"), 15));
  EXPECT_FALSE(in_prefix(*parse_ip("198.20.0.1"), *parse_ip("198.18.0.0"), 15));
  EXPECT_TRUE(in_prefix(*parse_ip("fd00::5"), *parse_ip("fd00::"), 8));
  EXPECT_FALSE(in_prefix(*parse_ip("fd00::5"), *parse_ip("198.18.0.0"), 8));  // other family
  EXPECT_FALSE(in_prefix(*parse_ip("198.18.0.1"), *parse_ip("198.18.0.0"), 33));
}

TEST(ValuesIp, UnusableClasses) {
  for (const char* a : {"127.0.0.5", "224.0.0.1", "169.254.1.1", "255.255.255.255", "::1",
                        "fe80::1", "ff02::1", "::ffff:198.18.0.1", "::1.2.3.4"}) {
    auto c = unusable_class(*parse_ip(a));
    ASSERT_TRUE(c.has_value()) << a;
    EXPECT_FALSE(c->forcible) << a;
  }
  for (const char* a : {"0.1.2.3", "240.0.0.1"}) {
    auto c = unusable_class(*parse_ip(a));
    ASSERT_TRUE(c.has_value()) << a;
    EXPECT_TRUE(c->forcible) << a;
  }
  for (const char* a : {"198.18.0.1", "10.0.0.1", "fd00::1", "2001:db8::1"})
    EXPECT_FALSE(unusable_class(*parse_ip(a)).has_value()) << a;
}

}  // namespace
}  // namespace berth::values
