#include "dist/family.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf_file.h"
#include "core/host_config.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

TEST(DistFamily, FromOstemplate) {
  EXPECT_EQ(family_from_ostemplate("debian-12-x86_64"), Family::kDebian);
  EXPECT_EQ(family_from_ostemplate("ubuntu-22.04-x86_64-minimal"), Family::kDebian);
  EXPECT_EQ(family_from_ostemplate("centos-7-x86_64"), Family::kRedhat);
  EXPECT_EQ(family_from_ostemplate("AlmaLinux-9"), Family::kRedhat);
  EXPECT_EQ(family_from_ostemplate("alpine-3.19-x86_64"), Family::kBusybox);
  EXPECT_EQ(family_from_ostemplate("busybox"), Family::kBusybox);
  EXPECT_EQ(family_from_ostemplate("gentoo-2024"), Family::kDefault);
  EXPECT_EQ(family_from_ostemplate(""), Family::kDefault);
  EXPECT_EQ(family_from_ostemplate("debianish-1"), Family::kDefault);
}

TEST(DistFamily, FromOsRelease) {
  EXPECT_EQ(family_from_os_release("NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n"),
            Family::kDebian);
  EXPECT_EQ(family_from_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"),
            Family::kRedhat);
  EXPECT_EQ(family_from_os_release("ID=mycorp\nID_LIKE=\"suse opensuse rhel\"\n"), Family::kRedhat);
  EXPECT_EQ(family_from_os_release("ID=alpine\n"), Family::kBusybox);
  EXPECT_EQ(family_from_os_release("ID=arch\n"), Family::kDefault);
  EXPECT_EQ(family_from_os_release(""), Family::kDefault);
}

TEST(DistFamily, DetectPrefersOstemplateThenFiles) {
  std::string tmpl = "/tmp/berth-dist-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string root = tmpl;
  EXPECT_EQ(detect_family("", root), Family::kDefault);
  ASSERT_TRUE(make_dirs(root + "/bin").ok());
  ASSERT_TRUE(write_file_atomic(root + "/bin/busybox", "").ok());
  EXPECT_EQ(detect_family("", root), Family::kBusybox);
  ASSERT_TRUE(make_dirs(root + "/usr/lib").ok());
  ASSERT_TRUE(write_file_atomic(root + "/usr/lib/os-release", "ID=fedora\n").ok());
  EXPECT_EQ(detect_family("", root), Family::kRedhat);
  // An absolute symlink would point at the host when read from outside: only regular files count.
  ASSERT_TRUE(make_dirs(root + "/etc").ok());
  ASSERT_EQ(::symlink("/nonexistent/os-release", (root + "/etc/os-release").c_str()), 0);
  EXPECT_EQ(detect_family("", root), Family::kRedhat);
  EXPECT_EQ(detect_family("debian-12-x86_64", root), Family::kDebian);
  EXPECT_EQ(family_name(Family::kRedhat), "redhat");
  EXPECT_TRUE(sys::remove_tree(root).ok());
}

}  // namespace
}  // namespace berth::dist
