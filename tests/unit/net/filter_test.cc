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

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(NetFilter, TableNameCarriesInstanceAndCtid) {
  EXPECT_EQ(filter_table("berth", "101"), "berth-berth-101");
  EXPECT_EQ(filter_table("a b:c", "7"), "berth-a_b_c-7");
  EXPECT_EQ(shared_table("a b:c"), "berth-a_b_c");
  EXPECT_EQ(ct_chain("101"), "ct_101");
}

TEST(NetFilter, InstanceTablesDropWhatIsNotACtsOwnAddress) {
  std::string s = antispoof_tables_script("sh");
  EXPECT_TRUE(has(s,
                  "add table inet sh\nadd set inet sh ct_ports { type ifname; }\n"
                  "add set inet sh ct_addr4 { type ifname . ipv4_addr; }\n"
                  "add set inet sh ct_addr6 { type ifname . ipv6_addr; }\n"))
      << s;
  // The base chain's rules are rewritten, so each is there once.
  EXPECT_TRUE(has(
      s,
      "add chain inet sh ct_antispoof { type filter hook prerouting priority -300; policy accept; "
      "}\n"
      "flush chain inet sh ct_antispoof\n"
      "add rule inet sh ct_antispoof iifname != @ct_ports accept\n"
      "add rule inet sh ct_antispoof meta nfproto ipv4 iifname . ip saddr != @ct_addr4 drop\n"
      "add rule inet sh ct_antispoof ip6 saddr { fe80::/10, ::/128 } accept\n"
      "add rule inet sh ct_antispoof meta nfproto ipv6 iifname . ip6 saddr != @ct_addr6 drop\n"))
      << s;
  EXPECT_TRUE(has(
      s,
      "add chain arp sh ct_antispoof { type filter hook input priority 0; policy accept; }\n"
      "flush chain arp sh ct_antispoof\n"
      "add rule arp sh ct_antispoof iifname @ct_ports iifname . arp saddr ip != @ct_addr4 drop\n"))
      << s;
}

// The keys of one change, as (table family, set, kind, key count).
std::string summary(const std::vector<nft::Change>& cs) {
  std::string out;
  for (const auto& c : cs) {
    out += std::to_string(static_cast<int>(c.family)) + " " + c.set + " " +
           (c.kind == nft::Change::kAddElements ? "add" : "del") + " " +
           std::to_string(c.keys.size()) + "\n";
  }
  return out;
}

TEST(NetFilter, RoutedChangesAddTheCtsPairsToBothTables) {
  RoutedFilter want{"vb101", addrs({"198.18.1.1", "fd00:1::1", "198.18.1.2"})};
  auto cs = routed_changes("sh", {}, want);
  EXPECT_EQ(
      summary(cs),
      "1 ct_ports add 1\n1 ct_addr4 add 2\n1 ct_addr6 add 1\n3 ct_ports add 1\n3 ct_addr4 add 2\n");
  for (const auto& c : cs) EXPECT_EQ(c.table, "sh");
  // ifname (16 bytes, zero padded) then the address, as nft lays out `ifname . ipv4_addr`.
  std::vector<uint8_t> key(16, 0);
  std::string name = "vb101";
  std::copy(name.begin(), name.end(), key.begin());
  EXPECT_EQ(cs[0].keys[0], key);
  key.insert(key.end(), {198, 18, 1, 1});
  EXPECT_EQ(cs[1].keys[0], key);
  EXPECT_EQ(cs[2].keys[0].size(), 32u);
}

TEST(NetFilter, RoutedChangesRemoveOnlyWhatIsGone) {
  RoutedFilter had{"vb101", addrs({"198.18.1.1", "198.18.1.2"})};
  RoutedFilter want{"vb101", addrs({"198.18.1.2", "198.18.1.3"})};
  // 198.18.1.1 out (added first, so a missing element is no error), the rest in.
  EXPECT_EQ(summary(routed_changes("sh", had, want)),
            "1 ct_ports add 1\n1 ct_addr4 add 1\n1 ct_addr4 del 1\n1 ct_addr4 add 2\n"
            "3 ct_ports add 1\n3 ct_addr4 add 1\n3 ct_addr4 del 1\n3 ct_addr4 add 2\n");
  // Stop: everything of the CT out.
  EXPECT_EQ(summary(routed_changes("sh", had, {})),
            "1 ct_ports add 1\n1 ct_ports del 1\n1 ct_addr4 add 2\n1 ct_addr4 del 2\n"
            "3 ct_ports add 1\n3 ct_ports del 1\n3 ct_addr4 add 2\n3 ct_addr4 del 2\n");
  EXPECT_TRUE(routed_changes("sh", {}, {}).empty());
}

TEST(NetFilter, RoutedStateRoundTrip) {
  RoutedFilter f{"vb101", addrs({"198.18.1.1", "fd00:1::1"})};
  EXPECT_EQ(routed_state_text(f), "vb101\n198.18.1.1\nfd00:1::1\n");
  RoutedFilter back = parse_routed_state(routed_state_text(f));
  EXPECT_EQ(back.host_ifname, "vb101");
  EXPECT_EQ(back.addrs, f.addrs);
  EXPECT_EQ(parse_routed_state("").host_ifname, "");
}

TEST(NetFilter, UnfilterTakesOnlyTheCtsPartOfTheOldLayout) {
  const std::string two =
      "table inet sh {\n\tmap ports {\n\t\ttype ifname : verdict\n"
      "\t\telements = { \"vb1\" : jump ct_1,\n\t\t\t     \"vb10\" : jump ct_10 }\n\t}\n"
      "\tchain antispoof {\n\t}\n\tchain ct_1 {\n\t}\n\tchain ct_10 {\n\t}\n}\n";
  // Another CT is left: only this CT's element and chain go (ct_1 is not ct_10).
  EXPECT_EQ(unfilter_script("sh", "t", "ct_1", "vb1", two),
            "add table arp t\ndelete table arp t\ndelete element inet sh ports { \"vb1\" }\n"
            "flush chain inet sh ct_1\ndelete chain inet sh ct_1\n");
  // The last CT of the old layout takes its dispatch with it; the table (the new layout's sets)
  // stays.
  const std::string one =
      "table inet sh {\n\tmap ports {\n\t\telements = { \"vb10\" : jump ct_10 }\n\t}\n"
      "\tchain antispoof {\n\t}\n\tchain ct_10 {\n\t}\n}\n";
  EXPECT_EQ(
      unfilter_script("sh", "t", "ct_10", "vb10", one),
      "add table arp t\ndelete table arp t\ndelete element inet sh ports { \"vb10\" }\n"
      "flush chain inet sh ct_10\ndelete chain inet sh ct_10\n"
      "flush chain inet sh antispoof\ndelete chain inet sh antispoof\ndelete map inet sh ports\n");
  // No shared table: only the arp table.
  EXPECT_EQ(unfilter_script("sh", "t", "ct_1", "vb1", ""), "add table arp t\ndelete table arp t\n");
}

TEST(NetFilter, NoMacFilterMeansRemoveOnly) {
  EXPECT_EQ(macfilter_script("t", {}), "add table bridge t\ndelete table bridge t\n");
}

TEST(NetFilter, MacFilterPerPort) {
  std::string s = macfilter_script(
      "t", {{"veth101.0", "00:18:51:AA:BB:CC"}, {"veth101.1", "00:18:51:00:00:01"}});
  EXPECT_TRUE(has(s, "table bridge t {")) << s;
  EXPECT_TRUE(has(s, "iifname \"veth101.0\" ether saddr != 00:18:51:AA:BB:CC drop")) << s;
  EXPECT_TRUE(has(s, "iifname \"veth101.1\" ether saddr != 00:18:51:00:00:01 drop")) << s;
}

TEST(NetNetif, ParseAndFormatRoundTrip) {
  std::string v =
      "ifname=eth0,bridge=vmbr0,mac=00:18:51:12:34:56,host_ifname=veth101.0,host_mac=00:18:51:65:"
      "43:21;"
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
