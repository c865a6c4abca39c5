// The CT's /proc/cpuinfo: its cpuset's CPUs, at most CPUS, renumbered.
#include "ubc/cpuinfo.h"

#include <gtest/gtest.h>

#include "ubc/proc_view.h"

namespace berth::ubc {
namespace {

const char* kHost =
    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2994.374\n\n"
    "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2994.374\n\n"
    "processor\t: 2\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 3100.000\n\n"
    "processor\t: 3\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2994.374\n\n";

TEST(CpuinfoTest, ParsesCpuLists) {
  EXPECT_EQ(*parse_cpu_list("0-3,6\n"), (std::set<int>{0, 1, 2, 3, 6}));
  EXPECT_EQ(*parse_cpu_list("2"), (std::set<int>{2}));
  EXPECT_TRUE(parse_cpu_list("\n")->empty());
  for (const char* bad : {"3-1", "a", "1,,2", "-1", "0-"}) EXPECT_FALSE(parse_cpu_list(bad)) << bad;
}

TEST(CpuinfoTest, CpusOfAQuotaRoundUp) {
  EXPECT_EQ(cpus_of_quota("150000 100000\n"), 2);
  EXPECT_EQ(cpus_of_quota("50000 100000"), 1);
  EXPECT_EQ(cpus_of_quota("200000\n 100000\n"), 2);  // v1: the two files' texts
  for (const char* none : {"max 100000", "-1 100000", "", "5"})
    EXPECT_FALSE(cpus_of_quota(none)) << none;
}

TEST(CpuinfoTest, KeepsTheCpusetsCpusRenumbered) {
  std::string out = virtual_cpuinfo(kHost, {2, 3}, std::nullopt);
  EXPECT_EQ(out,
            "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 3100.000\n\n"
            "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2994.374\n\n");
}

TEST(CpuinfoTest, CpusCapsTheCount) {
  std::string out = virtual_cpuinfo(kHost, {}, 1);
  EXPECT_EQ(out, "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2994.374\n\n");
  EXPECT_EQ(virtual_cpuinfo(kHost, {}, std::nullopt), kHost);  // no limits: the host's
  EXPECT_EQ(virtual_cpuinfo(kHost, {0, 1, 2, 3}, 8), kHost);
}

TEST(CpuinfoTest, OtherLayoutsPassThrough) {
  const char* s390 = "vendor_id       : IBM/S390\n# processors    : 4\n";
  EXPECT_EQ(virtual_cpuinfo(s390, {0}, 1), s390);
  EXPECT_EQ(parse_node("/.proc/101/cpuinfo").kind, Node::kProcCpuinfo);
}

}  // namespace
}  // namespace berth::ubc
