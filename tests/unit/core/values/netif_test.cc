// NETIF: every field checked by the one parser; MACs; generated host names; round trips.
#include "core/values/netif.h"

#include <gtest/gtest.h>

namespace berth::values {
namespace {

TEST(ValuesNetif, ParsesAndFormatsInVzctlOrder) {
  auto l = parse_netif(
      "ifname=eth0,mac=00:18:51:12:34:56,bridge=vmbr0,host_ifname=veth101.0,host_mac=00:18:51:65:"
      "43:21;"
      "ifname=eth1,mac_filter=on,future=1");
  ASSERT_TRUE(l.ok()) << l.error().message();
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].bridge, "vmbr0");
  EXPECT_TRUE((*l)[1].filters_mac());
  EXPECT_EQ((*l)[1].extra, std::vector<std::string>{"future=1"});
  EXPECT_EQ(format_netif(*l),
            "ifname=eth0,bridge=vmbr0,mac=00:18:51:12:34:56,host_ifname=veth101.0,host_mac=00:18:"
            "51:65:43:21;"
            "ifname=eth1,mac_filter=on,future=1");
  EXPECT_TRUE(parse_netif("").value().empty());
  EXPECT_TRUE(parse_netif(";;").value().empty());
}

TEST(ValuesNetif, BadFieldsAre21AndNamed) {
  struct Case {
    const char* value;
    const char* says;
  } cases[] = {
      {"bridge=br0", "no ifname"},
      {"ifname=eth0,mac=zz:00:00:00:00:01", "bad MAC `zz:00:00:00:00:01`"},
      {"ifname=eth0,host_mac=01:00:00:00:00:01", "bad MAC"},
      {"ifname=eth0,mac=00:18:51:00:00", "bad MAC"},
      {"ifname=eth0,mac=00:00:00:00:00:00", "bad MAC"},
      {"ifname=a/b", "bad interface name"},
      {"ifname=averyveryverylongname", "bad interface name"},
      {"ifname=all", "bad interface name"},
      {"ifname=eth0,host_ifname=a b", "bad host interface name"},
      {"ifname=eth0,bridge=br:0", "bad bridge name"},
      {"ifname=eth0,mac_filter=maybe", "bad mac_filter"},
      {"ifname=eth0;ifname=eth0", "duplicate interface"},
      {"ifname=eth0,host_ifname=v1;ifname=eth1,host_ifname=v1", "duplicate host interface"},
  };
  for (const auto& c : cases) {
    auto r = parse_netif(c.value);
    ASSERT_FALSE(r.ok()) << c.value;
    EXPECT_EQ(r.error().exit_status(), 21) << c.value;
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << r.error().message();
  }
}

TEST(ValuesNetif, MacRules) {
  EXPECT_EQ(canonical_mac("00:18:51:aa:bb:cc"), "00:18:51:AA:BB:CC");
  EXPECT_EQ(canonical_mac("02:00:00:00:00:01"), "02:00:00:00:00:01");
  for (const char* bad :
       {"", "00:18:51:aa:bb", "00:18:51:aa:bb:cc:dd", "00-18-51-aa-bb-cc", "0g:18:51:aa:bb:cc",
        "01:18:51:aa:bb:cc", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"})
    EXPECT_FALSE(canonical_mac(bad).has_value()) << bad;
  std::string m = generate_mac();
  EXPECT_EQ(m.substr(0, 9), "00:18:51:");
  EXPECT_EQ(canonical_mac(m), m);
}

TEST(ValuesNetif, GeneratedHostNames) {
  std::vector<Netif> list;
  EXPECT_EQ(generate_host_ifname(list, "101", "eth0").value(), "veth101.0");
  EXPECT_EQ(generate_host_ifname(list, "101", "eth3").value(), "veth101.3");
  EXPECT_EQ(generate_host_ifname(list, "101", "wan").value(), "veth101.0");
  Netif taken;
  taken.ifname = "eth0";
  taken.host_ifname = "veth101.0";
  list.push_back(taken);
  EXPECT_EQ(generate_host_ifname(list, "101", "eth0").value(), "veth101.1");
  EXPECT_TRUE(host_ifname_taken(list, "veth101.0", nullptr));
  EXPECT_FALSE(host_ifname_taken(list, "veth101.0", &list[0]));
  EXPECT_EQ(generate_host_ifname({}, "2147483644", "eth0").value(), "v2147483644.0");
}

}  // namespace
}  // namespace berth::values
