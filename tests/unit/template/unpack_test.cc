// unpack_archive() and remove_tree() on archives written by the test itself.
#include "template/unpack.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "test_util.h"

namespace berth::tmpl {
namespace {

using testing::ArcEntry;
using testing::exists;
using testing::write_tar;

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class TemplateUnpack : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    dest_ = dir_ + "/dest";
    ASSERT_EQ(mkdir(dest_.c_str(), 0755), 0);
  }
  std::string dest_;
};

TEST_F(TemplateUnpack, KeepsTypesModesAndContent) {
  std::string arc = dir_ + "/t.tar.gz";
  write_tar(arc, {{"./", AE_IFDIR, 0755},
                  {"./etc/", AE_IFDIR, 0755},
                  {"./etc/shadow", AE_IFREG, 0600, "root:!:\n"},
                  {"./bin/", AE_IFDIR, 0755},
                  {"./bin/su", AE_IFREG, 04755, "ELF"},
                  {"./bin/sh", AE_IFLNK, 0777, "su"},
                  {"./bin/su2", AE_IFREG, 0644, "", "./bin/su"},
                  {"./tmp/", AE_IFDIR, 01777},
                  {"./root/", AE_IFDIR, 0700}});
  ASSERT_TRUE(unpack_archive(arc, dest_, 0, 0).ok());
  struct stat st;
  ASSERT_EQ(lstat((dest_ + "/etc/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtime, 1700000000);
  EXPECT_EQ(slurp(dest_ + "/etc/shadow"), "root:!:\n");
  ASSERT_EQ(lstat((dest_ + "/bin/su").c_str(), &st), 0);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_mode & 07777, 04755u);  // setuid bit is dropped for non-root owners
  }
  ino_t su_ino = st.st_ino;
  ASSERT_EQ(lstat((dest_ + "/bin/su2").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, su_ino);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(lstat((dest_ + "/bin/sh").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(lstat((dest_ + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  ASSERT_EQ(lstat((dest_ + "/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(TemplateUnpack, ShiftsOwners) {
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./", AE_IFDIR, 0755, "", "", 0, 0},
                  {"./home/", AE_IFDIR, 0755, "", "", 0, 0},
                  {"./home/user", AE_IFREG, 0644, "x", "", 1000, 100},
                  {"./link", AE_IFLNK, 0777, "home/user", "", 5, 6}});
  ASSERT_TRUE(unpack_archive(arc, dest_, 100000, 200000).ok());
  if (geteuid() != 0) GTEST_SKIP() << "ownership needs root";
  struct stat st;
  ASSERT_EQ(lstat(dest_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  EXPECT_EQ(st.st_gid, 200000u);
  ASSERT_EQ(lstat((dest_ + "/home/user").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 101000u);
  EXPECT_EQ(st.st_gid, 200100u);
  ASSERT_EQ(lstat((dest_ + "/link").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100005u);
  EXPECT_EQ(st.st_gid, 200006u);
}

TEST_F(TemplateUnpack, RefusesDotDot) {
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./ok", AE_IFREG, 0644, "x"}, {"./a/../../escape", AE_IFREG, 0644, "x"}});
  auto st = unpack_archive(arc, dest_, 0, 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("leaves the destination"), std::string::npos)
      << st.error().message();
  EXPECT_FALSE(exists(dir_ + "/escape"));
}

TEST_F(TemplateUnpack, RefusesAbsolutePath) {
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{dir_ + "/abs", AE_IFREG, 0644, "x"}});
  EXPECT_FALSE(unpack_archive(arc, dest_, 0, 0).ok());
  EXPECT_FALSE(exists(dir_ + "/abs"));
}

TEST_F(TemplateUnpack, RefusesHardlinkOutside) {
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./h", AE_IFREG, 0644, "", "../t.tar"}});
  EXPECT_FALSE(unpack_archive(arc, dest_, 0, 0).ok());
  EXPECT_FALSE(exists(dest_ + "/h"));
}

TEST_F(TemplateUnpack, RefusesWritingThroughSymlink) {
  ASSERT_EQ(mkdir((dir_ + "/outside").c_str(), 0755), 0);
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./evil", AE_IFLNK, 0777, dir_ + "/outside"},
                  {"./evil/planted", AE_IFREG, 0644, "x"}});
  EXPECT_FALSE(unpack_archive(arc, dest_, 0, 0).ok());
  EXPECT_FALSE(exists(dir_ + "/outside/planted"));
}

TEST_F(TemplateUnpack, DeviceNodeSkipped) {
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./dev/", AE_IFDIR, 0755},
                  {"./dev/null", AE_IFCHR, 0666},
                  {"./after", AE_IFREG, 0644, "y"}});
  ASSERT_TRUE(unpack_archive(arc, dest_, 0, 0).ok());
  EXPECT_TRUE(exists(dest_ + "/after"));      // a skipped node does not stop the unpack
  EXPECT_FALSE(exists(dest_ + "/dev/null"));  // never taken from an archive, even as root
}

TEST_F(TemplateUnpack, GarbageArchiveFails) {
  std::string arc = dir_ + "/t.tar.gz";
  std::ofstream(arc) << "this is not an archive";
  EXPECT_FALSE(unpack_archive(arc, dest_, 0, 0).ok());
  EXPECT_FALSE(unpack_archive(dir_ + "/missing.tar", dest_, 0, 0).ok());
}

TEST_F(TemplateUnpack, RemoveTreeDoesNotFollowSymlinks) {
  ASSERT_EQ(mkdir((dir_ + "/keep").c_str(), 0755), 0);
  std::ofstream(dir_ + "/keep/file") << "x";
  ASSERT_EQ(mkdir((dest_ + "/sub").c_str(), 0700), 0);
  ASSERT_EQ(symlink((dir_ + "/keep").c_str(), (dest_ + "/sub/link").c_str()), 0);
  ASSERT_TRUE(remove_tree(dest_).ok());
  EXPECT_FALSE(exists(dest_));
  EXPECT_TRUE(exists(dir_ + "/keep/file"));
  EXPECT_TRUE(remove_tree(dest_).ok());  // missing is fine
}

}  // namespace
}  // namespace berth::tmpl
