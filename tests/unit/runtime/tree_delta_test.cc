#include "runtime/tree_delta.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

using storage::EntryType;
using storage::IndexEntry;

constexpr int64_t kSec = 1000000000;

IndexEntry file(const std::string& path, uint64_t size = 10, int64_t mtime = 100 * kSec) {
  IndexEntry e;
  e.type = EntryType::kFile;
  e.path = path;
  e.mode = 0644;
  e.size = size;
  e.mtime_ns = mtime;
  return e;
}

IndexEntry dir(const std::string& path) {
  IndexEntry e;
  e.type = EntryType::kDir;
  e.path = path;
  e.mode = 0755;
  e.mtime_ns = 100 * kSec;
  return e;
}

// A record after a first pass at 1000 s over etc/, etc/a, etc/b, var/, var/log/, var/log/x.
TreeRecord first_pass() {
  TreeRecord r;
  r.start_pass(1000 * kSec);
  for (const auto& e :
       {dir("etc"), file("etc/a"), file("etc/b"), dir("var"), dir("var/log"), file("var/log/x")})
    EXPECT_TRUE(r.visit(e, 50 * kSec)) << e.path;
  EXPECT_TRUE(r.finish_pass().empty());
  return r;
}

TEST(TreeDelta, FirstPassSendsEverything) {
  TreeRecord r;
  EXPECT_TRUE(r.first_pass());
  r.start_pass(10 * kSec);
  EXPECT_TRUE(r.visit(file("a"), 0));
  EXPECT_TRUE(r.finish_pass().empty());
  EXPECT_FALSE(r.first_pass());
  EXPECT_EQ(r.size(), 1u);
}

TEST(TreeDelta, UnchangedEntriesAreNotSent) {
  TreeRecord r = first_pass();
  r.start_pass(2000 * kSec);
  for (const auto& e :
       {dir("etc"), file("etc/a"), file("etc/b"), dir("var"), dir("var/log"), file("var/log/x")})
    EXPECT_FALSE(r.visit(e, 50 * kSec)) << e.path;
  EXPECT_TRUE(r.finish_pass().empty());
}

TEST(TreeDelta, CtimeAfterThePassStartIsAChange) {
  TreeRecord r = first_pass();
  r.start_pass(2000 * kSec);
  // Same size, mtime and mode (content rewritten, mtime set back): the ctime tells.
  EXPECT_TRUE(r.visit(file("etc/a"), 1000 * kSec + 5));
  // Within the coarse-clock margin before the pass's start: sent too.
  EXPECT_TRUE(r.visit(file("etc/b"), 1000 * kSec - kDeltaMarginNs));
  // Before the margin: not.
  EXPECT_FALSE(r.visit(file("var/log/x"), 1000 * kSec - kDeltaMarginNs - 1));
  (void)r.finish_pass();
  // The next pass compares with its own start: an entry sent once is not sent again.
  r.start_pass(3000 * kSec);
  EXPECT_FALSE(r.visit(file("etc/a"), 1000 * kSec + 5));
  EXPECT_TRUE(r.visit(file("etc/b"), 2000 * kSec));
}

TEST(TreeDelta, MetadataDifferencesAreChanges) {
  TreeRecord r = first_pass();
  r.start_pass(2000 * kSec);
  auto m = file("etc/a");
  m.mode = 0600;
  EXPECT_TRUE(r.visit(m, 0));
  auto o = file("etc/b");
  o.uid = 1000;
  EXPECT_TRUE(r.visit(o, 0));
  EXPECT_TRUE(r.visit(file("var/log/x", 11), 0));   // size
  EXPECT_FALSE(r.visit(file("var/log/x", 11), 0));  // recorded now
  auto s = file("var/log/x", 11);
  s.type = EntryType::kSymlink;
  s.target = "/etc/a";
  EXPECT_TRUE(r.visit(s, 0));  // type
  s.target = "/etc/b";
  EXPECT_TRUE(r.visit(s, 0));  // symlink target
  auto h = file("var/log/x");
  h.type = EntryType::kHardlink;
  h.target = "etc/a";
  EXPECT_TRUE(r.visit(h, 0));                // now a hardlink
  EXPECT_TRUE(r.visit(file("etc/new"), 0));  // a new path
}

TEST(TreeDelta, UnchangedFromAStatAlone) {
  auto h = file("etc/h");
  h.type = EntryType::kHardlink;
  h.target = "etc/a";
  h.size = 0;
  TreeRecord r;
  r.start_pass(1000 * kSec);
  for (const auto& e :
       {dir("etc"), file("etc/a"), file("etc/b"), h, dir("var"), dir("var/log"), file("var/log/x")})
    EXPECT_TRUE(r.visit(e, 50 * kSec)) << e.path;
  (void)r.finish_pass();
  r.start_pass(2000 * kSec);
  EXPECT_TRUE(r.unchanged(file("etc/a"), EntryType::kFile, 10, 0, 50 * kSec));
  EXPECT_TRUE(r.unchanged(file("etc/h"), EntryType::kFile, 10, 0, 50 * kSec));  // a hardlink
  EXPECT_TRUE(r.unchanged(dir("etc"), EntryType::kDir, 4096, 0, 50 * kSec));
  EXPECT_FALSE(r.unchanged(file("etc/b"), EntryType::kFile, 10, 0, 1500 * kSec));    // ctime
  EXPECT_FALSE(r.unchanged(file("var/log/x"), EntryType::kFile, 11, 0, 50 * kSec));  // size
  EXPECT_FALSE(r.unchanged(file("var"), EntryType::kFile, 10, 0, 50 * kSec));        // was a dir
  EXPECT_FALSE(r.unchanged(file("new"), EntryType::kFile, 10, 0, 50 * kSec));
  auto m = file("var/log/x");
  m.mode = 0600;
  EXPECT_FALSE(r.unchanged(m, EntryType::kFile, 10, 0, 50 * kSec));
  // What unchanged() let pass counts as seen: not removed.
  EXPECT_FALSE(r.visit(dir("var"), 50 * kSec));
  EXPECT_FALSE(r.visit(dir("var/log"), 50 * kSec));
  EXPECT_FALSE(r.visit(file("var/log/x"), 50 * kSec));
  EXPECT_EQ(r.finish_pass(), (std::vector<std::string>{"etc/b"}));
  // A first pass has nothing to compare with.
  TreeRecord fresh;
  fresh.start_pass(kSec);
  EXPECT_FALSE(fresh.unchanged(file("a"), EntryType::kFile, 10, 0, 0));
}

TEST(TreeDelta, RemovedPathsListOnlyTheTopmost) {
  TreeRecord r = first_pass();
  r.start_pass(2000 * kSec);
  // etc/b and all of var/ are gone.
  EXPECT_FALSE(r.visit(dir("etc"), 0));
  EXPECT_FALSE(r.visit(file("etc/a"), 0));
  auto gone = r.finish_pass();
  EXPECT_EQ(gone, (std::vector<std::string>{"etc/b", "var"}));
  EXPECT_EQ(r.size(), 2u);
  // Gone once, not listed again; a path that comes back is new.
  r.start_pass(3000 * kSec);
  EXPECT_FALSE(r.visit(dir("etc"), 0));
  EXPECT_FALSE(r.visit(file("etc/a"), 0));
  EXPECT_TRUE(r.visit(dir("var"), 0));
  EXPECT_TRUE(r.finish_pass().empty());
}

TEST(TreeDelta, RemovalsBelowAKeptDirectoryWithSimilarNames) {
  // "a-b" sorts between "a" and "a/b": a removed "a" still covers "a/b", not "a-b".
  TreeRecord r;
  r.start_pass(kSec);
  for (const auto& e : {dir("a"), file("a-b"), file("a/b"), dir("a/c"), file("a/c/d")})
    r.visit(e, 0);
  (void)r.finish_pass();
  r.start_pass(2 * kSec);
  EXPECT_EQ(r.finish_pass(), (std::vector<std::string>{"a", "a-b"}));
  // Only a deep one gone.
  TreeRecord q;
  q.start_pass(kSec);
  for (const auto& e : {dir("a"), dir("a/c"), file("a/c/d")}) q.visit(e, 0);
  (void)q.finish_pass();
  q.start_pass(2 * kSec);
  q.visit(dir("a"), 0);
  q.visit(dir("a/c"), 0);
  EXPECT_EQ(q.finish_pass(), (std::vector<std::string>{"a/c/d"}));
}

TEST(TreeDelta, RemovalListsRoundTripInBoundedPayloads) {
  std::vector<std::string> paths{"etc/b", "var", "with\nnewline", "x/y/z"};
  auto one = encode_removals(paths, 1 << 20);
  ASSERT_EQ(one.size(), 1u);
  auto back = parse_removals(one[0]);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, paths);
  auto many = encode_removals(paths, 8);
  EXPECT_GT(many.size(), 1u);
  std::vector<std::string> all;
  for (const auto& p : many) {
    auto part = parse_removals(p);
    ASSERT_TRUE(part.ok());
    all.insert(all.end(), part->begin(), part->end());
  }
  EXPECT_EQ(all, paths);
  EXPECT_TRUE(encode_removals({}, 100).empty());
  auto none = parse_removals("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(TreeDelta, HostileRemovalPathsAreRefused) {
  using namespace std::string_literals;
  for (const std::string& bad : {"../etc/passwd"s, "/etc/passwd"s, "a/../../b"s, "a//b"s, "./a"s,
                                 "a/."s, "a/"s, "ok\0\0x"s, "ok\0.."s, "\0"s}) {
    auto r = parse_removals(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto ok = parse_removals("a/b\0c"s);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<std::string>{"a/b", "c"}));
}

}  // namespace
}  // namespace berth::runtime
