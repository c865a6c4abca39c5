// Debian templates end to end on the host: a cache made by `berth template create debian-12`
// (BERTH_TEST_DEBIAN_TEMPLATE, from tests/tools/debian-template) imported, CTs created from it by
// short name and under a neutral name, the distribution read from the archive, `template list`'s
// columns and IN USE, and the per-machine files made fresh on first boot.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "harness.h"

namespace berth::itest {
namespace {

std::string debian_template() {
  const char* p = std::getenv("BERTH_TEST_DEBIAN_TEMPLATE");
  return p && *p ? p : "";
}

class DebianTemplate : public BerthTest {
 protected:
  void SetUp() override {
    BerthTest::SetUp();
    if (IsSkipped()) return;
    if (debian_template().empty())
      GTEST_SKIP() << "SKIPPED: no Debian template (BERTH_TEST_DEBIAN_TEMPLATE unset; "
                      "tests/tools/debian-template makes one)";
  }
  // Import the cache under name; asserts success.
  void import_as(const std::string& name) {
    RunResult r = berth({"template", "import", debian_template(), "--name", name},
                        {.timeout = std::chrono::seconds(120)});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  std::string config_value(const std::string& ctid, const std::string& key) {
    for (const auto& line : split_lines(read_text(conf_path(ctid))))
      if (line.rfind(key + "=", 0) == 0) {
        std::string v = line.substr(key.size() + 1);
        if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
        return v;
      }
    return "<unset>";
  }
  // The `template list` line of name (empty when missing).
  std::string list_line(const std::string& name) {
    RunResult r = berth({"template", "list", "-H"});
    EXPECT_EQ(r.code, 0) << r.err;
    for (const auto& line : split_lines(r.out))
      if (line.rfind(name + " ", 0) == 0) return line;
    return "";
  }
};

TEST_F(DebianTemplate, ShortNameDistributionAndInUse) {
  import_as("debian-12-x86_64-minimal");
  RunResult head = berth({"template", "list"});
  ASSERT_EQ(head.code, 0) << head.err;
  EXPECT_TRUE(matches(split_lines(head.out).at(0), "NAME +SIZE +DATE +DISTRIBUTION +IN USE"))
      << head.out;
  std::string line = list_line("debian-12-x86_64-minimal");
  EXPECT_TRUE(matches(line,
                      "debian-12-x86_64-minimal +[0-9.]+M +[0-9]{4}-[0-9]{2}-[0-9]{2} "
                      "[0-9]{2}:[0-9]{2} +debian 12 +-"))
      << line;

  std::string id = new_ctid();
  RunResult c = berth({"create", id, "--ostemplate", "debian-12", "--hostname", "deb" + id},
                      {.timeout = std::chrono::seconds(180)});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_PRED2(contains, c.out, "(debian-12-x86_64-minimal)");
  EXPECT_EQ(config_value(id, "OSTEMPLATE"), "debian-12-x86_64-minimal");
  EXPECT_EQ(config_value(id, "DISTRIBUTION"), "debian-12");
  EXPECT_TRUE(matches(list_line("debian-12-x86_64-minimal"), ".*debian 12 +" + id)) << id;
  RunResult js = berth({"template", "list", "-j"});
  ASSERT_EQ(js.code, 0);
  auto arr = nlohmann::json::parse(js.out);
  ASSERT_EQ(arr.size(), 2u);  // busybox (the harness's) and ours
  EXPECT_EQ(arr[1]["in_use"], nlohmann::json::array({id}));
  EXPECT_EQ(arr[1]["distribution"], "debian 12");
  EXPECT_EQ(arr[0]["name"], "busybox");
  // The busybox template's own os-release (ID=busybox, VERSION_ID its version).
  EXPECT_TRUE(matches(arr[0]["distribution"].get<std::string>(), "busybox( .+)?"));

  RunResult rm = berth({"template", "remove", "debian-12-x86_64-minimal"});
  EXPECT_EQ(rm.code, 21) << "in use: " << rm.err;

  RunResult none = berth({"create", new_ctid(), "--ostemplate", "debian-11"});
  EXPECT_EQ(none.code, 91) << none.err;
  EXPECT_PRED2(contains, none.err, "`berth template create debian-11` makes it");
}

TEST_F(DebianTemplate, FamilyFromContentsNotName) {
  import_as("foo");  // an OpenVZ-style cache whose name says nothing
  EXPECT_TRUE(matches(list_line("foo"), "foo +[0-9.]+M .* debian 12 +-")) << list_line("foo");
  std::string id = new_ctid();
  RunResult c =
      berth({"create", id, "--ostemplate", "foo"}, {.timeout = std::chrono::seconds(180)});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(config_value(id, "OSTEMPLATE"), "foo");
  EXPECT_EQ(config_value(id, "DISTRIBUTION"), "debian-12");
  // The busybox template holds os-release ID=busybox: its CTs say so too.
  std::string bb = create_ct();
  EXPECT_TRUE(matches(config_value(bb, "DISTRIBUTION"), "busybox(-.+)?"))
      << config_value(bb, "DISTRIBUTION");
}

TEST_F(DebianTemplate, FirstBootMakesPerMachineFiles) {
  import_as("debian-12-x86_64-minimal");
  std::string id = new_ctid();
  RunResult c = berth({"create", id, "--ostemplate", "debian-12", "--hostname", "deb" + id},
                      {.timeout = std::chrono::seconds(180)});
  ASSERT_EQ(c.code, 0) << c.err;
  RunResult s = berth({"start", id}, {.timeout = std::chrono::seconds(60)});
  ASSERT_EQ(s.code, 0) << s.err;
  bool keys = false;
  for (int i = 0; i < 60 && !keys; ++i) {
    keys = berth({"exec", id, "test", "-s", "/etc/ssh/ssh_host_ed25519_key"}).code == 0;
    if (!keys) sleep_ms(500);
  }
  EXPECT_TRUE(keys) << "ssh host keys made on first boot";
  RunResult mid = berth({"exec", id, "cat", "/etc/machine-id"});
  EXPECT_TRUE(matches(mid.out, "[0-9a-f]{32}\n")) << mid.out;
  RunResult udev = berth({"exec", id, "systemctl", "is-enabled", "systemd-udevd.service"});
  EXPECT_EQ(udev.out, "masked\n");
  // The keys are there a moment before sshd has started on them (a busy host: "activating").
  RunResult ssh;
  for (int i = 0; i < 60; ++i) {
    ssh = berth({"exec", id, "systemctl", "is-active", "ssh.service"});
    if (ssh.out != "activating\n") break;
    sleep_ms(500);
  }
  EXPECT_EQ(ssh.out, "active\n") << ssh.err;
  // A stop that takes too long: systemd's shutdown messages (a stop job still running) are in
  // the console log.
  std::string console = root() + "/var/log/berth/" + id + ".console.log";
  RunResult stop = berth({"stop", id}, {.timeout = std::chrono::seconds(90)});
  EXPECT_EQ(stop.code, 0) << stop.err << "\nconsole log (the end):\n"
                          << [&] {
                               std::string t = read_text(console);
                               return t.size() > 4000 ? t.substr(t.size() - 4000) : t;
                             }();
}

}  // namespace
}  // namespace berth::itest
