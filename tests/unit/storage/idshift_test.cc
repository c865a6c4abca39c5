// The one-time shift of a host-owned private area's owners: ids, resume, symlinks never followed,
// setuid bits kept. Owner changes need root: those tests skip otherwise.
#include "storage/idshift.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/host_config.h"
#include "sys/fs.h"

namespace berth::storage {
namespace {

constexpr uint32_t kBase = 1200000;

TEST(ShiftedId, MapsTheLowRangeOnly) {
  EXPECT_EQ(shifted_id(0, kBase), kBase);
  EXPECT_EQ(shifted_id(1000, kBase), kBase + 1000);
  EXPECT_EQ(shifted_id(65535, kBase), kBase + 65535);
  EXPECT_EQ(shifted_id(65536, kBase), 65536u);
  EXPECT_EQ(shifted_id(kBase + 5, kBase), kBase + 5) << "a second walk changes nothing";
}

class AreaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-idshift-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    priv_ = dir_ + "/private";
    ASSERT_TRUE(make_dirs(priv_ + "/etc/ssh").ok());
    ASSERT_TRUE(make_dirs(priv_ + "/usr/bin").ok());
    std::ofstream(priv_ + "/etc/passwd") << "root:x:0:0::/root:/bin/sh\n";
    std::ofstream(priv_ + "/usr/bin/su") << "#!/bin/sh\n";
    std::ofstream(dir_ + "/host-file") << "host\n";
    ASSERT_EQ(::chmod((priv_ + "/usr/bin/su").c_str(), 04755), 0);
    ASSERT_EQ(::link((priv_ + "/etc/passwd").c_str(), (priv_ + "/etc/passwd.hard").c_str()), 0);
    // A CT symlink to a host file: the shift must change the link, never its target.
    ASSERT_EQ(::symlink((dir_ + "/host-file").c_str(), (priv_ + "/etc/evil").c_str()), 0);
    ASSERT_EQ(::symlink(dir_.c_str(), (priv_ + "/etc/evil-dir").c_str()), 0);
  }
  void TearDown() override { (void)sys::remove_tree(dir_); }
  struct stat lst(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st;
  }
  void need_root() {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root (chown)";
  }
  std::string dir_, priv_;
};

TEST_F(AreaTest, HostOwnedAreaIsRecognised) {
  need_root();
  auto o = area_owners(priv_, kBase);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o, AreaOwners::kHostIds);
  // A shifted tree under a root dir made by host root is the CT's.
  ASSERT_EQ(::lchown((priv_ + "/usr").c_str(), kBase, kBase), 0);
  EXPECT_EQ(*area_owners(priv_, kBase), AreaOwners::kCtIds);
  ASSERT_EQ(::lchown(priv_.c_str(), kBase, kBase), 0);
  EXPECT_EQ(*area_owners(priv_, kBase), AreaOwners::kCtIds);
  std::ofstream(idshift_marker(priv_)) << "uid=1 gid=1\n";
  EXPECT_EQ(*area_owners(priv_, kBase), AreaOwners::kShifting);
  EXPECT_FALSE(area_owners(dir_ + "/missing", kBase).ok());
}

TEST_F(AreaTest, ShiftChangesEveryOwnerOnceAndFollowsNoSymlink) {
  need_root();
  ASSERT_EQ(::lchown((priv_ + "/etc/ssh").c_str(), 100, 101), 0);
  ASSERT_EQ(::lchown((priv_ + "/usr/bin/su").c_str(), 0, 70000), 0);  // gid beyond the range
  ASSERT_EQ(::chmod((priv_ + "/usr/bin/su").c_str(), 06755), 0);
  ShiftProgress last;
  int calls = 0;
  Status st = shift_area(priv_, kBase, kBase + 1, [&](const ShiftProgress& p) {
    last = p;
    ++calls;
  });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_GE(calls, 2);
  EXPECT_EQ(last.done, last.total);
  EXPECT_EQ(last.total, 10u)
      << "private, etc, ssh, passwd, passwd.hard, evil, evil-dir, usr, bin, su";
  EXPECT_EQ(lst(priv_).st_uid, kBase);
  EXPECT_EQ(lst(priv_).st_gid, kBase + 1);
  EXPECT_EQ(lst(priv_ + "/etc/ssh").st_uid, kBase + 100);
  EXPECT_EQ(lst(priv_ + "/etc/ssh").st_gid, kBase + 1 + 101);
  EXPECT_EQ(lst(priv_ + "/etc/passwd").st_uid, kBase) << "hard link shifted once, not twice";
  EXPECT_EQ(lst(priv_ + "/etc/evil").st_uid, kBase) << "the link itself";
  EXPECT_EQ(lst(dir_ + "/host-file").st_uid, 0u) << "never the host file it points to";
  EXPECT_EQ(lst(dir_).st_uid, 0u);
  struct stat su = lst(priv_ + "/usr/bin/su");
  EXPECT_EQ(su.st_uid, kBase);
  EXPECT_EQ(su.st_gid, 70000u);
  EXPECT_EQ(su.st_mode & 07777, 06755u) << "setuid/setgid put back after chown";
  EXPECT_FALSE(sys::path_exists(idshift_marker(priv_)));
  EXPECT_EQ(*area_owners(priv_, kBase), AreaOwners::kCtIds);
}

// A killed shift leaves its marker and a half-shifted tree; the next shift finishes it, and
// what was done already stays as it is.
TEST_F(AreaTest, ResumesAfterAKill) {
  need_root();
  ASSERT_EQ(::lchown((priv_ + "/etc/passwd").c_str(), kBase, kBase), 0);  // done before the kill
  std::ofstream(idshift_marker(priv_)) << "uid=1200000 gid=1200000\n";
  EXPECT_EQ(*area_owners(priv_, kBase), AreaOwners::kShifting);
  ASSERT_TRUE(shift_area(priv_, kBase, kBase, {}).ok());
  EXPECT_EQ(lst(priv_ + "/etc/passwd").st_uid, kBase);
  EXPECT_EQ(lst(priv_ + "/usr/bin").st_uid, kBase);
  EXPECT_FALSE(sys::path_exists(idshift_marker(priv_)));
}

TEST_F(AreaTest, DeviceNodesAreShiftedNotOpened) {
  need_root();
  ASSERT_EQ(::mknod((priv_ + "/etc/sda").c_str(), S_IFBLK | 0600, makedev(8, 0)), 0);
  ASSERT_EQ(::mkfifo((priv_ + "/etc/fifo").c_str(), 0600), 0);  // opening it would block
  ASSERT_TRUE(shift_area(priv_, kBase, kBase, {}).ok());
  EXPECT_EQ(lst(priv_ + "/etc/sda").st_uid, kBase);
  EXPECT_EQ(lst(priv_ + "/etc/fifo").st_uid, kBase);
}

TEST_F(AreaTest, RefusesALowBase) {
  auto st = shift_area(priv_, 1000, 1000, {});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().exit_status(), 21);
  EXPECT_EQ(lst(priv_ + "/etc").st_uid, ::geteuid());
}

}  // namespace
}  // namespace berth::storage
