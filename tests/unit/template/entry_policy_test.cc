// Hostile archives through unpack_archive(): what a template author (or a VPS's root, for backups
// and migration streams) puts into a tar must not reach the host as it is (entry_policy.h).
// The ownership, device and xattr checks need root (they skip otherwise).
#include "template/entry_policy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "template/unpack.h"
#include "test_util.h"

namespace berth::tmpl {
namespace {

using testing::ArcEntry;
using testing::exists;
using testing::write_tar;

constexpr uint32_t kBase = 100000;

class HostileArchive : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    dest_ = dir_ + "/dest";
    ASSERT_EQ(mkdir(dest_.c_str(), 0755), 0);
  }
  struct stat st(const std::string& rel) {
    struct stat s {};
    EXPECT_EQ(lstat((dest_ + "/" + rel).c_str(), &s), 0) << rel;
    return s;
  }
  std::string dest_;
};

void need_root() {
  if (geteuid() != 0) GTEST_SKIP() << "ownership, mknod and trusted.* xattrs need root";
}

// The uid that the old code's `uid + LOCAL_UID`, truncated to 32 bits, turned into host root.
constexpr int64_t kWrapsToRoot = (int64_t{1} << 32) - kBase;

TEST_F(HostileArchive, IdsOutsideTheRangeBecomeOverflowAndLoseSetuid) {
  need_root();
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./", AE_IFDIR, 0755},
                  {"./wrap", AE_IFREG, 04755, "ELF", "", kWrapsToRoot, kWrapsToRoot},
                  {"./two32", AE_IFREG, 06755, "ELF", "", int64_t{1} << 32, int64_t{1} << 32},
                  {"./minus1", AE_IFREG, 04755, "ELF", "", 4294967295LL, 4294967295LL},
                  {"./neighbour", AE_IFREG, 02755, "ELF", "", 70000, 70000},
                  {"./ok-su", AE_IFREG, 04755, "ELF", "", 0, 0},
                  {"./ok-nobody", AE_IFREG, 0644, "x", "", 65534, 65534},
                  {"./ok-last", AE_IFREG, 0644, "x", "", 65535, 65535}});
  EntryReport report;
  ASSERT_TRUE(unpack_archive(arc, dest_, kBase, kBase, &report).ok());
  for (const char* f : {"wrap", "two32", "minus1", "neighbour"}) {
    struct stat s = st(f);
    EXPECT_EQ(s.st_uid, kBase + kCtOverflowId) << f;
    EXPECT_EQ(s.st_gid, kBase + kCtOverflowId) << f;
    EXPECT_EQ(s.st_mode & (S_ISUID | S_ISGID), 0u) << f << " keeps setuid/setgid";
  }
  // In-range ids are shifted, and a setuid file of the VPS's root stays setuid (su inside).
  EXPECT_EQ(st("ok-su").st_uid, kBase);
  EXPECT_EQ(st("ok-su").st_mode & 07777, 04755u);
  EXPECT_EQ(st("ok-nobody").st_uid, kBase + 65534);
  EXPECT_EQ(st("ok-last").st_uid, kBase + 65535);
  EXPECT_EQ(report.ids_mapped, 4u);
  EXPECT_EQ(report.setid_dropped, 4u);
  EXPECT_NE(report.summary().find("overflow id 65534"), std::string::npos) << report.summary();
  // Nothing anywhere in the tree belongs to a host id outside the VPS's range.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dest_)) {
    struct stat s {};
    ASSERT_EQ(lstat(e.path().c_str(), &s), 0);
    EXPECT_TRUE(s.st_uid >= kBase && s.st_uid < kBase + kCtIdCount)
        << e.path() << " uid " << s.st_uid;
    EXPECT_TRUE(s.st_gid >= kBase && s.st_gid < kBase + kCtIdCount)
        << e.path() << " gid " << s.st_gid;
  }
}

TEST_F(HostileArchive, OverlayLowerLayerKeepsOnlyTheVpsIds) {
  need_root();  // the shared overlay lower is unpacked with base 0
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./", AE_IFDIR, 0755},
                  {"./neighbour", AE_IFREG, 04755, "ELF", "", 170000, 0},
                  {"./wrap", AE_IFREG, 04755, "ELF", "", int64_t{1} << 32, 0}});
  ASSERT_TRUE(unpack_archive(arc, dest_, 0, 0).ok());
  for (const char* f : {"neighbour", "wrap"}) {
    EXPECT_EQ(st(f).st_uid, kCtOverflowId) << f;
    EXPECT_EQ(st(f).st_mode & 07777, 0755u) << f;
  }
}

TEST_F(HostileArchive, DeviceNodesAreNeverCreated) {
  need_root();
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./", AE_IFDIR, 0755},
                  {"./dev/", AE_IFDIR, 0755},
                  {"./dev/console", AE_IFCHR, 0666, "", "", 0, 0, makedev(5, 1)},
                  {"./tmp/", AE_IFDIR, 01777},
                  {"./tmp/mem", AE_IFCHR, 0666, "", "", 0, 0, makedev(1, 1)},
                  {"./tmp/sda", AE_IFBLK, 0666, "", "", 0, 0, makedev(8, 0)},
                  {"./tmp/mem2", AE_IFCHR, 0666, "", "./tmp/mem"},  // a hardlink to the device
                  {"./tmp/fifo", AE_IFIFO, 0600},
                  {"./after", AE_IFREG, 0644, "y"}});
  EntryReport report;
  ASSERT_TRUE(unpack_archive(arc, dest_, kBase, kBase, &report).ok());
  for (const char* f : {"dev/console", "tmp/mem", "tmp/sda", "tmp/mem2"})
    EXPECT_FALSE(exists(dest_ + "/" + f)) << f;
  EXPECT_TRUE(S_ISFIFO(st("tmp/fifo").st_mode));  // FIFOs are kept: they reach nothing of the host
  EXPECT_TRUE(exists(dest_ + "/after"));
  EXPECT_EQ(report.specials, 3u);
  EXPECT_EQ(report.hardlinks_dropped, 1u);
  EXPECT_NE(report.summary().find("device node"), std::string::npos);
}

TEST_F(HostileArchive, HardlinkThroughSymlinkToAHostFileIsNotTaken) {
  need_root();
  std::string outside = dir_ + "/outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  { std::ofstream(outside + "/passwd") << "root:x:0:0::/root:/bin/sh\n"; }
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./", AE_IFDIR, 0755},
                  {"./etc", AE_IFLNK, 0777, outside},
                  {"./x", AE_IFREG, 04777, "", "./etc/passwd", 0, 0}});
  (void)unpack_archive(arc, dest_, kBase, kBase);  // refused or skipped; either way:
  struct stat s {};
  ASSERT_EQ(lstat((outside + "/passwd").c_str(), &s), 0);
  EXPECT_EQ(s.st_nlink, 1u) << "the host file got a link inside the VPS's tree";
  EXPECT_EQ(s.st_uid, 0u);
  EXPECT_EQ(s.st_mode & 07777, 0644u);
}

TEST_F(HostileArchive, HardlinkToAFileLaterReplacedByASymlinkIsNotTaken) {
  need_root();
  std::string outside = dir_ + "/outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  { std::ofstream(outside + "/passwd") << "root:x:0:0::/root:/bin/sh\n"; }
  std::string arc = dir_ + "/t.tar";
  write_tar(arc, {{"./", AE_IFDIR, 0755},
                  {"./f", AE_IFREG, 0644, "x"},
                  {"./f", AE_IFLNK, 0777, outside + "/passwd"},
                  {"./g", AE_IFREG, 0644, "", "./f"}});
  EntryReport report;
  ASSERT_TRUE(unpack_archive(arc, dest_, kBase, kBase, &report).ok());
  EXPECT_FALSE(exists(dest_ + "/g"));
  EXPECT_EQ(report.hardlinks_dropped, 1u);
  struct stat s {};
  ASSERT_EQ(lstat((outside + "/passwd").c_str(), &s), 0);
  EXPECT_EQ(s.st_nlink, 1u);
  EXPECT_EQ(s.st_uid, 0u);
}

TEST_F(HostileArchive, XattrsFromTheArchiveAreFiltered) {
  need_root();
  std::string v2caps(20, '\0');  // VFS_CAP_REVISION_2 | effective, cap_net_raw (13) permitted
  v2caps[0] = 1;
  v2caps[3] = 2;
  v2caps[5] = 0x20;
  std::string arc = dir_ + "/t.tar";
  write_tar(arc,
            {{"./", AE_IFDIR, 0755},
             {"./opaque/", AE_IFDIR, 0755, "", "", 0, 0, 0, {{"trusted.overlay.opaque", "y"}}},
             {"./f",
              AE_IFREG,
              0755,
              "x",
              "",
              0,
              0,
              0,
              {{"user.keep", "1"}, {"trusted.evil", "1"}, {"security.ima", "1"}}},
             {"./ping", AE_IFREG, 0755, "x", "", 0, 0, 0, {{"security.capability", v2caps}}},
             {"./badcap", AE_IFREG, 0755, "x", "", 0, 0, 0, {{"security.capability", "garbage"}}}});
  EntryReport report;
  ASSERT_TRUE(unpack_archive(arc, dest_, kBase, kBase, &report).ok());
  char buf[64];
  EXPECT_LT(lgetxattr((dest_ + "/opaque").c_str(), "trusted.overlay.opaque", buf, sizeof buf), 0);
  EXPECT_LT(lgetxattr((dest_ + "/f").c_str(), "trusted.evil", buf, sizeof buf), 0);
  EXPECT_LT(lgetxattr((dest_ + "/f").c_str(), "security.ima", buf, sizeof buf), 0);
  EXPECT_LT(lgetxattr((dest_ + "/badcap").c_str(), "security.capability", buf, sizeof buf), 0);
  if (lgetxattr((dest_ + "/f").c_str(), "user.keep", buf, sizeof buf) < 0 && errno == ENOTSUP)
    GTEST_SKIP() << "no user xattrs on " << dest_;
  EXPECT_EQ(lgetxattr((dest_ + "/f").c_str(), "user.keep", buf, sizeof buf), 1);
  // The capability is the VPS root's (v3, rootid = base), not host root's (v2): a host user who
  // runs the file gets nothing, the VPS's root gets cap_net_raw.
  ssize_t n = lgetxattr((dest_ + "/ping").c_str(), "security.capability", buf, sizeof buf);
  ASSERT_EQ(n, 24);
  uint32_t magic, rootid;
  std::memcpy(&magic, buf, 4);
  std::memcpy(&rootid, buf + 20, 4);
  EXPECT_EQ(magic, 0x03000001u);
  EXPECT_EQ(rootid, kBase);
  EXPECT_EQ(report.xattrs_dropped, 4u) << report.summary();
}

TEST_F(HostileArchive, AclNamedUsersAreMappedIntoTheRange) {
  need_root();
  std::string arc = dir_ + "/t.tar";
  write_tar(
      arc, {{"./", AE_IFDIR, 0755},
            {"./shadow", AE_IFREG, 0640, "root:!:\n", "", 0, 0, 0, {}, {{1000, 06}, {70000, 06}}}});
  EntryReport report;
  ASSERT_TRUE(unpack_archive(arc, dest_, kBase, kBase, &report).ok());
  char buf[256];
  ssize_t n = lgetxattr((dest_ + "/shadow").c_str(), "system.posix_acl_access", buf, sizeof buf);
  if (n < 0 && errno == ENOTSUP) GTEST_SKIP() << "no POSIX ACLs on " << dest_;
  ASSERT_GT(n, 4);
  // posix_acl_xattr: a 4-byte header, then {u16 tag, u16 perm, u32 id} entries; ACL_USER = 2.
  std::vector<uint32_t> users;
  for (ssize_t off = 4; off + 8 <= n; off += 8) {
    uint16_t tag;
    uint32_t id;
    std::memcpy(&tag, buf + off, 2);
    std::memcpy(&id, buf + off + 4, 4);
    if (tag == 2) users.push_back(id);
  }
  EXPECT_EQ(users, std::vector<uint32_t>{kBase + 1000})
      << "host user 1000 (or a neighbour's id) can read the VPS's file";
  EXPECT_EQ(report.acl_dropped, 1u);
}

// An OpenVZ private area (a plain tree whose ids are the VPS's) goes through the same rules.
TEST_F(HostileArchive, DirectoryTreeImportTakesTheSameRules) {
  need_root();
  std::string src = dir_ + "/private";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((src + "/tmp").c_str(), 0755), 0);
  ASSERT_EQ(chmod((src + "/tmp").c_str(), 01777), 0);
  { std::ofstream(src + "/tmp/evil") << "ELF"; }
  ASSERT_EQ(chown((src + "/tmp/evil").c_str(), 70000, 70000), 0);
  ASSERT_EQ(chmod((src + "/tmp/evil").c_str(), 04755), 0);
  { std::ofstream(src + "/su") << "ELF"; }
  ASSERT_EQ(chmod((src + "/su").c_str(), 04755), 0);
  ASSERT_EQ(link((src + "/su").c_str(), (src + "/su2").c_str()), 0);
  ASSERT_EQ(mknod((src + "/tmp/console").c_str(), S_IFCHR | 0600, makedev(5, 1)), 0);
  ASSERT_EQ(symlink("/etc", (src + "/etc").c_str()), 0);
  EntryReport report;
  ASSERT_TRUE(import_tree(src, dest_, kBase, kBase, &report).ok());
  EXPECT_FALSE(exists(dest_ + "/tmp/console"));
  EXPECT_EQ(st("tmp/evil").st_uid, kBase + kCtOverflowId);
  EXPECT_EQ(st("tmp/evil").st_mode & 07777, 0755u);
  EXPECT_EQ(st("su").st_uid, kBase);
  EXPECT_EQ(st("su").st_mode & 07777, 04755u);
  EXPECT_EQ(st("su2").st_ino, st("su").st_ino);
  EXPECT_TRUE(S_ISLNK(st("etc").st_mode));
  EXPECT_EQ(st("tmp").st_mode & 07777, 01777u);
  EXPECT_EQ(report.specials, 1u);
  EXPECT_EQ(report.ids_mapped, 1u);
}

TEST(EntryPolicy, FileCapsAreRewrittenForTheVpsRoot) {
  std::string v2(20, '\0');
  v2[3] = 2;
  std::string out = sanitize_file_caps(v2.data(), v2.size(), 0);
  EXPECT_EQ(out, v2);  // base 0 (overlay lower): stays v2; the idmapped mount shifts it
  out = sanitize_file_caps(v2.data(), v2.size(), 200000);
  ASSERT_EQ(out.size(), 24u);
  EXPECT_EQ(static_cast<unsigned char>(out[3]), 3);
  uint32_t rootid;
  std::memcpy(&rootid, out.data() + 20, 4);
  EXPECT_EQ(rootid, 200000u);
  std::string v3 = out;
  uint32_t far = 70000;
  std::memcpy(v3.data() + 20, &far, 4);
  EXPECT_EQ(sanitize_file_caps(v3.data(), v3.size(), 0), "");  // root id outside the VPS
  std::string v1(12, '\0');
  v1[3] = 1;
  EXPECT_EQ(sanitize_file_caps(v1.data(), v1.size(), 0), "");
  EXPECT_EQ(sanitize_file_caps("x", 1, 0), "");
}

TEST(EntryPolicy, MapId) {
  bool changed = false;
  EXPECT_EQ(map_id(0, 100000, &changed), 100000u);
  EXPECT_EQ(map_id(65535, 100000, &changed), 165535u);
  EXPECT_FALSE(changed);
  EXPECT_EQ(map_id(65536, 100000, &changed), 165534u);
  EXPECT_TRUE(changed);
  changed = false;
  EXPECT_EQ(map_id(-1, 100000, &changed), 165534u);
  EXPECT_TRUE(changed);
  changed = false;
  EXPECT_EQ(map_id((int64_t{1} << 32) - 100000, 100000, &changed), 165534u);
  EXPECT_TRUE(changed);
}

}  // namespace
}  // namespace berth::tmpl
