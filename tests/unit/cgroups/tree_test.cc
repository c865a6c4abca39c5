// The fd-based subtree walk (cgroups/tree.h) on a plain directory tree: cgroupfs behaves the same
// for what it uses (directories, a cgroup.procs file per group, rmdir of empty dirs).
#include "cgroups/tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "cgroups/v1.h"
#include "cgroups/v2.h"

namespace berth::cgroups {
namespace {

class TreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-tree-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  // std::filesystem::remove_all works with paths and stops at PATH_MAX.
  void TearDown() override {
    walk_tree(
        root_, [](int fd) { ::unlinkat(fd, "cgroup.procs", 0); }, false);
    EXPECT_EQ(remove_tree(root_), 0);
  }
  // depth levels of `len`-character names below root_/g, made with dir fds (the path is too long
  // for mkdir(2)); the deepest gets a cgroup.procs with `pid`.
  void make_deep(int depth, size_t len, const std::string& pid) {
    std::string name(len, 'x');
    ASSERT_EQ(::mkdir((root_ + "/g").c_str(), 0755), 0);
    int fd = ::open((root_ + "/g").c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < depth; ++i) {
      ASSERT_EQ(::mkdirat(fd, name.c_str(), 0755), 0);
      int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
      ::close(fd);
      ASSERT_GE(next, 0);
      fd = next;
    }
    int f = ::openat(fd, "cgroup.procs", O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(f, 0);
    ASSERT_EQ(::write(f, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
    ::close(f);
    ::close(fd);
  }
  std::string root_;
};

TEST_F(TreeTest, ProcsOfEveryGroupBelowPathMax) {
  make_deep(25, 250, "4242\n");  // 25 * 251 characters: far past PATH_MAX
  std::ofstream(root_ + "/g/cgroup.procs") << "1\n7\n";
  auto procs = tree_procs(root_ + "/g");
  std::sort(procs.begin(), procs.end());
  EXPECT_EQ(procs, (std::vector<pid_t>{1, 7, 4242}));
}

TEST_F(TreeTest, WalkVisitsEachGroupOnceAndHoldsFewFds) {
  make_deep(40, 200, "1");
  int visits = 0, max_fd = 0;
  EXPECT_EQ(walk_tree(
                root_ + "/g",
                [&](int fd) {
                  ++visits;
                  max_fd = std::max(max_fd, fd);
                },
                false),
            0);
  EXPECT_EQ(visits, 41);
  EXPECT_LT(max_fd, 16) << "one fd per level would reach 40+";
}

TEST_F(TreeTest, RemoveTreeRemovesGroupsNestedPastPathMax) {
  // Plain dirs hold their cgroup.procs file; cgroupfs dirs are empty to rmdir. Remove the files
  // with the same walk first.
  make_deep(25, 250, "1");
  walk_tree(
      root_ + "/g", [](int fd) { ::unlinkat(fd, "cgroup.procs", 0); }, false);
  EXPECT_EQ(remove_tree(root_ + "/g"), 0);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/g"));
  EXPECT_EQ(remove_tree(root_ + "/g"), 0) << "an absent group is removed already";
}

TEST_F(TreeTest, RmdirGroupRemovesTheInstanceDirWhenEmpty) {
  ASSERT_EQ(::mkdir((root_ + "/inst").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root_ + "/inst/101").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root_ + "/inst/101/sub").c_str(), 0755), 0);
  EXPECT_TRUE(rmdir_group(root_, "inst/101").ok());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/inst"));
}

TEST(DelegatedInsideV1, HierarchiesWhoseLimitsHoldAgainstSubGroups) {
  EXPECT_TRUE(delegated_inside_v1("name=systemd"));
  EXPECT_TRUE(delegated_inside_v1("pids"));
  EXPECT_TRUE(delegated_inside_v1("cpu,cpuacct"));
  EXPECT_TRUE(delegated_inside_v1("devices"));
  EXPECT_FALSE(delegated_inside_v1("memory")) << "memory cgroup ids are host-wide (65535)";
  EXPECT_FALSE(delegated_inside_v1("blkio")) << "v1 blk-throttle is flat";
  EXPECT_FALSE(delegated_inside_v1("freezer"));
  EXPECT_FALSE(delegated_inside_v1("cpu,memory"));
  EXPECT_FALSE(delegated_inside_v1(""));
}

// cgroup v2's nesting limits are the host's writes on the CT's own group (a fake mount: a plain
// dir with the two files).
TEST_F(TreeTest, V2LimitNestingWritesDescendantsAndDepth) {
  std::string g = root_ + "/inst/101";
  std::filesystem::create_directories(g);
  std::ofstream(g + "/cgroup.max.descendants");  // written without O_TRUNC, as cgroupfs wants
  std::ofstream(g + "/cgroup.max.depth");
  V2Backend v2(root_);
  ASSERT_TRUE(v2.limit_nesting("inst/101", 20, 32).ok());
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    std::string v;
    in >> v;
    return v;
  };
  EXPECT_EQ(read(g + "/cgroup.max.descendants"), "20");
  EXPECT_EQ(read(g + "/cgroup.max.depth"), "32");
  ASSERT_TRUE(v2.limit_nesting("inst/101", kNoLimit, 32).ok());
  EXPECT_EQ(read(g + "/cgroup.max.descendants"), "max");
  std::filesystem::remove(g + "/cgroup.max.descendants");
  std::filesystem::remove(g + "/cgroup.max.depth");
}

}  // namespace
}  // namespace berth::cgroups
