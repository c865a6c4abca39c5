#include "net/announce.h"

#include <gtest/gtest.h>

namespace berth::net {
namespace {

values::IpAddr ip(const char* s) { return *values::parse_ip(s); }

TEST(Announce, GratuitousArpNamesTheAddressTwiceAndTheDevicesMac) {
  Mac mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  auto p = gratuitous_arp(mac, ip("198.18.9.50"));
  const std::vector<uint8_t> want = {
      0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,  // Ethernet, IPv4, request
      0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 198,  18,
      9,    50,  // sender: this host's MAC, the address
      0,    0,    0,    0,    0,    0,    198,  18,
      9,    50};  // target: unknown MAC, the address
  EXPECT_EQ(p, want);
}

TEST(Announce, UnsolicitedNeighbourAdvertisementOverrides) {
  Mac mac = {0x02, 0, 0, 0, 0, 0x07};
  auto p = unsolicited_na(mac, ip("fd00::7"));
  ASSERT_EQ(p.size(), 8u + 16u + 8u);
  EXPECT_EQ(p[0], 136);   // neighbour advertisement
  EXPECT_EQ(p[4], 0x20);  // override, not solicited, not a router
  EXPECT_EQ(p[8], 0xfd);
  EXPECT_EQ(p[23], 7);
  EXPECT_EQ(p[24], 2);  // target link-layer address option, 8 bytes
  EXPECT_EQ(p[25], 1);
  EXPECT_EQ(p[31], 7);
}

}  // namespace
}  // namespace berth::net
