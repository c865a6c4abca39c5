// Config changes without a command line (what the daemon will send): names, values, errors.
#include "core/edit/config_edit.h"

#include <gtest/gtest.h>

namespace berth::edit {
namespace {

using Changes = std::vector<std::pair<std::string, std::string>>;

TEST(ConfigEdit, AppliesInOrderAsVzctlSaves) {
  ConfFile conf = ConfFile::parse("# kept\nIP_ADDRESS=\"198.18.0.1\"\nUNKNOWN=\"x\"\n");
  auto r = apply_changes({{"ipadd", "198.18.0.2"},
                          {"ipdel", "198.18.0.1"},
                          {"ram", "1G"},
                          {"cpumask", "3,1-2"},
                          {"netif_add", "eth0,00:18:51:aa:bb:cc,veth101.0,00:18:51:dd:ee:ff,br0"},
                          {"rate", "*:1:1000"},
                          {"devnodes", "net/tun:rw"},
                          {"hostname", "ct.example"}},
                         "101", conf);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(conf.get("IP_ADDRESS"), "198.18.0.2");
  EXPECT_EQ(conf.get("PHYSPAGES"), "0:262144");
  EXPECT_EQ(conf.get("CPUMASK"), "1-3");
  EXPECT_EQ(conf.get("NETIF"),
            "ifname=eth0,bridge=br0,mac=00:18:51:AA:BB:CC,host_ifname=veth101.0,host_mac=00:18:51:"
            "DD:EE:FF");
  EXPECT_EQ(conf.get("RATE"), "*:1:1000");
  EXPECT_EQ(conf.get("DEVNODES"), "net/tun:rw ");
  EXPECT_EQ(conf.get("UNKNOWN"), "x");
  EXPECT_EQ(conf.lines().front().raw, "# kept");
  EXPECT_EQ(r->changed_keys, (std::vector<std::string>{"IP_ADDRESS", "PHYSPAGES", "CPUMASK",
                                                       "NETIF", "RATE", "DEVNODES", "HOSTNAME"}));
}

TEST(ConfigEdit, ErrorsNameTheChangeAndLeaveTheConfig) {
  struct Case {
    Changes changes;
    int status;
    const char* says;
  } cases[] = {
      {{{"nosuchthing", "1"}}, 20, "unknown option `--nosuchthing`"},
      {{{"ram", "lots"}}, 21, "--ram: invalid value `lots`"},
      {{{"cpumask", "0-"}}, 21, "--cpumask: invalid value `0-` (list like 0-2,7 expected)"},
      {{{"ipadd", "198.18.0.300"}}, 71, "--ipadd: invalid value"},
      {{{"netif_add", "eth0,zz:00:00:00:00:01"}}, 21, "bad MAC address"},
      {{{"devices", "c:7:0:rw"}}, 21, "loop devices"},
      {{{"hostname", "ok.example"}, {"hostname", "bad_name"}},
       21,
       "--hostname: invalid value `bad_name`"},
      {{{"description", "a\"b"}}, 21, "quotes"},
      {{{"name", "12:3"}}, 131, "invalid name"},
  };
  for (const auto& c : cases) {
    ConfFile conf = ConfFile::parse("HOSTNAME=\"before\"\n");
    auto r = apply_changes(c.changes, "101", conf);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_EQ(r.error().exit_status(), c.status) << r.error().message();
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << r.error().message();
    EXPECT_EQ(conf.get("HOSTNAME"), "before") << c.says;
  }
}

TEST(ConfigEdit, ControlCharactersInErrorsAreEscaped) {
  ConfFile conf;
  auto r = apply_changes({{"hostname", "a\nb"}}, "101", conf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
  EXPECT_EQ(one_line(Error::invalid("x\ny", 21)).message(), "x\\ny");
  EXPECT_EQ(one_line(Error::invalid("x\ny", 21)).exit_status(), 21);
}

TEST(ConfigEdit, SampleNamesAndWarnings) {
  EXPECT_TRUE(is_sample_name("vswap-256m"));
  EXPECT_TRUE(is_sample_name("centos-7+x_1.0"));
  for (const char* bad : {"", ".hidden", "-x", "a/b", "a b", "a$b"})
    EXPECT_FALSE(is_sample_name(bad)) << bad;
  ConfigEdit e;
  EXPECT_EQ(not_enforced_warning(e), "");
  e.not_enforced = {"KMEMSIZE", "MEMINFO"};
  EXPECT_EQ(not_enforced_warning(e),
            "Warning: KMEMSIZE, MEMINFO: saved but not enforced on this kernel");
  EXPECT_EQ(bad_value("v", "why").message(), "invalid value `v` (why)");
  EXPECT_EQ(bad_value("v").exit_status(), 21);
}

}  // namespace
}  // namespace berth::edit
