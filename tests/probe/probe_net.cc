// Network tools of berth_probe, for the network tests (busybox has no tcpdump, no UDP nc and no
// raw-packet sender). Each is a subcommand:
//
//   sniff MS MATCH...          count the frames seen on every interface for MS milliseconds whose
//                              IPv4/IPv6 source or destination or Ethernet source is one of the
//                              MATCHes (addresses or MACs); prints {"count":N,"frames":M}
//   spoof SRC DST PORT N       send N UDP datagrams to DST:PORT with the source address SRC, IPv4
//                              or IPv6 (raw socket, own IP header); prints {"sent":N}
//   sendeth IF SRCMAC DSTMAC N send N Ethernet frames (type 0x88b5) with source SRCMAC out of IF
//   sendarp IF SENDER TARGET N send N ARP requests for TARGET naming SENDER (IPv4) as the sender
//   udp-listen PORT MS         print each UDP datagram's payload (IPv4 and IPv6) as a line, MS ms
//   udp-send ADDR PORT MSG N   send MSG N times, 50 ms apart
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int net_main(int argc, char** argv);

namespace {

long now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int fail(const char* what) {
  std::fprintf(stderr, "berth_probe: %s: %s\n", what, std::strerror(errno));
  return 1;
}

bool parse_mac(const char* s, unsigned char out[6]) {
  unsigned v[6];
  if (std::sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<unsigned char>(v[i]);
  return true;
}

// Sends buf n times (20 ms apart) to `to`, closes fd, prints {"sent":N}; 0 when all went out.
int send_n(int fd, const void* buf, size_t len, const void* to, socklen_t tolen,
           const char* count) {
  int n = std::atoi(count), sent = 0;
  for (int i = 0; i < n; ++i) {
    if (::sendto(fd, buf, len, 0, static_cast<const sockaddr*>(to), tolen) ==
        static_cast<ssize_t>(len))
      ++sent;
    ::usleep(20000);
  }
  ::close(fd);
  std::printf("{\"sent\":%d}\n", sent);
  return sent == n ? 0 : 1;
}

struct Match {
  int kind = 0;  // 4, 6, or 'm' (MAC)
  unsigned char bytes[16] = {};
};

int sniff(int argc, char** argv) {
  if (argc < 4) return 2;
  long ms = std::atol(argv[2]);
  std::vector<Match> matches;
  for (int i = 3; i < argc; ++i) {
    Match m;
    if (inet_pton(AF_INET, argv[i], m.bytes) == 1)
      m.kind = 4;
    else if (inet_pton(AF_INET6, argv[i], m.bytes) == 1)
      m.kind = 6;
    else if (parse_mac(argv[i], m.bytes))
      m.kind = 'm';
    else
      return 2;
    matches.push_back(m);
  }
  int fd = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) return fail("socket(AF_PACKET)");
  // Ready: the caller may start the traffic once this line is out.
  std::fprintf(stderr, "sniffing\n");
  long end = now_ms() + ms, count = 0, frames = 0;
  unsigned char buf[2048];
  while (true) {
    long left = end - now_ms();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 14) continue;
    ++frames;
    // Loopback frames carry an all-zero Ethernet header; every frame here starts with one.
    unsigned type = (buf[12] << 8) | buf[13];
    const unsigned char* ip = buf + 14;
    size_t iplen = static_cast<size_t>(n) - 14;
    bool hit = false;
    for (const auto& m : matches) {
      if (m.kind == 'm') hit = hit || std::memcmp(buf + 6, m.bytes, 6) == 0;
      if (m.kind == 4 && type == ETH_P_IP && iplen >= 20)
        hit = hit || std::memcmp(ip + 12, m.bytes, 4) == 0 || std::memcmp(ip + 16, m.bytes, 4) == 0;
      if (m.kind == 6 && type == ETH_P_IPV6 && iplen >= 40)
        hit =
            hit || std::memcmp(ip + 8, m.bytes, 16) == 0 || std::memcmp(ip + 24, m.bytes, 16) == 0;
    }
    if (hit) ++count;
  }
  ::close(fd);
  std::printf("{\"count\":%ld,\"frames\":%ld}\n", count, frames);
  return 0;
}

// One UDP datagram to DST:PORT with the source address SRC (forged or not), IPv4 or IPv6, through
// a raw socket that takes our own IP header (IPPROTO_RAW). The UDP checksum is left 0: the
// receiver may drop it, but a capture sees it.
int spoof(int argc, char** argv) {
  if (argc != 6) return 2;
  unsigned char pkt[40 + 8 + 16] = {};
  size_t iplen;
  sockaddr_storage dst{};
  socklen_t dlen;
  int family;
  auto* d4 = reinterpret_cast<sockaddr_in*>(&dst);
  auto* d6 = reinterpret_cast<sockaddr_in6*>(&dst);
  if (inet_pton(AF_INET, argv[3], &d4->sin_addr) == 1) {
    family = AF_INET;
    iplen = sizeof(iphdr);
    auto* ip = reinterpret_cast<iphdr*>(pkt);
    if (inet_pton(AF_INET, argv[2], &ip->saddr) != 1) return 2;
    ip->daddr = d4->sin_addr.s_addr;
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(static_cast<uint16_t>(iplen + 8 + 16));  // the kernel fills in the checksum
    d4->sin_family = AF_INET;
    dlen = sizeof *d4;
  } else if (inet_pton(AF_INET6, argv[3], &d6->sin6_addr) == 1) {
    family = AF_INET6;
    iplen = sizeof(ip6_hdr);
    auto* ip = reinterpret_cast<ip6_hdr*>(pkt);
    if (inet_pton(AF_INET6, argv[2], &ip->ip6_src) != 1) return 2;
    ip->ip6_dst = d6->sin6_addr;
    ip->ip6_flow = htonl(6u << 28);
    ip->ip6_plen = htons(8 + 16);
    ip->ip6_nxt = IPPROTO_UDP;
    ip->ip6_hlim = 64;
    d6->sin6_family = AF_INET6;
    dlen = sizeof *d6;
  } else {
    return 2;
  }
  auto* udp = reinterpret_cast<udphdr*>(pkt + iplen);
  udp->source = htons(40000);
  udp->dest = htons(static_cast<uint16_t>(std::atoi(argv[4])));
  udp->len = htons(8 + 16);
  std::memcpy(pkt + iplen + 8, "berth-spoof-test", 16);
  int fd = ::socket(family, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) return fail("socket(SOCK_RAW)");
  size_t len = iplen + 8 + 16;
  return send_n(fd, pkt, len, &dst, dlen, argv[5]);
}

int sendeth(int argc, char** argv) {
  if (argc != 6) return 2;
  unsigned char frame[60] = {};
  if (!parse_mac(argv[4], frame) || !parse_mac(argv[3], frame + 6)) return 2;
  frame[12] = 0x88;
  frame[13] = 0xb5;
  std::memcpy(frame + 14, "berth-mac-test", 14);
  int fd = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) return fail("socket(AF_PACKET)");
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(if_nametoindex(argv[2]));
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame, 6);
  if (to.sll_ifindex == 0) return fail("if_nametoindex");
  return send_n(fd, frame, sizeof frame, &to, sizeof to, argv[5]);
}

// N ARP requests out of IF for TARGET, naming SENDER as the sender's IPv4 address (forged or
// not) and IF's own MAC as the sender's hardware address.
int sendarp(int argc, char** argv) {
  if (argc != 6) return 2;
  int fd = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ARP));
  if (fd < 0) return fail("socket(AF_PACKET)");
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[2]);
  if (::ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return fail("SIOCGIFHWADDR");
  unsigned char f[60] = {};
  std::memset(f, 0xff, 6);
  std::memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
  f[12] = 0x08, f[13] = 0x06;                      // ARP
  f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;   // Ethernet, IPv4
  f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;      // lengths, request
  std::memcpy(f + 22, ifr.ifr_hwaddr.sa_data, 6);  // sender MAC
  if (inet_pton(AF_INET, argv[3], f + 28) != 1 || inet_pton(AF_INET, argv[4], f + 38) != 1)
    return 2;
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = static_cast<int>(if_nametoindex(argv[2]));
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  return send_n(fd, f, sizeof f, &to, sizeof to, argv[5]);
}

int udp_listen(int argc, char** argv) {
  if (argc != 4) return 2;
  int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return fail("socket(AF_INET6)");
  int off = 0, on = 1;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("bind");
  long end = now_ms() + std::atol(argv[3]);
  char buf[1500];
  while (true) {
    long left = end - now_ms();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) continue;
    buf[n] = 0;
    std::printf("%s\n", buf);
    std::fflush(stdout);
  }
  ::close(fd);
  return 0;
}

int udp_send(int argc, char** argv) {
  if (argc != 6) return 2;
  sockaddr_storage ss{};
  socklen_t len;
  uint16_t port = htons(static_cast<uint16_t>(std::atoi(argv[3])));
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, argv[2], &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = port;
    len = sizeof *s4;
  } else if (inet_pton(AF_INET6, argv[2], &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = port;
    len = sizeof *s6;
  } else {
    return 2;
  }
  int fd = ::socket(ss.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return fail("socket(SOCK_DGRAM)");
  int n = std::atoi(argv[5]), sent = 0;
  for (int i = 0; i < n; ++i) {
    if (::sendto(fd, argv[4], std::strlen(argv[4]), 0, reinterpret_cast<sockaddr*>(&ss), len) >= 0)
      ++sent;
    ::usleep(50000);
  }
  ::close(fd);
  return sent > 0 ? 0 : 1;
}

}  // namespace

int net_main(int argc, char** argv) {
  std::string cmd = argv[1];
  int rc = 2;
  if (cmd == "sniff")
    rc = sniff(argc, argv);
  else if (cmd == "spoof")
    rc = spoof(argc, argv);
  else if (cmd == "sendeth")
    rc = sendeth(argc, argv);
  else if (cmd == "sendarp")
    rc = sendarp(argc, argv);
  else if (cmd == "udp-listen")
    rc = udp_listen(argc, argv);
  else if (cmd == "udp-send")
    rc = udp_send(argc, argv);
  if (rc == 2)
    std::fprintf(stderr,
                 "usage: berth_probe sniff|spoof|sendeth|sendarp|udp-listen|udp-send ARGS (see "
                 "probe_net.cc)\n");
  return rc;
}
