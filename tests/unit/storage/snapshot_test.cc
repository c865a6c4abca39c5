// The snapshot index (a tree of snapshots, which one is current) and its JSON; clone's pure
// helpers (ids moved between ranges, the clone's hostname).
#include "storage/snapshot.h"

#include <gtest/gtest.h>

#include "runtime/clone.h"
#include "storage/idshift.h"

namespace berth::storage {
namespace {

SnapshotEntry entry(const std::string& uuid) {
  SnapshotEntry e;
  e.uuid = uuid;
  e.file = uuid;
  return e;
}

const std::string kA = "11111111-1111-4111-8111-111111111111";
const std::string kB = "22222222-2222-4222-8222-222222222222";
const std::string kC = "33333333-3333-4333-8333-333333333333";
const std::string kD = "44444444-4444-4444-8444-444444444444";

TEST(SnapshotIndex, AddChainsOnCurrent) {
  SnapshotIndex idx;
  ASSERT_TRUE(idx.add(entry(kA)).ok());
  ASSERT_TRUE(idx.add(entry(kB)).ok());
  EXPECT_EQ(idx.find(kA)->parent, "");
  EXPECT_EQ(idx.find(kB)->parent, kA);
  EXPECT_EQ(idx.current, kB);
}

TEST(SnapshotIndex, DuplicateIsRefused) {
  SnapshotIndex idx;
  ASSERT_TRUE(idx.add(entry(kA)).ok());
  auto st = idx.add(entry(kA));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), EEXIST);
  EXPECT_EQ(idx.entries.size(), 1u);
}

TEST(SnapshotIndex, SwitchThenSnapshotMakesATree) {
  SnapshotIndex idx;
  ASSERT_TRUE(idx.add(entry(kA)).ok());
  ASSERT_TRUE(idx.add(entry(kB)).ok());
  ASSERT_TRUE(idx.set_current(kA).ok());
  ASSERT_TRUE(idx.add(entry(kC)).ok());
  EXPECT_EQ(idx.find(kC)->parent, kA);
  EXPECT_EQ(idx.children(kA).size(), 2u);
  EXPECT_FALSE(idx.set_current(kD).ok());
}

TEST(SnapshotIndex, DeleteMiddleReparentsChildrenAndMovesCurrent) {
  SnapshotIndex idx;
  ASSERT_TRUE(idx.add(entry(kA)).ok());
  ASSERT_TRUE(idx.add(entry(kB)).ok());
  ASSERT_TRUE(idx.add(entry(kC)).ok());
  ASSERT_TRUE(idx.remove(kB).ok());
  EXPECT_EQ(idx.find(kC)->parent, kA);
  EXPECT_EQ(idx.current, kC);
  ASSERT_TRUE(idx.remove(kC).ok());
  EXPECT_EQ(idx.current, kA);
  EXPECT_FALSE(idx.remove(kD).ok());
}

TEST(SnapshotIndex, JsonRoundTrip) {
  SnapshotIndex idx;
  SnapshotEntry a = entry(kA);
  a.name = "before \"upgrade\"\nx";
  a.description = "d";
  a.date = "2026-12-05T19:30:00Z";
  a.size = 1234567;
  a.has_config = true;
  a.mounted_at = "/mnt/x";
  ASSERT_TRUE(idx.add(a).ok());
  SnapshotEntry b = entry(kB);
  b.file = kB + ".img";
  ASSERT_TRUE(idx.add(b).ok());
  auto back = index_from_json(index_to_json(idx));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->current, kB);
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[0].name, a.name);
  EXPECT_EQ(back->entries[0].size, 1234567u);
  EXPECT_TRUE(back->entries[0].has_config);
  EXPECT_EQ(back->entries[0].mounted_at, "/mnt/x");
  EXPECT_EQ(back->entries[1].parent, kA);
  EXPECT_EQ(back->entries[1].file, kB + ".img");
}

TEST(SnapshotIndex, HostileJsonIsRefused) {
  EXPECT_FALSE(index_from_json("not json").ok());
  EXPECT_FALSE(index_from_json("{\"snapshots\": 3}").ok());
  // A file name that would leave the snapshots dir.
  EXPECT_FALSE(
      index_from_json("{\"snapshots\": [{\"uuid\": \"" + kA + "\", \"file\": \"../../etc\"}]}")
          .ok());
  EXPECT_FALSE(index_from_json("{\"snapshots\": [{\"uuid\": \"../x\", \"file\": \"x\"}]}").ok());
  auto dangling = index_from_json("{\"current\": \"" + kB + "\", \"snapshots\": [{\"uuid\": \"" +
                                  kA + "\", \"file\": \"" + kA + "\"}]}");
  ASSERT_TRUE(dangling.ok());
  EXPECT_EQ(dangling->current, "");
}

TEST(SnapshotUuid, NewIsVersion4AndValid) {
  std::string u = new_uuid();
  EXPECT_TRUE(valid_uuid(u)) << u;
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(new_uuid(), u);
  EXPECT_EQ(normalize_uuid("{" + kA + "}"), kA);
  EXPECT_EQ(normalize_uuid("AAAAAAAA-1111-4111-8111-111111111111"),
            "aaaaaaaa-1111-4111-8111-111111111111");
  EXPECT_FALSE(normalize_uuid("1111"));
  EXPECT_FALSE(valid_uuid("11111111x1111-4111-8111-111111111111"));
}

TEST(CloneIds, OnlyIdsOfTheSourceRangeMove) {
  EXPECT_EQ(moved_id(100000, 100000, 165536), 165536u);
  EXPECT_EQ(moved_id(100000 + 65535, 100000, 165536), 165536u + 65535);
  EXPECT_EQ(moved_id(100000 + 65536, 100000, 165536), 100000u + 65536);
  EXPECT_EQ(moved_id(0, 100000, 165536), 0u);
  EXPECT_EQ(moved_id(99999, 100000, 165536), 99999u);
}

TEST(CloneHostname, SuffixOnTheFirstLabel) {
  EXPECT_EQ(runtime::clone_hostname("web.example.com", "102"), "web-102.example.com");
  EXPECT_EQ(runtime::clone_hostname("web", "102"), "web-102");
  EXPECT_EQ(runtime::clone_hostname("", "102"), "ct102");
}

}  // namespace
}  // namespace berth::storage
