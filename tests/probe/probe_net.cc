// Network tools of berth_probe, for the network tests (busybox has no tcpdump, no UDP nc and no
// raw-packet sender). Each is a subcommand:
//
//   sniff MS MATCH...          count the frames seen on every interface for MS milliseconds whose
//                              IPv4/IPv6 source or destination or Ethernet source is one of the
//                              MATCHes (addresses or MACs); prints {"count":N,"frames":M}
//   spoof4 SRC DST PORT N      send N UDP datagrams to DST:PORT with the forged IPv4 source SRC
//                              (raw socket, own IP header); prints {"sent":N}
//   sendeth IF SRCMAC DSTMAC N send N Ethernet frames (type 0x88b5) with source SRCMAC out of IF
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
  if (std::sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<unsigned char>(v[i]);
  return true;
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
        hit = hit || std::memcmp(ip + 8, m.bytes, 16) == 0 || std::memcmp(ip + 24, m.bytes, 16) == 0;
    }
    if (hit) ++count;
  }
  ::close(fd);
  std::printf("{\"count\":%ld,\"frames\":%ld}\n", count, frames);
  return 0;
}

int spoof4(int argc, char** argv) {
  if (argc != 6) return 2;
  struct {
    iphdr ip;
    udphdr udp;
    char payload[16];
  } __attribute__((packed)) pkt{};
  if (inet_pton(AF_INET, argv[2], &pkt.ip.saddr) != 1 || inet_pton(AF_INET, argv[3], &pkt.ip.daddr) != 1) return 2;
  std::memcpy(pkt.payload, "berth-spoof-test", 16);
  pkt.ip.version = 4;
  pkt.ip.ihl = 5;
  pkt.ip.ttl = 64;
  pkt.ip.protocol = IPPROTO_UDP;
  pkt.ip.tot_len = htons(sizeof pkt);  // the kernel fills in the checksum (and an id if 0)
  pkt.udp.source = htons(40000);
  pkt.udp.dest = htons(static_cast<uint16_t>(std::atoi(argv[4])));
  pkt.udp.len = htons(sizeof pkt - sizeof pkt.ip);
  int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) return fail("socket(SOCK_RAW)");
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = pkt.ip.daddr;
  int n = std::atoi(argv[5]), sent = 0;
  for (int i = 0; i < n; ++i) {
    if (::sendto(fd, &pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == sizeof pkt) ++sent;
    ::usleep(20000);
  }
  ::close(fd);
  std::printf("{\"sent\":%d}\n", sent);
  return sent == n ? 0 : 1;
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
  int n = std::atoi(argv[5]), sent = 0;
  for (int i = 0; i < n; ++i) {
    if (::sendto(fd, frame, sizeof frame, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == sizeof frame) ++sent;
    ::usleep(20000);
  }
  ::close(fd);
  std::printf("{\"sent\":%d}\n", sent);
  return sent == n ? 0 : 1;
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
    if (::sendto(fd, argv[4], std::strlen(argv[4]), 0, reinterpret_cast<sockaddr*>(&ss), len) >= 0) ++sent;
    ::usleep(50000);
  }
  ::close(fd);
  return sent > 0 ? 0 : 1;
}

}  // namespace

int net_main(int argc, char** argv) {
  std::string cmd = argv[1];
  int rc = 2;
  if (cmd == "sniff") rc = sniff(argc, argv);
  else if (cmd == "spoof4") rc = spoof4(argc, argv);
  else if (cmd == "sendeth") rc = sendeth(argc, argv);
  else if (cmd == "udp-listen") rc = udp_listen(argc, argv);
  else if (cmd == "udp-send") rc = udp_send(argc, argv);
  if (rc == 2) std::fprintf(stderr, "usage: berth_probe sniff|spoof4|sendeth|udp-listen|udp-send ARGS (see probe_net.cc)\n");
  return rc;
}
