// storage/disk: what a CT's config asks of its disk, and the usage an ext4 superblock records
// (a superblock built here field by field as mke2fs lays it out; the integration test reads a real
// mkfs'd image, tests/integration/disk_test.cc).
#include "storage/disk.h"

#include <gtest/gtest.h>

#include <string>

#include "core/exit_codes.h"

namespace berth::storage {
namespace {

class DiskConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = HostConfig::load_at("/nonexistent-berth-root-for-tests");
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(*h);
  }
  CtConfig make(const std::string& text) { return CtConfig(host_, "101", ConfFile::parse(text)); }
  HostConfig host_;
};

TEST_F(DiskConfigTest, SizeIsTheBarrierInBytesAndInodesTheirBarrier) {
  auto r = disk_request(make("DISKSPACE=\"204800:250000\"\nDISKINODES=\"20000:22000\"\n"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->bytes, 204800ull * 1024);
  EXPECT_EQ(r->inodes, 20000u);
  // Rounded down to whole 4K blocks.
  EXPECT_EQ(disk_request(make("DISKSPACE=\"1023\"\n"))->bytes, 255u * 4096);
  EXPECT_EQ(disk_request(make("DISKSPACE=\"4097\"\n"))->bytes, 4096ull * 1024);
  // Unlimited or unset: no disk.
  EXPECT_FALSE(disk_request(make("DISKSPACE=\"unlimited:unlimited\"\n"))->bytes);
  EXPECT_FALSE(disk_request(make(""))->bytes);
  EXPECT_EQ(disk_request(make("DISKINODES=\"unlimited\"\n"))->inodes, 0u);
  auto bad = disk_request(make("DISKSPACE=\"lots\"\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().exit_status(), exitcode::kBadValue);
}

TEST_F(DiskConfigTest, WhichLayoutsGetADisk) {
  EXPECT_TRUE(*wants_disk(make("VE_LAYOUT=\"overlay\"\nDISKSPACE=\"1G\"\n")));
  EXPECT_FALSE(*wants_disk(make("VE_LAYOUT=\"overlay\"\nDISKSPACE=\"unlimited\"\n")));
  EXPECT_FALSE(*wants_disk(make("VE_LAYOUT=\"overlay\"\n")));
  EXPECT_TRUE(*wants_disk(make("VE_LAYOUT=\"image\"\nDISKSPACE=\"1G\"\n")));
  EXPECT_FALSE(*wants_disk(make("VE_LAYOUT=\"simfs\"\nDISKSPACE=\"1G\"\n")));
  auto img = wants_disk(make("VE_LAYOUT=\"image\"\nDISKSPACE=\"unlimited\"\n"));
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.error().exit_status(), exitcode::kBadValue);
  EXPECT_EQ(img.error().message().find('\n'), std::string::npos);
}

TEST_F(DiskConfigTest, SimfsWithAFiniteQuotaIsRefusedWithTheWaysOut) {
  EXPECT_TRUE(check_simfs_quota(make("VE_LAYOUT=\"simfs\"\nDISKSPACE=\"unlimited\"\n")).ok());
  EXPECT_TRUE(check_simfs_quota(make("VE_LAYOUT=\"simfs\"\n")).ok());
  EXPECT_TRUE(check_simfs_quota(make("VE_LAYOUT=\"overlay\"\nDISKSPACE=\"1G\"\n")).ok());
  for (const char* conf : {"VE_LAYOUT=\"simfs\"\nDISKSPACE=\"2G:2.2G\"\n",
                           "VE_LAYOUT=\"simfs\"\nDISKINODES=\"1000\"\n"}) {
    auto st = check_simfs_quota(make(conf));
    ASSERT_FALSE(st.ok()) << conf;
    EXPECT_EQ(st.error().exit_status(), exitcode::kBadValue);
    std::string m = st.error().message();
    EXPECT_NE(m.find("--layout image"), std::string::npos) << m;
    EXPECT_NE(m.find("--diskspace unlimited"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
}

void put32(std::string& sb, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) sb[off + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string superblock(uint32_t inodes, uint32_t free_inodes, uint64_t blocks, uint64_t free_blocks,
                       uint32_t log_block, bool is64) {
  std::string sb(1024, '\0');
  put32(sb, 0x00, inodes);
  put32(sb, 0x04, static_cast<uint32_t>(blocks));
  put32(sb, 0x0c, static_cast<uint32_t>(free_blocks));
  put32(sb, 0x10, free_inodes);
  put32(sb, 0x18, log_block);
  put32(sb, 0x38, 0xEF53);
  if (is64) {
    put32(sb, 0x60, 0x80 | 0x40 | 0x2);  // 64bit, extents, filetype
    put32(sb, 0x150, static_cast<uint32_t>(blocks >> 32));
    put32(sb, 0x158, static_cast<uint32_t>(free_blocks >> 32));
  }
  return sb;
}

TEST(Ext4Superblock, ReadsTheCounts) {
  auto u = parse_ext4_superblock(superblock(20000, 19989, 51200, 45000, 2, true));
  ASSERT_TRUE(u.ok()) << u.error().message();
  EXPECT_EQ(u->bytes_total, 51200ull * 4096);
  EXPECT_EQ(u->bytes_used, (51200ull - 45000) * 4096);
  EXPECT_EQ(u->inodes_total, 20000u);
  EXPECT_EQ(u->inodes_used, 11u);
}

TEST(Ext4Superblock, HighHalvesOnlyWith64bit) {
  uint64_t blocks = (5ull << 32) + 7, free_blocks = (4ull << 32) + 3;
  auto big = parse_ext4_superblock(superblock(10, 5, blocks, free_blocks, 2, true));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->bytes_total, blocks * 4096);
  EXPECT_EQ(big->bytes_used, (blocks - free_blocks) * 4096);
  // Without INCOMPAT_64BIT the _hi fields are not the file system's: ignored.
  std::string sb = superblock(10, 5, 1000, 10, 0, false);
  put32(sb, 0x150, 9);
  auto small = parse_ext4_superblock(sb);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->bytes_total, 1000u * 1024);
  EXPECT_EQ(small->bytes_used, 990u * 1024);
}

// mkfs.ext4 -b 4096 -N 20000 of 200M (dumpe2fs: 2 groups of 32768 blocks, 10000 inodes of 256
// bytes each, 24 reserved GDT blocks, a 16M journal): 5402 blocks of overhead that the mounted
// file system's statfs does not count, as measured on a real image (disk_test.cc compares a
// stopped CT's use with its running one).
TEST(Ext4Superblock, LeavesOutWhatStatfsLeavesOut) {
  std::string sb = superblock(20000, 19989, 51200, 45792, 2, true);
  put32(sb, 0x14, 0);                 // first data block
  put32(sb, 0x20, 32768);             // blocks per group
  put32(sb, 0x28, 10000);             // inodes per group
  put32(sb, 0x58, 256);               // inode size
  put32(sb, 0x5C, 0x4);               // has_journal
  put32(sb, 0x64, 0x1);               // sparse_super
  put32(sb, 0xCC, 24u << 16);         // s_reserved_gdt_blocks (0xCE)
  put32(sb, 0xE0, 8);                 // journal inode
  put32(sb, 0xFC, 1u | (64u << 16));  // jnl backup type; s_desc_size 64 (0xFE)
  put32(sb, 0x14C, 16u << 20);        // journal i_size
  auto u = parse_ext4_superblock(sb);
  ASSERT_TRUE(u.ok()) << u.error().message();
  EXPECT_EQ(u->bytes_total, (51200ull - 5402) * 4096);
  EXPECT_EQ(u->bytes_used, (51200ull - 45792 - 5402) * 4096);
}

TEST(Ext4Superblock, RefusesWhatIsNotOne) {
  EXPECT_FALSE(parse_ext4_superblock(std::string(1024, '\0')).ok());
  EXPECT_FALSE(parse_ext4_superblock("short").ok());
  std::string sb = superblock(10, 5, 1000, 10, 40, false);  // block size 1K << 40
  EXPECT_FALSE(parse_ext4_superblock(sb).ok());
  // Free counts above the totals (a torn superblock) do not underflow.
  auto odd = parse_ext4_superblock(superblock(10, 50, 1000, 2000, 2, false));
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->bytes_used, 0u);
  EXPECT_EQ(odd->inodes_used, 0u);
}

}  // namespace
}  // namespace berth::storage
