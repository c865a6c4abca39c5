#include "dist/network.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

const RoutedNames kNames{"venet0", "169.254.0.1", "fe80::1"};

RoutedIf routed(std::string_view ip_address) {
  return interfaces_of(ip_address, "", kNames).value().first;
}

BridgedIf bridged(std::string_view netif) {
  auto ifs = interfaces_of("", netif, kNames);
  EXPECT_TRUE(ifs.ok()) << ifs.error().message();
  return ifs.value().second.at(0);
}

TEST(DistNetwork, IfupdownRoutedStanzaIsIdempotentAndRestoresRoutes) {
  std::string s = ifupdown_routed(routed("198.18.44.1 fd00:44::1/64 198.18.44.2/24"));
  // Prefixes of IP_ADDRESS are ignored in routed mode: /32 and /128, as Berth sets them.
  EXPECT_EQ(s.substr(s.find("auto")),
            "auto venet0\n"
            "iface venet0 inet manual\n"
            "\tup ip link set dev venet0 up\n"
            "\tup ip addr replace 198.18.44.1/32 dev venet0\n"
            "\tup ip addr replace fd00:44::1/128 dev venet0 nodad\n"
            "\tup ip addr replace 198.18.44.2/32 dev venet0\n"
            "\tup ip -4 route replace 169.254.0.1/32 dev venet0 scope link proto static\n"
            "\tup ip -4 route replace default via 169.254.0.1 dev venet0 proto static\n"
            "\tup ip -6 route replace default via fe80::1 dev venet0 proto static\n"
            "\tdown ip -6 route del default via fe80::1 dev venet0 2>/dev/null || true\n"
            "\tdown ip -4 route del default via 169.254.0.1 dev venet0 2>/dev/null || true\n"
            "\tdown ip addr del 198.18.44.1/32 dev venet0 2>/dev/null || true\n"
            "\tdown ip addr del fd00:44::1/128 dev venet0 2>/dev/null || true\n"
            "\tdown ip addr del 198.18.44.2/32 dev venet0 2>/dev/null || true\n"
            "\tdown ip -4 route del 169.254.0.1/32 dev venet0 2>/dev/null || true\n");
  EXPECT_EQ(s.rfind("# ", 0), 0u);  // says who wrote it
  EXPECT_EQ(ifupdown_routed(routed("")), "");
}

TEST(DistNetwork, IfupdownRoutedV6OnlyHasNoV4Routes) {
  std::string s = ifupdown_routed(routed("fd00:44::5"));
  EXPECT_EQ(s.find("169.254.0.1"), std::string::npos);
  EXPECT_NE(s.find("up ip -6 route replace default via fe80::1 dev venet0"), std::string::npos);
}

TEST(DistNetwork, BridgedAddressesFromNetif) {
  BridgedIf b = bridged(
      "ifname=eth0,bridge=br0,mac=00:18:51:AA:BB:CC,ip=198.18.44.10/24,ip=fd00:44::10/64 "
      "198.18.44.11,gw=198.18.44.254,gw6=fd00:44::ff");
  EXPECT_EQ(b.ifname, "eth0");
  EXPECT_EQ(b.addrs,
            (std::vector<std::string>{"198.18.44.10/24", "fd00:44::10/64", "198.18.44.11/32"}));
  EXPECT_EQ(b.gw4, "198.18.44.254");
  EXPECT_EQ(b.gw6, "fd00:44::ff");
  EXPECT_FALSE(b.dhcp4);
  std::string s = ifupdown_bridged(b);
  EXPECT_NE(s.find("iface eth0 inet manual\n"), std::string::npos);
  EXPECT_NE(s.find("\tup ip addr replace fd00:44::10/64 dev eth0\n"), std::string::npos);  // DAD on
  EXPECT_NE(s.find("\tup ip -4 route replace default via 198.18.44.254 dev eth0 proto static\n"),
            std::string::npos);
  EXPECT_NE(s.find("\tup ip -6 route replace default via fd00:44::ff dev eth0 proto static\n"),
            std::string::npos);
  std::string n = networkd_bridged(b);
  EXPECT_EQ(n.substr(n.find("[Match]")),
            "[Match]\nName=eth0\n\n[Network]\nDHCP=no\nAddress=198.18.44.10/24\n"
            "Address=fd00:44::10/64\nAddress=198.18.44.11/32\nGateway=198.18.44.254\n"
            "Gateway=fd00:44::ff\n");
}

TEST(DistNetwork, BridgedDhcpIsLeftToTheClient) {
  BridgedIf b = bridged("ifname=eth1,bridge=br0,dhcp=yes,dhcp6=yes");
  EXPECT_TRUE(b.configured());
  std::string s = ifupdown_bridged(b);
  EXPECT_NE(s.find("iface eth1 inet dhcp\n"), std::string::npos);
  EXPECT_NE(s.find("iface eth1 inet6 dhcp\n"), std::string::npos);
  EXPECT_NE(networkd_bridged(b).find("DHCP=yes\n"), std::string::npos);
  EXPECT_NE(networkd_bridged(bridged("ifname=eth1,dhcp6=yes")).find("DHCP=ipv6\n"),
            std::string::npos);
}

TEST(DistNetwork, BridgedWithoutAddressingWritesNothing) {
  BridgedIf b = bridged("ifname=eth0,bridge=br0,mac=00:18:51:AA:BB:CC,future=1");
  EXPECT_FALSE(b.configured());
  EXPECT_EQ(ifupdown_bridged(b), "");
  EXPECT_EQ(networkd_bridged(b), "");
}

TEST(DistNetwork, BadNetifAddressingIsRefused) {
  for (const char* netif :
       {"ifname=eth0,ip=300.1.1.1", "ifname=eth0,gw=fd00::1", "ifname=eth0,gw6=198.18.44.1",
        "ifname=eth0,dhcp=maybe", "ifname=eth0,ip=0.0.0.0"}) {
    auto r = interfaces_of("", netif, kNames);
    ASSERT_FALSE(r.ok()) << netif;
    EXPECT_EQ(r.error().exit_status(), exitcode::kBadValue) << netif;
  }
  EXPECT_FALSE(interfaces_of("198.18.44.1/99", "", kNames).ok());
}

TEST(DistNetwork, NetworkdRoutedMatchesBerthsRoutes) {
  std::string n = networkd_routed(routed("198.18.44.1 fd00:44::1"));
  EXPECT_EQ(n.substr(n.find("[Match]")),
            "[Match]\nName=venet0\n\n[Network]\nDHCP=no\nIPv6AcceptRA=no\n"
            "\n[Address]\nAddress=198.18.44.1/32\n"
            "\n[Address]\nAddress=fd00:44::1/128\nDuplicateAddressDetection=none\n"
            "\n[Route]\nDestination=169.254.0.1/32\nScope=link\n"
            "\n[Route]\nGateway=169.254.0.1\nGatewayOnLink=yes\n"
            "\n[Route]\nGateway=fe80::1\n");
  EXPECT_EQ(networkd_routed(routed("")), "");
}

TEST(DistNetwork, InterfacesWithoutRemovesVzctlStanzas) {
  // What vzctl's Debian scripts left in an OpenVZ CT's /etc/network/interfaces.
  std::string in =
      "# interfaces(5)\n"
      "auto lo venet0\n"
      "iface lo inet loopback\n"
      "\n"
      "auto venet0\n"
      "iface venet0 inet manual\n"
      "\tup ifconfig venet0 up\n"
      "\tup route add default dev venet0\n"
      "\n"
      "iface venet0 inet6 manual\n"
      "\tup route -A inet6 add default dev venet0\n"
      "\n"
      "auto venet0:0\n"
      "iface venet0:0 inet static\n"
      "\taddress 192.0.2.5\n"
      "\tnetmask 255.255.255.255\n"
      "# the LAN\n"
      "allow-hotplug eth0 venet0:1\n"
      "iface eth0 inet dhcp\n"
      "iface venet00 inet manual\n";
  EXPECT_EQ(interfaces_without(in, "venet0"),
            "# interfaces(5)\n"
            "auto lo\n"
            "iface lo inet loopback\n"
            "\n"
            "\n"
            "\n"
            "# the LAN\n"
            "allow-hotplug eth0\n"
            "iface eth0 inet dhcp\n"
            "iface venet00 inet manual\n");
  std::string debian12 =
      "# interfaces(5) file used by ifup(8) and ifdown(8)\n"
      "# Include files from /etc/network/interfaces.d:\n"
      "source /etc/network/interfaces.d/*\n";
  EXPECT_EQ(interfaces_without(debian12, "venet0"), debian12);
  EXPECT_EQ(interfaces_without("", "venet0"), "");
}

TEST(DistNetwork, InterfacesReads) {
  std::string f = "/etc/network/interfaces.d/berth-venet0";
  EXPECT_TRUE(interfaces_reads("source /etc/network/interfaces.d/*\n", f));
  EXPECT_TRUE(interfaces_reads("source interfaces.d/berth-*\n", f));
  EXPECT_TRUE(interfaces_reads("source-directory /etc/network/interfaces.d/\n", f));
  EXPECT_TRUE(interfaces_reads("source-directory interfaces.d\n", f));
  EXPECT_FALSE(interfaces_reads("source /etc/network/interfaces.d/eth*\n", f));
  EXPECT_FALSE(interfaces_reads("# source /etc/network/interfaces.d/*\n", f));
  EXPECT_FALSE(interfaces_reads("auto lo\niface lo inet loopback\n", f));
  // run-parts names only: a '.' keeps a file out of source-directory.
  EXPECT_FALSE(interfaces_reads("source-directory /etc/network/interfaces.d\n",
                                "/etc/network/interfaces.d/berth-eth0.100"));
}

class DistNetworkFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/berth-dist-net-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(make_dirs(root_ + "/etc/network").ok());
    ASSERT_TRUE(make_dirs(root_ + "/usr/sbin").ok());
    ASSERT_TRUE(write_file_atomic(root_ + "/usr/sbin/ifup", "", 0755).ok());
  }
  void TearDown() override { EXPECT_TRUE(sys::remove_tree(root_).ok()); }
  std::string read(const std::string& rel) { return sys::read_file(root_ + rel).value(); }
  bool exists(const std::string& rel) { return sys::path_exists(root_ + rel); }
  void enable_networkd() {
    ASSERT_TRUE(make_dirs(root_ + "/etc/systemd/system/multi-user.target.wants").ok());
    ASSERT_EQ(::symlink("/lib/systemd/system/systemd-networkd.service",
                        (root_ + "/etc/systemd/system/multi-user.target.wants/"
                                 "systemd-networkd.service")
                            .c_str()),
              0);
  }
  Status set(std::string_view ip, std::string_view netif, Family fam = Family::kDebian) {
    auto ifs = interfaces_of(ip, netif, kNames);
    if (!ifs.ok()) return std::move(ifs).error();
    return set_network(fam, ifs->first, ifs->second, root_);
  }
  std::string root_;
};

TEST_F(DistNetworkFiles, DetectsStacks) {
  EXPECT_FALSE(detect_net_stacks(root_).ifupdown);  // no /etc/network/interfaces yet
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/network/interfaces", "").ok());
  EXPECT_TRUE(detect_net_stacks(root_).ifupdown);
  EXPECT_FALSE(detect_net_stacks(root_).networkd);
  enable_networkd();
  EXPECT_TRUE(detect_net_stacks(root_).networkd);
}

TEST_F(DistNetworkFiles, IfupdownFilesFollowTheConfig) {
  std::string main_file = "source /etc/network/interfaces.d/*\n";
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/network/interfaces", main_file).ok());
  ASSERT_TRUE(make_dirs(root_ + "/etc/network/interfaces.d").ok());
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/network/interfaces.d/eth9", "user's\n").ok());
  ASSERT_TRUE(set("198.18.44.1", "ifname=eth0,ip=198.18.44.10/24;ifname=eth1").ok());
  EXPECT_EQ(read("/etc/network/interfaces.d/berth-venet0"), ifupdown_routed(routed("198.18.44.1")));
  EXPECT_NE(read("/etc/network/interfaces.d/berth-eth0").find("198.18.44.10/24"),
            std::string::npos);
  EXPECT_FALSE(exists("/etc/network/interfaces.d/berth-eth1"));  // nothing to configure
  EXPECT_EQ(read("/etc/network/interfaces"), main_file);         // it reads our files already
  EXPECT_FALSE(exists("/etc/systemd/network"));                  // networkd is not in use
  // --ipdel all, --netif_del eth0: Berth's files go, the user's stay.
  ASSERT_TRUE(set("", "").ok());
  EXPECT_FALSE(exists("/etc/network/interfaces.d/berth-venet0"));
  EXPECT_FALSE(exists("/etc/network/interfaces.d/berth-eth0"));
  EXPECT_EQ(read("/etc/network/interfaces.d/eth9"), "user's\n");
}

TEST_F(DistNetworkFiles, FileNamesAreRunPartsNames) {
  // source-directory skips names with a '.': eth0.100's file must still be read.
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/network/interfaces",
                                "source-directory /etc/network/interfaces.d\n")
                  .ok());
  ASSERT_TRUE(
      set("198.18.44.1", "ifname=eth0.100,ip=198.18.44.30/24;ifname=eth0_100,dhcp=yes").ok());
  EXPECT_TRUE(exists("/etc/network/interfaces.d/berth-eth0_2e100"));
  EXPECT_TRUE(exists("/etc/network/interfaces.d/berth-eth0_5f100"));
  EXPECT_EQ(read("/etc/network/interfaces"), "source-directory /etc/network/interfaces.d\n");
  ASSERT_TRUE(set("198.18.44.1", "ifname=eth0_100,dhcp=yes").ok());
  EXPECT_FALSE(exists("/etc/network/interfaces.d/berth-eth0_2e100"));
  EXPECT_TRUE(exists("/etc/network/interfaces.d/berth-eth0_5f100"));
}

TEST_F(DistNetworkFiles, OldMainFileGetsSourceLineAndLosesVzctlStanza) {
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/network/interfaces",
                                "auto lo\niface lo inet loopback\n\nauto venet0\n"
                                "iface venet0 inet manual\n\tup ifconfig venet0 up\n",
                                0600)
                  .ok());
  ASSERT_TRUE(set("198.18.44.1", "").ok());
  EXPECT_EQ(read("/etc/network/interfaces"),
            "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/berth-*\n");
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/etc/network/interfaces").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);  // mode kept
  EXPECT_TRUE(exists("/etc/network/interfaces.d/berth-venet0"));
  // Idempotent: a second run changes nothing.
  std::string before = read("/etc/network/interfaces");
  ASSERT_TRUE(set("198.18.44.1", "").ok());
  EXPECT_EQ(read("/etc/network/interfaces"), before);
}

TEST_F(DistNetworkFiles, NetworkdFiles) {
  ::unlink((root_ + "/usr/sbin/ifup").c_str());
  enable_networkd();
  ASSERT_TRUE(make_dirs(root_ + "/etc/systemd/network").ok());
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/systemd/network/20-lan.network", "x\n").ok());
  ASSERT_TRUE(set("198.18.44.1", "ifname=eth0,dhcp=yes").ok());
  EXPECT_EQ(read("/etc/systemd/network/10-berth-venet0.network"),
            networkd_routed(routed("198.18.44.1")));
  EXPECT_TRUE(exists("/etc/systemd/network/10-berth-eth0.network"));
  EXPECT_FALSE(exists("/etc/network/interfaces.d"));  // ifupdown is not installed
  ASSERT_TRUE(set("198.18.44.1", "").ok());
  EXPECT_FALSE(exists("/etc/systemd/network/10-berth-eth0.network"));
  EXPECT_TRUE(exists("/etc/systemd/network/10-berth-venet0.network"));
  EXPECT_EQ(read("/etc/systemd/network/20-lan.network"), "x\n");
}

TEST_F(DistNetworkFiles, OtherFamiliesAreLeftAlone) {
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/network/interfaces", "").ok());
  for (Family f : {Family::kBusybox, Family::kRedhat}) {
    ASSERT_TRUE(set("198.18.44.1", "", f).ok());
    EXPECT_FALSE(exists("/etc/network/interfaces.d")) << family_name(f);
  }
}

}  // namespace
}  // namespace berth::dist
