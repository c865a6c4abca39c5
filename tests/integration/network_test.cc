// Routed (venet-style) networking, for real: veth per CT, host routes, addresses and default
// routes inside, live --ipadd/--ipdel, restart, stop/destroy cleanup, bad input.
//
// Addresses come from 198.18.0.0/15 and fd00:<n>::/32-style prefixes outside the host's own
// fd00::/64, so no traffic leaves the machine. The host's forwarding sysctls stay untouched:
// CT-to-CT traffic (which the host forwards) is tested in NetnsNetworkTest, where the whole test,
// its `berth` commands and the CTs' host ends run in a private network namespace with forwarding
// enabled there only.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace berth::itest {
namespace {

const char* kIp = "/usr/sbin/ip";

RunResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{kIp};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, {});
}

std::string routes() { return ip({"route", "show"}).out + ip({"-6", "route", "show"}).out; }
std::string links() { return ip({"-o", "link", "show"}).out; }
// The route lines that mention text: other tests change the host's table in parallel.
std::string routes_with(const std::string& text) {
  std::string out;
  for (const auto& l : split_lines(routes()))
    if (l.find(text) != std::string::npos) out += l + "\n";
  return out;
}

// Host routes and links that name the given prefix ("198.18.101.").
bool has_route_to(const std::string& addr) {
  for (const auto& l : split_lines(routes()))
    if (l.rfind(addr + " ", 0) == 0) return true;
  return false;
}

class NetworkTest : public BerthTest {
 protected:
  // The host end of a CT: the link whose alias marks it as this instance's CT.
  // The name of the CT's host end ("" when there is none).
  std::string host_link_name(const std::string& ctid) {
    for (const auto& l : split_lines(ip({"-d", "-o", "link", "show"}).out)) {
      if (!contains(l, "alias berth:" + instance() + ":" + ctid)) continue;
      std::istringstream in(l);
      std::string index, name;
      in >> index >> name;
      return name.substr(0, name.find_first_of(":@"));
    }
    return "";
  }
  bool host_link_exists(const std::string& ctid) {
    return contains(ip({"-o", "link", "show"}).out + ip({"-d", "-o", "link", "show"}).out,
                    "alias berth:" + instance() + ":" + ctid);
  }
  // A stopped CT's routed veth goes with its network namespace, which the kernel takes down in
  // the background (stop does not wait for it: docs/runtime.md, "Stop"): true once it is gone,
  // waiting up to 5 s.
  bool host_link_gone(const std::string& ctid) {
    for (int i = 0; i < 50; ++i) {
      if (!host_link_exists(ctid)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  RunResult in_ct(const std::string& ctid, const std::string& cmd) {
    return berth({"exec", ctid, cmd});
  }
  std::string conf(const std::string& ctid) { return read_text(conf_path(ctid)); }
};

TEST_F(NetworkTest, NoAddressMeansLoopbackOnly) {
  std::string id = create_running_ct();
  RunResult r = in_ct(id, "ip -o link");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(r.out).size(), 1u) << r.out;
  EXPECT_PRED2(contains, r.out, "lo:");
  EXPECT_FALSE(host_link_exists(id));
  EXPECT_FALSE(contains(links(), "alias berth:" + instance() + ":")) << links();
}

TEST_F(NetworkTest, RoutedCtReachesHostAndIsCleanedUp) {
  std::string id = create_running_ct({"--ipadd", "198.18.101.1", "--ipadd", "fd00:101::1"});
  // Host side: a /32 and a /128 route to the CT's veth.
  EXPECT_TRUE(has_route_to("198.18.101.1")) << routes();
  EXPECT_TRUE(has_route_to("fd00:101::1")) << routes();
  EXPECT_TRUE(host_link_exists(id)) << links();
  // Inside: only its own addresses, as /32 and /128, default routes via the link-local hop.
  RunResult a = in_ct(id, "ip addr show venet0");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_PRED2(contains, a.out, "inet 198.18.101.1/32");
  EXPECT_PRED2(contains, a.out, "inet6 fd00:101::1/128");
  RunResult rt = in_ct(id, "ip route; ip -6 route");
  EXPECT_PRED2(contains, rt.out, "default via 169.254.0.1 dev venet0");
  EXPECT_PRED2(contains, rt.out, "default via fe80::1 dev venet0");
  // CT -> host end, both families, and host -> CT.
  EXPECT_EQ(in_ct(id, "ping -c1 -W3 169.254.0.1").code, 0);
  EXPECT_EQ(in_ct(id, "ping6 -c1 -W3 fe80::1%venet0").code, 0);
  RunResult p4 = run_process({"/usr/bin/busybox", "ping", "-c1", "-W3", "198.18.101.1"}, {}, {});
  EXPECT_EQ(p4.code, 0) << p4.out << p4.err;
  RunResult p6 = run_process({"/usr/bin/busybox", "ping6", "-c1", "-W3", "fd00:101::1"}, {}, {});
  EXPECT_EQ(p6.code, 0) << p6.out << p6.err;

  ASSERT_EQ(berth({"stop", id}).code, 0);
  EXPECT_FALSE(has_route_to("198.18.101.1")) << routes();
  EXPECT_FALSE(has_route_to("fd00:101::1")) << routes();
  EXPECT_TRUE(host_link_gone(id)) << links();
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_TRUE(has_route_to("198.18.101.1")) << routes();
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  ASSERT_EQ(berth({"destroy", id}).code, 0);
  EXPECT_FALSE(has_route_to("198.18.101.1")) << routes();
  // Destroy leaves the veth that stop left to the dying namespace to the kernel, too.
  EXPECT_TRUE(host_link_gone(id)) << links();
}

// A start right after a stop finds the veth the stop left to the CT's dying network namespace
// under the name it needs; it moves that one out of the way (the kernel still removes it) instead
// of waiting for the kernel: every start works, gets its own link and routes, the host can reach
// it, and once the CT stops for good nothing of it stays (host_link_gone reads the alias, which
// a moved link keeps).
TEST_F(NetworkTest, AStartRightAfterAStopGetsTheNameAndLeavesNothing) {
  std::string id = create_running_ct({"--ipadd", "198.18.117.1"});
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
    RunResult st = berth({"start", id});
    ASSERT_EQ(st.code, 0) << "round " << i << ": " << st.err;
    EXPECT_TRUE(has_route_to("198.18.117.1")) << "round " << i << ": " << routes();
    EXPECT_EQ(in_ct(id, "ip -o addr show venet0 | grep -c 198.18.117.1").out, "1\n");
  }
  RunResult p4 = run_process({"/usr/bin/busybox", "ping", "-c1", "-W3", "198.18.117.1"}, {}, {});
  EXPECT_EQ(p4.code, 0) << p4.out << p4.err;
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_FALSE(has_route_to("198.18.117.1")) << routes();
  EXPECT_TRUE(host_link_gone(id)) << links();
  ASSERT_EQ(berth({"destroy", id}).code, 0);
}

TEST_F(NetworkTest, LiveIpaddIpdelAndRestartKeepsAddresses) {
  std::string id = create_running_ct({"--ipadd", "198.18.102.1"});
  RunResult r = berth({"set", id, "--ipadd", "198.18.102.2", "--ipadd", "fd00:102::2", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has_route_to("198.18.102.2")) << routes();
  EXPECT_TRUE(has_route_to("fd00:102::2")) << routes();
  RunResult a = in_ct(id, "ip addr show venet0");
  EXPECT_PRED2(contains, a.out, "inet 198.18.102.2/32");
  EXPECT_PRED2(contains, a.out, "inet6 fd00:102::2/128");
  EXPECT_EQ(in_ct(id, "ping6 -c1 -W3 fe80::1%venet0").code, 0);

  r = berth({"set", id, "--ipdel", "198.18.102.1", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(has_route_to("198.18.102.1")) << routes();
  EXPECT_FALSE(contains(in_ct(id, "ip addr show venet0").out, "198.18.102.1/32"));
  EXPECT_EQ(in_ct(id, "ping -c1 -W3 169.254.0.1").code, 0);

  // Bad input: vzctl's 71, and nothing changes (config, routes, addresses inside).
  std::string before = conf(id), routes_before = routes_with("198.18.102.");
  r = berth({"set", id, "--ipadd", "300.1.1.1", "--save"});
  EXPECT_EQ(r.code, 71) << r.err;
  EXPECT_EQ(conf(id), before);
  EXPECT_EQ(routes_with("198.18.102."), routes_before);

  ASSERT_EQ(berth({"restart", id, "--wait"}).code, 0);
  EXPECT_TRUE(has_route_to("198.18.102.2")) << routes();
  EXPECT_TRUE(has_route_to("fd00:102::2")) << routes();
  EXPECT_FALSE(has_route_to("198.18.102.1")) << routes();
  EXPECT_PRED2(contains, in_ct(id, "ip addr show venet0").out, "inet 198.18.102.2/32");

  // Removing the last address removes the veth; adding one back makes it again, live.
  ASSERT_EQ(berth({"set", id, "--ipdel", "all"}).code, 0);
  EXPECT_FALSE(host_link_exists(id)) << links();
  EXPECT_FALSE(has_route_to("198.18.102.2")) << routes();
  ASSERT_EQ(berth({"set", id, "--ipadd", "198.18.102.3"}).code, 0);
  EXPECT_TRUE(has_route_to("198.18.102.3")) << routes();
  EXPECT_EQ(in_ct(id, "ping -c1 -W3 169.254.0.1").code, 0);
}

// A VPS with IPv4 addresses only: its host end has IPv6 off, so it puts nothing in the host's
// IPv6 table (the kernel walks that whole table whenever a link comes up or goes away: with one
// set of routes per VPS, every start and stop grew with the number of VPSs). A first IPv6
// address, live, turns it on; a restart keeps it on.
TEST_F(NetworkTest, AnIpv4OnlyVpsPutsNothingInTheHostsIpv6Table) {
  if (!std::filesystem::exists("/proc/sys/net/ipv6/conf/all/disable_ipv6"))
    GTEST_SKIP() << "no IPv6 on this host";
  std::string id = create_running_ct({"--ipadd", "198.18.119.1"});
  std::string veth = host_link_name(id);
  ASSERT_FALSE(veth.empty()) << links();
  auto ipv6_off = [&veth] {
    std::ifstream in("/proc/sys/net/ipv6/conf/" + veth + "/disable_ipv6");
    std::string v;
    std::getline(in, v);
    return v;
  };
  EXPECT_EQ(ipv6_off(), "1");
  EXPECT_EQ(ip({"-6", "route", "show", "table", "all", "dev", veth}).out, "");
  EXPECT_EQ(in_ct(id, "ping -c1 -W3 169.254.0.1").code, 0);

  RunResult r = berth({"set", id, "--ipadd", "fd00:119::2", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ipv6_off(), "0");
  EXPECT_TRUE(has_route_to("fd00:119::2")) << routes();
  EXPECT_EQ(in_ct(id, "ping6 -c1 -W3 fe80::1%venet0").code, 0);

  ASSERT_EQ(berth({"restart", id, "--wait"}).code, 0);
  veth = host_link_name(id);
  EXPECT_EQ(ipv6_off(), "0");
  EXPECT_TRUE(has_route_to("fd00:119::2")) << routes();
  EXPECT_EQ(in_ct(id, "ping6 -c1 -W3 fe80::1%venet0").code, 0);
  EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
}

TEST_F(NetworkTest, AddressOfAnotherCtIs78AndChangesNothing) {
  // c is made before a runs: create refuses an address another CT routes (ipadd_test.cc).
  std::string c = create_ct({"--ipadd", "198.18.103.1"});
  std::string a = create_running_ct({"--ipadd", "198.18.103.1"});
  std::string b = create_running_ct({"--ipadd", "198.18.103.2"});
  std::string before = conf(b), routes_before = routes_with("198.18.103.");
  RunResult r = berth({"set", b, "--ipadd", "198.18.103.1", "--save"});
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_EQ(conf(b), before);
  EXPECT_EQ(routes_with("198.18.103."), routes_before);
  // At start, too: the CT does not start and leaves nothing.
  r = berth({"start", c});
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_FALSE(host_link_exists(c)) << links();
  EXPECT_PRED2(contains, status_line(c), "down");
  EXPECT_TRUE(has_route_to("198.18.103.1"));
  (void)a;
}

// The whole test in a private network namespace that plays the host: forwarding is enabled
// there (never on the real host), so the CTs reach each other through their host ends. A veth
// "uplink" checks NEIGHBOUR_DEVS proxy entries.
class NetnsNetworkTest : public NetworkTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "integration tests need root";
    host_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(host_ns_, 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET)";
    ASSERT_EQ(ip({"link", "set", "lo", "up"}).code, 0);
    for (const char* f :
         {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"}) {
      std::ofstream(f) << "1\n";
      ASSERT_EQ(read_text(f), "1\n") << f;
    }
    // No dummy driver on every kernel: a veth pair (its other end stays here too) is the uplink.
    ASSERT_EQ(ip({"link", "add", "uplnk0", "type", "veth", "peer", "name", "uplnk1"}).code, 0);
    ASSERT_EQ(ip({"link", "set", "uplnk0", "up"}).code, 0);
    NetworkTest::SetUp();
    std::ofstream(root() + "/etc/berth/berth.conf", std::ios::app)
        << "NEIGHBOUR_DEVS=\"list:uplnk0\"\n";
  }
  void TearDown() override {
    NetworkTest::TearDown();
    if (host_ns_ >= 0) {
      EXPECT_EQ(::setns(host_ns_, CLONE_NEWNET), 0);
      ::close(host_ns_);
    }
  }
  int host_ns_ = -1;
};

TEST_F(NetnsNetworkTest, TwoRoutedCtsTalk) {
  ASSERT_EQ(read_text("/proc/sys/net/ipv4/ip_forward"), "1\n");
  std::string a = create_running_ct({"--ipadd", "198.18.110.1", "--ipadd", "fd00:110::1"});
  std::string b = create_running_ct({"--ipadd", "198.18.110.2", "--ipadd", "fd00:110::2"});
  std::string proxy = ip({"neigh", "show", "proxy"}).out + ip({"-6", "neigh", "show", "proxy"}).out;
  for (const char* addr : {"198.18.110.1", "198.18.110.2", "fd00:110::1", "fd00:110::2"})
    EXPECT_PRED2(contains, proxy, std::string(addr) + " dev uplnk0");

  EXPECT_EQ(in_ct(a, "ping -c1 -W3 198.18.110.2").code, 0);
  EXPECT_EQ(in_ct(b, "ping -c1 -W3 198.18.110.1").code, 0);
  EXPECT_EQ(in_ct(a, "ping6 -c1 -W3 fd00:110::2").code, 0);
  EXPECT_EQ(in_ct(a, "ping -c1 -W3 169.254.0.1").code, 0);

  // TCP over IPv4 and IPv6: a listener in b, a client in a.
  // One port per round, so a listener of the previous round still closing cannot get in the way.
  int port = 5001;
  for (const char* dst : {"198.18.110.2", "fd00:110::2"}) {
    ++port;
    // The listener is a loop: a connection that got in but carried nothing (a retry racing the
    // listener's start) must not leave the port closed for the retries that follow.
    RunResult l =
        berth({"exec", b,
               "rm -f /tmp/got; (for i in $(seq 30); do nc -l -p " + std::to_string(port) +
                   " >> /tmp/got 2>&1; done </dev/null >/dev/null 2>&1 &) ; sleep 0.3"});
    ASSERT_EQ(l.code, 0) << l.err;
    // The listener may need a moment: retry the client (a refused connection leaves it waiting).
    std::string got;
    for (int i = 0; i < 20 && !contains(got, "hello-from-a"); ++i) {
      (void)in_ct(a,
                  std::string("echo hello-from-a | nc -w 2 ") + dst + " " + std::to_string(port));
      for (int j = 0; j < 10 && !contains(got, "hello-from-a"); ++j) {
        sleep_ms(30);
        got = in_ct(b, "cat /tmp/got").out;
      }
    }
    EXPECT_PRED2(contains, got, "hello-from-a") << dst;
  }

  ASSERT_EQ(berth({"stop", a}).code, 0);
  ASSERT_EQ(berth({"stop", b}).code, 0);
  EXPECT_FALSE(has_route_to("198.18.110.1")) << routes();
  EXPECT_FALSE(has_route_to("fd00:110::2")) << routes();
  proxy = ip({"neigh", "show", "proxy"}).out + ip({"-6", "neigh", "show", "proxy"}).out;
  EXPECT_FALSE(contains(proxy, "198.18.110.")) << proxy;
  EXPECT_FALSE(contains(proxy, "fd00:110::")) << proxy;
  EXPECT_FALSE(host_link_exists(a));
  EXPECT_FALSE(host_link_exists(b));
}

}  // namespace
}  // namespace berth::itest
