// The tree walk and the tree writer on real directories: a round trip keeps names (newlines too),
// types, modes, owners, xattrs and hard links; the writer never follows a symlink it made; a
// second pass over an equal tree keeps every file. Owner changes need root: skipped otherwise.
#include "storage/backup_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/unique_fd.h"

namespace berth::storage {
namespace {

constexpr uint32_t kBase = 1300000;

class BackupTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (owners)";
    char tmpl[] = "/tmp/berth-tree-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    src_ = top_ + "/src";
    dst_ = top_ + "/dst";
    ASSERT_EQ(mkdir(src_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(dst_.c_str(), 0755), 0);
  }
  void TearDown() override {
    // NOLINTNEXTLINE(cert-env33-c): a test's own temporary dir, a fixed command
    if (!top_.empty()) std::system(("rm -rf " + top_).c_str());
  }
  std::vector<std::pair<IndexEntry, std::string>> walk(const std::string& dir, uint32_t base) {
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::vector<std::pair<IndexEntry, std::string>> out;
    WalkStats ws;
    auto st = walk_tree(
        fd.get(), base, base,
        [&](IndexEntry& e, int f) -> Status {
          std::string data;
          if (f >= 0) {
            char buf[4096];
            ssize_t n;
            while ((n = read(f, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
          }
          out.emplace_back(e, data);
          return {};
        },
        &ws);
    EXPECT_TRUE(st.ok()) << st.error().message();
    return out;
  }
  std::string top_, src_, dst_;
};

TEST_F(BackupTreeTest, RoundTripKeepsEverything) {
  std::string d = src_ + "/d\nx";
  ASSERT_EQ(mkdir(d.c_str(), 0750), 0);
  ASSERT_EQ(chown(d.c_str(), kBase + 7, kBase + 8), 0);
  std::ofstream(d + "/f") << "hello";
  ASSERT_EQ(chown((d + "/f").c_str(), kBase, kBase), 0);
  ASSERT_EQ(chmod((d + "/f").c_str(), 04755), 0);
  ASSERT_EQ(setxattr((d + "/f").c_str(), "user.x", "v", 1, 0), 0);
  ASSERT_EQ(link((d + "/f").c_str(), (src_ + "/hard").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", (src_ + "/abs").c_str()), 0);
  ASSERT_EQ(mkfifo((src_ + "/fifo").c_str(), 0640), 0);
  std::ofstream(src_ + "/foreign") << "x";
  ASSERT_EQ(chown((src_ + "/foreign").c_str(), 5, 5), 0);  // a host id, outside the range
  ASSERT_EQ(chmod((src_ + "/foreign").c_str(), 06755), 0);
  auto entries = walk(src_, kBase);
  ASSERT_EQ(entries.size(), 6u);
  std::map<std::string, IndexEntry> by_path;
  for (auto& [e, data] : entries) by_path[e.path] = e;
  EXPECT_EQ(by_path["d\nx"].uid, 7u);
  EXPECT_EQ(by_path["d\nx/f"].mode, 04755u);
  EXPECT_EQ(by_path["hard"].type, EntryType::kHardlink);
  EXPECT_EQ(by_path["foreign"].uid, 65534u);
  EXPECT_EQ(by_path["foreign"].mode, 0755u) << "no setuid for an id that is not the tenant's";
  ASSERT_EQ(by_path["d\nx/f"].xattrs.size(), 1u);

  UniqueFd out(open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const uint32_t other = 1400000;
  TreeWriter w(out.get(), other, other);
  for (auto& [e, data] : entries) {
    std::string content = data;
    auto st = w.put(e, [&](int fd) -> Status {
      EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
      return {};
    });
    ASSERT_TRUE(st.ok()) << e.path << ": " << st.error().message();
  }
  ASSERT_TRUE(w.finish().ok());
  struct stat st;
  ASSERT_EQ(lstat((dst_ + "/d\nx/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, other);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  struct stat h;
  ASSERT_EQ(lstat((dst_ + "/hard").c_str(), &h), 0);
  EXPECT_EQ(h.st_ino, st.st_ino);
  char v[8] = {};
  EXPECT_EQ(getxattr((dst_ + "/d\nx/f").c_str(), "user.x", v, sizeof v), 1);
  ASSERT_EQ(lstat((dst_ + "/foreign").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, other + 65534);
  auto again = walk(dst_, other);
  ASSERT_EQ(again.size(), entries.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].first, entries[i].first) << entries[i].first.path;
    EXPECT_EQ(again[i].second, entries[i].second) << entries[i].first.path;
  }
  // Writing the same list again over it keeps every file and removes what is extra.
  std::ofstream(dst_ + "/extra") << "x";
  TreeWriter w2(out.get(), other, other);
  for (auto& [e, data] : entries)
    ASSERT_TRUE(w2.put(e, [](int) -> Status { return Error::invalid("must not rewrite"); }).ok())
        << e.path;
  ASSERT_TRUE(w2.finish().ok());
  EXPECT_NE(access((dst_ + "/extra").c_str(), F_OK), 0);
  EXPECT_EQ(w2.written(), 1u) << "only the FIFO is made again";
}

TEST_F(BackupTreeTest, WriterNeverFollowsASymlink) {
  UniqueFd out(open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  TreeWriter w(out.get(), kBase, kBase);
  IndexEntry l;
  l.type = EntryType::kSymlink;
  l.path = "a";
  l.target = src_;
  ASSERT_TRUE(w.put(l, nullptr).ok());
  IndexEntry f;
  f.type = EntryType::kFile;
  f.path = "a/x";
  auto st = w.put(f, [](int) -> Status { return {}; });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(access((src_ + "/x").c_str(), F_OK), 0);
  IndexEntry bad;
  bad.path = "../x";
  EXPECT_FALSE(w.put(bad, [](int) -> Status { return {}; }).ok());
  IndexEntry hl;
  hl.type = EntryType::kHardlink;
  hl.path = "h";
  hl.target = "a";  // not a file given before
  EXPECT_FALSE(w.put(hl, nullptr).ok());
}

// A delta (live migration's later copies): the given entries change, the rest stays; a file is
// written again even when its size and mtime match; a hardlink may name a file not given;
// removals never follow a symlink or leave the tree; untouched directories keep their times.
TEST_F(BackupTreeTest, DeltaChangesOnlyWhatIsGivenAndRemovesSafely) {
  auto write = [](const std::string& p, const std::string& data) { std::ofstream(p) << data; };
  ASSERT_EQ(mkdir((dst_ + "/d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dst_ + "/gone").c_str(), 0755), 0);
  write(dst_ + "/d/keep", "keep");
  write(dst_ + "/d/same", "old!");
  write(dst_ + "/gone/x", "x");
  write(dst_ + "/f", "f");
  write(src_ + "/outside", "outside");
  ASSERT_EQ(symlink(src_.c_str(), (dst_ + "/link").c_str()), 0);
  ASSERT_EQ(chown((dst_ + "/d/same").c_str(), kBase, kBase), 0);
  const struct timespec t[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dst_ + "/d/same").c_str(), t, 0), 0);
  const struct timespec dt[2] = {{500, 0}, {500, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dst_ + "/d").c_str(), dt, 0), 0);

  UniqueFd out(open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  TreeWriter w(out.get(), kBase, kBase);
  w.set_delta();
  IndexEntry same;
  same.type = EntryType::kFile;
  same.path = "d/same";
  same.mode = 0644;
  same.size = 4;
  same.mtime_ns = 1000LL * 1000000000;
  ASSERT_TRUE(w.put(same, [](int fd) -> Status {
                 EXPECT_EQ(::write(fd, "new!", 4), 4);
                 return {};
               }).ok());
  IndexEntry hl;
  hl.type = EntryType::kHardlink;
  hl.path = "d/h";
  hl.target = "f";  // a file of the tree, not given
  ASSERT_TRUE(w.put(hl, nullptr).ok());
  // Removals: through a symlink, out of the tree, missing: nothing happens.
  EXPECT_TRUE(w.remove("link/outside").ok());
  EXPECT_TRUE(w.remove("nothing/here").ok());
  EXPECT_FALSE(w.remove("../src/outside").ok());
  EXPECT_TRUE(w.remove("gone").ok());
  EXPECT_TRUE(w.remove("link").ok());  // the symlink itself, not what it names
  ASSERT_TRUE(w.finish().ok());
  EXPECT_EQ(w.removed(), 2u);

  std::ifstream in(dst_ + "/d/same");
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "new!");
  struct stat a, b;
  ASSERT_EQ(stat((dst_ + "/f").c_str(), &a), 0);
  ASSERT_EQ(stat((dst_ + "/d/h").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(access((dst_ + "/d/keep").c_str(), F_OK), 0);  // not given: kept
  EXPECT_NE(access((dst_ + "/gone").c_str(), F_OK), 0);
  EXPECT_NE(access((dst_ + "/link").c_str(), F_OK), 0);
  EXPECT_EQ(access((src_ + "/outside").c_str(), F_OK), 0);
  ASSERT_EQ(stat((dst_ + "/d").c_str(), &a), 0);
  EXPECT_EQ(a.st_mtim.tv_sec, 500);  // its entries changed, its time did not
  // A full writer refuses removals.
  TreeWriter full(out.get(), kBase, kBase);
  EXPECT_FALSE(full.remove("f").ok());
}

// A delta pass's walk: what the hook calls unchanged is not visited (its directory still
// entered), and a later name of a skipped file's inode is a hardlink to it.
TEST_F(BackupTreeTest, WalkSkipsWhatIsUnchanged) {
  ASSERT_EQ(mkdir((src_ + "/d").c_str(), 0755), 0);
  std::ofstream(src_ + "/d/a") << "a";
  std::ofstream(src_ + "/d/b") << "b";
  ASSERT_EQ(link((src_ + "/d/a").c_str(), (src_ + "/d/z").c_str()), 0);
  UniqueFd fd(open(src_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::vector<IndexEntry> seen;
  WalkStats ws;
  auto st = walk_tree(
      fd.get(), 0, 0,
      [&](IndexEntry& e, int) -> Status {
        seen.push_back(e);
        return {};
      },
      &ws,
      [](const IndexEntry& e, const struct stat&) { return e.path == "d" || e.path == "d/a"; });
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].path, "d/b");
  EXPECT_EQ(seen[1].path, "d/z");
  EXPECT_EQ(seen[1].type, EntryType::kHardlink);
  EXPECT_EQ(seen[1].target, "d/a");
  EXPECT_EQ(ws.entries, 4u);
}

}  // namespace
}  // namespace berth::storage
