// mkdir_group(): a start's group is its own only if it made it (fresh_leaf): a group made by
// another command a moment before (another root under the same CGROUP_PARENT) is refused, not
// taken, so a failed start never removes what another one made. Plain directories stand in for a
// hierarchy: the function is mkdir(2) and its errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "cgroups/v1.h"
#include "core/exit_codes.h"
#include "test_dir.h"

namespace berth::cgroups {
namespace {

// A plain directory for the hierarchy.
struct Hierarchy : TestDir {
  bool is_dir(const std::string& rel) const {
    struct stat st {};
    return ::stat((path + "/" + rel).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
};

TEST(MkdirGroup, AFreshLeafIsMadeWithItsParents) {
  Hierarchy h;
  ASSERT_FALSE(h.path.empty());
  EXPECT_TRUE(mkdir_group(h.path, "inst/101", true).ok());
  EXPECT_TRUE(h.is_dir("inst/101"));
}

TEST(MkdirGroup, AnExistingLeafIsRefusedWhenItMustBeFresh) {
  Hierarchy h;
  ASSERT_FALSE(h.path.empty());
  ASSERT_TRUE(mkdir_group(h.path, "inst/101").ok());
  auto again = mkdir_group(h.path, "inst/101", true);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().exit_status(), exitcode::kLocked);
  EXPECT_NE(again.error().message().find("inst/101"), std::string::npos);
  // Reused when it need not be fresh (the other hierarchies, the instance's own group).
  EXPECT_TRUE(mkdir_group(h.path, "inst/101").ok());
  EXPECT_FALSE(mkdir_group(h.path, "inst", true).ok());
}

TEST(MkdirGroup, AnExistingParentIsReused) {
  Hierarchy h;
  ASSERT_FALSE(h.path.empty());
  ASSERT_TRUE(mkdir_group(h.path, "inst").ok());
  EXPECT_TRUE(mkdir_group(h.path, "inst/101", true).ok());
}

}  // namespace
}  // namespace berth::cgroups
