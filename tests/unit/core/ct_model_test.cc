// The typed config model: every key parsed once, the first bad one named in one line, exit 21;
// every shipped sample valid.
#include "core/ct_model.h"

#include <gtest/gtest.h>

#include <string>

#include "core/samples.h"

namespace berth {
namespace {

class CtModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = HostConfig::load_at("/nonexistent-berth-root-for-tests");
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(*h);
  }
  CtConfig ct(const std::string& text) { return CtConfig(host_, "101", ConfFile::parse(text)); }
  Error bad(const std::string& text) {
    auto m = parse_model(ct(text));
    EXPECT_FALSE(m.ok()) << text;
    if (m.ok()) return Error();
    EXPECT_EQ(m.error().exit_status(), 21) << text;
    std::string msg = m.error().message();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_FALSE(validate_config(ct(text)).ok()) << text;
    return std::move(m).error();
  }
  void bad_key(const std::string& key, const std::string& value, const std::string& says = "") {
    Error e = bad(key + "=\"" + value + "\"\n");
    std::string msg = e.message();
    EXPECT_EQ(msg.rfind(key + ": ", 0), 0u) << msg;
    if (!says.empty()) {
      EXPECT_NE(msg.find(says), std::string::npos) << msg;
    }
  }
  HostConfig host_;
};

TEST_F(CtModelTest, TypedValues) {
  auto m =
      parse_model(ct("HOSTNAME=\"ct101.example\"\n"
                     "IP_ADDRESS=\"198.18.0.2 fd00::2/64\"\n"
                     "NAMESERVER=\"198.18.0.1 inherit\"\n"
                     "SEARCHDOMAIN=\"example.org\"\n"
                     "NETIF=\"ifname=eth0,mac=00:18:51:12:34:56,host_ifname=veth101.0\"\n"
                     "NETDEV=\"eth5\"\n"
                     "RATE=\"*:1:8000\"\n"
                     "DEVNODES=\"net/tun:rw\"\n"
                     "DEVICES=\"c:10:200:rw\"\n"
                     "CPUMASK=\"3,0-1\"\n"
                     "NODEMASK=\"all\"\n"
                     "CPUUNITS=\"1000\"\n"
                     "IOPRIO=\"4\"\n"
                     "PHYSPAGES=\"0:262144\"\n"
                     "NUMPROC=\"unlimited\"\n"
                     "LOCAL_UID=\"200000\"\n"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->ctid, "101");
  EXPECT_EQ(m->hostname, "ct101.example");
  ASSERT_EQ(m->ip_addresses.size(), 2u);
  EXPECT_EQ(m->ip_addresses[1].text, "fd00::2");
  EXPECT_EQ(m->nameservers, (std::vector<std::string>{"198.18.0.1", "inherit"}));
  ASSERT_EQ(m->netif.size(), 1u);
  EXPECT_EQ(m->netif[0].host_ifname, "veth101.0");
  EXPECT_EQ(m->netdev, std::vector<std::string>{"eth5"});
  ASSERT_EQ(m->rate.size(), 1u);
  EXPECT_EQ(m->rate[0].kbit, 8000u);
  ASSERT_EQ(m->devnodes.size(), 1u);
  ASSERT_EQ(m->devices.size(), 1u);
  EXPECT_EQ(m->cpumask->cpuset(), "0-1,3");
  EXPECT_EQ(m->nodemask->kind, values::CpuMask::Kind::kAll);
  EXPECT_EQ(m->cpuunits, 1000u);
  EXPECT_EQ(m->ioprio, 4u);
  EXPECT_FALSE(m->cpulimit.has_value());
  EXPECT_EQ(m->ubc.at("PHYSPAGES"), (units::BarrierLimit{0, 262144}));
  EXPECT_EQ(m->ubc.at("NUMPROC").limit, units::kUnlimited);
  EXPECT_EQ(m->local_uid, 200000u);
  EXPECT_EQ(m->local_gid, 200000u);
}

TEST_F(CtModelTest, EmptyConfigIsValidWithSafeDefaults) {
  auto m = parse_model(ct(""));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_TRUE(m->netif.empty());
  EXPECT_FALSE(m->cpumask.has_value());
  EXPECT_EQ(m->local_uid, kDefaultLocalUid);
  // The safe defaults of CtConfig::get() are values too.
  EXPECT_EQ(m->ubc.at("NUMPROC").limit, 512u);
}

TEST_F(CtModelTest, EveryShippedSampleIsValid) {
  for (const auto& [name, text] : builtin_samples()) {
    auto m = parse_model(ct(text));
    EXPECT_TRUE(m.ok()) << name << ": " << m.error().message();
  }
}

TEST_F(CtModelTest, BadValuesNameTheKey) {
  bad_key("NETIF", "ifname=eth0,mac=zz:00:00:00:00:01", "bad MAC `zz:00:00:00:00:01`");
  bad_key("NETIF", "bridge=br0", "no ifname");
  bad_key("RATE", "eth0:1", "invalid rate");
  bad_key("RATE", "*:1:99999999999");
  bad_key("DEVNODES", "../tun:rw");
  bad_key("DEVNODES", "tun");
  bad_key("DEVICES", "c:10:rw");
  bad_key("CPUMASK", "0-", "list like 0-2,7 expected");
  bad_key("CPUMASK", "5000", "number too large");
  bad_key("NODEMASK", "auto");
  bad_key("IP_ADDRESS", "198.18.0.2 not-an-ip", "bad IP address `not-an-ip`");
  bad_key("IP_ADDRESS", "198.18.0.300");
  bad_key("IP_ADDRESS_FORCED", "x");
  bad_key("HOSTNAME", "bad_host!", "not a valid host name");
  bad_key("NAMESERVER", "198.18.0.1 nope", "bad IP address `nope`");
  bad_key("SEARCHDOMAIN", "-bad.example");
  bad_key("NETDEV", "a/b", "bad interface name");
  bad_key("CPUUNITS", "many", "a number expected");
  bad_key("IOPRIO", "8", "0..7 expected");
  bad_key("IOLIMIT", "-1");
  bad_key("PHYSPAGES", "2:1", "barrier is above limit");
  bad_key("NUMPROC", "lots");
  bad_key("LOCAL_UID", "4294967295", "id base out of range");
  bad_key("LOCAL_GID", "abc");
}

TEST_F(CtModelTest, ControlCharactersStayOnOneLine) {
  ConfFile f;
  f.set("NETIF", "ifname=eth0,mac=zz\nx");
  auto m = parse_model(CtConfig(host_, "101", f));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message().find('\n'), std::string::npos) << m.error().message();
  EXPECT_NE(m.error().message().find("zz\\nx"), std::string::npos) << m.error().message();
}

TEST_F(CtModelTest, TheFirstBadKeyIsNamed) {
  Error e = bad("RATE=\"bad\"\nNETIF=\"ifname=eth0,mac=zz\"\n");
  // Keys are checked in model_keys() order: NETIF before RATE.
  EXPECT_EQ(e.message().rfind("NETIF: ", 0), 0u) << e.message();
}

TEST_F(CtModelTest, BerthConfValuesAreCheckedToo) {
  auto dir = ::testing::TempDir() + "/ct_model_host";
  ASSERT_TRUE(make_dirs(dir + "/etc/berth").ok());
  ASSERT_TRUE(write_file_atomic(dir + "/etc/berth/berth.conf", "RATE=\"*:1\"\n").ok());
  auto h = HostConfig::load_at(dir);
  ASSERT_TRUE(h.ok()) << h.error().message();
  auto m = parse_model(CtConfig(*h, "101", ConfFile()));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message().rfind("RATE: ", 0), 0u) << m.error().message();
  // The CT's own value wins over berth.conf's.
  EXPECT_TRUE(parse_model(CtConfig(*h, "101", ConfFile::parse("RATE=\"*:1:100\"\n"))).ok());
}

TEST(CtModelKeys, UbcTable) {
  ASSERT_NE(find_ubc_key("PHYSPAGES"), nullptr);
  EXPECT_EQ(find_ubc_key("PHYSPAGES")->kind, units::Kind::kPages);
  EXPECT_EQ(find_ubc_key("DCACHESIZE")->alias, "DCACHE");
  EXPECT_EQ(find_ubc_key("NOPE"), nullptr);
  EXPECT_EQ(ubc_keys().size(), 22u);
  EXPECT_EQ(model_keys().size(), 20u + 22u);
}

}  // namespace
}  // namespace berth
