// Config-driven behaviour through the CLI: sample configs, passwords at create, device rules,
// and the reachability check of VE_ROOT for the CT's unprivileged root.
#include <crypt.h>
#include <sys/stat.h>

#include <fstream>

#include "harness.h"

namespace berth::itest {
namespace {

class ConfigTest : public BerthTest {};

std::string conf_value(const std::string& text, const std::string& key) {
  for (const auto& l : split_lines(text))
    if (l.rfind(key + "=\"", 0) == 0) return l.substr(key.size() + 2, l.size() - key.size() - 3);
  return "<unset>";
}

TEST_F(ConfigTest, CreateWithSampleAndApplyconfig) {
  std::string id = create_ct({"--config", "vswap-256m"});
  std::string conf = read_text(conf_path(id));
  EXPECT_EQ(conf_value(conf, "PHYSPAGES"), "0:65536");
  EXPECT_EQ(conf_value(conf, "ORIGIN_SAMPLE"), "vswap-256m");
  auto r = berth({"set", id, "--applyconfig", "vswap-1g", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  conf = read_text(conf_path(id));
  EXPECT_EQ(conf_value(conf, "PHYSPAGES"), "0:262144");
  EXPECT_EQ(conf_value(conf, "HOSTNAME"),
            "ct" + id);  // identity keys are not taken from the sample
  r = berth({"set", id, "--applyconfig", "no-such-sample", "--save"});
  EXPECT_EQ(r.code, 82) << r.err;
  EXPECT_EQ(conf_value(read_text(conf_path(id)), "PHYSPAGES"), "0:262144");
}

TEST_F(ConfigTest, CreateWithUserpasswd) {
  std::string id = new_ctid();
  auto r = berth({"create", id, "--ostemplate", "busybox", "--userpasswd", "root:s3cret"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(contains(read_text(conf_path(id)), "s3cret"));
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  r = berth({"exec2", id, "grep '^root:' /etc/shadow"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string hash = r.out.substr(5, r.out.find(':', 5) - 5);
  struct crypt_data cd {};
  const char* again = crypt_r("s3cret", hash.c_str(), &cd);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(hash, again);
}

TEST_F(ConfigTest, PrivilegedCtCannotMakeDeviceNodes) {
  std::string id = create_running_ct({"--local_uid", "0", "--i-trust-this-vps"});
  auto r = berth({"exec2", id, "mknod /tmp/sda b 8 0"});
  EXPECT_NE(r.code, 0);
  r = berth({"exec2", id, "mknod /tmp/mem c 1 1"});
  EXPECT_NE(r.code, 0);
  r = berth({"exec2", id, "echo x > /dev/null && head -c 4 /dev/urandom | wc -c"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// A start run by the watcher clones the CT's child from the staging mount namespace, where it
// attaches its root at /ct (docs/runtime.md): the CT's root id need not pass the host's
// directories down to var/lib/berth/newroot, so a BERTH_ROOT under a directory closed to it (mktemp
// -d makes them 0700) is no obstacle. (Without a staging namespace the child attaches at
// var/lib/berth/newroot, and a directory above it that the CT's root id cannot pass is a one-line
// error, exit 12, naming it.)
TEST_F(ConfigTest, RootUnderAClosedDirectoryStarts) {
  std::string id = create_ct();
  std::string parent = root();
  ASSERT_EQ(chmod(parent.c_str(), 0700), 0);
  auto r = berth({"start", id});
  EXPECT_EQ(r.code, 0) << r.err;
  auto e = berth({"exec2", id, "echo inside"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "inside\n");
  EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
  chmod(parent.c_str(), 0755);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
}

}  // namespace
}  // namespace berth::itest
