#include "dist/net_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

const std::string kMarker(kHostsMarker);

TEST(DistHosts, AddsLineKeepingOthers) {
  std::string in = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.5 db\n";
  EXPECT_EQ(hosts_with_hostname(in, "ct101.example.org"),
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.5 db\n" + kMarker +
                "\n127.0.1.1 ct101.example.org ct101\n");
}

TEST(DistHosts, ShortNameHasNoAlias) {
  EXPECT_EQ(hosts_with_hostname("127.0.0.1 localhost\n", "box"),
            "127.0.0.1 localhost\n" + kMarker + "\n127.0.1.1 box\n");
}

TEST(DistHosts, ReplacesPreviousLineAndIsIdempotent) {
  std::string once = hosts_with_hostname("127.0.0.1 localhost\n10.0.0.5 db\n", "a.example.org");
  std::string twice = hosts_with_hostname(once, "b.example.org");
  EXPECT_EQ(twice,
            "127.0.0.1 localhost\n10.0.0.5 db\n" + kMarker + "\n127.0.1.1 b.example.org b\n");
  EXPECT_EQ(hosts_with_hostname(twice, "b.example.org"), twice);
}

TEST(DistHosts, ReplacesDebianLineInPlace) {
  EXPECT_EQ(hosts_with_hostname(
                "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n\n# IPv6\n::1 localhost\n", "web"),
            "127.0.0.1\tlocalhost\n" + kMarker + "\n127.0.1.1 web\n\n# IPv6\n::1 localhost\n");
}

TEST(DistHosts, ReplacesVzctlLineAndRestoresLocalhost) {
  // vzctl wrote "127.0.0.1 localhost.localdomain localhost <name>" under its marker.
  std::string in =
      kMarker + "\n127.0.0.1 localhost.localdomain localhost old.example.org old\n10.1.1.1 x\n";
  EXPECT_EQ(hosts_with_hostname(in, "new.example.org"),
            "127.0.0.1 localhost\n" + kMarker + "\n127.0.1.1 new.example.org new\n10.1.1.1 x\n");
  EXPECT_EQ(hosts_with_hostname("", "h"), "127.0.0.1 localhost\n" + kMarker + "\n127.0.1.1 h\n");
}

TEST(DistHosts, FirstAddressNamesTheHostAndFollowsChanges) {
  std::string once = hosts_with_hostname("127.0.0.1 localhost\n", "ct.example.org", "198.18.1.1");
  EXPECT_EQ(once, "127.0.0.1 localhost\n" + kMarker + "\n198.18.1.1 ct.example.org ct\n");
  // A new first address replaces the line under the marker; none left: back to 127.0.1.1.
  std::string twice = hosts_with_hostname(once, "ct.example.org", "fd00:1::1");
  EXPECT_EQ(twice, "127.0.0.1 localhost\n" + kMarker + "\nfd00:1::1 ct.example.org ct\n");
  EXPECT_EQ(hosts_with_hostname(twice, "ct.example.org"),
            "127.0.0.1 localhost\n" + kMarker + "\n127.0.1.1 ct.example.org ct\n");
}

TEST(DistHosts, FirstAddressOfIpAddress) {
  EXPECT_EQ(first_address("198.18.0.1/24 fd00::1"), "198.18.0.1");
  EXPECT_EQ(first_address("  fd00::2 198.18.0.1"), "fd00::2");
  EXPECT_EQ(first_address(""), "");
}

TEST(DistDns, InheritTakesTheHostsValues) {
  std::string host =
      "# generated\nnameserver 192.0.2.53\nsearch a.example b.example\nnameserver "
      "fd00::53\noptions ndots:2\n";
  EXPECT_EQ(resolve_inherit({"inherit"}, host, true),
            (std::vector<std::string>{"192.0.2.53", "fd00::53"}));
  EXPECT_EQ(resolve_inherit({"198.18.0.1", "inherit", "192.0.2.53"}, host, true),
            (std::vector<std::string>{"198.18.0.1", "192.0.2.53", "fd00::53"}));
  EXPECT_EQ(resolve_inherit({"inherit"}, host, false),
            (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(resolve_inherit({"x.example"}, host, false), (std::vector<std::string>{"x.example"}));
  EXPECT_TRUE(resolve_inherit({"inherit"}, "", true).empty());
}

TEST(DistHostname, Validates) {
  for (const char* ok : {"a", "ct101", "web-1.example.org", "x.y"})
    EXPECT_TRUE(validate_hostname(ok).ok()) << ok;
  for (const char* bad : {"", "-a", "a-", "a..b", "a_b", "a b", "a.", ".a", "a\nb"}) {
    auto st = validate_hostname(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().exit_status(), exitcode::kBadValue);
  }
  EXPECT_FALSE(validate_hostname(std::string(64, 'a')).ok());
  EXPECT_TRUE(validate_hostname(std::string(63, 'a')).ok());
}

TEST(DistResolv, ReplacesNameserversKeepsOptions) {
  std::string in =
      "# generated\nsearch old.org\nnameserver 1.1.1.1\noptions rotate\nnameserver 8.8.8.8\n";
  EXPECT_EQ(resolv_conf_with(in, {"192.0.2.1", "2001:db8::1"}, {}),
            "# generated\nsearch old.org\nnameserver 192.0.2.1\nnameserver 2001:db8::1\noptions "
            "rotate\n");
  EXPECT_EQ(
      resolv_conf_with(in, {}, {"a.org", "b.org"}),
      "# generated\nsearch a.org b.org\nnameserver 1.1.1.1\noptions rotate\nnameserver 8.8.8.8\n");
  EXPECT_EQ(resolv_conf_with(in, {}, {}), in);
}

TEST(DistResolv, AddsMissingLines) {
  EXPECT_EQ(resolv_conf_with("", {"192.0.2.1"}, {"example.org"}),
            "search example.org\nnameserver 192.0.2.1\n");
  EXPECT_EQ(resolv_conf_with("domain x.org\noptions ndots:2\n", {"192.0.2.1"}, {"example.org"}),
            "search example.org\noptions ndots:2\nnameserver 192.0.2.1\n");
  std::string once = resolv_conf_with("options edns0\n", {"192.0.2.1"}, {"example.org"});
  EXPECT_EQ(resolv_conf_with(once, {"192.0.2.1"}, {"example.org"}), once);
}

TEST(DistResolv, ValidatesValues) {
  EXPECT_TRUE(validate_nameserver("10.0.0.1").ok());
  EXPECT_TRUE(validate_nameserver("::1").ok());
  EXPECT_FALSE(validate_nameserver("10.0.0").ok());
  EXPECT_FALSE(validate_nameserver("inherit").ok());
  EXPECT_FALSE(validate_nameserver("1.2.3.4\nnameserver 6.6.6.6").ok());
  EXPECT_TRUE(validate_searchdomain("example.org").ok());
  EXPECT_FALSE(validate_searchdomain("exa mple.org").ok());
}

TEST(DistSysconfig, SetsHostnameKey) {
  EXPECT_EQ(sysconfig_network_with_hostname("NETWORKING=yes\nHOSTNAME=old\n", "new.example.org"),
            "NETWORKING=yes\nHOSTNAME=\"new.example.org\"\n");
  EXPECT_EQ(sysconfig_network_with_hostname("NETWORKING=yes\n", "h"),
            "NETWORKING=yes\nHOSTNAME=\"h\"\n");
}

class DistFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/berth-dist-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(make_dirs(root_ + "/etc/sysconfig").ok());
  }
  void TearDown() override { EXPECT_TRUE(sys::remove_tree(root_).ok()); }
  std::string read(const std::string& rel) { return sys::read_file(root_ + rel).value(); }
  unsigned mode(const std::string& rel) {
    struct stat st {};
    ::lstat((root_ + rel).c_str(), &st);
    return st.st_mode & 07777;
  }
  std::string root_;
};

TEST_F(DistFilesTest, SetHostnameWritesFilesKeepingModes) {
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/hosts", "127.0.0.1 localhost\n", 0640).ok());
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/sysconfig/network", "NETWORKING=yes\n").ok());
  ASSERT_TRUE(set_hostname("ct.example.org", root_).ok());
  EXPECT_EQ(read("/etc/hostname"), "ct.example.org\n");
  EXPECT_EQ(read("/etc/hosts"),
            "127.0.0.1 localhost\n" + kMarker + "\n127.0.1.1 ct.example.org ct\n");
  EXPECT_EQ(mode("/etc/hosts"), 0640u);
  EXPECT_EQ(read("/etc/sysconfig/network"), "NETWORKING=yes\nHOSTNAME=\"ct.example.org\"\n");
  auto bad = set_hostname("bad name", root_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().exit_status(), exitcode::kBadValue);
  EXPECT_EQ(read("/etc/hostname"), "ct.example.org\n");
}

TEST_F(DistFilesTest, SetDnsReplacesSymlinkWithFile) {
  // systemd-resolved's stub: vzctl's cp+mv turned it into a regular file; so do we.
  ASSERT_TRUE(
      write_file_atomic(root_ + "/etc/stub", "nameserver 127.0.0.53\noptions edns0\n").ok());
  ASSERT_EQ(::symlink("stub", (root_ + "/etc/resolv.conf").c_str()), 0);
  ASSERT_TRUE(set_dns({"192.0.2.1"}, {"example.org"}, root_).ok());
  EXPECT_EQ(read("/etc/resolv.conf"), "search example.org\nnameserver 192.0.2.1\noptions edns0\n");
  struct stat st {};
  ASSERT_EQ(::lstat((root_ + "/etc/resolv.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read("/etc/stub"), "nameserver 127.0.0.53\noptions edns0\n");
  EXPECT_FALSE(set_dns({"not-an-ip"}, {}, root_).ok());
  EXPECT_TRUE(set_dns({}, {}, root_).ok());
}

TEST(DistResolved, DropInKeepsWhatAnEmptyListLeaves) {
  std::string first = resolved_conf_with("", {"192.0.2.1", "2001:db8::1"}, {"example.org"});
  EXPECT_EQ(first.substr(first.find("[Resolve]")),
            "[Resolve]\nDNS=192.0.2.1 2001:db8::1\nDomains=example.org\n");
  std::string second = resolved_conf_with(first, {"192.0.2.9"}, {});
  EXPECT_EQ(second.substr(second.find("[Resolve]")),
            "[Resolve]\nDNS=192.0.2.9\nDomains=example.org\n");
  std::string only_domains = resolved_conf_with("", {}, {"a.example", "b.example"});
  EXPECT_EQ(only_domains.substr(only_domains.find("[Resolve]")),
            "[Resolve]\nDomains=a.example b.example\n");
}

TEST(DistResolved, RecognisesItsLinks) {
  EXPECT_TRUE(is_resolved_link("/run/systemd/resolve/stub-resolv.conf"));
  EXPECT_TRUE(is_resolved_link("../run/systemd/resolve/stub-resolv.conf"));
  EXPECT_TRUE(is_resolved_link("/run/systemd/resolve/resolv.conf"));
  EXPECT_FALSE(is_resolved_link("/run/resolvconf/resolv.conf"));
  EXPECT_FALSE(is_resolved_link("stub"));
}

TEST_F(DistFilesTest, SetDnsWithResolvedWritesItsConfigAndKeepsTheLink) {
  // The link's target does not exist here (as on a stopped CT, /run is empty): only the link is
  // read, nothing it points to.
  std::string link = "../run/systemd/resolve/stub-resolv.conf";
  ASSERT_EQ(::symlink(link.c_str(), (root_ + "/etc/resolv.conf").c_str()), 0);
  bool via_resolved = false;
  ASSERT_TRUE(set_dns({"192.0.2.1"}, {"example.org"}, root_, &via_resolved).ok());
  EXPECT_TRUE(via_resolved);
  std::string conf = read(std::string(kResolvedDropIn));
  EXPECT_NE(conf.find("[Resolve]\nDNS=192.0.2.1\nDomains=example.org\n"), std::string::npos);
  char target[256] = {};
  ASSERT_GT(::readlink((root_ + "/etc/resolv.conf").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_EQ(std::string(target), link);
  EXPECT_FALSE(sys::path_exists(root_ + "/run"));
  // A later --searchdomain keeps the servers.
  ASSERT_TRUE(set_dns({}, {"example.net"}, root_, &via_resolved).ok());
  EXPECT_NE(read(std::string(kResolvedDropIn)).find("DNS=192.0.2.1\nDomains=example.net\n"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::dist
