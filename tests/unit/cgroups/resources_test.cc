// cgroups/resources: parsing counters read back from cgroup files, and carrying out a write plan
// on a plain directory tree standing in for cgroup directories (skips, parent cpusets, retries).
#include "cgroups/resources.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace berth::cgroups {
namespace {

TEST(CgroupResources, ParseLimit) {
  EXPECT_EQ(parse_limit("max\n"), kNoLimit);
  EXPECT_EQ(parse_limit("-1"), kNoLimit);
  EXPECT_EQ(parse_limit("9223372036854771712\n"), kNoLimit);  // v1's "no limit"
  EXPECT_EQ(parse_limit("67108864\n"), 67108864);
  EXPECT_EQ(parse_limit("0"), 0);
  EXPECT_FALSE(parse_limit(""));
  EXPECT_FALSE(parse_limit("12abc"));
}

TEST(CgroupResources, KeyedValue) {
  std::string events = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";
  EXPECT_EQ(keyed_value(events, "max"), 17u);
  EXPECT_EQ(keyed_value(events, "oom_kill"), 1u);
  EXPECT_EQ(keyed_value(events, "oom"), 2u);  // not confused with oom_kill
  EXPECT_FALSE(keyed_value(events, "high_watermark"));
  EXPECT_EQ(keyed_value("oom_kill_disable 0\nunder_oom 0\noom_kill 3", "oom_kill"), 3u);
  EXPECT_FALSE(keyed_value("max x\n", "max"));
}

class ApplyWrites : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-res-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::mkdir((dir_ + "/ct").c_str(), 0755);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void put(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ + "/" + rel) << text;
  }
  std::string get(const std::string& rel) {
    std::ifstream in(dir_ + "/" + rel);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
};

TEST_F(ApplyWrites, WritesExistingFilesAndSkipsTheRest) {
  put("ct/memory.limit_in_bytes", "0");
  put("ct/pids.max", "");  // write_file does not truncate; a cgroup file needs no truncating
  std::vector<CgroupWrite> plan = {
      {"memory", "memory.limit_in_bytes", "1048576"},
      {"memory", "memory.memsw.limit_in_bytes", "1048576"},  // no swap accounting
      {"pids", "pids.max", "64"},
      {"blkio", "blkio.weight", "500"}};  // no such controller
  auto st = apply_writes(
      plan, [&](const std::string& c) { return c == "blkio" ? std::string() : dir_ + "/ct"; });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(get("ct/memory.limit_in_bytes"), "1048576");
  EXPECT_EQ(get("ct/pids.max"), "64");
  EXPECT_FALSE(::access((dir_ + "/ct/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0);
}

TEST_F(ApplyWrites, EmptyCpusetTakesTheParents) {
  put("cpuset.cpus", "0-3\n");
  put("cpuset.mems", "");
  put("cpuset.mems.effective", "0\n");
  put("ct/cpuset.cpus", "");
  put("ct/cpuset.mems", "");
  auto st = apply_writes({{"cpuset", "cpuset.cpus", ""}, {"cpuset", "cpuset.mems", ""}},
                         [&](const std::string&) { return dir_ + "/ct"; });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(get("ct/cpuset.cpus"), "0-3\n");
  EXPECT_EQ(get("ct/cpuset.mems"), "0\n");
}

TEST_F(ApplyWrites, OtherErrorsStopThePlan) {
  ::mkdir((dir_ + "/ct/pids.max").c_str(), 0755);  // open(O_WRONLY) of a directory: EISDIR
  auto st =
      apply_writes({{"pids", "pids.max", "64"}}, [&](const std::string&) { return dir_ + "/ct"; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), EISDIR);
}

}  // namespace
}  // namespace berth::cgroups
