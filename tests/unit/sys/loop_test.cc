// sys/loop: which loop devices hold an image, read from a fake sysfs laid out as the kernel's
// (block/loopN/loop/backing_file, present only while the device is bound).
#include "sys/loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace berth::sys {
namespace {

namespace fs = std::filesystem;

class LoopSysfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-loop-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    image_ = root_ + "/ct/disk.img";
    fs::create_directories(root_ + "/ct");
    std::ofstream(image_) << "x";
    fs::create_directories(root_ + "/sys/block/loop0");  // free: no loop/ directory
    add("loop1", image_ + "\n");
    add("loop2", root_ + "/other.img\n");
    add("loop7", image_ + " (deleted)\n");  // an unlinked file of the same name
    add("loop12", image_ + "\n");
    fs::create_directories(root_ + "/sys/block/sda/loop");  // not a loop device
    std::ofstream(root_ + "/sys/block/sda/loop/backing_file") << image_ << "\n";
  }
  void TearDown() override { fs::remove_all(root_); }
  void add(const std::string& dev, const std::string& backing) {
    fs::create_directories(root_ + "/sys/block/" + dev + "/loop");
    std::ofstream(root_ + "/sys/block/" + dev + "/loop/backing_file") << backing;
  }
  std::string root_, image_;
};

TEST_F(LoopSysfsTest, FindsTheLoopsOfAnImageOnly) {
  auto loops = loops_backed_by(image_, root_ + "/sys");
  std::sort(loops.begin(), loops.end());
  EXPECT_EQ(loops, (std::vector<std::string>{"/dev/loop1", "/dev/loop12"}));
}

TEST_F(LoopSysfsTest, ComparesCanonicalPaths) {
  // The same file named through "..": the kernel shows its canonical path.
  auto loops = loops_backed_by(root_ + "/ct/../ct/disk.img", root_ + "/sys");
  EXPECT_EQ(loops.size(), 2u);
  // A file that does not exist is held by nothing.
  EXPECT_TRUE(loops_backed_by(root_ + "/ct/none.img", root_ + "/sys").empty());
  // No sysfs: nothing, no error.
  EXPECT_TRUE(loops_backed_by(image_, root_ + "/nosys").empty());
}

TEST_F(LoopSysfsTest, UnboundLoopsAreTheDevicesWithNothingAttachedFromFirstOn) {
  fs::create_directories(root_ + "/sys/block/loop9");
  fs::create_directories(root_ + "/sys/block/loop10");
  fs::create_directories(root_ + "/sys/block/loop100");
  fs::create_directories(root_ + "/sys/block/loopx");    // not a loop device's name
  fs::create_directories(root_ + "/sys/block/loop3p1");  // a partition's name
  fs::create_directories(root_ + "/sys/block/nbd8");
  // loop1, loop2, loop7 and loop12 are bound (loop/ present): never listed.
  EXPECT_EQ(unbound_loops(0, root_ + "/sys"), (std::vector<int>{0, 9, 10, 100}));
  EXPECT_EQ(unbound_loops(8, root_ + "/sys"), (std::vector<int>{9, 10, 100}));
  EXPECT_EQ(unbound_loops(10, root_ + "/sys"), (std::vector<int>{10, 100}));
  EXPECT_TRUE(unbound_loops(101, root_ + "/sys").empty());
  EXPECT_TRUE(unbound_loops(0, root_ + "/nosys").empty());
}

TEST_F(LoopSysfsTest, BootLoopCountIsMaxLoopOrTheKernelsDefault) {
  EXPECT_EQ(boot_loop_count(root_ + "/sys"), 8);  // no loop module directory
  fs::create_directories(root_ + "/sys/module/loop/parameters");
  const std::string param = root_ + "/sys/module/loop/parameters/max_loop";
  std::ofstream(param) << "0\n";
  EXPECT_EQ(boot_loop_count(root_ + "/sys"), 8);
  std::ofstream(param) << "64\n";
  EXPECT_EQ(boot_loop_count(root_ + "/sys"), 64);
  std::ofstream(param) << "junk\n";
  EXPECT_EQ(boot_loop_count(root_ + "/sys"), 8);
  std::ofstream(param) << "-3\n";
  EXPECT_EQ(boot_loop_count(root_ + "/sys"), 8);
}

TEST(LoopBackingFile, MatchesExactlyWithoutTheNewline) {
  EXPECT_TRUE(backing_file_matches("/a/disk.img\n", "/a/disk.img"));
  EXPECT_TRUE(backing_file_matches("/a/disk.img", "/a/disk.img"));
  EXPECT_FALSE(backing_file_matches("/a/disk.img (deleted)\n", "/a/disk.img"));
  EXPECT_FALSE(backing_file_matches("/a/disk.img2\n", "/a/disk.img"));
  EXPECT_FALSE(backing_file_matches("\n", ""));
}

}  // namespace
}  // namespace berth::sys
