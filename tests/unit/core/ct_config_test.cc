// CTID and name syntax, split_words(), and CtConfig accessors over a ConfFile.
#include "core/ct_config.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

TEST(ValidateCtid, AcceptsTheVzctlRange) {
  for (const char* s : {"101", "1000", "2147483644", "65535"}) {
    auto r = validate_ctid(s);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(*r, s);
  }
}

TEST(ValidateCtid, RefusesReservedAndOutOfRange) {
  for (const char* s : {"0", "1", "100", "2147483645", "4294967296", "18446744073709551616",
                        "99999999999999999999999"}) {
    auto r = validate_ctid(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().exit_status(), 20) << s;
    EXPECT_NE(r.error().message().find(s), std::string::npos) << r.error().message();
  }
}

TEST(ValidateCtid, RefusesNonDecimal) {
  for (std::string s :
       {"", "0101", "+101", "-101", " 101", "101 ", "10a", "1e3", "0x65", "101.0", "١٠١"}) {
    auto r = validate_ctid(s);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_EQ(r.error().exit_status(), 20);
    }
  }
  EXPECT_FALSE(validate_ctid(std::string_view("101\0", 4)).ok());
}

TEST(ValidateCtName, Accepts) {
  // Digits only too: vzctl's check_name() accepts them.
  for (const char* s :
       {"web", "web-1", "web_1", "web.example", "a", "1a", "a1", "A.B-C_D", "123", "0", "0123"})
    EXPECT_TRUE(validate_ct_name(s).ok()) << s;
  EXPECT_TRUE(validate_ct_name(std::string(64, 'x')).ok());
}

TEST(ValidateCtName, Refuses) {
  for (std::string s : {"", ".hidden", "-opt", "a/b", "a b", "a:b", "a$b", "..", "a\nb", "ü"}) {
    auto st = validate_ct_name(s);
    ASSERT_FALSE(st.ok()) << s;
    EXPECT_EQ(st.error().exit_status(), 131) << s;
  }
  EXPECT_FALSE(validate_ct_name(std::string(65, 'x')).ok());
  EXPECT_FALSE(validate_ct_name(std::string_view("ab\0c", 4)).ok());
}

TEST(SplitWords, Blanks) {
  EXPECT_EQ(split_words(""), std::vector<std::string>{});
  EXPECT_EQ(split_words("   "), std::vector<std::string>{});
  EXPECT_EQ(split_words("a"), std::vector<std::string>{"a"});
  EXPECT_EQ(split_words(" 10.0.0.1\t10.0.0.2/24  "),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2/24"}));
}

class CtConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = HostConfig::load_at("/nonexistent-berth-root-for-tests");
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(*h);
  }
  CtConfig make(const std::string& text) { return CtConfig(host_, "101", ConfFile::parse(text)); }
  HostConfig host_;
};

TEST_F(CtConfigTest, ExpandsVeidInPaths) {
  auto c = make("VE_ROOT=\"/vz/root/$VEID\"\nVE_PRIVATE=\"/vz/private/${VEID}/\"\n");
  EXPECT_EQ(c.ve_root(), "/vz/root/101");
  EXPECT_EQ(c.ve_private(), "/vz/private/101");
}

TEST_F(CtConfigTest, DefaultPathsComeFromTheHost) {
  auto c = make("");
  EXPECT_EQ(c.ve_root(), expand_veid(host_.default_ve_root(), "101"));
  EXPECT_EQ(c.ve_private(), expand_veid(host_.default_ve_private(), "101"));
}

TEST_F(CtConfigTest, Layout) {
  EXPECT_EQ(make("").layout(), Layout::kOverlay);
  EXPECT_EQ(make("VE_LAYOUT=\"simfs\"\n").layout(), Layout::kSimfs);
  EXPECT_EQ(make("VE_LAYOUT=\"overlay\"\n").layout(), Layout::kOverlay);
  EXPECT_EQ(make("VE_LAYOUT=\"image\"\n").layout(), Layout::kImage);
  EXPECT_STREQ(layout_name(Layout::kImage), "image");
  EXPECT_EQ(parse_layout(layout_name(Layout::kImage)), Layout::kImage);
}

// A limit key missing from both the CT's config and berth.conf gets Berth's safe default; a value
// in the config (unlimited included) wins.
TEST_F(CtConfigTest, LimitKeysHaveSafeDefaults) {
  EXPECT_EQ(make("").get("NUMPROC"), "512");
  EXPECT_EQ(make("").get("PHYSPAGES"), "0:65536");
  EXPECT_EQ(make("").get("NUMPTY"), "64");
  EXPECT_EQ(make("NUMPROC=\"unlimited\"\n").get("NUMPROC"), "unlimited");
  EXPECT_EQ(make("NUMPTY=\"8\"\n").get("NUMPTY"), "8");
  EXPECT_EQ(make("").get("CPULIMIT"), std::nullopt);
  EXPECT_FALSE(make("").conf().has("NUMPROC")) << "defaults are not written to the file";
}

TEST_F(CtConfigTest, LocalIds) {
  EXPECT_EQ(make("").local_uid(), kDefaultLocalUid);
  EXPECT_EQ(make("").local_gid(), kDefaultLocalUid);
  EXPECT_EQ(make("LOCAL_UID=\"200000\"\n").local_gid(), 200000u);
  EXPECT_EQ(make("LOCAL_UID=\"200000\"\nLOCAL_GID=\"300000\"\n").local_gid(), 300000u);
  EXPECT_TRUE(make("LOCAL_UID=\"0\"\n").is_privileged());
  EXPECT_FALSE(make("").is_privileged());
  EXPECT_EQ(make("LOCAL_UID=\"junk\"\n").local_uid(), kDefaultLocalUid);
}

TEST_F(CtConfigTest, StopTimeout) {
  EXPECT_EQ(make("").stop_timeout(), 120u);
  EXPECT_EQ(make("STOP_TIMEOUT=\"0\"\n").stop_timeout(), 120u);
  EXPECT_EQ(make("STOP_TIMEOUT=\"30\"\n").stop_timeout(), 30u);
}

TEST_F(CtConfigTest, BoolsAndLists) {
  auto c = make("ONBOOT=\"yes\"\nDISABLED=\"no\"\nX=\"maybe\"\nIP_ADDRESS=\"10.0.0.1 10.0.0.2\"\n");
  EXPECT_TRUE(c.get_bool("ONBOOT", false));
  EXPECT_FALSE(c.get_bool("DISABLED", true));
  EXPECT_TRUE(c.get_bool("X", true));
  EXPECT_FALSE(c.get_bool("MISSING", false));
  EXPECT_EQ(c.list("IP_ADDRESS"), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_TRUE(c.list("NAMESERVER").empty() || !c.conf().has("NAMESERVER"));
}

TEST_F(CtConfigTest, Accessors) {
  auto c = make("HOSTNAME=\"ct.example\"\nNAME=\"web\"\nOSTEMPLATE=\"busybox\"\n");
  EXPECT_EQ(c.hostname(), "ct.example");
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.ostemplate(), "busybox");
  EXPECT_EQ(c.ctid(), "101");
}

}  // namespace
}  // namespace berth
