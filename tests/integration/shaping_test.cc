// Traffic shaping (RATE) and counting (netstat), for real: bulk TCP transfers between a routed CT
// and the test's own network namespace (which plays the host) measured against the limit in both
// directions, a live rate change, counters that grow by the bytes sent over every veth of a CT
// (routed and bridged) and survive --netif_del and stop/start, and no qdisc, filter or ifb left
// after stop and destroy.
//
// The whole test runs in a private network namespace (unshare(CLONE_NEWNET) in the test
// process), so the CT's host ends, its ifb, the bridges and the qdiscs live there. Addresses:
// 198.18.120.0/24 to 198.18.122.0/24.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <chrono>
#include <thread>

#include "harness.h"

namespace berth::itest {
namespace {

RunResult tool(const std::string& path, const std::vector<std::string>& args) {
  std::vector<std::string> argv{path};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, {});
}
RunResult ip(const std::vector<std::string>& args) { return tool("/usr/sbin/ip", args); }
RunResult tc(const std::vector<std::string>& args) { return tool("/usr/sbin/tc", args); }

nlohmann::json parse_json(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

constexpr double kLimitBits = 8e6;  // --rate '*:1:8000' (kbit/s)

class ShapingTest : public BerthTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "integration tests need root";
    host_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(host_ns_, 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET)";
    ASSERT_EQ(ip({"link", "set", "lo", "up"}).code, 0);
    // The "host" side address the CT talks to: on lo of this namespace.
    ASSERT_EQ(ip({"addr", "add", "198.18.120.254/32", "dev", "lo"}).code, 0);
    BerthTest::SetUp();
  }
  void TearDown() override {
    BerthTest::TearDown();
    if (host_ns_ >= 0) {
      EXPECT_EQ(::setns(host_ns_, CLONE_NEWNET), 0);
      ::close(host_ns_);
    }
  }

  void install_probe(const std::string& ctid) {
    std::string dst = ve_root(ctid) + "/sbin/berth_probe";
    std::error_code ec;
    std::filesystem::copy_file(BERTH_PROBE, dst, std::filesystem::copy_options::overwrite_existing,
                               ec);
    ASSERT_FALSE(ec) << ec.message();
    ::chmod(dst.c_str(), 0755);
  }
  // Bits per second of a bulk transfer of `seconds` from the sender to the receiver, measured
  // by the receiver after its first 300 ms (the bucket's burst). Returns the receiver's JSON.
  // host_addr: where the CT reaches the test namespace; ct_addr: where it reaches the CT.
  nlohmann::json transfer(const std::string& ctid, bool ct_sends, int port, double seconds,
                          const std::string& host_addr = "198.18.120.254",
                          const std::string& ct_addr = "198.18.120.1") {
    std::string p = std::to_string(port), secs = std::to_string(seconds);
    RunResult recv_r;
    std::thread receiver([&] {
      if (ct_sends)
        recv_r = tool(BERTH_PROBE, {"tcprecv", p, "300"});
      else
        recv_r = berth({"exec3", ctid, "/sbin/berth_probe", "tcprecv", p, "300"});
    });
    sleep_ms(100);  // the sender retries a refused connect anyway
    RunResult send_r =
        ct_sends ? berth({"exec3", ctid, "/sbin/berth_probe", "tcpsend", host_addr, p, secs})
                 : tool(BERTH_PROBE, {"tcpsend", ct_addr, p, secs});
    receiver.join();
    EXPECT_EQ(send_r.code, 0) << send_r.out << send_r.err;
    EXPECT_EQ(recv_r.code, 0) << recv_r.out << recv_r.err;
    auto j = parse_json(recv_r.out);
    auto s = parse_json(send_r.out);
    if (j.is_object() && s.is_object()) j["sent"] = s["bytes"];
    return j;
  }
  double bps(const nlohmann::json& j) {
    return j.is_object() ? j.value("bits_per_second", 0.0) : 0.0;
  }

  nlohmann::json netstat(const std::string& ctid) {
    RunResult r = berth({"netstat", "-j", ctid});
    EXPECT_EQ(r.code, 0) << r.err;
    auto j = parse_json(r.out);
    return j.is_array() && j.size() == 1 ? j[0] : nlohmann::json::object();
  }
  double count(const nlohmann::json& j, const char* key) {
    return j.contains(key) ? j[key].get<double>() : -1;
  }
  // A bridge made in the test's namespace (it dies with it), with a /24 address.
  void make_bridge(const std::string& name, const std::string& addr) {
    ASSERT_EQ(ip({"link", "add", name, "type", "bridge"}).code, 0);
    ASSERT_EQ(ip({"addr", "add", addr, "dev", name}).code, 0);
    ASSERT_EQ(ip({"link", "set", name, "up"}).code, 0);
  }
  // Qdiscs of this namespace other than the defaults (noqueue, and what lo has).
  std::string qdiscs() { return tc({"qdisc", "show"}).out; }
  std::string links() { return ip({"-o", "link", "show"}).out; }
  // The links once a stop has settled: a stopped CT's routed veth goes with its network namespace,
  // which the kernel takes down in the background (stop does not wait for it: docs/runtime.md,
  // "Stop"). Waits up to 5 s for the instance's links to be gone, then lists what is there.
  std::string links_after_stop() {
    std::string l = links();
    for (int i = 0; i < 50 && contains(l, "berth:" + instance() + ":"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      l = links();
    }
    return l;
  }

  int host_ns_ = -1;
};

TEST_F(ShapingTest, RateLimitsBothDirectionsLiveAndCountersPersist) {
  std::string id = create_running_ct({"--ipadd", "198.18.120.1"});
  install_probe(id);
  ASSERT_EQ(berth({"set", id, "--rate", "*:1:8000", "--ratebound", "yes", "--save"}).code, 0);
  EXPECT_PRED2(contains, read_text(conf_path(id)), "RATE=\"*:1:8000\"");
  EXPECT_PRED2(contains, read_text(conf_path(id)), "RATEBOUND=\"yes\"");
  std::string q = qdiscs();
  EXPECT_PRED2(contains, q, "qdisc tbf");
  EXPECT_PRED2(contains, q, "qdisc ingress");
  EXPECT_PRED2(contains, links(), "alias berth:" + instance() + ":" + id + ":ifb");

  // Out of the CT (its veth's ingress -> ifb -> tbf) and into it (tbf on its veth).
  nlohmann::json before = netstat(id);
  auto out = transfer(id, true, 5301, 2.0);
  double out_bps = bps(out);
  EXPECT_GT(out_bps, 0.9 * kLimitBits) << out.dump();
  EXPECT_LT(out_bps, 1.1 * kLimitBits) << out.dump();
  auto in = transfer(id, false, 5302, 2.0);
  double in_bps = bps(in);
  EXPECT_GT(in_bps, 0.9 * kLimitBits) << in.dump();
  EXPECT_LT(in_bps, 1.1 * kLimitBits) << in.dump();

  // The counters grew by what was sent, plus headers, the other side's ACKs and, out of the CT,
  // the retransmissions of what the shaper dropped (the veth counts before the ifb's queue).
  nlohmann::json after = netstat(id);
  ASSERT_TRUE(after.contains("out_bytes")) << after.dump();
  double sent_out = out.value("bytes", 0.0), sent_in = in.value("bytes", 0.0);
  double d_out = after["out_bytes"].get<double>() - before["out_bytes"].get<double>();
  double d_in = after["in_bytes"].get<double>() - before["in_bytes"].get<double>();
  EXPECT_GE(d_out, sent_out) << after.dump();
  EXPECT_LE(d_out, 1.6 * sent_out + 0.1 * sent_in) << after.dump() << " sent " << sent_out;
  EXPECT_GE(d_in, sent_in) << after.dump();
  EXPECT_LE(d_in, 1.15 * sent_in + 0.1 * sent_out) << after.dump() << " sent " << sent_in;
  EXPECT_GT(after["out_packets"].get<double>(),
            before["out_packets"].get<double>() + sent_out / 65536);

  // Live change: twice the rate, no restart.
  ASSERT_EQ(berth({"set", id, "--rate", "*:1:16000"}).code, 0);
  auto fast = transfer(id, true, 5303, 1.5);
  EXPECT_GT(bps(fast), 0.9 * 2 * kLimitBits) << fast.dump();
  EXPECT_LT(bps(fast), 1.1 * 2 * kLimitBits) << fast.dump();
  std::printf(
      "[ measured ] out of the CT %.2f Mbit/s, into it %.2f Mbit/s (limit 8); after the live "
      "change %.2f (limit 16)\n",
      out_bps / 1e6, in_bps / 1e6, bps(fast) / 1e6);

  // Bad input: vzctl's exit 21 and nothing changes.
  std::string conf_before = read_text(conf_path(id)), q_before = qdiscs();
  for (const char* bad : {"*:1:fast", "*:1", "*:1:99999999999"}) {
    RunResult r = berth({"set", id, "--rate", bad, "--save"});
    EXPECT_EQ(r.code, 21) << bad << ": " << r.err;
  }
  EXPECT_EQ(read_text(conf_path(id)), conf_before);
  EXPECT_EQ(qdiscs(), q_before);

  // Stop: the counts go to the state file; the ifb and the qdiscs go with the veth.
  nlohmann::json running = netstat(id);
  ASSERT_EQ(berth({"stop", id}).code, 0);
  nlohmann::json stopped = netstat(id);
  EXPECT_FALSE(stopped.value("running", true));
  EXPECT_GE(stopped["in_bytes"].get<double>(), running["in_bytes"].get<double>()) << stopped.dump();
  EXPECT_GE(stopped["out_bytes"].get<double>(), running["out_bytes"].get<double>())
      << stopped.dump();
  EXPECT_LE(stopped["out_bytes"].get<double>(), running["out_bytes"].get<double>() + 65536)
      << stopped.dump();
  EXPECT_FALSE(contains(links_after_stop(), "berth:" + instance() + ":")) << links();
  EXPECT_FALSE(contains(qdiscs(), "tbf")) << qdiscs();
  EXPECT_FALSE(contains(qdiscs(), "ingress")) << qdiscs();

  // Start: the saved counts plus the new link's; the rate is there again.
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_PRED2(contains, qdiscs(), "qdisc tbf");
  nlohmann::json restarted = netstat(id);
  EXPECT_TRUE(restarted.value("running", false));
  EXPECT_GE(restarted["out_bytes"].get<double>(), stopped["out_bytes"].get<double>());
  // vzlist shows the same totals (netin/netout fields).
  auto listed = parse_json(berth({"list", "-j", "-o", "ctid,netin,netout", id}).out);
  ASSERT_TRUE(listed.is_array() && listed.size() == 1) << listed.dump();
  EXPECT_GE(listed[0]["netout"].get<double>(), stopped["out_bytes"].get<double>()) << listed.dump();
  EXPECT_GE(listed[0]["netin"].get<double>(), stopped["in_bytes"].get<double>()) << listed.dump();
  RunResult table = berth({"netstat", id});
  EXPECT_PRED2(contains, table.out, "Input(bytes)");
  EXPECT_PRED2(contains, table.out, id + " ");
  // Rate 0 removes the limit (and the ifb) live.
  ASSERT_EQ(berth({"set", id, "--rate", "*:1:0"}).code, 0);
  EXPECT_FALSE(contains(qdiscs(), "tbf")) << qdiscs();
  EXPECT_FALSE(contains(links(), ":ifb")) << links();

  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  ASSERT_EQ(berth({"destroy", id}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(root() + "/var/lib/berth/netstat/" + id));
  EXPECT_FALSE(contains(links(), "berth:" + instance() + ":")) << links();
  EXPECT_FALSE(contains(qdiscs(), "tbf")) << qdiscs();
}

// A bridged veth (NETIF) is shaped by its CT-side name like the routed one; a live --netif_add of
// another interface leaves the first one's shaping alone; stop takes the ifb with the veth.
TEST_F(ShapingTest, BridgedVethIsShaped) {
  make_bridge("brshape0", "198.18.120.200/24");
  std::string id = create_ct({"--netif_add", "eth0,,,,brshape0", "--rate", "eth0:1:8000"});
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  install_probe(id);
  ASSERT_EQ(berth({"exec", id, "ip addr add 198.18.120.1/24 dev eth0"}).code, 0);
  std::string alias = "berth:" + instance() + ":" + id + ":eth0";
  EXPECT_PRED2(contains, links(), "alias " + alias + ":ifb");
  EXPECT_PRED2(contains, qdiscs(), "qdisc tbf");
  for (bool ct_sends : {true, false}) {
    double got = bps(transfer(id, ct_sends, ct_sends ? 5301 : 5302, 2.0));
    EXPECT_GT(got, 8e6 * 0.9) << (ct_sends ? "out of the CT" : "into the CT");
    EXPECT_LT(got, 8e6 * 1.1) << (ct_sends ? "out of the CT" : "into the CT");
  }
  ASSERT_EQ(berth({"set", id, "--netif_add", "eth1,,,,brshape0", "--save"}).code, 0);
  EXPECT_PRED2(contains, links(), "alias " + alias + ":ifb");
  ASSERT_EQ(berth({"stop", id}).code, 0);
  EXPECT_FALSE(contains(links_after_stop(), "berth:" + instance() + ":")) << links();
  EXPECT_FALSE(contains(qdiscs(), "tbf")) << qdiscs();
  ASSERT_EQ(berth({"destroy", id}).code, 0);
}

// Counters of a CT with a routed veth and two bridged ones (each in its own bridge): netstat and
// vzlist count the traffic of every host veth, a live --netif_del keeps what its veth counted,
// and so do stop and start; destroy removes the saved counts. No rate: transfers at full speed.
TEST_F(ShapingTest, CountersSumEveryVethAndPersist) {
  make_bridge("brcount0", "198.18.120.200/24");
  make_bridge("brcount1", "198.18.122.200/24");
  for (const char* a : {"198.18.121.254/32", "198.18.122.254/32"})
    ASSERT_EQ(ip({"addr", "add", a, "dev", "lo"}).code, 0);
  std::string id = create_ct({"--ipadd", "198.18.121.1", "--netif_add", "eth0,,,,brcount0",
                              "--netif_add", "eth1,,,,brcount1"});
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  install_probe(id);
  RunResult r = berth(
      {"exec", id, "ip addr add 198.18.120.1/24 dev eth0 && ip addr add 198.18.122.1/24 dev eth1"});
  ASSERT_EQ(r.code, 0) << r.err;

  // Out of the CT over each of its three veths, into it over eth0.
  nlohmann::json before = netstat(id);
  double routed_out = transfer(id, true, 5311, 0.5, "198.18.121.254").value("bytes", 0.0);
  double eth0_out = transfer(id, true, 5312, 0.5, "198.18.120.254").value("bytes", 0.0);
  double eth1_out = transfer(id, true, 5313, 0.5, "198.18.122.254").value("bytes", 0.0);
  double eth0_in = transfer(id, false, 5314, 0.5, "", "198.18.120.1").value("bytes", 0.0);
  for (double sent : {routed_out, eth0_out, eth1_out, eth0_in}) ASSERT_GT(sent, 1e6);
  nlohmann::json after = netstat(id);
  double d_out = count(after, "out_bytes") - count(before, "out_bytes");
  double d_in = count(after, "in_bytes") - count(before, "in_bytes");
  EXPECT_GE(d_out, routed_out + eth0_out + eth1_out) << after.dump();
  EXPECT_LE(d_out, 1.2 * (routed_out + eth0_out + eth1_out) + 0.1 * eth0_in) << after.dump();
  EXPECT_GE(d_in, eth0_in) << after.dump();
  auto listed = parse_json(berth({"list", "-j", "-o", "ctid,netin,netout", id}).out);
  ASSERT_TRUE(listed.is_array() && listed.size() == 1) << listed.dump();
  EXPECT_GE(listed[0]["netout"].get<double>(), count(after, "out_bytes")) << listed.dump();
  EXPECT_GE(listed[0]["netin"].get<double>(), count(after, "in_bytes")) << listed.dump();

  // --netif_del eth1, live: its veth goes, what it counted stays.
  ASSERT_EQ(berth({"set", id, "--netif_del", "eth1", "--save"}).code, 0);
  EXPECT_FALSE(contains(links(), "veth" + id + ".1")) << links();
  nlohmann::json deleted = netstat(id);
  EXPECT_GE(count(deleted, "out_bytes"), count(after, "out_bytes")) << deleted.dump();
  EXPECT_TRUE(std::filesystem::exists(root() + "/var/lib/berth/netstat/" + id));

  // Stop and start keep every veth's counts.
  ASSERT_EQ(berth({"stop", id}).code, 0);
  nlohmann::json stopped = netstat(id);
  EXPECT_FALSE(stopped.value("running", true));
  EXPECT_GE(count(stopped, "out_bytes"), count(deleted, "out_bytes")) << stopped.dump();
  EXPECT_GE(count(stopped, "in_bytes"), count(deleted, "in_bytes")) << stopped.dump();
  EXPECT_FALSE(contains(links_after_stop(), "berth:" + instance() + ":")) << links();
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  nlohmann::json restarted = netstat(id);
  EXPECT_TRUE(restarted.value("running", false));
  EXPECT_GE(count(restarted, "out_bytes"), count(stopped, "out_bytes")) << restarted.dump();
  EXPECT_GE(count(restarted, "in_bytes"), count(stopped, "in_bytes")) << restarted.dump();

  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  ASSERT_EQ(berth({"destroy", id}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(root() + "/var/lib/berth/netstat/" + id));
  EXPECT_FALSE(contains(links(), "berth:" + instance() + ":")) << links();
}

}  // namespace
}  // namespace berth::itest
