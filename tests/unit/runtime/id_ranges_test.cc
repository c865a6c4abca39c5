// Host-wide id range allocation against temp copies of /etc/subuid and /etc/subgid (the paths are
// overridable for these tests only): two instances, other tools' ranges, release restores the
// files byte for byte, the shadow lock of useradd is honoured.
#include "runtime/id_ranges.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace berth::runtime {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class IdRanges : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t =
        (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + std::string("/berth-ids-XXXXXX");
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    dir_ = t;
    files_ = {dir_ + "/subuid", dir_ + "/subgid", dir_ + "/ids.lck"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A BERTH_ROOT with instance name inst.
  HostConfig instance(const std::string& inst) {
    std::string root = dir_ + "/" + inst;
    fs::create_directories(root + "/etc/berth/conf");
    std::ofstream(root + "/etc/berth/berth.conf") << "CGROUP_PARENT=\"" << inst << "\"\n";
    auto h = HostConfig::load_at(root);
    EXPECT_TRUE(h.ok());
    return *h;
  }
  std::string dir_;
  HostIdFiles files_;
};

TEST_F(IdRanges, TwoInstancesGetDisjointRangesAndSeeEachOther) {
  HostConfig a = instance("inst-a"), b = instance("inst-b");
  auto ra = reserve_id_range(a, "101", std::nullopt, files_);
  auto rb = reserve_id_range(b, "101", std::nullopt, files_);  // same CTID, other instance
  auto ra2 = reserve_id_range(a, "102", std::nullopt, files_);
  ASSERT_TRUE(ra.ok() && rb.ok() && ra2.ok());
  EXPECT_EQ(*ra, 100000u);
  EXPECT_EQ(*rb, 165536u);
  EXPECT_EQ(*ra2, 231072u);
  EXPECT_EQ(slurp(files_.subuid),
            "inst-a.101:100000:65536\ninst-b.101:165536:65536\ninst-a.102:231072:65536\n");
  EXPECT_EQ(slurp(files_.subgid), slurp(files_.subuid));
  // Released ranges are reused; others stay.
  ASSERT_TRUE(release_id_range(b, "101", files_).ok());
  EXPECT_EQ(slurp(files_.subuid), "inst-a.101:100000:65536\ninst-a.102:231072:65536\n");
  auto rb2 = reserve_id_range(b, "105", std::nullopt, files_);
  ASSERT_TRUE(rb2.ok());
  EXPECT_EQ(*rb2, 165536u);
}

TEST_F(IdRanges, SkipsOtherToolsRangesAndRestoresTheFilesExactly) {
  // What useradd wrote for the first user, a podman range, a comment, and a gid-only range.
  const std::string uids = "# subordinate ids\nalice:100000:65536\npodman:200000:100000\n";
  const std::string gids = "alice:100000:65536\nlxc:300000:65536\n";
  std::ofstream(files_.subuid) << uids;
  std::ofstream(files_.subgid) << gids;
  chmod(files_.subuid.c_str(), 0640);
  HostConfig a = instance("berth");
  auto r = reserve_id_range(a, "101", std::nullopt, files_);
  ASSERT_TRUE(r.ok());
  // 100000 (alice), 165536, 231072, 296608 (podman 200000..299999), 362144 (lxc gids to 365535).
  EXPECT_EQ(*r, 427680u);
  EXPECT_EQ(slurp(files_.subuid), uids + "berth.101:427680:65536\n");
  EXPECT_EQ(slurp(files_.subgid), gids + "berth.101:427680:65536\n");
  struct stat st {};
  ASSERT_EQ(stat(files_.subuid.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_TRUE(release_id_range(a, "101", files_).ok());
  EXPECT_EQ(slurp(files_.subuid), uids);
  EXPECT_EQ(slurp(files_.subgid), gids);
  EXPECT_FALSE(fs::exists(files_.subuid + ".lock"));
}

TEST_F(IdRanges, ConfiguredRangesOfTheInstanceAreSkippedToo) {
  HostConfig a = instance("berth");
  std::ofstream(a.paths().conf_dir + "/200.conf") << "LOCAL_UID=\"100000\"\nLOCAL_GID=\"100000\"\n";
  auto r = reserve_id_range(a, "101", std::nullopt, files_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 165536u);
}

TEST_F(IdRanges, FixedRangeIsRegisteredAndAKilledCreatesLineReplaced) {
  HostConfig a = instance("berth");
  ASSERT_TRUE(reserve_id_range(a, "101", FixedIds{500000, 500000}, files_).ok());
  ASSERT_TRUE(reserve_id_range(a, "101", FixedIds{600000, 700000}, files_)
                  .ok());  // create again after a kill
  EXPECT_EQ(slurp(files_.subuid), "berth.101:600000:65536\n");
  EXPECT_EQ(slurp(files_.subgid), "berth.101:700000:65536\n");
  auto priv =
      reserve_id_range(a, "102", FixedIds{0, 0}, files_);  // privileged: nothing to register
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(*priv, 0u);
  EXPECT_EQ(slurp(files_.subuid), "berth.101:600000:65536\n");
}

TEST_F(IdRanges, WaitsForTheShadowLockAndTakesAStaleOne) {
  std::ofstream(files_.subuid) << "";
  HostConfig a = instance("berth");
  // A stale lock (its pid does not exist) is taken over.
  // A killed useradd/berth left its lock, its pid file and (berth) a half-written temp file.
  std::ofstream(files_.subuid + ".lock") << "999999999";
  std::ofstream(files_.subuid + ".999999999") << "999999999";
  std::ofstream(files_.subuid + ".berth-Ab12Cd") << "half";
  std::ofstream(files_.subuid + ".999999998") << "999999998";  // killed before it got the lock
  ASSERT_TRUE(reserve_id_range(a, "101", std::nullopt, files_).ok());
  EXPECT_FALSE(fs::exists(files_.subuid + ".999999999"));
  EXPECT_FALSE(fs::exists(files_.subuid + ".berth-Ab12Cd"));
  EXPECT_FALSE(fs::exists(files_.subuid + ".999999998"));
  EXPECT_FALSE(fs::exists(files_.subuid + ".lock"));
  // A live holder (us) is waited for.
  std::ofstream(files_.subuid + ".lock") << getpid();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    fs::remove(files_.subuid + ".lock");
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = release_id_range(a, "101", files_);
  release.join();
  ASSERT_TRUE(r.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(250));
  EXPECT_EQ(slurp(files_.subuid), "");
}

TEST(IdRangesPure, ParseAndFirstFree) {
  auto r = parse_subid("a:1:2\n#c\n\nbad\nb:x:3\nc:10:\nd:4294967296:65536\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].start, 4294967296u);
  EXPECT_EQ(first_free_base({}, 100000, 65536), 100000u);
  EXPECT_EQ(first_free_base({{"x", 0, 4294000000u}}, 100000, 65536),
            4294018720u);  // the last that fits
  EXPECT_EQ(first_free_base({{"x", 0, 4294900000u}}, 100000, 65536), 0u);
}

}  // namespace
}  // namespace berth::runtime
