// sys/blockdev: a partition maps to its disk, a disk (loop, dm, whole virtio disk) to itself, an
// anonymous device (major 0) or an unknown one to nothing; on a fake sysfs tree laid out as the
// kernel's (/sys/dev/block/M:m links into /sys/devices/...), and on this host's real /tmp.
#include "sys/blockdev.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace berth::sys {
namespace {

namespace fs = std::filesystem;

class BlockdevTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-blockdev-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    // sda (8:0) with partition sda2 (8:2); loop3 (7:3) a disk of its own.
    fs::create_directories(root_ + "/devices/pci0/block/sda/sda2");
    fs::create_directories(root_ + "/devices/virtual/block/loop3");
    fs::create_directories(root_ + "/dev/block");
    write(root_ + "/devices/pci0/block/sda/dev", "8:0\n");
    write(root_ + "/devices/pci0/block/sda/sda2/dev", "8:2\n");
    write(root_ + "/devices/pci0/block/sda/sda2/partition", "2\n");
    write(root_ + "/devices/virtual/block/loop3/dev", "7:3\n");
    fs::create_directory_symlink("../../devices/pci0/block/sda", root_ + "/dev/block/8:0");
    fs::create_directory_symlink("../../devices/pci0/block/sda/sda2", root_ + "/dev/block/8:2");
    fs::create_directory_symlink("../../devices/virtual/block/loop3", root_ + "/dev/block/7:3");
  }
  void TearDown() override { fs::remove_all(root_); }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  std::string root_;
};

TEST_F(BlockdevTest, PartitionMapsToItsDisk) {
  EXPECT_EQ(whole_disk_of(::makedev(8, 2), root_), "8:0");
}

TEST_F(BlockdevTest, DiskMapsToItself) {
  EXPECT_EQ(whole_disk_of(::makedev(8, 0), root_), "8:0");
  EXPECT_EQ(whole_disk_of(::makedev(7, 3), root_), "7:3");
}

TEST_F(BlockdevTest, AnonymousOrUnknownDeviceHasNoDisk) {
  EXPECT_EQ(whole_disk_of(::makedev(0, 45), root_), "");
  EXPECT_EQ(whole_disk_of(::makedev(8, 7), root_), "");
}

TEST_F(BlockdevTest, RealPathOnThisHost) {
  // /tmp's file system: its disk is whatever sysfs says, and that disk is not a partition.
  auto disk = disk_of_path("/tmp");
  ASSERT_TRUE(disk.ok());
  struct stat st;
  ASSERT_EQ(::stat("/tmp", &st), 0);
  if (::major(st.st_dev) == 0) {
    EXPECT_EQ(*disk, "");
    return;
  }
  ASSERT_FALSE(disk->empty());
  EXPECT_TRUE(fs::exists("/sys/dev/block/" + *disk + "/dev"));
  EXPECT_FALSE(fs::exists("/sys/dev/block/" + *disk + "/partition"));
  EXPECT_FALSE(disk_of_path("/nonexistent/berth").ok());
}

}  // namespace
}  // namespace berth::sys
