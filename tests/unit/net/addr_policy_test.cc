// net/addr_policy: which addresses a VPS may be given. The host is a hand-built snapshot of the
// integration test's fake LAN: bt50d0 198.18.50.2/24 (fd00:50::2/64), 198.19.50.0/24 via
// 198.18.50.1, neighbour 198.18.50.7, a routed VPS 102 of instance "other" with 198.18.50.20.
#include "net/addr_policy.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <gtest/gtest.h>

namespace berth::net {
namespace {

IpAddr ip(const char* s) { return *parse_ip(s); }

HostNet fake_host() {
  HostNet h;
  h.links = {{1, "lo", ""},
             {2, "bt50d0", ""},
             {3, "vbabcde102", "berth:other:102"},
             {4, "vbxyzab101", "berth:mine:101"}};
  h.addresses = {{1, ip("127.0.0.1"), 8},   {1, ip("::1"), 128},       {2, ip("198.18.50.2"), 24},
                 {2, ip("fd00:50::2"), 64}, {2, ip("fe80::50:2"), 64}, {3, ip("169.254.0.1"), 32}};
  auto route = [](int table, int type, const char* dst, int prefix, int dev,
                  std::optional<IpAddr> gw = {}) {
    HostRoute r;
    r.table = table;
    r.type = type;
    r.dst = ip(dst);
    r.family = r.dst.family;
    r.prefix = prefix;
    r.nexthops.push_back({dev, gw});
    return r;
  };
  h.routes = {
      route(RT_TABLE_MAIN, RTN_UNICAST, "0.0.0.0", 0, 2,
            ip("198.18.50.1")),  // default via the LAN's router
      route(RT_TABLE_MAIN, RTN_UNICAST, "198.18.50.0", 24, 2),
      route(RT_TABLE_MAIN, RTN_UNICAST, "198.19.50.0", 24, 2, ip("198.18.50.1")),
      route(RT_TABLE_MAIN, RTN_UNICAST, "fd00:50::", 64, 2),
      route(RT_TABLE_MAIN, RTN_UNICAST, "fd00:51::", 64, 2, ip("fd00:50::1")),
      route(RT_TABLE_MAIN, RTN_UNICAST, "198.18.50.20", 32, 3),  // VPS 102 of instance "other"
      route(RT_TABLE_MAIN, RTN_UNICAST, "fd00:50::20", 128, 3),
      route(RT_TABLE_MAIN, RTN_UNICAST, "198.18.50.30", 32, 4),  // our own VPS 101's address
      route(RT_TABLE_MAIN, RTN_BLACKHOLE, "198.18.50.40", 32, 0),
      route(RT_TABLE_LOCAL, RTN_LOCAL, "198.18.50.2", 32, 2),
      route(RT_TABLE_LOCAL, RTN_BROADCAST, "198.18.50.255", 32, 2),
      route(RT_TABLE_LOCAL, RTN_LOCAL, "198.18.60.0", 24,
            1),  // AnyIP: the host answers a whole /24
  };
  h.routes.back().nexthops.clear();
  h.neighbours = {{2, ip("198.18.50.7"), NUD_PERMANENT},  {2, ip("198.18.50.8"), NUD_STALE},
                  {2, ip("198.18.50.9"), NUD_FAILED},     {2, ip("198.18.50.11"), NUD_INCOMPLETE},
                  {3, ip("198.18.50.12"), NUD_REACHABLE}, {2, ip("fd00:50::7"), NUD_REACHABLE}};
  return h;
}

int status_of(const HostNet& h, const char* addr, bool forced = false,
              std::string_view own = "berth:mine:101") {
  Status st = check_address(h, ip(addr), own, forced);
  return st.ok() ? 0 : st.error().exit_status();
}

TEST(AddrPolicy, InvalidClassesAre71) {
  for (const char* a : {"0.0.0.0",
                        "127.0.0.1",
                        "127.0.0.5",
                        "127.255.255.254",
                        "224.0.0.1",
                        "239.255.255.255",
                        "255.255.255.255",
                        "169.254.1.1",
                        "169.254.0.1",
                        "::",
                        "::1",
                        "ff02::1",
                        "ff05::2",
                        "fe80::1",
                        "febf::1",
                        "::ffff:198.18.50.10",
                        "::198.18.50.10",
                        "0.1.2.3",
                        "240.0.0.1",
                        "254.1.1.1"}) {
    auto r = invalid_class(ip(a));
    ASSERT_TRUE(r.has_value()) << a;
    EXPECT_EQ(r->exit_status, 71) << a;
    EXPECT_FALSE(r->why.empty()) << a;
  }
  for (const char* a :
       {"198.18.50.10", "1.1.1.1", "223.255.255.255", "169.253.1.1", "169.255.0.1", "126.0.0.1",
        "128.0.0.1", "fd00:50::10", "2001:db8::1", "fec0::1", "fe7f::1", "fec0::1", "1::"}) {
    EXPECT_FALSE(invalid_class(ip(a)).has_value()) << a << ": " << invalid_class(ip(a))->why;
  }
}

TEST(AddrPolicy, OnlyReservedBlocksAreForcible) {
  for (const char* a : {"0.1.2.3", "240.0.0.1", "254.1.1.1"}) {
    EXPECT_TRUE(invalid_class(ip(a))->forcible) << a;
    EXPECT_EQ(check_address_class(ip(a), false).error().exit_status(), 71) << a;
    EXPECT_TRUE(check_address_class(ip(a), true).ok()) << a;
  }
  for (const char* a : {"0.0.0.0", "127.0.0.5", "224.0.0.1", "255.255.255.255", "169.254.1.1",
                        "::", "::1", "ff02::1", "fe80::1", "::ffff:198.18.50.10"}) {
    EXPECT_FALSE(invalid_class(ip(a))->forcible) << a;
    EXPECT_EQ(check_address_class(ip(a), true).error().exit_status(), 71) << a;
  }
}

TEST(AddrPolicy, TheNormalHostingCaseIsAllowed) {
  HostNet h = fake_host();
  // Inside the host's LAN subnet (the proxy-ARP case), inside a subnet routed via the gateway, an
  // address with a failed or incomplete neighbour entry (nobody answered), and our own address.
  for (const char* a :
       {"198.18.50.10", "198.18.50.254", "198.18.50.9", "198.18.50.11", "198.19.50.10",
        "fd00:50::10", "fd00:51::1", "198.18.50.30", "198.18.50.12", "203.0.113.5"}) {
    EXPECT_EQ(status_of(h, a), 0)
        << a << ": " << check_address(h, ip(a), "berth:mine:101", false).error().message();
  }
}

TEST(AddrPolicy, WhatTheHostUsesIs78) {
  HostNet h = fake_host();
  struct Case {
    const char* addr;
    const char* why;
    bool forcible;
  };
  for (const Case& c : std::vector<Case>{
           {"198.18.50.2", "an address of the host (dev bt50d0)", false},
           {"fd00:50::2", "an address of the host (dev bt50d0)", false},
           {"198.18.60.77", "a local address of the host", false},
           {"198.18.50.255", "broadcast", false},
           {"198.18.50.0", "the network address of the host's subnet 198.18.50.0/24", false},
           {"fd00:50::", "the network address of the host's subnet fd00:50::/64", false},
           {"198.18.50.1", "a gateway of the host", true},
           {"fd00:50::1", "a gateway of the host", true},
           {"198.18.50.7", "a neighbour of the host (another machine on dev bt50d0)", true},
           {"198.18.50.8", "a neighbour of the host", true},
           {"fd00:50::7", "a neighbour of the host", true},
           {"198.18.50.20", "routed to CT 102 of Berth instance other (dev vbabcde102)", false},
           {"fd00:50::20", "routed to CT 102 of Berth instance other", false},
           {"198.18.50.40", "routed elsewhere by the host (route blackhole 198.18.50.40/32)",
            false},
       }) {
    auto r = host_use(h, ip(c.addr), "berth:mine:101");
    ASSERT_TRUE(r.has_value()) << c.addr;
    EXPECT_EQ(r->exit_status, 78) << c.addr;
    EXPECT_NE(r->why.find(c.why), std::string::npos) << c.addr << ": " << r->why;
    EXPECT_EQ(r->forcible, c.forcible) << c.addr;
    EXPECT_EQ(status_of(h, c.addr), 78) << c.addr;
    EXPECT_EQ(status_of(h, c.addr, true), c.forcible ? 0 : 78) << c.addr;
    Status st = check_address(h, ip(c.addr), "berth:mine:101", false);
    EXPECT_EQ(st.error().message().find('\n'), std::string::npos);
    EXPECT_EQ(st.error().message().find("--ipadd_force") != std::string::npos, c.forcible)
        << st.error().message();
  }
}

TEST(AddrPolicy, OwnRouteIsNotAUseButAnotherCtsIs) {
  HostNet h = fake_host();
  EXPECT_EQ(status_of(h, "198.18.50.30", false, "berth:mine:101"), 0);
  EXPECT_EQ(status_of(h, "198.18.50.30", false, "berth:mine:103"), 78);  // 101's, seen from 103
  EXPECT_EQ(status_of(h, "198.18.50.30", false, ""), 78);
  EXPECT_EQ(status_of(h, "198.18.50.20", false, "berth:other:102"), 0);  // 102 of "other" itself
}

TEST(AddrPolicy, SubnetEdgesOfSmallPrefixes) {
  HostNet h;
  h.links = {{2, "eth0", ""}};
  h.addresses = {
      {2, ip("198.18.50.4"), 31}, {2, ip("198.18.50.8"), 32}, {2, ip("fd00:50::4"), 127}};
  EXPECT_EQ(status_of(h, "198.18.50.5"), 0);  // a /31 has no network or broadcast address
  EXPECT_EQ(status_of(h, "198.18.50.9"), 0);
  EXPECT_EQ(status_of(h, "fd00:50::5"), 0);
  h.addresses = {{2, ip("198.18.50.6"), 30}};
  EXPECT_EQ(status_of(h, "198.18.50.4"), 78);
  EXPECT_EQ(status_of(h, "198.18.50.7"), 78);
  EXPECT_EQ(status_of(h, "198.18.50.5"), 0);
}

}  // namespace
}  // namespace berth::net
