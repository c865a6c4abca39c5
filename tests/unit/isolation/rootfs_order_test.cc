// The child's mount sequence (isolation::setup_rootfs_from_child) against the fake kernel, as
// ARCHITECTURE.md section 6 asks: the order of the mount calls is checked without root and without
// mounting anything (directories and files are made in a temporary directory standing in for the
// CT's root).
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../fakes/fake_kernel.h"
#include "child_util.h"
#include "core/host_config.h"
#include "isolation/rootfs.h"

namespace berth::isolation {
namespace {

class RootfsOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    root_ = tmp_.path() + "/root";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    auto h = HostConfig::load_at("/nonexistent-berth-root-for-tests");
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(*h);
    ASSERT_NE(::getcwd(cwd_, sizeof cwd_), nullptr);
  }
  // setup_rootfs_from_child ends with chdir("/") after its (fake) pivot_root: back to where we
  // were.
  void TearDown() override { ASSERT_EQ(::chdir(cwd_), 0); }

  Status run(fakes::Journal& j) {
    CtConfig ct(host_, "101", ConfFile::parse(""));
    fakes::FakeKernel kernel(j);
    sys::KernelOverride use(kernel);
    UniqueFd view(
        ::open("/dev/null", O_RDONLY | O_CLOEXEC));  // the detached root (never used as such)
    RootfsPlan plan{root_, view.get(), true, -1, 0};
    return setup_rootfs_from_child(ct, plan);
  }

  static size_t at(const std::vector<std::string>& calls, const std::string& call) {
    auto it = std::find(calls.begin(), calls.end(), call);
    EXPECT_NE(it, calls.end()) << "no call `" << call << "` in " << ::testing::PrintToString(calls);
    return static_cast<size_t>(it - calls.begin());
  }

  testing::TempDir tmp_;
  std::string root_;
  HostConfig host_;
  char cwd_[PATH_MAX] = {};
};

TEST_F(RootfsOrder, PropagationCutFirstEverythingUnderTheRootThenPivot) {
  fakes::Journal j;
  auto st = run(j);
  ASSERT_TRUE(st.ok()) << st.error().message();
  const auto& c = j.calls;
  ASSERT_GE(c.size(), 6u);
  // Nothing is mounted before propagation to the host's namespace is cut.
  EXPECT_EQ(c[0], "mount - on / slave rec");
  // The CT's own view of its root is attached before anything is mounted on it.
  EXPECT_EQ(c[1], "move_mount " + root_);
  size_t proc = at(c, "mount proc on " + root_ + "/proc");
  size_t sys = at(c, "mount sysfs on " + root_ + "/sys ro");  // read-only /sys
  size_t dev = at(c, "mount tmpfs on " + root_ + "/dev");
  size_t pts = at(c, "mount devpts on " + root_ + "/dev/pts");
  size_t console = at(c, "mount /dev/null on " + root_ + "/dev/console bind");
  size_t run_dir = at(c, "mount tmpfs on " + root_ + "/run");
  size_t pivot = at(c, "pivot_root .");
  size_t detach = at(c, "umount .");
  // The /dev tmpfs comes before what is mounted in it.
  EXPECT_LT(dev, pts);
  EXPECT_LT(dev, console);
  // Every mount is made below the new root before pivot_root; the old root goes right after.
  for (size_t m : {proc, sys, dev, pts, console, run_dir}) EXPECT_LT(m, pivot);
  EXPECT_EQ(detach, pivot + 1);
  EXPECT_EQ(detach, c.size() - 1);
  for (size_t i = 2; i < pivot; ++i)
    EXPECT_NE(c[i].find(" on " + root_ + "/"), std::string::npos)
        << "mounted outside the CT's root: " << c[i];
}

// A failed mount stops the sequence with its errno: no pivot_root into a half-made root.
TEST_F(RootfsOrder, FailedProcMountStopsBeforePivot) {
  fakes::Journal j;
  j.fail_on = "mount proc";
  j.fail_errno = EPERM;
  auto st = run(j);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), EPERM);
  EXPECT_NE(st.error().message().find(root_ + "/proc"), std::string::npos) << st.error().message();
  EXPECT_EQ(std::count(j.calls.begin(), j.calls.end(), "pivot_root ."), 0);
}

}  // namespace
}  // namespace berth::isolation
