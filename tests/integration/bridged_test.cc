// Bridged veths (NETIF), anti-spoofing and isolation, for real, in a private network namespace
// that plays the host: a bridge berthbr0 (198.18.200.1/24, fd00:200::1/64) made here, a "LAN"
// namespace joined to it by a veth (198.18.200.10, fd00:200::10), two routed CTs (198.18.201.x,
// fd00:201::x, reached through the host's routes) and one bridged CT in berthbr0 that configures
// its own addresses from inside (198.18.200.3, fd00:200::3). Forwarding is enabled in the test
// namespace only. Traffic: busybox nc for TCP, berth_probe for UDP (busybox nc has no -u), packet
// capture (sniff) and forged packets (spoof, sendeth).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPathEnv{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

RunResult host_cmd(const std::vector<std::string>& argv) { return run_process(argv, kPathEnv, {}); }
RunResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/sbin/ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return host_cmd(argv);
}

// A CT or the LAN namespace as a traffic end point.
struct Node {
  std::string name;  // "A", "B", "C", "LAN"
  std::string ctid;  // "" for the LAN
  std::string v4, v6;
};

class BridgedTest : public BerthTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "integration tests need root";
    host_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(host_ns_, 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET)";
    for (const char* f : {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding",
                          "/proc/sys/net/ipv6/conf/default/accept_dad"})
      std::ofstream(f) << (std::string(f).find("dad") != std::string::npos ? "0\n" : "1\n");
    ASSERT_EQ(read_text("/proc/sys/net/ipv4/ip_forward"), "1\n");
    ASSERT_EQ(ip({"link", "set", "lo", "up"}).code, 0);
    ASSERT_EQ(ip({"link", "add", "berthbr0", "type", "bridge"}).code, 0);
    ASSERT_EQ(ip({"link", "set", "berthbr0", "up"}).code, 0);
    ASSERT_EQ(ip({"addr", "add", "198.18.200.1/24", "dev", "berthbr0"}).code, 0);
    ASSERT_EQ(ip({"addr", "add", "fd00:200::1/64", "dev", "berthbr0", "nodad"}).code, 0);
    // The LAN: a process in its own network namespace, one end of a veth whose other end is a
    // port of berthbr0.
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    lan_pid_ = ::fork();
    ASSERT_GE(lan_pid_, 0);
    if (lan_pid_ == 0) {
      ::close(ready[0]);
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
      (void)!::write(ready[1], "x", 1);
      while (true) ::pause();
    }
    ::close(ready[1]);
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    ASSERT_EQ(ip({"link", "add", "lan0", "type", "veth", "peer", "name", "lan1"}).code, 0);
    ASSERT_EQ(ip({"link", "set", "lan1", "netns", std::to_string(lan_pid_)}).code, 0);
    ASSERT_EQ(ip({"link", "set", "lan0", "master", "berthbr0", "up"}).code, 0);
    for (auto args : std::vector<std::vector<std::string>>{
             {"link", "set", "lo", "up"},
             {"link", "set", "lan1", "up"},
             {"addr", "add", "198.18.200.10/24", "dev", "lan1"},
             {"addr", "add", "fd00:200::10/64", "dev", "lan1", "nodad"},
             {"route", "add", "198.18.201.0/24", "via", "198.18.200.1"},
             {"-6", "route", "add", "fd00:201::/64", "via", "fd00:200::1"}}) {
      args.insert(args.begin(), "/usr/sbin/ip");
      RunResult r = lan(args);
      ASSERT_EQ(r.code, 0) << r.err;
    }
    BerthTest::SetUp();
    // Routed CTs' addresses get proxy ARP/NDP entries on the bridge (checked, and their removal).
    std::ofstream(root() + "/etc/berth/berth.conf", std::ios::app)
        << "NEIGHBOUR_DEVS=\"list:berthbr0\"\n";
  }

  void TearDown() override {
    BerthTest::TearDown();
    for (pid_t p : background_) {
      ::kill(-p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    if (lan_pid_ > 0) {
      ::kill(lan_pid_, SIGKILL);
      ::waitpid(lan_pid_, nullptr, 0);
    }
    if (host_ns_ >= 0) {
      EXPECT_EQ(::setns(host_ns_, CLONE_NEWNET), 0);
      ::close(host_ns_);
    }
  }

  // A command in the LAN namespace.
  RunResult lan(const std::vector<std::string>& argv) {
    std::vector<std::string> a{"/usr/bin/nsenter", "-t", std::to_string(lan_pid_), "-n"};
    a.insert(a.end(), argv.begin(), argv.end());
    return host_cmd(a);
  }
  // A background command in the LAN namespace (its own process group, killed at TearDown), all
  // output appended to out.
  void lan_background(const std::vector<std::string>& argv, const std::string& out) {
    std::vector<std::string> a{"/usr/bin/nsenter", "-t", std::to_string(lan_pid_), "-n"};
    a.insert(a.end(), argv.begin(), argv.end());
    pid_t p = ::fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      ::setpgid(0, 0);
      int in = ::open("/dev/null", O_RDONLY);
      int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (in < 0 || fd < 0) ::_exit(127);
      ::dup2(in, 0);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (auto& s : a) args.push_back(s.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    background_.push_back(p);
  }

  RunResult in_ct(const std::string& ctid, const std::string& cmd) {
    return berth({"exec", ctid, cmd});
  }
  std::string conf(const std::string& ctid) { return read_text(conf_path(ctid)); }
  void install_probe(const std::string& ctid) {
    std::error_code ec;
    fs::copy_file(BERTH_PROBE, ve_root(ctid) + "/sbin/berth_probe",
                  fs::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // TCP (port 7000, busybox nc) and UDP (port 7001, berth_probe) listeners on a node, appending
  // what they get to its `got` file. Loops and retries make them robust to start-up races.
  void listen_on(const Node& n) {
    if (n.ctid.empty()) {
      lan_background(
          {"/bin/busybox", "sh", "-c", "while true; do /bin/busybox nc -l -p 7000; done"},
          lan_got());
      lan_background({BERTH_PROBE, "udp-listen", "7001", "120000"}, lan_got());
      return;
    }
    RunResult r = in_ct(
        n.ctid,
        "rm -f /tmp/got; (while true; do nc -l -p 7000; done </dev/null >>/tmp/got 2>/dev/null &);"
        " (/sbin/berth_probe udp-listen 7001 120000 </dev/null >>/tmp/got 2>/dev/null &); sleep "
        "0.2");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  std::string lan_got() const { return root() + "/lan-got"; }
  std::string got(const Node& n) {
    if (n.ctid.empty()) return read_text(lan_got());
    return in_ct(n.ctid, "cat /tmp/got 2>/dev/null").out;
  }
  // from sends a tagged message to `to` at addr over proto ("tcp" or "udp"); true once `to` got it.
  bool deliver(const Node& from, const Node& to, const std::string& addr,
               const std::string& proto) {
    std::string tag = "msg-" + from.name + "-" + to.name + "-" + proto + "-" + addr;
    std::string cmd = proto == "tcp" ? "echo " + tag + " | nc -w 2 " + addr + " 7000"
                                     : "/sbin/berth_probe udp-send " + addr + " 7001 " + tag + " 2";
    for (int i = 0; i < 15; ++i) {
      (void)in_ct(from.ctid, cmd);
      for (int j = 0; j < 5; ++j) {
        if (contains(got(to), tag)) return true;
        sleep_ms(40);
      }
    }
    return false;
  }

  // sniff in a CT in the background for ms; the result is read with sniff_result.
  void sniff_start(const std::string& ctid, const std::string& file, int ms,
                   const std::vector<std::string>& match) {
    std::string cmd = "(/sbin/berth_probe sniff " + std::to_string(ms);
    for (const auto& m : match) cmd += " " + m;
    cmd += " </dev/null >" + file + " 2>/dev/null &); sleep 0.2";
    RunResult r = in_ct(ctid, cmd);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // The count a sniff found; -1 when it did not finish.
  long sniff_result(const std::string& ctid, const std::string& file) {
    for (int i = 0; i < 100; ++i) {
      std::string out = in_ct(ctid, "cat " + file + " 2>/dev/null").out;
      if (contains(out, "count")) return nlohmann::json::parse(out)["count"].get<long>();
      sleep_ms(50);
    }
    return -1;
  }
  // The same in the LAN namespace: sniff for ms while traffic() runs; returns the count.
  long lan_sniff(int ms, const std::vector<std::string>& match,
                 const std::function<void()>& traffic) {
    std::string out = root() + "/lan-sniff-" + std::to_string(sniffs_++);
    std::vector<std::string> argv{BERTH_PROBE, "sniff", std::to_string(ms)};
    argv.insert(argv.end(), match.begin(), match.end());
    lan_background(argv, out);
    for (int i = 0; i < 100 && !contains(read_text(out), "sniffing"); ++i) sleep_ms(10);
    traffic();
    for (int i = 0; i < 200; ++i) {
      std::string text = read_text(out);
      if (auto p = text.find('{'); p != std::string::npos)
        return nlohmann::json::parse(text.substr(p))["count"].get<long>();
      sleep_ms(20);
    }
    return -1;
  }

  std::string nft_tables() { return host_cmd({"/usr/sbin/nft", "list", "tables"}).out; }
  // The instance's shared inet table (routed CTs' chains), "" when there is none.
  std::string shared_filter() {
    return host_cmd({"/usr/sbin/nft", "list", "table", "inet", "berth-" + instance()}).out;
  }
  // The addresses of one CT's (host end, address) pairs in the inet table's sets, one a line.
  std::string ct_filter(const std::string& ctid) {
    std::string out, all = shared_filter();
    const std::string key = ctid + "\" . ";
    for (size_t p = all.find(key); p != std::string::npos; p = all.find(key, p + 1)) {
      size_t b = p + key.size(), e = all.find_first_of(",\n }", b);
      out += all.substr(b, e - b) + "\n";
    }
    return out;
  }
  std::string arp_filter() {
    return host_cmd({"/usr/sbin/nft", "list", "table", "arp", "berth-" + instance()}).out;
  }
  std::string links() { return ip({"-o", "-d", "link", "show"}).out; }
  std::string routes() { return ip({"route", "show"}).out + ip({"-6", "route", "show"}).out; }
  std::string neigh_proxies() {
    return ip({"neigh", "show", "proxy"}).out + ip({"-6", "neigh", "show", "proxy"}).out;
  }
  std::string ct_mac(const std::string& ctid, const std::string& ifname) {
    // NETIF's mac for ifname, as saved.
    std::string c = conf(ctid);
    auto p = c.find("ifname=" + ifname + ",");
    if (p == std::string::npos) return "";
    auto m = c.find("mac=", p);
    return m == std::string::npos ? "" : c.substr(m + 4, 17);
  }

  int host_ns_ = -1;
  pid_t lan_pid_ = -1;
  std::vector<pid_t> background_;
  int sniffs_ = 0;
};

TEST_F(BridgedTest, RoutedAndBridgedCtsTalkAreIsolatedAndCannotSpoof) {
  Node a{"A", create_running_ct({"--ipadd", "198.18.201.1", "--ipadd", "fd00:201::1"}),
         "198.18.201.1", "fd00:201::1"};
  Node b{"B", create_running_ct({"--ipadd", "198.18.201.2", "--ipadd", "fd00:201::2"}),
         "198.18.201.2", "fd00:201::2"};
  Node c{"C", create_ct(), "198.18.200.3", "fd00:200::3"};
  Node l{"LAN", "", "198.18.200.10", "fd00:200::10"};
  RunResult r = berth({"set", c.ctid, "--netif_add", "eth0,,,,berthbr0", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = berth({"set", c.ctid, "--ifname", "eth0", "--mac_filter", "on", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  // NETIF as vzctl writes it: generated MACs with OpenVZ's OUI, host end veth<CTID>.0.
  std::string host_end = "veth" + c.ctid + ".0";
  EXPECT_PRED2(matches, conf(c.ctid),
               "[^]*\nNETIF=\"ifname=eth0,bridge=berthbr0,mac=00:18:51:[0-9A-F:]{8},host_ifname=" +
                   host_end + ",host_mac=00:18:51:[0-9A-F:]{8},mac_filter=on\"\n[^]*");
  std::string mac = ct_mac(c.ctid, "eth0");
  ASSERT_EQ(berth({"start", c.ctid, "--wait"}).code, 0);
  // Inside: eth0 with NETIF's MAC; on the host its end is a port of berthbr0.
  RunResult e = in_ct(c.ctid, "ip -o link show eth0");
  ASSERT_EQ(e.code, 0) << e.err;
  std::string lower_mac = mac;
  for (char& ch : lower_mac) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_PRED2(contains, e.out, "link/ether " + lower_mac);
  EXPECT_PRED2(contains, ip({"-o", "link", "show", host_end}).out, "master berthbr0");
  r = in_ct(c.ctid,
            "echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null; ip addr add "
            "198.18.200.3/24 dev eth0 &&"
            " ip -6 addr add fd00:200::3/64 dev eth0 && ip route add default via 198.18.200.1 &&"
            " ip -6 route add default via fd00:200::1");
  ASSERT_EQ(r.code, 0) << r.err;
  // The filters: the instance's inet and arp tables with each routed CT's (host end, address)
  // pairs in their sets, a bridge table for C's mac_filter.
  std::string tables = nft_tables();
  EXPECT_PRED2(contains, tables, "table inet berth-" + instance() + "\n");
  EXPECT_PRED2(contains, tables, "table arp berth-" + instance() + "\n");
  std::string shared = shared_filter(), arp = arp_filter();
  for (const auto& n : {a, b}) {
    EXPECT_PRED2(contains, shared, n.ctid + "\" . " + n.v4);
    EXPECT_PRED2(contains, shared, n.ctid + "\" . " + n.v6);
    EXPECT_PRED2(contains, arp, n.ctid + "\" . " + n.v4);
  }
  EXPECT_PRED2(contains, tables, "table bridge berth-" + instance() + "-" + c.ctid);

  // Every CT reaches every other one and the LAN, IPv4 and IPv6, TCP and UDP.
  for (const auto& n : {a, b, c}) install_probe(n.ctid);
  for (const auto& n : {a, b, c, l}) listen_on(n);
  std::vector<std::pair<Node, Node>> pairs{{a, b}, {a, c}, {a, l}, {b, a}, {b, c},
                                           {b, l}, {c, a}, {c, b}, {c, l}};
  for (const auto& [from, to] : pairs)
    for (const auto& addr : {to.v4, to.v6})
      for (const char* proto : {"tcp", "udp"})
        EXPECT_TRUE(deliver(from, to, addr, proto))
            << from.name << " -> " << to.name << " " << addr << " " << proto;

  // Isolation: a CT's capture sees none of the traffic between the other two and the LAN, while
  // it does see its own (so the capture works).
  auto ping_lan = [&](const Node& from) {
    (void)in_ct(from.ctid,
                "ping -c 3 -i 0.2 -W 1 198.18.200.10; ping6 -c 3 -i 0.2 -W 1 fd00:200::10");
  };
  for (const auto& [me, x, y] : {std::tuple{a, b, c}, std::tuple{c, a, b}}) {
    // The windows are long enough for all the traffic even on a loaded machine; its own comes
    // first, so the positive check never depends on the timing.
    sniff_start(me.ctid, "/tmp/others", 5000, {x.v4, x.v6, y.v4, y.v6});
    sniff_start(me.ctid, "/tmp/own", 5000, {me.v4});
    (void)lan({"/bin/busybox", "ping", "-c", "3", "-i", "0.2", "-W", "1", me.v4});
    ping_lan(x);
    ping_lan(y);
    EXPECT_EQ(sniff_result(me.ctid, "/tmp/others"), 0) << me.name << " saw others' traffic";
    EXPECT_GT(sniff_result(me.ctid, "/tmp/own"), 0)
        << me.name << "'s capture saw nothing of its own";
  }

  // Anti-spoofing: A's packets with B's address (or any other) as source never reach the LAN,
  // IPv4 and IPv6; the same packets with A's own addresses do.
  long forged =
      lan_sniff(1500, {"198.18.201.2", "198.18.201.99", "fd00:201::2", "fd00:201::99"}, [&] {
        for (const char* src : {"198.18.201.2", "198.18.201.99"})
          (void)in_ct(a.ctid,
                      std::string("/sbin/berth_probe spoof ") + src + " 198.18.200.10 7009 5");
        for (const char* src : {"fd00:201::2", "fd00:201::99"})
          (void)in_ct(a.ctid,
                      std::string("/sbin/berth_probe spoof ") + src + " fd00:200::10 7009 5");
      });
  EXPECT_EQ(forged, 0);
  // The same under a rate limit, whose ingress redirect sends A's packets through its ifb; the
  // genuine ones below pass with it.
  ASSERT_EQ(berth({"set", a.ctid, "--rate", "*:1:100000"}).code, 0);
  long forged_shaped = lan_sniff(1500, {"198.18.201.2", "fd00:201::2"}, [&] {
    (void)in_ct(a.ctid, "/sbin/berth_probe spoof 198.18.201.2 198.18.200.10 7009 5");
    (void)in_ct(a.ctid, "/sbin/berth_probe spoof fd00:201::2 fd00:200::10 7009 5");
  });
  EXPECT_EQ(forged_shaped, 0);
  long genuine = lan_sniff(1500, {"198.18.201.1"}, [&] {
    (void)in_ct(a.ctid, "/sbin/berth_probe spoof 198.18.201.1 198.18.200.10 7009 5");
  });
  EXPECT_GT(genuine, 0);
  long genuine6 = lan_sniff(1500, {"fd00:201::1"}, [&] {
    (void)in_ct(a.ctid, "/sbin/berth_probe spoof fd00:201::1 fd00:200::10 7009 5");
  });
  EXPECT_GT(genuine6, 0);
  ASSERT_EQ(berth({"set", a.ctid, "--rate", "*:1:0"}).code, 0);
  // ARP naming another address as sender never reaches the host's neighbour table.
  r = in_ct(a.ctid, "/sbin/berth_probe sendarp venet0 198.18.201.99 169.254.0.1 3");
  EXPECT_EQ(r.code, 0) << r.err;
  sleep_ms(100);
  EXPECT_EQ(ip({"neigh", "show", "198.18.201.99"}).out, "");

  // mac_filter: C's frames with a forged source MAC are dropped; with mac_filter off they pass.
  auto forged_frames = [&] {
    return lan_sniff(1200, {"02:00:00:00:be:99"}, [&] {
      (void)in_ct(c.ctid, "/sbin/berth_probe sendeth eth0 02:00:00:00:be:99 ff:ff:ff:ff:ff:ff 5");
    });
  };
  EXPECT_EQ(forged_frames(), 0);
  EXPECT_GT(lan_sniff(1200, {mac},
                      [&] {
                        (void)in_ct(c.ctid, "/sbin/berth_probe sendeth eth0 " + mac +
                                                " ff:ff:ff:ff:ff:ff 5");
                      }),
            0);
  ASSERT_EQ(berth({"set", c.ctid, "--ifname", "eth0", "--mac_filter", "off"}).code, 0);
  EXPECT_FALSE(contains(nft_tables(), "table bridge berth-" + instance() + "-" + c.ctid));
  EXPECT_GT(forged_frames(), 0);
  ASSERT_EQ(berth({"set", c.ctid, "--ifname", "eth0", "--mac_filter", "on"}).code, 0);
  EXPECT_EQ(forged_frames(), 0);

  std::string proxies = neigh_proxies();
  for (const auto& n : {a, b}) {
    EXPECT_PRED2(contains, proxies, n.v4 + " dev berthbr0");
    EXPECT_PRED2(contains, proxies, n.v6 + " dev berthbr0");
  }

  // Teardown leaves nothing: links, routes, neighbour entries, filters, qdiscs. The instance's
  // two tables stay while its CTs exist (a start does not make them again); a stopped routed
  // CT's elements stay in them (they name its host end, gone with it; a start adds them again),
  // and go with its destroy; the tables go with the destroy of the last CT.
  for (const auto& n : {a, b, c}) ASSERT_EQ(berth({"stop", n.ctid}).code, 0);
  EXPECT_PRED2(contains, nft_tables(), "table inet berth-" + instance() + "\n");
  EXPECT_PRED2(contains, nft_tables(), "table arp berth-" + instance() + "\n");
  EXPECT_FALSE(contains(nft_tables(), "table bridge berth-" + instance() + "-" + c.ctid));
  for (const auto& n : {a, b}) EXPECT_EQ(ct_filter(n.ctid), n.v4 + "\n" + n.v6 + "\n");
  EXPECT_EQ(ct_filter(c.ctid), "") << shared_filter();
  // Started again, a CT is filtered as before (its elements once each).
  ASSERT_EQ(berth({"start", a.ctid, "--wait"}).code, 0);
  EXPECT_EQ(ct_filter(a.ctid), a.v4 + "\n" + a.v6 + "\n");
  ASSERT_EQ(berth({"stop", a.ctid}).code, 0);
  // A firewall reload (`nft flush ruleset`) while the CTs are stopped takes the tables and the
  // kept elements with it: the next start makes both again, so the CT never runs unfiltered.
  for (const char* family : {"inet", "arp"})
    ASSERT_EQ(host_cmd({"/usr/sbin/nft", "delete", "table", family, "berth-" + instance()}).code,
              0);
  ASSERT_EQ(berth({"start", b.ctid, "--wait"}).code, 0);
  EXPECT_EQ(ct_filter(b.ctid), b.v4 + "\n" + b.v6 + "\n");
  EXPECT_PRED2(contains, arp_filter(), b.v4);
  ASSERT_EQ(berth({"stop", b.ctid}).code, 0);
  // Destroy removes a CT's elements (and one whose elements went with the tables is fine).
  ASSERT_EQ(berth({"destroy", a.ctid}).code, 0);
  EXPECT_PRED2(contains, arp_filter(), b.v4);
  ASSERT_EQ(berth({"destroy", b.ctid}).code, 0);
  EXPECT_EQ(ct_filter(b.ctid), "") << shared_filter();
  EXPECT_FALSE(contains(arp_filter(), "198.18.201.")) << arp_filter();
  EXPECT_PRED2(contains, nft_tables(), "table inet berth-" + instance() + "\n");
  ASSERT_EQ(berth({"destroy", c.ctid}).code, 0);
  EXPECT_FALSE(contains(links(), "berth:" + instance() + ":")) << links();
  EXPECT_FALSE(contains(links(), host_end)) << links();
  EXPECT_FALSE(contains(routes(), "198.18.201.")) << routes();
  EXPECT_FALSE(contains(routes(), "fd00:201::")) << routes();
  EXPECT_FALSE(contains(nft_tables(), "berth-" + instance())) << nft_tables();
  EXPECT_FALSE(contains(neigh_proxies(), "198.18.201.")) << neigh_proxies();
  EXPECT_FALSE(contains(neigh_proxies(), "fd00:201::")) << neigh_proxies();
  std::string qdiscs = host_cmd({"/usr/sbin/tc", "qdisc", "show"}).out;
  EXPECT_FALSE(contains(qdiscs, "veth" + c.ctid)) << qdiscs;
  EXPECT_FALSE(contains(qdiscs, "dev vb")) << qdiscs;
}

TEST_F(BridgedTest, LiveChangesRestartAndBadInput) {
  std::string a = create_running_ct({"--ipadd", "198.18.202.1", "--ipadd", "fd00:202::1"});
  std::string c = create_running_ct({"--netif_add", "eth0,,,,berthbr0"});
  // /etc/hosts names the first address.
  EXPECT_PRED2(contains, in_ct(a, "cat /etc/hosts").out, "198.18.202.1 ct" + a);

  // Live --ipadd / --ipdel: routes, addresses inside, and the anti-spoofing set follow.
  RunResult r = berth({"set", a, "--ipadd", "198.18.202.5", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, routes(), "198.18.202.5 dev");
  EXPECT_PRED2(contains, in_ct(a, "ip addr show venet0").out, "inet 198.18.202.5/32");
  EXPECT_PRED2(contains, ct_filter(a), "198.18.202.5");
  r = berth({"set", a, "--ipdel", "198.18.202.1", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(contains(routes(), "198.18.202.1 dev"));
  EXPECT_FALSE(matches(ct_filter(a), "[^]*198[.]18[.]202[.]1[^0-9][^]*")) << ct_filter(a);
  EXPECT_PRED2(contains, ct_filter(a), "198.18.202.5");
  // The first address changed: /etc/hosts follows, live.
  EXPECT_PRED2(contains, in_ct(a, "cat /etc/hosts").out, "fd00:202::1 ct" + a);

  // Live --netif_add / --netif_del on the running bridged CT.
  r = berth({"set", c, "--netif_add", "eth1,,,,berthbr0", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, ip({"-o", "link", "show", "veth" + c + ".1"}).out, "master berthbr0");
  EXPECT_EQ(in_ct(c, "ip link show eth1").code, 0);
  r = berth({"set", c, "--netif_del", "eth1", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(contains(links(), "veth" + c + ".1"));
  EXPECT_NE(in_ct(c, "ip link show eth1 2>/dev/null").code, 0);

  // Restart keeps addresses (routed) and the veth with its MAC (bridged).
  std::string mac = ct_mac(c, "eth0");
  ASSERT_EQ(berth({"restart", a, "--wait"}).code, 0);
  ASSERT_EQ(berth({"restart", c, "--wait"}).code, 0);
  EXPECT_PRED2(contains, in_ct(a, "ip addr show venet0").out, "inet 198.18.202.5/32");
  EXPECT_PRED2(contains, in_ct(a, "ip addr show venet0").out, "inet6 fd00:202::1/128");
  std::string lower_mac = mac;
  for (char& ch : lower_mac) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_PRED2(contains, in_ct(c, "ip -o link show eth0").out, "link/ether " + lower_mac);
  EXPECT_PRED2(contains, ip({"-o", "link", "show", "veth" + c + ".0"}).out, "master berthbr0");

  // DHCP on the bridge: the template's udhcpc script configures eth0 from a server in the LAN.
  std::string dhcp_conf = root() + "/udhcpd.conf";
  std::ofstream(dhcp_conf)
      << "start 198.18.200.50\nend 198.18.200.60\ninterface lan1\nlease_file " << root()
      << "/udhcpd.leases\npidfile " << root() << "/udhcpd.pid\noption subnet 255.255.255.0\n"
      << "option router 198.18.200.1\noption dns 198.18.200.10\noption domain lan.test\n";
  std::ofstream(root() + "/udhcpd.leases").flush();
  lan_background({"/bin/busybox", "udhcpd", "-f", dhcp_conf}, root() + "/udhcpd.log");
  r = in_ct(c, "udhcpc -i eth0 -n -q -t 10 -T 1 </dev/null >/dev/null 2>&1");
  EXPECT_EQ(r.code, 0) << read_text(root() + "/udhcpd.log");
  EXPECT_PRED2(matches, in_ct(c, "ip -4 -o addr show eth0").out,
               "[^]*inet 198[.]18[.]200[.](5[0-9]|60)/24[^]*");
  EXPECT_PRED2(contains, in_ct(c, "ip route").out, "default via 198.18.200.1");
  EXPECT_PRED2(contains, in_ct(c, "cat /etc/resolv.conf").out, "nameserver 198.18.200.10");
  EXPECT_EQ(in_ct(c, "ping -c1 -W3 198.18.200.10").code, 0);

  // NAMESERVER/SEARCHDOMAIN `inherit`: the host's values, live.
  r = berth({"set", a, "--nameserver", "inherit", "--searchdomain", "inherit"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string ct_resolv = in_ct(a, "cat /etc/resolv.conf").out;
  for (const auto& line : split_lines(read_text("/etc/resolv.conf"))) {
    if (line.rfind("nameserver ", 0) == 0) {
      EXPECT_PRED2(contains, ct_resolv, line);
    }
  }
  EXPECT_FALSE(contains(ct_resolv, "inherit")) << ct_resolv;

  // Bad input: vzctl's exit codes, and nothing changes.
  std::string before_a = conf(a), before_c = conf(c);
  EXPECT_EQ(berth({"set", a, "--ipadd", "300.1.1.1", "--save"}).code, 71);
  std::string b = create_running_ct({"--ipadd", "198.18.202.2"});
  std::string before_b = conf(b);
  r = berth({"set", b, "--ipadd", "198.18.202.5", "--save"});
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_EQ(conf(b), before_b);
  r = berth({"set", c, "--netif_add", "eth2,,,,nosuchbr0", "--save"});
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_PRED2(contains, r.err, "nosuchbr0");
  EXPECT_EQ(conf(a), before_a);
  EXPECT_EQ(conf(c), before_c);
  EXPECT_FALSE(contains(links(), "veth" + c + ".2"));
  // At start: a bridge that does not exist stops the start, and nothing is left behind.
  std::string d = create_ct({"--ipadd", "198.18.202.9", "--netif_add", "eth0,,,,nosuchbr0"});
  r = berth({"start", d});
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_PRED2(contains, status_line(d), "down");
  EXPECT_FALSE(contains(links(), "berth:" + instance() + ":" + d)) << links();
  EXPECT_FALSE(contains(routes(), "198.18.202.9")) << routes();
  EXPECT_FALSE(contains(nft_tables(), "berth-" + instance() + "-" + d)) << nft_tables();
  EXPECT_FALSE(contains(shared_filter(), d + "\" .")) << shared_filter();
  // A start that fails after its filter was made (the address is a's: 78) removes the filter.
  // create refuses a's address, so it comes by hand, as an admin's editor would write it.
  std::string f = create_ct({"--ipadd", "198.18.202.6"});
  {
    std::string text = conf(f);
    text.replace(text.find("198.18.202.6"), 12, "198.18.202.5");
    std::ofstream(conf_path(f), std::ios::trunc) << text;
  }
  r = berth({"start", f});
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_FALSE(contains(nft_tables(), "berth-" + instance() + "-" + f)) << nft_tables();
  EXPECT_FALSE(contains(shared_filter(), f + "\" .")) << shared_filter();
  EXPECT_FALSE(contains(arp_filter(), f + "\" .")) << arp_filter();
  EXPECT_PRED2(contains, shared_filter(), a + "\" . 198.18.202.5");  // a's filter is still there
  EXPECT_FALSE(contains(links(), "alias berth:" + instance() + ":" + f)) << links();
}

}  // namespace
}  // namespace berth::itest
