#include "net/announce.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/unique_fd.h"

namespace berth::net {

std::vector<uint8_t> gratuitous_arp(const Mac& mac, const values::IpAddr& a) {
  std::vector<uint8_t> p;
  auto put16 = [&](uint16_t v) {
    p.push_back(static_cast<uint8_t>(v >> 8));
    p.push_back(static_cast<uint8_t>(v & 0xff));
  };
  put16(ARPHRD_ETHER);
  put16(ETH_P_IP);
  p.push_back(6);
  p.push_back(4);
  put16(ARPOP_REQUEST);
  p.insert(p.end(), mac.begin(), mac.end());
  p.insert(p.end(), a.bytes.begin(), a.bytes.begin() + 4);
  p.insert(p.end(), 6, 0);
  p.insert(p.end(), a.bytes.begin(), a.bytes.begin() + 4);
  return p;
}

std::vector<uint8_t> unsolicited_na(const Mac& mac, const values::IpAddr& a) {
  // type 136, code 0, checksum 0, flags: override (not solicited, not router), target, then the
  // target link-layer address option (type 2, length 1 = 8 bytes).
  std::vector<uint8_t> p = {ND_NEIGHBOR_ADVERT, 0, 0, 0, 0x20, 0, 0, 0};
  p.insert(p.end(), a.bytes.begin(), a.bytes.end());
  p.push_back(ND_OPT_TARGET_LINKADDR);
  p.push_back(1);
  p.insert(p.end(), mac.begin(), mac.end());
  return p;
}

namespace {

Result<Mac> mac_of(int ifindex, std::string& name) {
  char buf[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(ifindex), buf) == nullptr)
    return Error::from_errno(errno, "find interface " + std::to_string(ifindex));
  name = buf;
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno(errno, "socket");
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, buf, sizeof ifr.ifr_name);  // buf is IF_NAMESIZE, NUL-terminated
  if (::ioctl(s.get(), SIOCGIFHWADDR, &ifr) != 0)
    return Error::from_errno(errno, "hardware address of `" + name + "`");
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
    return Error::invalid("`" + name + "` is not an Ethernet device");
  Mac m;
  std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, m.size());
  return m;
}

Status send_arp(int ifindex, const Mac& mac, const values::IpAddr& a, const std::string& dev) {
  UniqueFd s(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP)));
  if (!s) return Error::from_errno(errno, "packet socket");
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  auto p = gratuitous_arp(mac, a);
  if (::sendto(s.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return Error::from_errno(errno, "announce " + a.text + " on `" + dev + "`");
  return {};
}

Status send_na(int ifindex, const Mac& mac, const values::IpAddr& a, const std::string& dev) {
  UniqueFd s(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!s) return Error::from_errno(errno, "ICMPv6 socket");
  int hops = 255;  // receivers drop neighbour discovery with any other hop limit
  unsigned idx = static_cast<unsigned>(ifindex);
  if (::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
      ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) != 0)
    return Error::from_errno(errno, "ICMPv6 socket options");
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_scope_id = idx;
  ::inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
  auto p = unsolicited_na(mac, a);
  if (::sendto(s.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return Error::from_errno(errno, "announce " + a.text + " on `" + dev + "`");
  return {};
}

}  // namespace

Status announce_addresses(const std::vector<int>& ifindexes,
                          const std::vector<values::IpAddr>& addrs) {
  Status first;
  auto keep = [&](Status st) {
    if (!st.ok() && first.ok()) first = std::move(st);
  };
  for (int dev : ifindexes) {
    std::string name;
    auto mac = mac_of(dev, name);
    if (!mac.ok()) {
      keep(std::move(mac).error());
      continue;
    }
    for (const auto& a : addrs)
      keep(a.is_v6() ? send_na(dev, *mac, a, name) : send_arp(dev, *mac, a, name));
  }
  return first;
}

}  // namespace berth::net
