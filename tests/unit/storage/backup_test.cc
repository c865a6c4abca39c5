// The backup store's pure parts: chunk boundaries under an insert, the index's round trip with
// hostile names, id shifting; and the store itself in a temp dir (no root needed).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/backup_index.h"
#include "storage/backup_store.h"
#include "storage/chunker.h"

namespace berth::storage {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

std::vector<std::string> chunks_of(const std::vector<uint8_t>& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = chunk_cut(data.data() + pos, data.size() - pos);
    out.emplace_back(reinterpret_cast<const char*>(data.data() + pos), n);
    pos += n;
  }
  return out;
}

TEST(Chunker, SizesStayWithinBounds) {
  auto data = random_bytes(8 << 20, 1);
  auto chunks = chunks_of(data);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_GE(chunks[i].size(), kChunkMin);
    EXPECT_LE(chunks[i].size(), kChunkMax);
  }
  double avg = static_cast<double>(data.size()) / static_cast<double>(chunks.size());
  EXPECT_GT(avg, 40.0 * 1024);
  EXPECT_LT(avg, 120.0 * 1024);
}

TEST(Chunker, SmallInputIsOneChunk) {
  auto data = random_bytes(kChunkMin, 2);
  EXPECT_EQ(chunk_cut(data.data(), data.size()), data.size());
}

TEST(Chunker, InsertInTheMiddleChangesOnlyNearbyChunks) {
  auto data = random_bytes(8 << 20, 3);
  auto before = chunks_of(data);
  auto edited = data;
  auto ins = random_bytes(100, 4);
  edited.insert(edited.begin() + (4 << 20), ins.begin(), ins.end());
  auto after = chunks_of(edited);
  std::multiset<std::string> old_set(before.begin(), before.end());
  size_t fresh = 0;
  for (const auto& c : after)
    if (!old_set.count(c)) ++fresh;
  EXPECT_LE(fresh, 3u) << "of " << after.size() << " chunks";
  EXPECT_GE(after.size(), before.size() - 2);
}

TEST(BackupIndex, RoundTripWithHostileNames) {
  std::vector<IndexEntry> in;
  IndexEntry d;
  d.type = EntryType::kDir;
  d.path = "dir\nwith newline";
  d.mode = 01777;
  d.xattrs = {{"user.x", std::string("a\0b", 3)}, {"security.capability", "\x01\x02"}};
  in.push_back(d);
  IndexEntry f;
  f.type = EntryType::kFile;
  f.path = "dir\nwith newline/\xff\xfe binary name";
  f.mode = 04755;
  f.uid = 65534;
  f.gid = 5;
  f.mtime_ns = -5;  // before 1970
  f.size = 3;
  f.chunks.push_back({ChunkId{1, 2, 3}, 3});
  in.push_back(f);
  IndexEntry h;
  h.type = EntryType::kHardlink;
  h.path = "link";
  h.target = f.path;
  in.push_back(h);
  IndexEntry s;
  s.type = EntryType::kSymlink;
  s.path = "abs";
  s.target = "/etc/../../passwd";
  in.push_back(s);
  auto out = decode_index(encode_index(in));
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(*out, in);
}

TEST(BackupIndex, RefusesUnsafePathsAndTruncation) {
  for (std::string bad : {"../x", "/etc/passwd", "a/../../b", "a//b", "./a", "", "a/"}) {
    IndexEntry e;
    e.path = bad;
    auto r = decode_index(encode_index({e}));
    EXPECT_FALSE(r.ok()) << bad;
  }
  IndexEntry h;
  h.type = EntryType::kHardlink;
  h.path = "x";
  h.target = "../../etc/shadow";
  EXPECT_FALSE(decode_index(encode_index({h})).ok());
  IndexEntry ok;
  ok.path = "a";
  std::string enc = encode_index({ok});
  for (size_t n = 0; n < enc.size(); ++n)
    EXPECT_FALSE(decode_index(std::string_view(enc).substr(0, n)).ok()) << n;
  EXPECT_FALSE(decode_index(enc + "x").ok());
}

TEST(BackupIndex, IdShift) {
  uint32_t v = 0;
  EXPECT_TRUE(unshift_id(200000 + 33, 200000, &v));
  EXPECT_EQ(v, 33u);
  EXPECT_FALSE(unshift_id(0, 200000, &v));
  EXPECT_FALSE(unshift_id(200000 + 65536, 200000, &v));
  EXPECT_EQ(shift_id(33, 200000), 200033u);
  EXPECT_EQ(shift_id(70000, 200000), 200000u + 65534);
  EXPECT_TRUE(is_backup_id("101-20261205T193000Z"));
  EXPECT_FALSE(is_backup_id("../x"));
  EXPECT_FALSE(is_backup_id(".hidden"));
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/store";
  }
  void TearDown() override { std::system(("rm -rf " + dir_.substr(0, dir_.rfind('/'))).c_str()); }
  std::string dir_;
};

TEST_F(StoreTest, DedupVerifyDeleteSweep) {
  auto store = BackupStore::open(dir_, true, true);
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto a = random_bytes(100000, 7), b = random_bytes(5000, 8);
  ChunkId ida, idb;
  auto n1 = store->put_chunk(a.data(), a.size(), &ida);
  ASSERT_TRUE(n1.ok());
  EXPECT_GT(*n1, 0u);
  auto n2 = store->put_chunk(a.data(), a.size(), &ida);
  ASSERT_TRUE(n2.ok());
  EXPECT_EQ(*n2, 0u) << "the same content is stored once";
  ASSERT_TRUE(store->put_chunk(b.data(), b.size(), &idb).ok());
  IndexEntry f;
  f.path = "f";
  f.size = a.size();
  f.chunks = {{ida, static_cast<uint32_t>(a.size())}};
  BackupMeta m1{"1-a", "1", 1, 1, a.size(), 0, "busybox", "overlay", true};
  ASSERT_TRUE(store->write_backup(m1, {f}, "X=1\n").ok());
  IndexEntry g = f;
  g.chunks.push_back({idb, static_cast<uint32_t>(b.size())});
  BackupMeta m2{"1-b", "1", 2, 1, a.size() + b.size(), 0, "busybox", "overlay", true};
  ASSERT_TRUE(store->write_backup(m2, {g}, "X=1\n").ok());
  EXPECT_TRUE(store->verify("1-a").empty());
  auto usage = store->usage();
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->size(), 2u);
  EXPECT_EQ((*usage)[0].stored, 0u);
  EXPECT_GT((*usage)[0].shared, 0u);
  EXPECT_GT((*usage)[1].stored, 0u);
  // A corrupt chunk is found.
  std::string hex = chunk_hex(idb);
  std::string path = dir_ + "/chunks/" + hex.substr(0, 2) + "/" + hex;
  {
    std::fstream fs(path, std::ios::in | std::ios::out | std::ios::binary);
    fs.seekp(6);
    fs.put('\x55');
  }
  EXPECT_EQ(store->verify("1-b").size(), 1u);
  // Delete 1-b: its own chunk goes, the shared one stays.
  auto r = store->remove("1-b");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->chunks_removed, 1u);
  EXPECT_TRUE(store->verify("1-a").empty());
  EXPECT_FALSE(store->meta("1-b").ok());
}

TEST_F(StoreTest, RepairRemovesIncompleteBackupsAndTemps) {
  {
    auto store = BackupStore::open(dir_, true, true);
    ASSERT_TRUE(store.ok());
    auto a = random_bytes(1000, 9);
    ChunkId id;
    ASSERT_TRUE(store->put_chunk(a.data(), a.size(), &id).ok());
  }
  ASSERT_EQ(mkdir((dir_ + "/backups/1-x").c_str(), 0700), 0);
  std::ofstream(dir_ + "/backups/1-x/index.zst") << "junk";
  mkdir((dir_ + "/chunks/00").c_str(), 0700);
  std::ofstream(dir_ + "/chunks/00/.tmp-00-1") << "junk";
  auto store = BackupStore::open(dir_, true, false);
  ASSERT_TRUE(store.ok());
  auto r = store->repair();  // already repaired by open
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->incomplete_backups + r->temp_files + r->chunks_removed, 0u);
  EXPECT_NE(access((dir_ + "/backups/1-x").c_str(), F_OK), 0);
  EXPECT_NE(access((dir_ + "/chunks/00/.tmp-00-1").c_str(), F_OK), 0);
  auto list = store->list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

// The pool's ids are by submission order whatever thread stored them, equal to put_chunk()'s,
// and a content submitted twice is stored (and counted) once.
TEST_F(StoreTest, ChunkWriterOrdersIdsAndStoresOnce) {
  auto store = BackupStore::open(dir_, true, true);
  ASSERT_TRUE(store.ok()) << store.error().message();
  std::vector<std::vector<uint8_t>> data;
  for (uint32_t i = 0; i < 40; ++i) data.push_back(random_bytes(1000 + 997 * i, 100 + i));
  data.push_back(data[3]);
  uint64_t added = 0;
  std::vector<ChunkId> ids;
  {
    ChunkWriter w(*store, 3);
    for (size_t i = 0; i < data.size(); ++i) {
      auto t = w.submit(data[i]);
      ASSERT_TRUE(t.ok()) << t.error().message();
      EXPECT_EQ(*t, i);
    }
    auto r = w.finish(&added);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ids = std::move(*r);
  }
  ASSERT_EQ(ids.size(), data.size());
  EXPECT_EQ(ids[3], ids[40]);
  uint64_t on_disk = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    ChunkId id;
    auto n = store->put_chunk(data[i].data(), data[i].size(), &id);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u) << "chunk " << i << " was stored by the pool";
    EXPECT_EQ(id, ids[i]) << "chunk " << i;
    auto back = store->read_chunk({ids[i], static_cast<uint32_t>(data[i].size())});
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(std::string(data[i].begin(), data[i].end()), *back);
    if (i < 40) {
      struct stat st;
      std::string hex = chunk_hex(ids[i]);
      ASSERT_EQ(::stat((dir_ + "/chunks/" + hex.substr(0, 2) + "/" + hex).c_str(), &st), 0);
      on_disk += static_cast<uint64_t>(st.st_size);
    }
  }
  EXPECT_EQ(added, on_disk) << "new bytes count each stored chunk once";
}

}  // namespace
}  // namespace berth::storage
