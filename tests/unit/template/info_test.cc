// Template contents and listing: os-release read out of archives, the list table, short names.
#include "template/info.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "core/exit_codes.h"
#include "test_util.h"

namespace berth::tmpl {
namespace {

using testing::write_tar;

constexpr char kDebianOs[] =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

using TemplateInfo = testing::CacheDirTest;

TEST_F(TemplateInfo, OsReleaseRegularFile) {
  write_tar(cache() + "/a.tar.gz", {{"./", AE_IFDIR, 0755},
                                    {"./etc/", AE_IFDIR, 0755},
                                    {"./etc/os-release", AE_IFREG, 0644, kDebianOs}});
  auto os = os_release_of_archive(cache() + "/a.tar.gz");
  ASSERT_TRUE(os.ok());
  ASSERT_TRUE(*os);
  EXPECT_EQ(**os, kDebianOs);
}

TEST_F(TemplateInfo, OsReleaseSymlinkToUsrLibAfterIt) {
  // Debian's layout: etc/os-release -> ../usr/lib/os-release, the target later in the archive.
  write_tar(cache() + "/b.tar",
            {{"./etc/", AE_IFDIR, 0755},
             {"./etc/os-release", AE_IFLNK, 0777, "../usr/lib/os-release"},
             {"./usr/lib/", AE_IFDIR, 0755},
             {"./usr/lib/os-release", AE_IFREG, 0644, "ID=ubuntu\nVERSION_ID=22.04\n"}});
  auto os = os_release_of_archive(cache() + "/b.tar");
  ASSERT_TRUE(os.ok() && *os);
  EXPECT_EQ(distribution_label(**os), "ubuntu 22.04");
}

TEST_F(TemplateInfo, OsReleaseTargetBeforeLinkAndAbsoluteLink) {
  write_tar(cache() + "/c.tar",
            {{"usr/lib/os-release", AE_IFREG, 0644, "ID=debian\nVERSION_ID=11\n"},
             {"etc/os-release", AE_IFLNK, 0777, "/usr/lib/os-release"}});
  auto os = os_release_of_archive(cache() + "/c.tar");
  ASSERT_TRUE(os.ok() && *os);
  EXPECT_EQ(distribution_label(**os), "debian 11");
}

TEST_F(TemplateInfo, NoOsReleaseAndUnreadable) {
  write_tar(cache() + "/d.tar",
            {{"./bin/", AE_IFDIR, 0755}, {"./bin/busybox", AE_IFREG, 0755, "x"}});
  auto os = os_release_of_archive(cache() + "/d.tar");
  ASSERT_TRUE(os.ok());
  EXPECT_FALSE(*os);
  std::ofstream(cache() + "/e.tar.gz") << "not an archive";
  EXPECT_FALSE(os_release_of_archive(cache() + "/e.tar.gz").ok());
}

TEST(DistributionLabel, IdAndVersion) {
  EXPECT_EQ(distribution_label(kDebianOs), "debian 12");
  EXPECT_EQ(distribution_label("ID=debian\n"), "debian");
  EXPECT_EQ(distribution_label("NAME=x\n"), "-");
}

TEST_F(TemplateInfo, RowsUseSidecarAndUsers) {
  // Named like nothing Debian: the distribution comes from the contents.
  write_tar(cache() + "/foo.tar.gz", {{"./etc/os-release", AE_IFREG, 0644, kDebianOs}});
  write_tar(cache() + "/bare.tar", {{"./bin/", AE_IFDIR, 0755}});
  ASSERT_TRUE(make_dirs(host_.paths().conf_dir).ok());
  std::ofstream(host_.paths().conf_dir + "/101.conf") << "OSTEMPLATE=\"foo\"\n";
  std::ofstream(host_.paths().conf_dir + "/102.conf") << "OSTEMPLATE=\"foo\"\n";
  std::ofstream(host_.paths().conf_dir + "/103.conf") << "OSTEMPLATE=\"other\"\n";
  auto rows = template_rows(host_);
  ASSERT_TRUE(rows.ok()) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].entry.name, "bare");
  EXPECT_EQ((*rows)[0].distribution, "-");
  EXPECT_TRUE((*rows)[0].users.empty());
  EXPECT_EQ((*rows)[1].distribution, "debian 12");
  EXPECT_EQ((*rows)[1].users, (std::vector<std::string>{"101", "102"}));
  struct stat st;
  ASSERT_EQ(stat((cache() + "/.foo.tar.gz.dist").c_str(), &st), 0) << "sidecar written";

  // The sidecar answers while the archive is unchanged: prove it by editing the sidecar.
  std::ifstream in(cache() + "/.foo.tar.gz.dist");
  std::string stamp;
  std::getline(in, stamp);
  in.close();
  std::ofstream(cache() + "/.foo.tar.gz.dist") << stamp << "\n+\nID=cached\n";
  EXPECT_EQ((*template_rows(host_))[1].distribution, "cached");
  // A rewritten archive (other size) is read again.
  write_tar(cache() + "/foo.tar.gz",
            {{"./etc/os-release", AE_IFREG, 0644, "ID=alpine\nVERSION_ID=3.19\n"}});
  EXPECT_EQ((*template_rows(host_))[1].distribution, "alpine 3.19");
}

TEST(TemplateListFormat, ColumnsAndJson) {
  TemplateRow a;
  a.entry = {"debian-12-x86_64-minimal", "/c/debian-12-x86_64-minimal.tar.zst", 70235842, false};
  a.mtime = 1700000000;
  a.distribution = "debian 12";
  a.users = {"101", "102"};
  TemplateRow b;
  b.entry = {"busybox", "/c/busybox.tar.gz", 1200000, true};
  b.mtime = 1700000000;
  b.distribution = "-";
  std::string out = format_template_list({a, b}, true, false);
  std::istringstream lines(out);
  std::string header, l1, l2;
  std::getline(lines, header);
  std::getline(lines, l1);
  std::getline(lines, l2);
  EXPECT_EQ(header.find("NAME"), 0u);
  for (const char* col : {"SIZE", "DATE", "DISTRIBUTION", "IN USE"})
    EXPECT_NE(header.find(col), std::string::npos) << col;
  EXPECT_NE(l1.find(" 67M "), std::string::npos) << l1;
  EXPECT_NE(l1.find("debian 12"), std::string::npos);
  EXPECT_NE(l1.find("101,102"), std::string::npos);
  EXPECT_EQ(l1.find("DISTRIBUTION"), std::string::npos);
  EXPECT_NE(l2.find("1.1M"), std::string::npos) << l2;
  EXPECT_EQ(l2.back(), '-');
  // Columns line up: the distribution starts where its header does.
  EXPECT_EQ(l1.find("debian 12"), header.find("DISTRIBUTION"));
  EXPECT_EQ(format_template_list({a}, false, false).find("NAME"), std::string::npos);

  std::string json = format_template_list({a, b}, true, true);
  EXPECT_NE(json.find("\"distribution\": \"debian 12\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"distribution\": null"), std::string::npos);
  EXPECT_NE(json.find("\"size\": 70235842"), std::string::npos);
  EXPECT_NE(json.find("\"101\""), std::string::npos);
}

TEST(TemplateShortNames, Pick) {
  const std::vector<std::string> names = {
      "busybox",         "debian-12-x86_64-minimal",  "debian-12-x86_64-full",
      "centos-7-x86_64", "debian-12-aarch64-minimal", "debian-12-x86_64x"};
  EXPECT_EQ(pick_template_name(names, "busybox", "x86_64").value(), "busybox");
  EXPECT_EQ(pick_template_name(names, "debian-12", "x86_64").value(), "debian-12-x86_64-minimal");
  EXPECT_EQ(pick_template_name(names, "centos-7", "x86_64").value(), "centos-7-x86_64");
  EXPECT_EQ(pick_template_name(names, "debian-12", "aarch64").value(), "debian-12-aarch64-minimal");
  EXPECT_EQ(pick_template_name(names, "debian-11", "x86_64").value(), std::nullopt);
  auto amb = pick_template_name({"u-1-x86_64-a", "u-1-x86_64-b"}, "u-1", "x86_64");
  ASSERT_FALSE(amb.ok());
  EXPECT_EQ(amb.error().exit_status(), exitcode::kBadValue);
  EXPECT_NE(amb.error().message().find("u-1-x86_64-a, u-1-x86_64-b"), std::string::npos);
}

TEST_F(TemplateInfo, ResolveNotFoundSaysHowToMakeIt) {
  auto r = resolve_template_name(host_, "debian-12", "x86_64");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_status(), exitcode::kTemplateNotFound);
  EXPECT_NE(r.error().message().find("berth template create debian-12"), std::string::npos)
      << r.error().message();
  write_tar(cache() + "/debian-12-x86_64-minimal.tar", {{"./etc/", AE_IFDIR, 0755}});
  EXPECT_EQ(resolve_template_name(host_, "debian-12", "x86_64").value(),
            "debian-12-x86_64-minimal");
  EXPECT_EQ(resolve_template_name(host_, "../x", "x86_64").error().exit_status(),
            exitcode::kBadValue);
}

}  // namespace
}  // namespace berth::tmpl
