// The CT's /proc/meminfo from the host's text and its memory cgroup's counters.
#include "ubc/meminfo.h"

#include <gtest/gtest.h>

#include "ubc/proc_view.h"

namespace berth::ubc {
namespace {

const char* kHost =
    "MemTotal:       24683656 kB\n"
    "MemFree:        23045544 kB\n"
    "MemAvailable:   23650000 kB\n"
    "Buffers:           81234 kB\n"
    "Cached:          1234567 kB\n"
    "SwapCached:            0 kB\n"
    "Active:           555555 kB\n"
    "Inactive:         666666 kB\n"
    "Active(anon):     111111 kB\n"
    "Inactive(anon):   222222 kB\n"
    "Active(file):     333333 kB\n"
    "Inactive(file):   444444 kB\n"
    "SwapTotal:             0 kB\n"
    "SwapFree:              0 kB\n"
    "AnonPages:        121212 kB\n"
    "Shmem:              9999 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

TEST(MeminfoTest, LimitedCtSeesItsOwnRamAndSwap) {
  MemCounters c;
  c.limit = 256ull << 20;
  c.usage = 64ull << 20;
  c.file = 16ull << 20;
  c.shmem = 4ull << 20;
  c.anon = 40ull << 20;
  c.active_anon = 30ull << 20;
  c.inactive_anon = 10ull << 20;
  c.active_file = 12ull << 20;
  c.inactive_file = 4ull << 20;
  c.swap_limit = 512ull << 20;
  c.swap_usage = 8ull << 20;
  std::string out = virtual_meminfo(kHost, c);
  EXPECT_EQ(out,
            "MemTotal:         262144 kB\n"
            "MemFree:          196608 kB\n"
            "MemAvailable:     208896 kB\n"  // free + (file - shmem)
            "Buffers:               0 kB\n"
            "Cached:            16384 kB\n"
            "SwapCached:            0 kB\n"
            "Active:            43008 kB\n"
            "Inactive:          14336 kB\n"
            "Active(anon):      30720 kB\n"
            "Inactive(anon):    10240 kB\n"
            "Active(file):      12288 kB\n"
            "Inactive(file):     4096 kB\n"
            "SwapTotal:        524288 kB\n"
            "SwapFree:         516096 kB\n"
            "AnonPages:         40960 kB\n"
            "Shmem:              4096 kB\n"
            "HugePages_Total:       0\n"
            "Hugepagesize:       2048 kB\n");
  EXPECT_EQ(out.size(), std::string(kHost).size());  // same length: FUSE sizes stay right
}

TEST(MeminfoTest, NoHostWideKernelFigureShows) {
  // procps' free counts SReclaimable as buff/cache: the host's slab would exceed the CT's RAM.
  const char* host =
      "MemTotal:       24683656 kB\n"
      "Slab:             381256 kB\n"
      "SReclaimable:     316340 kB\n"
      "SUnreclaim:        64916 kB\n"
      "KReclaimable:     316340 kB\n"
      "Dirty:             15528 kB\n"
      "Mapped:            58544 kB\n"
      "KernelStack:        2404 kB\n"
      "PageTables:         3424 kB\n";
  MemCounters c;
  c.limit = 256ull << 20;
  c.slab_reclaimable = 2ull << 20;
  c.slab_unreclaimable = 1ull << 20;
  c.mapped = 3ull << 20;
  EXPECT_EQ(virtual_meminfo(host, c),
            "MemTotal:         262144 kB\n"
            "Slab:               3072 kB\n"
            "SReclaimable:       2048 kB\n"
            "SUnreclaim:         1024 kB\n"
            "KReclaimable:       2048 kB\n"
            "Dirty:                 0 kB\n"
            "Mapped:             3072 kB\n"
            "KernelStack:           0 kB\n"
            "PageTables:            0 kB\n");
}

TEST(MeminfoTest, UnlimitedCtGetsTheHostsTotalsAndItsOwnUsage) {
  MemCounters c;
  c.usage = 100ull << 20;
  std::string out = virtual_meminfo(kHost, c);
  EXPECT_EQ(out.substr(0, out.find('\n')), "MemTotal:       24683656 kB");
  EXPECT_NE(out.find("MemFree:        24581256 kB\n"), std::string::npos) << out;
  EXPECT_NE(out.find("SwapTotal:             0 kB\n"), std::string::npos);  // the host's
}

TEST(MeminfoTest, ALimitAboveTheHostsRamAndUsageAboveTheLimitAreClamped) {
  MemCounters c;
  c.limit = 1ull << 50;
  c.usage = 1ull << 49;
  c.swap_limit = 0;
  c.swap_usage = 4096;
  std::string out = virtual_meminfo(kHost, c);
  EXPECT_NE(out.find("MemTotal:       24683656 kB\n"), std::string::npos) << out;
  EXPECT_NE(out.find("MemFree:               0 kB\n"), std::string::npos) << out;
  EXPECT_NE(out.find("SwapFree:              0 kB\n"), std::string::npos) << out;
}

TEST(MeminfoTest, AWiderNumberWidensItsFieldOnly) {
  MemCounters c;
  c.swap_limit = 123456789ull * 1024;
  std::string out = virtual_meminfo("SwapTotal:      0 kB\nx: 1\n", c);
  EXPECT_EQ(out, "SwapTotal:123456789 kB\nx: 1\n");
}

TEST(MeminfoTest, TheViewServesMeminfoItself) {
  Node n = parse_node("/.proc/101/meminfo");
  EXPECT_EQ(n.kind, Node::kProcMeminfo);
  EXPECT_EQ(n.ctid, "101");
}

}  // namespace
}  // namespace berth::ubc
