// The anti-spoofing nft scripts and NETIF parsing: pure text, checked line by line.
#include "net/filter.h"

#include <gtest/gtest.h>

#include "net/netif.h"

namespace berth::net {
namespace {

std::vector<IpAddr> addrs(std::initializer_list<const char*> l) {
  std::vector<IpAddr> out;
  for (const char* s : l) out.push_back(*parse_ip(s));
  return out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(NetFilter, TableNameCarriesInstanceAndCtid) {
  EXPECT_EQ(filter_table("berth", "101"), "berth-berth-101");
  EXPECT_EQ(filter_table("a b:c", "7"), "berth-a_b_c-7");
  EXPECT_EQ(shared_table("a b:c"), "berth-a_b_c");
  EXPECT_EQ(ct_chain("101"), "ct_101");
}

TEST(NetFilter, AntispoofAllowsOnlyTheCtsAddresses) {
  std::string s = antispoof_script("sh", "t", "ct_101", "vbxyz101", addrs({"198.18.1.1", "fd00:1::1", "198.18.1.2"}));
  // The shared table and its dispatch are made if missing; the base chain keeps exactly one rule.
  EXPECT_EQ(s.rfind("add table inet sh\nadd map inet sh ports { type ifname : verdict; }\n"
                    "add chain inet sh antispoof { type filter hook prerouting priority -300; policy accept; }\n"
                    "flush chain inet sh antispoof\nadd rule inet sh antispoof iifname vmap @ports\n",
                    0),
            0u)
      << s;
  // The CT's chain is rewritten in the same transaction, then its veth is pointed at it.
  EXPECT_TRUE(has(s, "add chain inet sh ct_101\nflush chain inet sh ct_101\n"
                     "add rule inet sh ct_101 ip saddr != { 198.18.1.1, 198.18.1.2 } drop\n"
                     "add rule inet sh ct_101 ip6 saddr != { fe80::/10, ::/128, fd00:1::1 } drop\n"
                     "add element inet sh ports { \"vbxyz101\" : jump ct_101 }\n"))
      << s;
  // ARP: the CT's own table, replaced atomically.
  EXPECT_TRUE(has(s, "add table arp t\ndelete table arp t\ntable arp t {")) << s;
  EXPECT_TRUE(has(s, "set v4 { type ipv4_addr; elements = { 198.18.1.1, 198.18.1.2 }; }")) << s;
  EXPECT_TRUE(has(s, "iifname \"vbxyz101\" arp saddr ip != @v4 drop")) << s;
}

TEST(NetFilter, AntispoofWithoutIpv4DropsAllIpv4) {
  std::string s = antispoof_script("sh", "t", "ct_1", "vb1", addrs({"fd00:1::1"}));
  EXPECT_TRUE(has(s, "add rule inet sh ct_1 meta nfproto ipv4 drop\n")) << s;
  EXPECT_TRUE(has(s, "set v4 { type ipv4_addr; }")) << s;
}

TEST(NetFilter, UnfilterTakesOnlyTheCtsPart) {
  const std::string two = "table inet sh {\n\tmap ports {\n\t\ttype ifname : verdict\n"
                          "\t\telements = { \"vb1\" : jump ct_1,\n\t\t\t     \"vb10\" : jump ct_10 }\n\t}\n"
                          "\tchain antispoof {\n\t}\n\tchain ct_1 {\n\t}\n\tchain ct_10 {\n\t}\n}\n";
  // Another CT is left: only this CT's element and chain go (ct_1 is not ct_10).
  EXPECT_EQ(unfilter_script("sh", "t", "ct_1", "vb1", two),
            "add table arp t\ndelete table arp t\ndelete element inet sh ports { \"vb1\" }\n"
            "flush chain inet sh ct_1\ndelete chain inet sh ct_1\n");
  // The last CT takes the shared table with it.
  const std::string one = "table inet sh {\n\tmap ports {\n\t\telements = { \"vb10\" : jump ct_10 }\n\t}\n"
                          "\tchain ct_10 {\n\t}\n}\n";
  EXPECT_EQ(unfilter_script("sh", "t", "ct_10", "vb10", one), "add table arp t\ndelete table arp t\ndelete table inet sh\n");
  // No shared table: only the arp table.
  EXPECT_EQ(unfilter_script("sh", "t", "ct_1", "vb1", ""), "add table arp t\ndelete table arp t\n");
}

TEST(NetFilter, NoMacFilterMeansRemoveOnly) {
  EXPECT_EQ(macfilter_script("t", {}), "add table bridge t\ndelete table bridge t\n");
}

TEST(NetFilter, MacFilterPerPort) {
  std::string s = macfilter_script("t", {{"veth101.0", "00:18:51:AA:BB:CC"}, {"veth101.1", "00:18:51:00:00:01"}});
  EXPECT_TRUE(has(s, "table bridge t {")) << s;
  EXPECT_TRUE(has(s, "iifname \"veth101.0\" ether saddr != 00:18:51:AA:BB:CC drop")) << s;
  EXPECT_TRUE(has(s, "iifname \"veth101.1\" ether saddr != 00:18:51:00:00:01 drop")) << s;
}

TEST(NetNetif, ParseAndFormatRoundTrip) {
  std::string v = "ifname=eth0,bridge=vmbr0,mac=00:18:51:12:34:56,host_ifname=veth101.0,host_mac=00:18:51:65:43:21;"
                  "ifname=eth1,mac_filter=on,x=y";
  auto l = parse_netif(v);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].bridge, "vmbr0");
  EXPECT_EQ((*l)[0].host_ifname, "veth101.0");
  EXPECT_FALSE((*l)[0].filters_mac());
  EXPECT_TRUE((*l)[1].filters_mac());
  EXPECT_EQ(format_netif(*l), v);
  EXPECT_FALSE(parse_netif("bridge=br0").ok());
  EXPECT_TRUE(parse_netif("")->empty());
}

TEST(NetNetif, HostNamesAsVzctl) {
  std::vector<Netif> l;
  EXPECT_EQ(*generate_host_ifname(l, "101", "eth0"), "veth101.0");
  EXPECT_EQ(*generate_host_ifname(l, "101", "eth3"), "veth101.3");
  l.push_back(Netif{.ifname = "eth0", .host_ifname = "veth101.0"});
  EXPECT_EQ(*generate_host_ifname(l, "101", "wan"), "veth101.1");  // no number: 0, taken: bumped
  EXPECT_EQ(*generate_host_ifname({}, "2147483644", "eth0"), "v2147483644.0");
}

TEST(NetNetif, AliasMarksCtAndInterface) {
  EXPECT_EQ(netif_alias("inst", "101", "eth0"), "berth:inst:101:eth0");
  EXPECT_EQ(netif_alias("inst", "101", "eth0").rfind(netif_alias_prefix("inst", "101"), 0), 0u);
  // The routed link's alias ("berth:inst:101") does not carry the bridged prefix.
  EXPECT_NE(link_alias("inst", "101").rfind(netif_alias_prefix("inst", "101"), 0), 0u);
}

}  // namespace
}  // namespace berth::net
