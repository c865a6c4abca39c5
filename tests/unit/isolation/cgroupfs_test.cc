#include "isolation/cgroupfs.h"

#include <gtest/gtest.h>

namespace berth::isolation {
namespace {

using E = CgroupFsEntry;

TEST(CgroupFsPlan, V2IsOneCgroup2MountOnTheRoot) {
  CgroupFsPlan p = plan_cgroup_fs(true, {{"/sys/fs/cgroup", ""}});
  EXPECT_FALSE(p.tmpfs_root);
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0], (E{E::kMount, "", "cgroup2", ""}));
}

// Each v1 entry names the host mount its bind of the CT's group comes from (bind_ct_groups).
TEST(CgroupFsPlan, V1MirrorsTheHostNamesAndSkipsTheUnifiedHierarchy) {
  CgroupFsPlan p = plan_cgroup_fs(false, {{"/sys/fs/cgroup/memory", "memory"},
                                          {"/sys/fs/cgroup/systemd", "name=systemd"},
                                          {"/sys/fs/cgroup/unified", ""}});
  EXPECT_TRUE(p.tmpfs_root);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0],
            (E{E::kMount, "memory", "cgroup", "memory", false, "/sys/fs/cgroup/memory"}));
  EXPECT_EQ(p.entries[1], (E{E::kMount, "systemd", "cgroup", "none,name=systemd", false,
                             "/sys/fs/cgroup/systemd"}));
}

TEST(CgroupFsPlan, CoMountedControllersGetSymlinks) {
  CgroupFsPlan p = plan_cgroup_fs(false, {{"/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"},
                                          {"/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio"}});
  ASSERT_EQ(p.entries.size(), 6u);
  EXPECT_EQ(p.entries[0], (E{E::kMount, "cpu,cpuacct", "cgroup", "cpu,cpuacct", false,
                             "/sys/fs/cgroup/cpu,cpuacct"}));
  EXPECT_EQ(p.entries[1], (E{E::kSymlink, "cpu", "", "cpu,cpuacct"}));
  EXPECT_EQ(p.entries[2], (E{E::kSymlink, "cpuacct", "", "cpu,cpuacct"}));
  EXPECT_EQ(p.entries[5], (E{E::kSymlink, "net_prio", "", "net_cls,net_prio"}));
}

TEST(CgroupFsPlan, ACoMountUnderAControllerNameMakesNoSelfLink) {
  // Some hosts mount cpu,cpuacct on /sys/fs/cgroup/cpu: no "cpu -> cpu" link.
  CgroupFsPlan p = plan_cgroup_fs(false, {{"/sys/fs/cgroup/cpu", "cpu,cpuacct"}});
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[1], (E{E::kSymlink, "cpuacct", "", "cpu"}));
}

TEST(CgroupFsPlan, HierarchiesNotDelegatedAreMountedReadOnly) {
  CgroupFsPlan p = plan_cgroup_fs(
      false, {{"/sys/fs/cgroup/blkio", "blkio", true}, {"/sys/fs/cgroup/pids", "pids", false}});
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0], (E{E::kMount, "blkio", "cgroup", "blkio", true, "/sys/fs/cgroup/blkio"}));
  EXPECT_EQ(p.entries[1], (E{E::kMount, "pids", "cgroup", "pids", false, "/sys/fs/cgroup/pids"}));
}

}  // namespace
}  // namespace berth::isolation
