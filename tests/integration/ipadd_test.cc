// --ipadd against the host: the attacks of "a VPS given the host's gateway receives the host's
// traffic for it". A fake "host LAN" lives in the host's network namespace for each test (a veth
// whose peer stays down, as no dummy driver is on every kernel, so nothing is ever sent):
//
//   bt50d0  198.18.50.2/24, fd00:50::2/64         the host's LAN address
//   198.19.50.0/24 via 198.18.50.1                  the LAN's router is a gateway of the host
//   fd00:50::8000/113 via fd00:50::1                the same in IPv6
//   neighbour 198.18.50.7, fd00:50::7 (permanent)   another machine on the LAN
//
// Every refused address must leave nothing behind: no config (create), an unchanged config and
// no route (set), a CT that stays down (start).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "harness.h"

extern char** environ;

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

RunResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/sbin/ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, {});
}

std::string routes() { return ip({"route", "show"}).out + ip({"-6", "route", "show"}).out; }
bool has_route_to(const std::string& addr) {
  for (const auto& l : split_lines(routes()))
    if (l.rfind(addr + " ", 0) == 0) return true;
  return false;
}
std::string proxies() {
  return ip({"neigh", "show", "proxy"}).out + ip({"-6", "neigh", "show", "proxy"}).out;
}

// The fake LAN, owned: the link (and with it its addresses, routes and neighbours) goes in the
// destructor, also when the test fails half-way.
class FakeLan {
 public:
  static constexpr const char* kDev = "bt50d0";
  FakeLan() {
    (void)ip({"link", "del", kDev});  // left by a killed run
    for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
             {"link", "add", kDev, "type", "veth", "peer", "name", "bt50d1"},
             {"link", "set", kDev, "up"},
             {"addr", "add", "198.18.50.2/24", "dev", kDev},
             {"-6", "addr", "add", "fd00:50::2/64", "dev", kDev, "nodad"},
             {"route", "add", "198.19.50.0/24", "via", "198.18.50.1", "dev", kDev},
             {"-6", "route", "add", "fd00:50::8000/113", "via", "fd00:50::1", "dev", kDev},
             {"neigh", "add", "198.18.50.7", "lladdr", "02:00:00:00:50:07", "dev", kDev, "nud",
              "permanent"},
             {"-6", "neigh", "add", "fd00:50::7", "lladdr", "02:00:00:00:50:07", "dev", kDev, "nud",
              "permanent"},
         }) {
      RunResult r = ip(cmd);
      if (r.code != 0) {
        error_ = "ip " + ::testing::PrintToString(cmd) + ": " + r.err;
        return;
      }
    }
  }
  ~FakeLan() { (void)ip({"link", "del", kDev}); }
  FakeLan(const FakeLan&) = delete;
  FakeLan& operator=(const FakeLan&) = delete;
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// A second Berth instance on the same host (its own BERTH_ROOT and CGROUP_PARENT), owned: its CTs
// are stopped and destroyed and its root removed in the destructor.
class OtherInstance {
 public:
  explicit OtherInstance(const std::string& like_root, const std::string& instance)
      : root_(like_root + "-other"), instance_(instance) {
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::create_directories(root_ + "/etc/berth");
    fs::create_directories(root_ + "/var/lib/berth/template");
    fs::copy(like_root + "/var/lib/berth/template/cache", root_ + "/var/lib/berth/template/cache",
             ec);
    for (std::string p = root_ + "/var/lib/berth/template/cache"; p.size() > 4;
         p = fs::path(p).parent_path())
      fs::permissions(p, fs::perms(0755), ec);
    std::ofstream(root_ + "/etc/berth/berth.conf") << "CGROUP_PARENT=\"" << instance_ << "\"\n";
  }
  ~OtherInstance() {
    for (const auto& id : ctids_) {
      (void)berth({"stop", id, "--fast"});
      (void)berth({"destroy", id});
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
    // Nothing of it may stay on the host: its veths carry "berth:<instance>:". The routed veths
    // go with the stopped CTs' network namespaces, which the kernel takes down in the background
    // (stop and destroy do not wait for it): up to 5 s.
    std::vector<std::string> left;
    for (int i = 0; i < 50; ++i) {
      left.clear();
      for (const auto& link : fs::directory_iterator("/sys/class/net", ec)) {
        std::string alias = read_text(link.path().string() + "/ifalias");
        if (alias.rfind("berth:" + instance_ + ":", 0) == 0) left.push_back(link.path());
      }
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(left.empty()) << "leaked links " << ::testing::PrintToString(left);
    // ... nor its cgroup parent (v2: /sys/fs/cgroup/<instance>; v1: one per hierarchy).
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/" + instance_));
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec))
      EXPECT_FALSE(fs::exists(h.path() / instance_)) << "leaked cgroup " << (h.path() / instance_);
  }
  RunResult berth(const std::vector<std::string>& args) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "BERTH_ROOT=", 11) != 0) env.emplace_back(*e);
    env.push_back("BERTH_ROOT=" + root_);
    std::vector<std::string> argv{BERTH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, env, {});
  }
  void track(const std::string& id) { ctids_.push_back(id); }
  const std::string& instance() const { return instance_; }

 private:
  std::string root_, instance_;
  std::vector<std::string> ctids_;
};

class IpaddTest : public BerthTest {
 protected:
  void SetUp() override {
    BerthTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // The fake LAN is one host-wide device with fixed addresses: ctest runs tests of this program
    // side by side, so one IpaddTest at a time: a lock on the test program's own file (it leaves
    // nothing behind, and it goes with the fd when the test ends).
    lock_fd_ = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(lock_fd_, 0) << std::strerror(errno);
    ASSERT_EQ(::flock(lock_fd_, LOCK_EX), 0) << std::strerror(errno);
    lan_ = std::make_unique<FakeLan>();
    ASSERT_EQ(lan_->error(), "");
    std::ofstream(root() + "/etc/berth/berth.conf", std::ios::app) << "NEIGHBOUR_DEVS=\"bt50d0\"\n";
  }
  void TearDown() override {
    BerthTest::TearDown();  // CTs first: their proxy entries are on the fake LAN's device
    lan_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
  }
  int lock_fd_ = -1;
  // `create` with the given address options; the CT is registered for TearDown either way.
  RunResult create_with(const std::vector<std::string>& extra, std::string* id_out = nullptr) {
    std::string id = new_ctid();
    if (id_out) *id_out = id;
    std::vector<std::string> args{"create", id, "--ostemplate", "busybox"};
    args.insert(args.end(), extra.begin(), extra.end());
    return berth(args);
  }
  std::string conf(const std::string& id) { return read_text(conf_path(id)); }
  // Edit the CT's config by hand, as an admin with an editor would: KEY="value" replaces KEY.
  void hand_edit(const std::string& id, const std::string& key, const std::string& value) {
    std::string out;
    for (const auto& l : split_lines(conf(id)))
      if (l.rfind(key + "=", 0) != 0) out += l + "\n";
    std::ofstream(conf_path(id), std::ios::trunc) << out << key << "=\"" << value << "\"\n";
  }
  bool host_link_exists(const std::string& id) {
    return fs::exists("/sys/class/net") && [&] {
      std::error_code ec;
      for (const auto& link : fs::directory_iterator("/sys/class/net", ec))
        if (read_text(link.path().string() + "/ifalias") == "berth:" + instance() + ":" + id + "\n")
          return true;
      return false;
    }();
  }

  std::unique_ptr<FakeLan> lan_;
};

// The attack of the issue: the host's gateway, its own LAN address, another LAN machine. Each was
// accepted before (the CT then took the host's traffic for the gateway: exit 0 at create and
// start).
TEST_F(IpaddTest, HostAddressGatewayAndNeighbourAre78AtCreate) {
  for (const char* addr :
       {"198.18.50.2", "198.18.50.1", "198.18.50.7", "198.18.50.0", "198.18.50.255", "fd00:50::2",
        "fd00:50::1", "fd00:50::7", "fd00:50::"}) {
    std::string id;
    RunResult r = create_with({"--ipadd", addr}, &id);
    EXPECT_EQ(r.code, 78) << addr << ": " << r.err;
    EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
    EXPECT_PRED2(contains, r.err, std::string(addr) + " is already in use");
    EXPECT_FALSE(fs::exists(conf_path(id))) << addr;
    EXPECT_FALSE(fs::exists(ve_private(id))) << addr;
  }
  RunResult r = create_with({"--ipadd", "198.18.50.1"});
  EXPECT_PRED2(contains, r.err, "gateway");
  EXPECT_PRED2(contains, r.err, "--ipadd_force");
  r = create_with({"--ipadd", "198.18.50.2"});
  EXPECT_PRED2(contains, r.err, "bt50d0");
  EXPECT_FALSE(contains(r.err, "--ipadd_force")) << r.err;
}

TEST_F(IpaddTest, NonUnicastClassesAre71EvenForced) {
  for (const char* addr : {"127.0.0.5", "224.0.0.1", "169.254.1.1", "169.254.0.1", "fe80::1", "::1",
                           "0.0.0.0", "255.255.255.255", "::ffff:198.18.50.10", "240.0.0.1"}) {
    std::string id;
    RunResult r = create_with({"--ipadd", addr}, &id);
    EXPECT_EQ(r.code, 71) << addr << ": " << r.err;
    EXPECT_FALSE(fs::exists(conf_path(id))) << addr;
    if (std::string(addr) == "240.0.0.1") continue;  // a reserved block: forcible (below)
    r = create_with({"--ipadd_force", addr}, &id);
    EXPECT_EQ(r.code, 71) << addr << ": " << r.err;
    EXPECT_FALSE(fs::exists(conf_path(id))) << addr;
  }
  std::string id;
  RunResult r = create_with({"--ipadd_force", "240.0.0.1"}, &id);
  EXPECT_EQ(r.code, 0) << r.err;
}

// The normal hosting case: the VPS's address is inside the host's LAN subnet, answered by proxy
// ARP/NDP on the uplink. Also an address inside a subnet the host routes via the gateway.
TEST_F(IpaddTest, LanAddressIsAllowedAndRuns) {
  std::string id;
  RunResult r = create_with(
      {"--ipadd", "198.18.50.10", "--ipadd", "fd00:50::10", "--ipadd", "198.19.50.10"}, &id);
  ASSERT_EQ(r.code, 0) << r.err;
  r = berth({"start", id, "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has_route_to("198.18.50.10")) << routes();
  EXPECT_TRUE(has_route_to("fd00:50::10")) << routes();
  EXPECT_TRUE(has_route_to("198.19.50.10")) << routes();
  std::string p = proxies();
  EXPECT_PRED2(contains, p, "198.18.50.10 dev bt50d0");
  EXPECT_PRED2(contains, p, "fd00:50::10 dev bt50d0");
  RunResult ping = run_process({"/usr/bin/busybox", "ping", "-c1", "-W3", "198.18.50.10"}, {}, {});
  EXPECT_EQ(ping.code, 0) << ping.out << ping.err;
  // Its own addresses are not "in use" by itself: restart and a live no-op re-add work.
  EXPECT_EQ(berth({"set", id, "--ipadd", "198.18.50.10", "--save"}).code, 0);
  r = berth({"restart", id, "--wait"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has_route_to("198.18.50.10")) << routes();
}

// The override: a gateway or neighbour address given on purpose is saved as forced and starts;
// the host's own address never.
TEST_F(IpaddTest, ForceAcceptsGatewayAndNeighbourNeverTheHostsAddress) {
  std::string id;
  RunResult r = create_with({"--ipadd_force", "198.18.50.1", "--ipadd", "198.18.50.11"}, &id);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, conf(id), "IP_ADDRESS_FORCED=\"198.18.50.1\"");
  r = berth({"start", id, "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has_route_to("198.18.50.1")) << routes();
  r = berth({"set", id, "--ipadd-force", "198.18.50.7", "--save"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has_route_to("198.18.50.7")) << routes();
  std::string before = conf(id);
  for (const char* addr : {"198.18.50.2", "fd00:50::2", "198.18.50.255", "127.0.0.5"}) {
    r = berth({"set", id, "--ipadd_force", addr, "--save"});
    EXPECT_NE(r.code, 0) << addr;
    EXPECT_TRUE(r.code == 78 || r.code == 71) << addr << ": " << r.code << " " << r.err;
    EXPECT_FALSE(has_route_to(addr)) << addr;
  }
  EXPECT_EQ(conf(id), before);
  // --ipdel takes the address out of the forced list too.
  EXPECT_EQ(berth({"set", id, "--ipdel", "198.18.50.1", "--save"}).code, 0);
  EXPECT_FALSE(has_route_to("198.18.50.1")) << routes();
  EXPECT_PRED2(contains, conf(id), "IP_ADDRESS_FORCED=\"198.18.50.7\"");
}

// `set`: live on a running CT (with and without --save) and on a stopped CT.
TEST_F(IpaddTest, SetRefusesGatewayLiveAndSaved) {
  std::string a;
  ASSERT_EQ(create_with({"--ipadd", "198.18.50.12"}, &a).code, 0);
  ASSERT_EQ(berth({"start", a, "--wait"}).code, 0);
  std::string before = conf(a);
  for (bool save : {false, true}) {
    std::vector<std::string> args{"set", a, "--ipadd", "198.18.50.1"};
    if (save) args.push_back("--save");
    RunResult r = berth(args);
    EXPECT_EQ(r.code, 78) << r.err;
    EXPECT_FALSE(has_route_to("198.18.50.1")) << routes();
    EXPECT_FALSE(contains(berth({"exec", a, "ip addr show venet0"}).out, "198.18.50.1/32"));
    EXPECT_EQ(conf(a), before);
  }
  RunResult r =
      berth({"set", a, "--ipadd", "198.18.50.13 198.18.50.7", "--save"});  // all or nothing
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_FALSE(has_route_to("198.18.50.13")) << routes();
  EXPECT_EQ(conf(a), before);

  ASSERT_EQ(berth({"stop", a}).code, 0);
  r = berth({"set", a, "--ipadd", "fd00:50::1", "--save"});
  EXPECT_EQ(r.code, 78) << r.err;
  r = berth({"set", a, "--ipadd", "169.254.1.1", "--save"});
  EXPECT_EQ(r.code, 71) << r.err;
  EXPECT_EQ(conf(a), before);
}

// At start: a hand-edited IP_ADDRESS, and a host that changed since the address was given (a
// machine appeared on the LAN with it). The CT stays down and leaves nothing.
TEST_F(IpaddTest, StartChecksHandEditedAndChangedHost) {
  std::string a;
  ASSERT_EQ(create_with({"--ipadd", "198.18.50.14"}, &a).code, 0);
  ASSERT_EQ(ip({"neigh", "add", "198.18.50.14", "lladdr", "02:00:00:00:50:14", "dev", "bt50d0",
                "nud", "permanent"})
                .code,
            0);
  RunResult r = berth({"start", a});
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_PRED2(contains, r.err, "neighbour");
  EXPECT_PRED2(contains, status_line(a), "down");
  EXPECT_FALSE(host_link_exists(a));
  EXPECT_FALSE(has_route_to("198.18.50.14")) << routes();
  EXPECT_FALSE(contains(proxies(), "198.18.50.14 ")) << proxies();

  std::string b;
  ASSERT_EQ(create_with({"--ipadd", "198.18.50.15"}, &b).code, 0);
  for (auto [addr, code] : std::vector<std::pair<std::string, int>>{
           {"198.18.50.1", 78}, {"198.18.50.2", 78}, {"127.0.0.5", 71}}) {
    hand_edit(b, "IP_ADDRESS", "198.18.50.15 " + addr);
    r = berth({"start", b});
    EXPECT_EQ(r.code, code) << addr << ": " << r.err;
    EXPECT_PRED2(contains, status_line(b), "down");
    EXPECT_FALSE(host_link_exists(b));
    EXPECT_FALSE(has_route_to("198.18.50.15")) << routes();
  }
  // The forced list, edited by hand too, is the admin's word for a gateway.
  hand_edit(b, "IP_ADDRESS", "198.18.50.15 198.18.50.1");
  hand_edit(b, "IP_ADDRESS_FORCED", "198.18.50.1");
  r = berth({"start", b, "--wait"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// Another Berth instance's running VPS holds the address: this instance may not take it, at
// create, set (stopped and live) and start.
TEST_F(IpaddTest, AnotherInstancesVpsAddressIs78) {
  OtherInstance other(root(), instance() + "-o");
  other.track("5001");
  RunResult r = other.berth({"create", "5001", "--ostemplate", "busybox", "--ipadd", "198.18.50.20",
                             "--ipadd", "fd00:50::20"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = other.berth({"start", "5001", "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;

  std::string id;
  r = create_with({"--ipadd", "198.18.50.20"}, &id);
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_PRED2(contains, r.err, "CT 5001 of Berth instance " + other.instance());
  EXPECT_FALSE(fs::exists(conf_path(id)));
  r = create_with({"--ipadd_force", "fd00:50::20"}, &id);  // never forcible
  EXPECT_EQ(r.code, 78) << r.err;

  std::string a;
  ASSERT_EQ(create_with({"--ipadd", "198.18.50.21"}, &a).code, 0);
  r = berth({"set", a, "--ipadd", "198.18.50.20", "--save"});
  EXPECT_EQ(r.code, 78) << r.err;
  ASSERT_EQ(berth({"start", a, "--wait"}).code, 0);
  r = berth({"set", a, "--ipadd", "fd00:50::20"});
  EXPECT_EQ(r.code, 78) << r.err;
  ASSERT_EQ(berth({"stop", a}).code, 0);
  hand_edit(a, "IP_ADDRESS", "198.18.50.20");
  r = berth({"start", a});
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_PRED2(contains, status_line(a), "down");
  // The other instance's VPS still has its route.
  EXPECT_TRUE(has_route_to("198.18.50.20")) << routes();
}

}  // namespace
}  // namespace berth::itest
