// The typed config model at the entry points: a hand-edited CTID.conf with a bad NETIF, RATE,
// DEVNODES, CPUMASK or IP_ADDRESS makes `start` fail with exit 21 and one line naming the key,
// before anything is mounted, made or cloned (no VE_ROOT mount, no cgroup, no veth, nothing the
// leak check finds). `set` and `create` check the whole config they are about to save the same way.
#include <filesystem>
#include <fstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class ModelTest : public BerthTest {
 protected:
  // Replace KEY's line of the CT's config, as an admin with an editor would.
  void hand_edit(const std::string& id, const std::string& key, const std::string& value) {
    std::string out;
    for (const auto& l : split_lines(read_text(conf_path(id))))
      if (l.rfind(key + "=", 0) != 0) out += l + "\n";
    std::ofstream(conf_path(id), std::ios::trunc) << out << key << "=\"" << value << "\"\n";
  }
  // What the leak check finds of one kind ("mount ", "cgroup ", "link "...).
  std::vector<std::string> leaks_of(const std::string& kind) {
    std::vector<std::string> out;
    for (const auto& l : leaks())
      if (l.rfind(kind, 0) == 0) out.push_back(l);
    return out;
  }
  // Start fails with 21, one line naming key, and nothing of the CT exists on the host.
  void expect_refused_start(const std::string& id, const std::string& key,
                            const std::string& says) {
    RunResult r = berth({"start", id});
    EXPECT_EQ(r.code, 21) << key << ": " << r.err;
    auto lines = split_lines(r.err);
    EXPECT_EQ(lines.size(), 1u) << r.err;
    EXPECT_PRED2(contains, r.err, key + ": ");
    EXPECT_PRED2(contains, r.err, says);
    // Nothing mounted (VE_ROOT is under the test's root), no cgroup of the instance, no link.
    EXPECT_TRUE(leaks_of("mount ").empty())
        << key << ": " << ::testing::PrintToString(leaks_of("mount "));
    EXPECT_TRUE(leaks_of("cgroup ").empty())
        << key << ": " << ::testing::PrintToString(leaks_of("cgroup "));
    EXPECT_PRED2(contains, status_line(id), "down");
    EXPECT_PRED2(contains, status_line(id), "unmounted");
    auto l = leaks();
    EXPECT_TRUE(l.empty()) << key << ": " << ::testing::PrintToString(l);
  }
};

TEST_F(ModelTest, HandEditedBadValuesFailStartBeforeAnythingIsMade) {
  std::string id = create_ct();
  std::string good = read_text(conf_path(id));
  struct Case {
    std::string key, value, says;
  } cases[] = {
      {"NETIF", "ifname=eth0,mac=zz:00:00:00:00:01,host_ifname=vzmodel0",
       "bad MAC `zz:00:00:00:00:01`"},
      {"NETIF", "bridge=br0", "no ifname"},
      {"RATE", "*:1", "invalid rate `*:1`"},
      {"DEVNODES", "../tun:rw", "invalid device name"},
      {"CPUMASK", "0-", "list like 0-2,7 expected"},
      {"IP_ADDRESS", "198.18.0.2 198.18.0.999", "bad IP address `198.18.0.999`"},
      {"HOSTNAME", "bad_host!", "not a valid host name"},
      {"NUMPROC", "lots", "invalid value"},
  };
  for (const auto& c : cases) {
    std::ofstream(conf_path(id), std::ios::trunc) << good;
    hand_edit(id, c.key, c.value);
    expect_refused_start(id, c.key, c.says);
    EXPECT_FALSE(fs::exists("/sys/class/net/vzmodel0")) << c.key;
  }
  // The same CT, its config fixed, starts (the refusals left nothing in the way).
  std::ofstream(conf_path(id), std::ios::trunc) << good;
  RunResult r = berth({"start", id, "--wait"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// restart checks the config before it stops the running CT: a config that cannot start leaves
// the CT running, not down.
TEST_F(ModelTest, RestartRefusesABadConfigBeforeStopping) {
  std::string id = create_running_ct();
  hand_edit(id, "CPUMASK", "9999");
  RunResult r = berth({"restart", id});
  EXPECT_EQ(r.code, 21) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_PRED2(contains, r.err, "CPUMASK: ");
  EXPECT_PRED2(contains, status_line(id), "running");
}

TEST_F(ModelTest, SetChecksTheWholeConfigItWouldSave) {
  std::string id = create_ct();
  hand_edit(id, "RATE", "eth0:x:1");
  std::string before = read_text(conf_path(id));
  RunResult r = berth({"set", id, "--cpuunits", "500", "--save"});
  EXPECT_EQ(r.code, 21) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_PRED2(contains, r.err, "RATE: ");
  EXPECT_EQ(read_text(conf_path(id)), before) << "a refused set changed the config";
  // Setting the broken key itself repairs it.
  r = berth({"set", id, "--rate", "*:1:1000", "--save"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = berth({"set", id, "--cpuunits", "500", "--save"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(ModelTest, CreateChecksASampleBeforeMakingAnything) {
  fs::create_directories(root() + "/etc/berth/conf");
  std::ofstream(root() + "/etc/berth/conf/ve-broken.conf-sample")
      << "PHYSPAGES=\"0:65536\"\nDEVICES=\"c:10\"\n";
  std::string id = new_ctid();
  RunResult r = berth({"create", id, "--ostemplate", "busybox", "--config", "broken"});
  EXPECT_EQ(r.code, 21) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_PRED2(contains, r.err, "DEVICES: ");
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_FALSE(fs::exists(ve_private(id)));
}

}  // namespace
}  // namespace berth::itest
