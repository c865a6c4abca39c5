// net/addr: host interface names, NEIGHBOUR_DEVS and address plans.
#include "net/addr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <set>

namespace berth::net {
namespace {

std::vector<std::string> texts(const std::vector<IpAddr>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.text);
  return out;
}

TEST(NetAddr, HostIfnameFitsAndDependsOnInstanceAndCtid) {
  std::string n = host_ifname("berth", "101");
  EXPECT_EQ(n.substr(0, 2), "vb");
  EXPECT_EQ(n.size(), 2u + 5u + 3u);
  EXPECT_EQ(n.substr(n.size() - 3), "101");
  EXPECT_EQ(n, host_ifname("berth", "101"));  // stable: stop must find what start made
  EXPECT_NE(n, host_ifname("berth-test-1234", "101"));
  EXPECT_NE(n, host_ifname("berth", "1010"));
  for (std::string ctid : {"2147483644", "123456789", "12345678"}) {
    std::string m = host_ifname("berth-test-99", ctid);
    EXPECT_LE(m.size(), 15u) << ctid;
    EXPECT_EQ(m.substr(m.size() - ctid.size()), ctid);
    for (size_t i = 2; i < m.size() - ctid.size(); ++i)
      EXPECT_TRUE(m[i] >= 'a' && m[i] <= 'z') << m;
  }
}

TEST(NetAddr, HostIfnamesOfManyInstancesRarelyCollide) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i)
    seen.insert(host_ifname("berth-test-" + std::to_string(i), "1001"));
  EXPECT_GE(seen.size(), 1995u);
}

TEST(NetAddr, LinkAliasNamesInstanceAndCtid) {
  EXPECT_EQ(link_alias("berth", "101"), "berth:berth:101");
  EXPECT_NE(link_alias("a", "101"), link_alias("b", "101"));
}

TEST(NetAddr, NeighbourDevs) {
  EXPECT_TRUE(parse_neighbour_devs("")->empty());
  EXPECT_EQ(*parse_neighbour_devs("eth0 eth1"), (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(*parse_neighbour_devs("list:eth0  bond0"), (std::vector<std::string>{"eth0", "bond0"}));
  for (const char* s : {"all", "detect", "list:eth0 a/b", "averyveryverylongname"}) {
    auto r = parse_neighbour_devs(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().exit_status(), 21) << s;
  }
}

TEST(NetAddr, PlanAddsAndRemovesOnlyTheDifference) {
  auto before = *parse_ip_list("198.18.0.1 198.18.0.2 fd00:b::1");
  auto after = *parse_ip_list("198.18.0.2 fd00:b::2 198.18.0.3/24");
  AddrPlan p = plan_addresses(before, after);
  EXPECT_EQ(texts(p.add), (std::vector<std::string>{"fd00:b::2", "198.18.0.3"}));
  EXPECT_EQ(texts(p.remove), (std::vector<std::string>{"198.18.0.1", "fd00:b::1"}));
  EXPECT_TRUE(plan_addresses(after, after).empty());
  EXPECT_EQ(plan_addresses({}, after).add.size(), 3u);
  EXPECT_EQ(plan_addresses(before, {}).remove.size(), 3u);
}

}  // namespace
}  // namespace berth::net
