// HostConfig's path layouts (Berth's own and OpenVZ's), host_path(), and what an OpenVZ CTID.conf
// reads as: the layout guessed from its private area, digits-only names.
#include "core/host_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "core/ct_config.h"
#include "sys/fs.h"

namespace berth {
namespace {

class TempRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-hostconf-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { (void)sys::remove_tree(root_); }
  void write(const std::string& rel, const std::string& text) {
    std::string path = root_ + rel;
    ASSERT_TRUE(make_dirs(path.substr(0, path.rfind('/'))).ok());
    std::ofstream(path) << text;
  }
  void mkdir(const std::string& rel) { ASSERT_TRUE(make_dirs(root_ + rel).ok()); }
  HostConfig load(std::string_view layout = "") {
    auto h = HostConfig::load_at(root_, layout);
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message());
    return h.ok() ? std::move(h).value() : HostConfig();
  }
  std::string root_;
};

TEST(PathLayout, Parses) {
  EXPECT_EQ(parse_path_layout(""), PathLayout::kBerth);
  EXPECT_EQ(parse_path_layout("berth"), PathLayout::kBerth);
  EXPECT_EQ(parse_path_layout("openvz"), PathLayout::kOpenvz);
  EXPECT_EQ(parse_path_layout("OpenVZ"), std::nullopt);
  EXPECT_EQ(parse_path_layout("vz"), std::nullopt);
}

TEST_F(TempRoot, BerthLayoutIsTheDefault) {
  HostConfig h = load();
  EXPECT_EQ(h.paths().layout, PathLayout::kBerth);
  EXPECT_EQ(h.paths().global_conf, root_ + "/etc/berth/berth.conf");
  EXPECT_EQ(h.paths().conf_dir, root_ + "/etc/berth/conf");
  EXPECT_EQ(h.paths().cache_dir, root_ + "/var/lib/berth/template/cache");
  EXPECT_EQ(h.default_ve_private(), root_ + "/var/lib/berth/private/$VEID");
  // Berth's layout takes path values as written.
  EXPECT_EQ(h.host_path("/vz/private/101"), "/vz/private/101");
}

TEST_F(TempRoot, OpenvzLayoutFromBerthConf) {
  write("/etc/berth/berth.conf", "PATH_LAYOUT=\"openvz\"\nCGROUP_PARENT=\"ovz-test\"\n");
  HostConfig h = load();
  const HostPaths& p = h.paths();
  EXPECT_EQ(p.layout, PathLayout::kOpenvz);
  EXPECT_EQ(p.global_conf, root_ + "/etc/vz/vz.conf");
  EXPECT_EQ(p.conf_dir, root_ + "/etc/vz/conf");
  EXPECT_EQ(p.names_dir, root_ + "/etc/vz/names");
  EXPECT_EQ(p.template_dir, root_ + "/vz/template");
  EXPECT_EQ(p.cache_dir, root_ + "/vz/template/cache");
  EXPECT_EQ(p.lock_dir, root_ + "/vz/lock");
  EXPECT_EQ(p.dump_dir, root_ + "/vz/dump");
  EXPECT_EQ(p.lib, root_ + "/var/lib/berth");
  EXPECT_EQ(h.ct_conf_path("101"), root_ + "/etc/vz/conf/101.conf");
  // Written as OpenVZ writes them, read below BERTH_ROOT.
  EXPECT_EQ(h.default_ve_root(), "/vz/root/$VEID");
  EXPECT_EQ(h.default_ve_private(), "/vz/private/$VEID");
  EXPECT_EQ(h.instance(), "ovz-test") << "berth.conf's keys stay when vz.conf lacks them";
}

TEST_F(TempRoot, OpenvzLayoutFromTheEnvironmentOverride) {
  HostConfig h = load("openvz");
  EXPECT_EQ(h.paths().layout, PathLayout::kOpenvz);
  EXPECT_EQ(h.instance(), "berth");
  EXPECT_FALSE(HostConfig::load_at(root_, "ovz").ok());
}

TEST_F(TempRoot, VzConfWinsAndItsPathsAreReadBelowTheRoot) {
  write("/etc/berth/berth.conf", "PATH_LAYOUT=\"openvz\"\nTEMPLATE=\"/elsewhere\"\n");
  write("/etc/vz/vz.conf",
        "TEMPLATE=/vz/template\nLOCKDIR=/vz/lock2\nVE_ROOT=\"/vz/root/$VEID\"\n"
        "VE_PRIVATE=\"/vz/private/$VEID\"\n");
  HostConfig h = load();
  EXPECT_EQ(h.paths().template_dir, root_ + "/vz/template");
  EXPECT_EQ(h.paths().lock_dir, root_ + "/vz/lock2");
  EXPECT_EQ(h.host_path("/vz/private/101"), root_ + "/vz/private/101");
  EXPECT_EQ(h.host_path(root_ + "/vz/private/101"), root_ + "/vz/private/101");
  EXPECT_EQ(h.host_path("relative"), "relative");
  CtConfig ct(h, "101", ConfFile::parse("VE_PRIVATE=\"/vz/private/$VEID\"\n"));
  EXPECT_EQ(ct.ve_private(), root_ + "/vz/private/101");
  EXPECT_EQ(ct.ve_root(), root_ + "/vz/root/101");
}

TEST_F(TempRoot, BadPathLayoutIsRefused) {
  write("/etc/berth/berth.conf", "PATH_LAYOUT=\"vz7\"\n");
  auto h = HostConfig::load_at(root_);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().exit_status(), 10);
}

// vzctl's guess for a CTID.conf without VE_LAYOUT: root.hdd/ -> ploop, else simfs.
TEST_F(TempRoot, LayoutIsGuessedFromThePrivateArea) {
  HostConfig h = load("openvz");
  auto ct = [&](const std::string& id, const std::string& text = "") {
    return CtConfig(h, id, ConfFile::parse(text));
  };
  EXPECT_EQ(ct("1201").layout(), Layout::kOverlay) << "no private area: the default";
  mkdir("/vz/private/1202/etc");
  EXPECT_EQ(ct("1202").layout(), Layout::kSimfs);
  mkdir("/vz/private/1203/root.hdd");
  EXPECT_EQ(ct("1203").layout(), Layout::kPloop);
  mkdir("/vz/private/1204/upper");
  ASSERT_EQ(::symlink("/nonexistent", (root_ + "/vz/private/1204/lower").c_str()), 0);
  EXPECT_EQ(ct("1204").layout(), Layout::kOverlay);
  // The CT's own key wins over the guess.
  EXPECT_EQ(ct("1203", "VE_LAYOUT=\"simfs\"\n").layout(), Layout::kSimfs);
  EXPECT_EQ(ct("1202", "VE_LAYOUT=\"ploop:expanded\"\n").layout(), Layout::kPloop);
  EXPECT_STREQ(layout_name(Layout::kPloop), "ploop");
  EXPECT_STREQ(layout_name(Layout::kSimfs), "simfs");
  EXPECT_STREQ(layout_name(Layout::kOverlay), "overlay");
}

TEST_F(TempRoot, GlobalVeLayoutIsOnlyADefaultForNewCts) {
  write("/etc/vz/vz.conf", "VE_LAYOUT=ploop\n");
  HostConfig h = load("openvz");
  mkdir("/vz/private/1205/bin");
  EXPECT_EQ(CtConfig(h, "1205", ConfFile()).layout(), Layout::kSimfs);
  EXPECT_EQ(CtConfig(h, "1206", ConfFile()).layout(), Layout::kPloop);
}

// As vzctl: an argument that is a valid CTID is the CTID; a digits-only name that can be no CTID
// is found as a name.
TEST_F(TempRoot, DigitsOnlyNames) {
  HostConfig h = load();
  mkdir("/etc/berth/names");
  ASSERT_EQ(::symlink("../conf/1207.conf", (root_ + "/etc/berth/names/42").c_str()), 0);
  ASSERT_EQ(::symlink("../conf/1208.conf", (root_ + "/etc/berth/names/1300").c_str()), 0);
  auto r = resolve_ctid(h, "42");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, "1207");
  r = resolve_ctid(h, "1300");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "1300") << "a valid CTID is never read as a name";
  r = ctid_by_name(h, "1300");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "1208");
  r = resolve_ctid(h, "43");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_status(), 20) << "no such name: the CTID's own error";
}

}  // namespace
}  // namespace berth
