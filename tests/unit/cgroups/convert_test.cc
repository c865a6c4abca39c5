// cgroups/convert: OpenVZ keys -> Resources (VSwap memory, CPU units/limit/CPUS, masks, NUMPROC,
// IOPRIO), "unlimited", bad values, and the key selection a live `set` uses.
#include "cgroups/convert.h"

#include <gtest/gtest.h>

#include <map>

#include "core/exit_codes.h"

namespace berth::cgroups {
namespace {

KeyLookup keys(std::map<std::string, std::string> m) {
  return [m = std::move(m)](std::string_view k) -> std::optional<std::string> {
    auto it = m.find(std::string(k));
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

Resources from(std::map<std::string, std::string> m) {
  auto r = resources_from(keys(std::move(m)));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : Resources{};
}

TEST(CgroupConvert, CpuunitsToShares) {
  EXPECT_EQ(cpuunits_to_shares(1000), 1024u);
  EXPECT_EQ(cpuunits_to_shares(2000), 2048u);
  EXPECT_EQ(cpuunits_to_shares(250), 256u);
  EXPECT_EQ(cpuunits_to_shares(8), 8u);
  EXPECT_EQ(cpuunits_to_shares(1), 2u);            // clamped up
  EXPECT_EQ(cpuunits_to_shares(500000), 262144u);  // 512000 clamped down
}

TEST(CgroupConvert, SharesToWeightMatchesCrun) {
  EXPECT_EQ(shares_to_weight(2), 1u);
  EXPECT_EQ(shares_to_weight(262144), 10000u);
  EXPECT_EQ(shares_to_weight(1024), 39u);  // 1 + 1022 * 9999 / 262142
  EXPECT_EQ(shares_to_weight(0), 1u);
  EXPECT_LT(shares_to_weight(1024), shares_to_weight(3072));
}

TEST(CgroupConvert, CpulimitToQuota) {
  EXPECT_EQ(cpulimit_to_quota(0), kNoLimit);
  EXPECT_EQ(cpulimit_to_quota(25), 25000);
  EXPECT_EQ(cpulimit_to_quota(100), 100000);
  EXPECT_EQ(cpulimit_to_quota(200), 200000);  // two CPUs
  EXPECT_EQ(cpulimit_to_quota(1), 1000);      // the kernel's minimum quota
}

TEST(CgroupConvert, IoprioToWeight) {
  EXPECT_EQ(ioprio_to_weight(0), 100u);
  EXPECT_EQ(ioprio_to_weight(4), 614u);
  EXPECT_EQ(ioprio_to_weight(7), 1000u);
  EXPECT_EQ(ioprio_to_weight(9), 1000u);
}

TEST(CgroupConvert, VswapRamAndSwap) {
  auto r = from({{"PHYSPAGES", "0:16384"}, {"SWAPPAGES", "0:32768"}});
  EXPECT_EQ(r.memory_limit, 64LL << 20);
  EXPECT_EQ(r.swap_limit, 128LL << 20);
  auto plan = v1_writes(r);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0], (CgroupWrite{"memory", "memory.limit_in_bytes", "67108864"}));
  EXPECT_EQ(plan[1], (CgroupWrite{"memory", "memory.memsw.limit_in_bytes", "201326592"}));
  auto p2 = v2_writes(r);
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_EQ(p2[0], (CgroupWrite{"memory", "memory.max", "67108864"}));
  EXPECT_EQ(p2[1], (CgroupWrite{"memory", "memory.swap.max", "134217728"}));
}

TEST(CgroupConvert, SingleValueIsBarrierAndLimit) {
  EXPECT_EQ(from({{"PHYSPAGES", "256"}}).memory_limit, 1 << 20);
  EXPECT_EQ(from({{"NUMPROC", "240"}}).pids_max, 240);
  EXPECT_EQ(from({{"NUMPROC", "100:200"}}).pids_max, 200);  // the limit part
}

TEST(CgroupConvert, UnlimitedMeansNoLimit) {
  auto r = from({{"PHYSPAGES", "0:unlimited"}, {"SWAPPAGES", "0:0"}, {"NUMPROC", "unlimited"}});
  EXPECT_EQ(r.memory_limit, kNoLimit);
  EXPECT_EQ(r.swap_limit, 0);
  EXPECT_EQ(r.pids_max, kNoLimit);
  auto v1 = v1_writes(r);
  EXPECT_EQ(v1[0].value, "-1");
  EXPECT_EQ(v1[1].value, "-1");  // memsw can't be finite above an unlimited RAM
  EXPECT_EQ(v1[2], (CgroupWrite{"pids", "pids.max", "max"}));
  auto v2 = v2_writes(r);
  EXPECT_EQ(v2[0].value, "max");
  EXPECT_EQ(v2[1].value, "0");
  EXPECT_EQ(v2[2].value, "max");
  // LONG_MAX pages would overflow bytes: no limit too.
  EXPECT_EQ(from({{"PHYSPAGES", "9223372036854775806"}}).memory_limit, kNoLimit);
}

TEST(CgroupConvert, SwapWithoutRamLimitIsUnlimitedMemswOnV1) {
  auto r = from({{"SWAPPAGES", "0:256"}});
  EXPECT_FALSE(r.memory_limit);
  auto v1 = v1_writes(r);
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0], (CgroupWrite{"memory", "memory.memsw.limit_in_bytes", "-1"}));
  EXPECT_EQ(v2_writes(r)[0], (CgroupWrite{"memory", "memory.swap.max", "1048576"}));
}

TEST(CgroupConvert, CpuKeys) {
  auto r = from({{"CPUUNITS", "2000"}, {"CPULIMIT", "25"}});
  EXPECT_EQ(r.cpu_shares, 2048u);
  EXPECT_EQ(r.cpu_quota_us, 25000);
  auto v1 = v1_writes(r);
  ASSERT_EQ(v1.size(), 3u);
  EXPECT_EQ(v1[0], (CgroupWrite{"cpu", "cpu.shares", "2048"}));
  EXPECT_EQ(v1[1], (CgroupWrite{"cpu", "cpu.cfs_period_us", "100000"}));
  EXPECT_EQ(v1[2], (CgroupWrite{"cpu", "cpu.cfs_quota_us", "25000"}));
  auto v2 = v2_writes(r);
  EXPECT_EQ(v2[0], (CgroupWrite{"cpu", "cpu.weight", "79"}));
  EXPECT_EQ(v2[1], (CgroupWrite{"cpu", "cpu.max", "25000 100000"}));
  EXPECT_EQ(v2_writes(from({{"CPULIMIT", "0"}}))[0].value, "max 100000");
  EXPECT_EQ(v1_writes(from({{"CPULIMIT", "0"}}))[1].value, "-1");
}

TEST(CgroupConvert, CpusCapsQuotaAndTheSmallerCapWins) {
  EXPECT_EQ(from({{"CPUS", "2"}}).cpu_quota_us, 200000);
  EXPECT_EQ(from({{"CPUS", "2"}, {"CPULIMIT", "50"}}).cpu_quota_us, 50000);
  EXPECT_EQ(from({{"CPUS", "1"}, {"CPULIMIT", "300"}}).cpu_quota_us, 100000);
  EXPECT_EQ(from({{"CPUS", "1"}, {"CPULIMIT", "0"}}).cpu_quota_us, 100000);
  EXPECT_EQ(from({{"CPUS", "0"}}).cpu_quota_us, kNoLimit);
  EXPECT_FALSE(from({{"CPUUNITS", "1000"}}).cpu_quota_us);
}

TEST(CgroupConvert, Masks) {
  auto r = from({{"CPUMASK", "0-2,7"}, {"NODEMASK", "0"}});
  EXPECT_EQ(r.cpuset_cpus, "0-2,7");
  EXPECT_EQ(r.cpuset_mems, "0");
  EXPECT_EQ(from({{"CPUMASK", "all"}}).cpuset_cpus, "");  // the parent's set
  EXPECT_FALSE(from({{"CPUMASK", "auto"}}).cpuset_cpus);
  auto v1 = v1_writes(r);
  EXPECT_EQ(v1[0], (CgroupWrite{"cpuset", "cpuset.cpus", "0-2,7"}));
  EXPECT_EQ(v1[1], (CgroupWrite{"cpuset", "cpuset.mems", "0"}));
}

TEST(CgroupConvert, Ioprio) {
  auto r = from({{"IOPRIO", "6"}});
  EXPECT_EQ(r.io_weight, 871u);
  auto v1 = v1_writes(r);
  ASSERT_EQ(v1.size(), 2u);
  EXPECT_EQ(v1[0].file, "blkio.weight");
  EXPECT_EQ(v1[1].file, "blkio.bfq.weight");
  EXPECT_EQ(v2_writes(r)[0], (CgroupWrite{"io", "io.weight", "871"}));
}

TEST(CgroupConvert, IolimitAndIopslimitOnTheDevice) {
  auto r = from({{"IOLIMIT", "5242880"}, {"IOPSLIMIT", "500"}});
  EXPECT_EQ(r.io_bps, 5242880);
  EXPECT_EQ(r.io_iops, 500);
  EXPECT_TRUE(v1_writes(r).empty()) << "no device: nothing to write";
  EXPECT_TRUE(v2_writes(r).empty());
  r.io_device = "254:0";
  EXPECT_EQ(v1_writes(r), (std::vector<CgroupWrite>{
                              {"blkio", "blkio.throttle.read_bps_device", "254:0 5242880"},
                              {"blkio", "blkio.throttle.read_iops_device", "254:0 500"},
                              {"blkio", "blkio.throttle.write_bps_device", "254:0 5242880"},
                              {"blkio", "blkio.throttle.write_iops_device", "254:0 500"},
                          }));
  EXPECT_EQ(v2_writes(r),
            (std::vector<CgroupWrite>{
                {"io", "io.max", "254:0 rbps=5242880 wbps=5242880 riops=500 wiops=500"}}));
}

TEST(CgroupConvert, IolimitZeroRemovesTheLimit) {
  auto r = from({{"IOLIMIT", "0"}});
  EXPECT_EQ(r.io_bps, kNoLimit);
  EXPECT_FALSE(r.io_iops);
  r.io_device = "8:0";
  EXPECT_EQ(v1_writes(r),
            (std::vector<CgroupWrite>{{"blkio", "blkio.throttle.read_bps_device", "8:0 0"},
                                      {"blkio", "blkio.throttle.write_bps_device", "8:0 0"}}));
  EXPECT_EQ(v2_writes(r), (std::vector<CgroupWrite>{{"io", "io.max", "8:0 rbps=max wbps=max"}}));
  auto ops = from({{"IOPSLIMIT", "0"}});
  ops.io_device = "8:0";
  EXPECT_EQ(v2_writes(ops),
            (std::vector<CgroupWrite>{{"io", "io.max", "8:0 riops=max wiops=max"}}));
  // A live set that drops IOLIMIT from the config lifts the limit; the device stays.
  auto none = only_keys(Resources{.io_device = "8:0"}, {"IOLIMIT"});
  EXPECT_EQ(none.io_bps, kNoLimit);
  EXPECT_FALSE(none.io_iops);
  EXPECT_EQ(none.io_device, "8:0");
  for (const char* bad : {"5M", "-1", "x"})
    EXPECT_FALSE(resources_from(keys({{"IOLIMIT", bad}})).ok()) << bad;
}

TEST(CgroupConvert, TcpBuffersSumToV1KmemTcp) {
  auto r = from({{"TCPSNDBUF", "1720320:2703360"}, {"TCPRCVBUF", "1720320:2703360"}});
  EXPECT_EQ(r.tcp_mem_limit, 2 * 2703360);
  EXPECT_EQ(v1_writes(r),
            (std::vector<CgroupWrite>{{"memory", "memory.kmem.tcp.limit_in_bytes", "5406720"}}));
  EXPECT_TRUE(v2_writes(r).empty());
  EXPECT_EQ(from({{"TCPSNDBUF", "1M"}}).tcp_mem_limit, kNoLimit);
  EXPECT_EQ(from({{"TCPSNDBUF", "1M"}, {"TCPRCVBUF", "unlimited"}}).tcp_mem_limit, kNoLimit);
  EXPECT_EQ(only_keys(r, {"TCPRCVBUF"}).tcp_mem_limit, 2 * 2703360);
  EXPECT_FALSE(only_keys(r, {"NUMPROC"}).tcp_mem_limit);
}

TEST(CgroupConvert, EmptyConfigWritesNothing) {
  auto r = from({{"HOSTNAME", "x"}, {"DISKSPACE", "1:2"}});
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(v1_writes(r).empty());
  EXPECT_TRUE(v2_writes(r).empty());
}

TEST(CgroupConvert, BadValuesNameTheKey) {
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{{"PHYSPAGES", "lots"},
                                                                      {"NUMPROC", "1:x"},
                                                                      {"CPUUNITS", "-5"},
                                                                      {"CPULIMIT", "50%"},
                                                                      {"CPUS", "two"},
                                                                      {"CPUMASK", "0;1"},
                                                                      {"IOPRIO", "8"},
                                                                      {"NUMPROC", "20:10"}}) {
    auto r = resources_from(keys({{k, v}}));
    ASSERT_FALSE(r.ok()) << k << "=" << v;
    EXPECT_EQ(r.error().exit_status(), exitcode::kBadValue);
    EXPECT_NE(r.error().message().find(k), std::string::npos) << r.error().message();
  }
}

TEST(CgroupConvert, ChangedKeys) {
  auto before = keys({{"PHYSPAGES", "0:100"}, {"CPUUNITS", "1000"}, {"HOSTNAME", "a"}});
  auto after =
      keys({{"PHYSPAGES", "0:200"}, {"CPUUNITS", "1000"}, {"NUMPROC", "64"}, {"HOSTNAME", "b"}});
  EXPECT_EQ(changed_resource_keys(before, after),
            (std::vector<std::string>{"PHYSPAGES", "NUMPROC"}));
  EXPECT_TRUE(changed_resource_keys(before, before).empty());
}

TEST(CgroupConvert, OnlyKeysKeepsGroupsTogether) {
  auto r = from({{"PHYSPAGES", "0:256"},
                 {"SWAPPAGES", "0:0"},
                 {"CPUUNITS", "2000"},
                 {"CPULIMIT", "50"},
                 {"CPUS", "1"},
                 {"NUMPROC", "64"}});
  auto mem = only_keys(r, {"PHYSPAGES"});
  EXPECT_EQ(mem.memory_limit, 1 << 20);
  EXPECT_EQ(mem.swap_limit, 0);  // memsw = ram + swap is rewritten with the RAM
  EXPECT_FALSE(mem.cpu_shares);
  EXPECT_FALSE(mem.pids_max);
  auto cpu = only_keys(r, {"CPUS"});
  EXPECT_EQ(cpu.cpu_quota_us, 50000);
  EXPECT_FALSE(cpu.cpu_shares);
  EXPECT_EQ(only_keys(from({{"PHYSPAGES", "0:256"}}), {"PHYSPAGES"}).swap_limit, kNoLimit);
  EXPECT_EQ(only_keys(r, {"NUMPROC", "CPUUNITS"}).pids_max, 64);
  EXPECT_EQ(only_keys(r, {"NUMPROC", "CPUUNITS"}).cpu_shares, 2048u);
  EXPECT_TRUE(only_keys(r, {"HOSTNAME"}).empty());
}

TEST(CgroupConvert, OnlyKeysResetsRemovedKeys) {
  Resources none;
  auto r = only_keys(
      none, {"PHYSPAGES", "SWAPPAGES", "CPUUNITS", "CPULIMIT", "CPUMASK", "NUMPROC", "IOPRIO"});
  EXPECT_EQ(r.memory_limit, kNoLimit);
  EXPECT_EQ(r.swap_limit, kNoLimit);
  EXPECT_EQ(r.cpu_shares, 1024u);
  EXPECT_EQ(r.cpu_quota_us, kNoLimit);
  EXPECT_EQ(r.cpuset_cpus, "");
  EXPECT_EQ(r.pids_max, kNoLimit);
  EXPECT_EQ(r.io_weight, 614u);
}

}  // namespace
}  // namespace berth::cgroups
