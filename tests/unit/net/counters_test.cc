// Which host links count as a CT's traffic (net/counters.h): its routed veth and its bridged
// veths, not their shaping ifbs and not another CT's links.
#include "net/counters.h"

#include <gtest/gtest.h>

#include "core/conf_file.h"
#include "net/addr.h"
#include "net/netif.h"

namespace berth::net {
namespace {

class CountedLink : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = HostConfig::load_at("/nonexistent-berth-root-for-tests");
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(*h);
  }
  CtConfig ct(const std::string& ctid) { return CtConfig(host_, ctid, ConfFile::parse("")); }
  LinkInfo link(std::string name, std::string alias, std::string kind = "veth") {
    LinkInfo l;
    l.name = std::move(name);
    l.alias = std::move(alias);
    l.kind = std::move(kind);
    return l;
  }
  HostConfig host_;
};

TEST_F(CountedLink, RoutedAndBridgedVethsOfTheCt) {
  const std::string& inst = host_.instance();
  CtConfig c = ct("101");
  EXPECT_TRUE(counted_link(c, link(host_ifname(inst, "101"), link_alias(inst, "101"))));
  EXPECT_TRUE(counted_link(c, link("veth101.0", netif_alias(inst, "101", "eth0"))));
  EXPECT_TRUE(counted_link(c, link("myveth", netif_alias(inst, "101", "eth1"))));
}

TEST_F(CountedLink, NotIfbsNorOtherCtsNorStrangers) {
  const std::string& inst = host_.instance();
  CtConfig c = ct("101");
  // The shaping ifb of a bridged veth carries the CT's prefix but counts the same packets again.
  EXPECT_FALSE(counted_link(c, link("vq1", netif_alias(inst, "101", "eth0") + ":ifb", "ifb")));
  // CT 1010's links: its prefix starts like 101's.
  EXPECT_FALSE(counted_link(c, link("veth1010.0", netif_alias(inst, "1010", "eth0"))));
  EXPECT_FALSE(counted_link(c, link(host_ifname(inst, "1010"), link_alias(inst, "1010"))));
  // The routed veth's name with another alias (someone else's link), or another instance's.
  EXPECT_FALSE(counted_link(c, link(host_ifname(inst, "101"), "")));
  EXPECT_FALSE(counted_link(c, link("veth101.0", netif_alias("other", "101", "eth0"))));
}

}  // namespace
}  // namespace berth::net
