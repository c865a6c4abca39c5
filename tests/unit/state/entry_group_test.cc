// Where exec and enter put a new process of a running CT (state::entry_group).
#include <gtest/gtest.h>

#include "state/ct_cgroup.h"

namespace berth::state {
namespace {

TEST(EntryGroupTest, V2SystemdInInitScopeGivesThatLeaf) {
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/berth/101/init.scope\n"), "berth/101/init.scope");
}

TEST(EntryGroupTest, V2InitInTheCtsOwnGroupGivesTheGroup) {
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/berth/101\n"), "berth/101");
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/berth/101/\n"), "berth/101");
}

TEST(EntryGroupTest, V2PathOutsideTheCtsGroupIsIgnored) {
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/berth/1011/init.scope\n"), "berth/101");
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/other\n"), "berth/101");
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/berth/101/../../x\n"), "berth/101");
  EXPECT_EQ(entry_group("v2", "berth/101", "0::/berth/101/a//b\n"), "berth/101");
  EXPECT_EQ(entry_group("v2", "berth/101", ""), "berth/101");
}

TEST(EntryGroupTest, V2HybridTextFindsTheUnifiedLine) {
  EXPECT_EQ(entry_group("v2", "b/7", "1:name=systemd:/b/7/init.scope\n0::/b/7/x/y\n"), "b/7/x/y");
}

TEST(EntryGroupTest, V1AlwaysTheCtsGroup) {
  EXPECT_EQ(entry_group("v1", "berth/101", "0::/berth/101/init.scope\n"), "berth/101");
}

}  // namespace
}  // namespace berth::state
