// Failure injection (runtime/pipeline.h, BERTH_FAIL_STEP): every step of start, on the host side
// ("start") and in the CT's child ("start-child"), is made to fail in turn. After each failed
// start nothing of the CT is left: no mount under the test's root (VE_ROOT), no cgroup dir, no
// host veth, route or nft table/chain of the CT, no process, and its status says stopped. Then a
// normal start works. The step lists come from a traced start (BERTH_TRACE=1), so a new step is
// covered without touching this test.
#include <filesystem>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPathEnv{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

class FailStepTest : public BerthTest {
 protected:
  std::string host_out(const std::vector<std::string>& argv) {
    return run_process(argv, kPathEnv, {}).out;
  }

  // What the CT's network may leave on the host beyond what leaks() checks.
  std::vector<std::string> net_leftovers(const std::string& id, const std::string& addr) {
    std::vector<std::string> out;
    std::string routes = host_out({"/usr/sbin/ip", "route", "show"});
    if (contains(routes, addr)) out.push_back("route to " + addr);
    std::string proxies = host_out({"/usr/sbin/ip", "neigh", "show", "proxy"});
    if (contains(proxies, addr)) out.push_back("proxy neighbour " + addr);
    std::string tables = host_out({"/usr/sbin/nft", "list", "tables"});
    if (contains(tables, "berth-" + instance() + "-" + id)) out.push_back("nft table of CT " + id);
    std::string shared =
        host_out({"/usr/sbin/nft", "list", "table", "inet", "berth-" + instance()});
    if (contains(shared, "ct_" + id)) out.push_back("nft chain ct_" + id);
    return out;
  }

  // (pipeline, step) of every step a traced start ran, in order.
  static std::vector<std::pair<std::string, std::string>> traced_steps(const std::string& err) {
    static const std::regex line(R"(berth: trace: (start|start-child) \d+/\d+ (\w+) [0-9.]+ ms)");
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& l : split_lines(err)) {
      std::smatch m;
      if (std::regex_match(l, m, line)) out.emplace_back(m[1], m[2]);
    }
    return out;
  }
};

TEST_F(FailStepTest, EveryStartStepUnwindsToNothing) {
  const std::string addr = "198.18.131.1";
  std::string id = create_ct({"--ipadd", addr});
  // RATE too when the host can shape (ifb), so apply_shaping has something to undo.
  bool shaped = berth({"set", id, "--rate", "*:1:8000", "--save"}).code == 0;

  RunOptions traced;
  traced.env = {"BERTH_TRACE=1"};
  RunResult first = berth({"start", id}, traced);
  ASSERT_EQ(first.code, 0) << first.err;
  auto steps = traced_steps(first.err);
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  size_t parent = 0, child = 0;
  for (const auto& [p, s] : steps) (p == "start" ? parent : child)++;
  ASSERT_GE(parent, 10u) << first.err;
  ASSERT_GE(child, 10u) << first.err;
  EXPECT_EQ(steps.front().second, "validate_config");
  // The stopped CT's host veth goes with its network namespace, which the kernel takes down
  // a moment later (longer on a loaded host).
  for (int i = 0; i < 100 && !leaks().empty(); ++i) sleep_ms(100);
  std::vector<std::string> before = leaks();
  ASSERT_TRUE(before.empty()) << ::testing::PrintToString(before);

  for (const auto& [pipeline, step] : steps) {
    SCOPED_TRACE(pipeline + ":" + step + (shaped ? " (with RATE)" : ""));
    RunOptions inject;
    inject.env = {"BERTH_FAIL_STEP=" + pipeline + ":" + step};
    RunResult r = berth({"start", id}, inject);
    EXPECT_NE(r.code, 0);
    EXPECT_PRED2(contains, r.err, "step " + step + ": failure injected by BERTH_FAIL_STEP");
    EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
    // A loop device is let go by the kernel a moment after its file system's unmount
    // (autoclear runs when the last reference drops): a few tenths of a second for that.
    std::vector<std::string> found;
    for (int i = 0; i < 30; ++i) {
      found = leaks();
      auto net = net_leftovers(id, addr);
      found.insert(found.end(), net.begin(), net.end());
      if (found.empty()) break;
      sleep_ms(100);
    }
    EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
  }

  // And a normal start afterwards.
  RunResult ok = berth({"start", id, "--wait"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  EXPECT_EQ(berth({"exec2", id, "/bin/true"}).code, 0);
}

// Every step of destroy made to fail in turn, on a CT with an address and a name that ran (so a
// stop left its anti-spoofing elements and its veth to the dying namespace): the failed destroy
// leaves a CT that the next destroy removes completely. (A failure injected at wait_closes, after
// the config went, leaves nothing to remove.)
TEST_F(FailStepTest, EveryDestroyStepFailingIsFinishedByTheNextDestroy) {
  static const std::regex line(R"(berth: trace: destroy \d+/\d+ (\w+) [0-9.]+ ms)");
  auto make = [&](int i) {
    std::string addr = "198.18.132." + std::to_string(i + 1);
    std::string id = create_ct({"--ipadd", addr, "--name", "failing-destroy-" + std::to_string(i)});
    EXPECT_EQ(berth({"start", id}).code, 0);
    EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
    return std::make_pair(id, addr);
  };
  auto [first_id, first_addr] = make(0);
  RunOptions traced;
  traced.env = {"BERTH_TRACE=1"};
  RunResult first = berth({"destroy", first_id}, traced);
  ASSERT_EQ(first.code, 0) << first.err;
  std::vector<std::string> steps;
  for (const auto& l : split_lines(first.err)) {
    std::smatch m;
    if (std::regex_match(l, m, line)) steps.push_back(m[1]);
  }
  ASSERT_GE(steps.size(), 8u) << first.err;
  EXPECT_EQ(steps.back(), "wait_closes");

  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string& step = steps[i];
    SCOPED_TRACE("destroy:" + step);
    auto [id, addr] = make(static_cast<int>(i) + 1);
    RunOptions inject;
    inject.env = {"BERTH_FAIL_STEP=destroy:" + step};
    RunResult r = berth({"destroy", id}, inject);
    EXPECT_NE(r.code, 0);
    EXPECT_PRED2(contains, r.err, "step " + step + ": failure injected by BERTH_FAIL_STEP");
    RunResult again = berth({"destroy", id});
    if (step == "wait_closes")
      EXPECT_FALSE(fs::exists(conf_path(id))) << again.err;
    else
      EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_FALSE(fs::exists(conf_path(id)));
    EXPECT_FALSE(fs::exists(root() + "/etc/berth/names/failing-destroy-" + std::to_string(i + 1)));
    std::vector<std::string> found;
    for (int k = 0; k < 50; ++k) {
      found = leaks();
      auto net = net_leftovers(id, addr);
      found.insert(found.end(), net.begin(), net.end());
      std::string sets =
          host_out({"/usr/sbin/nft", "list", "table", "inet", "berth-" + instance()});
      if (contains(sets, addr)) found.push_back("anti-spoofing element " + addr);
      if (found.empty()) break;
      sleep_ms(100);
    }
    EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
  }
}

// A step named by its index counts within its pipeline; one of another pipeline is not hit.
TEST_F(FailStepTest, IndexAndOtherPipeline) {
  std::string id = create_ct();
  RunOptions third;
  third.env = {"BERTH_FAIL_STEP=start:5"};
  RunResult r = berth({"start", id}, third);
  EXPECT_NE(r.code, 0);
  EXPECT_PRED2(contains, r.err, "step mount_root: failure injected");
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
  RunOptions other;
  other.env = {"BERTH_FAIL_STEP=stop:query_state"};
  RunResult s = berth({"start", id}, other);
  EXPECT_EQ(s.code, 0) << s.err;
  RunResult st = berth({"stop", id}, other);
  EXPECT_NE(st.code, 0);
  EXPECT_PRED2(contains, st.err, "step query_state: failure injected");
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
}

// --verbose prints the step timings as BERTH_TRACE=1 does.
TEST_F(FailStepTest, VerboseTracesSteps) {
  std::string id = create_ct();
  RunResult r = berth({"--verbose", "start", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(
      matches(r.err, R"((.*\n)*berth: trace: start 1/\d+ validate_config [0-9.]+ ms\n(.*\n)*)"))
      << r.err;
  EXPECT_PRED2(contains, r.err, "berth: trace: start total ");
  RunResult q = berth({"start", id});
  EXPECT_FALSE(contains(q.err, "berth: trace:"));
}

}  // namespace
}  // namespace berth::itest
