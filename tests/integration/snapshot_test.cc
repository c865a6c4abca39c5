// Snapshots of running and stopped CTs: consistency under writes (a prefix of numbered files),
// the pause, list/switch/tree/delete, mount/umount, a snapshot killed while the CT is frozen.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <set>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class SnapshotTest : public BerthTest {
 protected:
  // `berth snapshot` + its uuid and pause.
  std::pair<std::string, double> snapshot(const std::string& id,
                                          const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"snapshot", id};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = berth(args, {.timeout = std::chrono::seconds(120)});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    std::smatch m;
    std::regex uuid_re("Snapshot ([0-9a-f-]{36}) of CT");
    std::regex pause_re("Pause: ([0-9.]+) ms");
    std::string uuid, pause = "-1";
    if (std::regex_search(r.out, m, uuid_re)) uuid = m[1];
    if (std::regex_search(r.out, m, pause_re)) pause = m[1];
    return {uuid, std::stod(pause)};
  }
  nlohmann::json list(const std::string& id) {
    RunResult r = berth({"snapshot-list", id, "-j"});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  std::string cat(const std::string& id, const std::string& path) {
    RunResult r = berth({"exec", id, "cat " + path});
    return r.out;
  }
};

TEST_F(SnapshotTest, RunningWriterSnapshotHoldsAPrefixAndThePauseIsShort) {
  std::string id = create_running_ct({"--diskspace", "unlimited"});
  ASSERT_EQ(berth({"exec", id, "mkdir -p /data"}).code, 0);
  ASSERT_EQ(
      berth({"exec", id,
             "(i=0; while [ $i -lt 20000 ]; do echo $i > /data/f$i; i=$((i+1)); done) </dev/null "
             ">/dev/null 2>&1 &"})
          .code,
      0);
  sleep_ms(300);
  auto [uuid, pause] = snapshot(id, {"--name", "writing"});
  ASSERT_FALSE(uuid.empty());
  EXPECT_GE(pause, 0);
  EXPECT_LT(pause, 1000) << "pause in ms";
  std::string target = root() + "/mnt-snap";
  RunResult m = berth({"snapshot-mount", id, "--id", uuid, "--target", target});
  ASSERT_EQ(m.code, 0) << m.err;
  std::set<long> seen;
  for (const auto& e : fs::directory_iterator(target + "/data")) {
    std::string n = e.path().filename();
    ASSERT_EQ(n[0], 'f');
    long i = std::stol(n.substr(1));
    seen.insert(i);
    std::string text = read_text(e.path());
    // The last file may have been created and not yet written when frozen: empty, never torn.
    if (!text.empty()) {
      EXPECT_EQ(text, std::to_string(i) + "\n") << n;
    }
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(static_cast<long>(seen.size()), *seen.rbegin() + 1) << "a prefix, no holes";
  // Every file but the last holds its number.
  for (long i = 0; i < *seen.rbegin(); ++i)
    EXPECT_EQ(read_text(target + "/data/f" + std::to_string(i)), std::to_string(i) + "\n");
  // The view is read-only.
  EXPECT_NE(::access((target + "/data").c_str(), W_OK), 0);
  ASSERT_EQ(berth({"snapshot-umount", id, "--id", uuid}).code, 0);
  EXPECT_FALSE(fs::exists(target + "/data"));
  EXPECT_NE(status_line(id).find("running"), std::string::npos);
}

TEST_F(SnapshotTest, ListSwitchTreeAndDelete) {
  std::string id = create_running_ct({"--diskspace", "unlimited"});
  ASSERT_EQ(berth({"exec", id, "echo one > /state"}).code, 0);
  auto [a, pa] = snapshot(id, {"--name", "first", "--description", "state one"});
  ASSERT_EQ(berth({"exec", id, "echo two > /state"}).code, 0);
  auto [b, pb] = snapshot(id, {"--name", "second"});
  RunResult l = berth({"snapshot-list", id});
  ASSERT_EQ(l.code, 0);
  EXPECT_PRED2(contains, l.out, "PARENT_UUID");
  EXPECT_PRED2(contains, l.out, a);
  EXPECT_PRED2(contains, l.out, "first");
  auto j = list(id);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["parent_uuid"], a);
  EXPECT_EQ(j[1]["current"], true);
  EXPECT_GT(j[0]["size"].get<uint64_t>(), 0u);

  RunResult sw = berth({"snapshot-switch", id, "--id", a}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(sw.code, 0) << sw.out << sw.err;
  EXPECT_NE(status_line(id).find("running"), std::string::npos);
  EXPECT_EQ(cat(id, "/state"), "one\n");
  auto [c, pc] = snapshot(id, {"--name", "third"});
  auto [d, pd] = snapshot(id, {"--name", "fourth"});
  j = list(id);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[2]["parent_uuid"], a) << "a tree: the new one descends from the switched-to one";
  EXPECT_EQ(j[3]["parent_uuid"], c);
  // Delete the middle of the chain a -> c -> d.
  ASSERT_EQ(berth({"snapshot-delete", id, "--id", c}).code, 0);
  j = list(id);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[2]["uuid"], d);
  EXPECT_EQ(j[2]["parent_uuid"], a);
  EXPECT_EQ(j[2]["current"], true);
  // Errors: one line, their codes.
  RunResult bad = berth({"snapshot-delete", id, "--id", c});
  EXPECT_EQ(bad.code, 160);
  EXPECT_EQ(split_lines(bad.err).size(), 1u);
  EXPECT_EQ(berth({"snapshot", id, "--id", a}).code, 161);
  EXPECT_EQ(berth({"snapshot-switch", id, "--id", "nonsense"}).code, 21);
  EXPECT_EQ(berth({"snapshot-list", "9999"}).code, 14);
  // Switch with the CT stopped, back to b.
  ASSERT_EQ(berth({"stop", id}).code, 0);
  ASSERT_EQ(berth({"snapshot-switch", id, "--id", b}).code, 0);
  EXPECT_NE(status_line(id).find(" down"), std::string::npos);
  ASSERT_EQ(berth({"start", id, "--wait"}, {.timeout = std::chrono::seconds(60)}).code, 0);
  EXPECT_EQ(cat(id, "/state"), "two\n");
}

TEST_F(SnapshotTest, SimfsStoppedSnapshotAndSwitch) {
  std::string id =
      create_ct({"--layout", "simfs", "--diskspace", "unlimited", "--diskinodes", "unlimited"});
  auto [a, pa] = snapshot(id);
  EXPECT_EQ(pa, 0);
  EXPECT_TRUE(fs::exists(ve_private(id) + ".snapshots/" + a + "/root"))
      << "simfs snapshots live beside the tree, out of the CT's reach";
  ASSERT_EQ(berth({"start", id, "--wait"}, {.timeout = std::chrono::seconds(60)}).code, 0);
  ASSERT_EQ(berth({"exec", id, "echo later > /later"}).code, 0);
  auto [b, pb] = snapshot(id);
  EXPECT_GT(pb, 0);
  ASSERT_EQ(berth({"snapshot-switch", id, "--id", a}, {.timeout = std::chrono::seconds(120)}).code,
            0);
  EXPECT_NE(berth({"exec", id, "test -e /later"}).code, 0);
  // A mounted snapshot holds off destroy and its own delete.
  ASSERT_EQ(berth({"stop", id}).code, 0);
  std::string target = root() + "/mnt-simfs";
  ASSERT_EQ(berth({"snapshot-mount", id, "--id", b, "--target", target}).code, 0);
  EXPECT_EQ(read_text(target + "/later"), "later\n");
  EXPECT_EQ(berth({"destroy", id}).code, 162);
  EXPECT_EQ(berth({"snapshot-delete", id, "--id", b}).code, 162);
  ASSERT_EQ(berth({"snapshot-umount", id, "--id", b}).code, 0);
  EXPECT_EQ(berth({"destroy", id}).code, 0);
  EXPECT_FALSE(fs::exists(ve_private(id) + ".snapshots"));
}

TEST_F(SnapshotTest, KilledWhileFrozenIsThawedByTheNextCommand) {
  std::string id = create_running_ct({"--diskspace", "unlimited"});
  RunOptions o;
  o.env = {"BERTH_FAIL_POINT=snapshot-frozen"};
  o.timeout = std::chrono::seconds(2);
  RunResult r = berth({"snapshot", id}, o);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(fs::exists(root() + "/run/berth/snapshot/" + id + ".frozen"));
  RunResult s = berth({"status", id});
  EXPECT_PRED2(contains, s.err, "thawed");
  EXPECT_FALSE(fs::exists(root() + "/run/berth/snapshot/" + id + ".frozen"));
  RunResult e = berth({"exec", id, "echo alive"}, {.timeout = std::chrono::seconds(10)});
  EXPECT_EQ(e.code, 0);
  EXPECT_EQ(e.out, "alive\n");
  // The half-made copy is removed by the next snapshot command.
  auto [a, pa] = snapshot(id);
  auto j = list(id);
  EXPECT_EQ(j.size(), 1u);
  size_t entries = 0;
  for (const auto& x : fs::directory_iterator(ve_private(id) + "/snapshots")) {
    (void)x;
    ++entries;
  }
  EXPECT_EQ(entries, 3u) << "index.json, <uuid>/, <uuid>.conf";
}

// A CT with a disk (overlay and image layouts): the image is copied while the CT and its file
// system are frozen; the snapshot mounts read-only; no loop device is left after umount.
class SnapshotDiskTest : public SnapshotTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(SnapshotDiskTest, RunningWriterOnDisk) {
  std::string id = create_running_ct({"--layout", GetParam(), "--diskspace", "200M"});
  ASSERT_TRUE(fs::exists(ve_private(id) + "/disk.img"));
  ASSERT_EQ(berth({"exec", id, "mkdir -p /data"}).code, 0);
  ASSERT_EQ(
      berth({"exec", id,
             "(i=0; while [ $i -lt 20000 ]; do echo $i > /data/f$i; i=$((i+1)); done) </dev/null "
             ">/dev/null 2>&1 &"})
          .code,
      0);
  sleep_ms(300);
  auto [uuid, pause] = snapshot(id);
  ASSERT_FALSE(uuid.empty());
  EXPECT_LT(pause, 1000);
  EXPECT_TRUE(fs::exists(ve_private(id) + "/snapshots/" + uuid + ".img"));
  std::string target = root() + "/mnt-disk";
  RunResult m = berth({"snapshot-mount", id, "--id", uuid, "--target", target});
  ASSERT_EQ(m.code, 0) << m.err;
  std::set<long> seen;
  for (const auto& e : fs::directory_iterator(target + "/data"))
    seen.insert(std::stol(e.path().filename().string().substr(1)));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(static_cast<long>(seen.size()), *seen.rbegin() + 1) << "a prefix, no holes";
  for (long i = 0; i < *seen.rbegin(); ++i)
    EXPECT_EQ(read_text(target + "/data/f" + std::to_string(i)), std::to_string(i) + "\n");
  EXPECT_TRUE(fs::exists(target + "/bin")) << "the whole tree: template under the upper layer";
  ASSERT_EQ(berth({"snapshot-umount", id, "--id", uuid}).code, 0);
  ASSERT_EQ(berth({"exec", id, "echo after > /after"}).code, 0);
  RunResult sw =
      berth({"snapshot-switch", id, "--id", uuid}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(sw.code, 0) << sw.err;
  EXPECT_NE(berth({"exec", id, "test -e /after"}).code, 0);
  EXPECT_EQ(berth({"exec", id, "cat /data/f0"}).out, "0\n");
  ASSERT_EQ(berth({"snapshot-delete", id, "--id", uuid}).code, 0);
  EXPECT_FALSE(fs::exists(ve_private(id) + "/snapshots/" + uuid + ".img"));
}

INSTANTIATE_TEST_SUITE_P(Layouts, SnapshotDiskTest, ::testing::Values("overlay", "image"));

}  // namespace
}  // namespace berth::itest
