// The config-building halves of create and set that need no root: a new CT's config from its
// sample, --applyconfig's merge, the not-enforced warning.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "core/ct_model.h"
#include "runtime/create.h"
#include "runtime/set.h"

namespace berth::runtime {
namespace {

class CreateSetConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/create_set_config_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(make_dirs(dir_ + "/etc/berth/conf").ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  HostConfig host(const std::string& berth_conf = "") {
    if (!berth_conf.empty()) {
      EXPECT_TRUE(write_file_atomic(dir_ + "/etc/berth/berth.conf", berth_conf).ok());
    }
    auto h = HostConfig::load_at(dir_);
    EXPECT_TRUE(h.ok());
    return std::move(*h);
  }
  void sample(const std::string& name, const std::string& text) {
    ASSERT_TRUE(write_file_atomic(dir_ + "/etc/berth/conf/ve-" + name + ".conf-sample", text).ok());
  }
  std::string dir_;
};

TEST_F(CreateSetConfigTest, NewConfigFromTheDefaultSample) {
  HostConfig h = host();
  auto conf = new_ct_config(h, std::nullopt);
  ASSERT_TRUE(conf.ok()) << conf.error().message();
  EXPECT_EQ(conf->get("ORIGIN_SAMPLE"), "vswap-256m");
  EXPECT_EQ(conf->get("PHYSPAGES"), "0:65536");
  EXPECT_EQ(conf->get("VE_ROOT"), h.default_ve_root());
  EXPECT_EQ(conf->get("VE_PRIVATE"), h.default_ve_private());
  EXPECT_EQ(conf->get("OSTEMPLATE"), "busybox");
  EXPECT_EQ(conf->get("VE_LAYOUT"), "overlay");
  EXPECT_TRUE(validate_config(CtConfig(h, "101", *conf)).ok());
}

TEST_F(CreateSetConfigTest, NewConfigFollowsBerthConfAndTheSample) {
  HostConfig h = host("CONFIGFILE=\"mine\"\nDEF_OSTEMPLATE=\"debian-12\"\nVE_LAYOUT=\"simfs\"\n");
  sample("mine", "NUMPROC=\"100\"\nOSTEMPLATE=\"alpine\"\n");
  auto conf = new_ct_config(h, std::nullopt);
  ASSERT_TRUE(conf.ok()) << conf.error().message();
  EXPECT_EQ(conf->get("NUMPROC"), "100");
  EXPECT_EQ(conf->get("OSTEMPLATE"), "alpine");  // the sample's wins over DEF_OSTEMPLATE
  EXPECT_EQ(conf->get("VE_LAYOUT"), "simfs");
  // CONFIGFILE="" means no sample; an explicit one wins over CONFIGFILE.
  HostConfig none = host("CONFIGFILE=\"\"\nDEF_OSTEMPLATE=\"debian-12\"\n");
  auto bare = new_ct_config(none, std::nullopt);
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->has("ORIGIN_SAMPLE"));
  EXPECT_FALSE(bare->has("PHYSPAGES"));
  EXPECT_EQ(bare->get("OSTEMPLATE"), "debian-12");
  EXPECT_EQ(new_ct_config(none, std::string("mine"))->get("NUMPROC"), "100");
  auto missing = new_ct_config(none, std::string("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().exit_status(), 82);
}

TEST_F(CreateSetConfigTest, ApplyconfigKeepsTheCtsIdentity) {
  HostConfig h = host();
  sample("big",
         "HOSTNAME=\"sample\"\nIP_ADDRESS=\"198.18.0.9\"\nVE_ROOT=\"/"
         "x\"\nNUMPROC=\"900\"\nCPUUNITS=\"2000\"\n");
  ConfFile conf = ConfFile::parse("HOSTNAME=\"mine\"\nIP_ADDRESS=\"198.18.0.2\"\nNUMPROC=\"10\"\n");
  ASSERT_TRUE(merge_sample(h, "big", conf).ok());
  EXPECT_EQ(conf.get("HOSTNAME"), "mine");
  EXPECT_EQ(conf.get("IP_ADDRESS"), "198.18.0.2");
  EXPECT_FALSE(conf.has("VE_ROOT"));
  EXPECT_EQ(conf.get("NUMPROC"), "900");
  EXPECT_EQ(conf.get("CPUUNITS"), "2000");
  EXPECT_EQ(merge_sample(h, "absent", conf).error().exit_status(), 82);
}

TEST_F(CreateSetConfigTest, NotEnforcedWarningNamesOnlyUnenforcedKeys) {
  EXPECT_EQ(not_enforced_warning({}), "");
  std::string w = not_enforced_warning({"KMEMSIZE", "MEMINFO"});
  EXPECT_EQ(w, "Warning: KMEMSIZE, MEMINFO: saved but not enforced on this kernel");
}

}  // namespace
}  // namespace berth::runtime
