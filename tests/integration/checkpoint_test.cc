// Checkpoint where CRIU cannot run (this host's kernel: Debian's CRIU 3.17 fails on it; the VM
// tests, tests/vm/checkpoint.sh and migrate.sh, run the real thing on Debian 12's 6.1): chkpnt
// says so in one line with exit 16, and the VPS keeps running as it was, its /proc view and
// beancounters back, nothing half-made (no dump that a start would take for a suspended VPS);
// restore without a dump is 17; the options are checked.
#include <filesystem>
#include <fstream>
#include <string>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public BerthTest {};

TEST_F(CheckpointTest, RefusedCheckpointLeavesTheVpsRunningAsItWas) {
  std::string id = create_running_ct();
  RunResult before = berth({"exec", id, "head -n 3 /proc/user_beancounters | tail -n 1"});
  ASSERT_EQ(before.code, 0) << before.err;
  RunResult c = berth({"chkpnt", id}, {.timeout = std::chrono::seconds(60)});
  if (c.code == 0) GTEST_SKIP() << "CRIU works on this kernel: tests/vm/checkpoint.sh covers it";
  EXPECT_EQ(c.code, 16) << c.err;
  EXPECT_PRED2(contains, c.err, "checkpoint failed, the CT keeps running");
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  // The /proc view and the beancounter file are back, the VPS works.
  RunResult after = berth({"exec", id, "head -n 3 /proc/user_beancounters | tail -n 1"});
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_PRED2(contains, after.out, id + ":  kmemsize");
  EXPECT_EQ(berth({"exec", id, "echo ok"}).out, "ok\n");
  // No complete dump: a start or restore has nothing to go on from.
  EXPECT_FALSE(fs::exists(root() + "/var/lib/berth/dump/Dump." + id + "/berth-dump.json"));
  ASSERT_EQ(berth({"stop", id}).code, 0);
  RunResult r = berth({"restore", id});
  EXPECT_EQ(r.code, 17) << r.err;
  EXPECT_PRED2(contains, r.err, "no complete dump");
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
}

TEST_F(CheckpointTest, OptionsAreChecked) {
  std::string id = create_ct();
  EXPECT_EQ(berth({"chkpnt", id, "--bogus"}).code, 20);
  EXPECT_EQ(berth({"chkpnt", id, "--suspend", "--kill"}).code, 20);
  EXPECT_EQ(berth({"chkpnt", id, "--dumpfile", "relative/dir"}).code, 21);
  EXPECT_EQ(berth({"chkpnt", id}).code, 31);  // not running
  // A --dumpfile naming a directory with other files in it is refused, never emptied.
  std::string other = root() + "/not-a-dump";
  fs::create_directories(other);
  { std::ofstream(other + "/keep") << "mine\n"; }
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  RunResult c = berth({"chkpnt", id, "--dumpfile", other});
  EXPECT_EQ(c.code, 21) << c.err;
  EXPECT_PRED2(contains, c.err, "exists and is not a dump");
  EXPECT_TRUE(fs::exists(other + "/keep"));
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  EXPECT_EQ(berth({"chkpnt", "9999999"}).code, 14);
  EXPECT_EQ(berth({"resume", id, "--undump", "--resume"}).code, 20);
}

// A suspended CT's dump goes with the CT: a new CT of the same CTID neither looks suspended nor
// starts from the old one's processes.
TEST_F(CheckpointTest, DestroyRemovesTheDump) {
  std::string id = create_ct();
  std::string dump = root() + "/var/lib/berth/dump/Dump." + id;
  fs::create_directories(dump);
  { std::ofstream(dump + "/inventory.img") << "x"; }
  { std::ofstream(dump + "/berth-dump.json") << "{\"ctid\": \"" << id << "\"}\n"; }
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down suspended");
  ASSERT_EQ(berth({"destroy", id}).code, 0);
  EXPECT_FALSE(fs::exists(dump));
  ASSERT_EQ(berth({"create", id, "--ostemplate", "busybox"}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
}

}  // namespace
}  // namespace berth::itest
