// Helpers for the template tests: a temp BERTH_ROOT and tar archives written with libarchive.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>
#include <vector>

#include "core/host_config.h"
#include "template/unpack.h"

namespace berth::tmpl::testing {

struct ArcEntry {
  std::string path;
  mode_t type = AE_IFREG;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR
  unsigned perm = 0644;
  std::string data;      // content, symlink target
  std::string hardlink;  // non-empty: a hardlink entry to this path
  int64_t uid = 0, gid = 0;
  dev_t rdev = makedev(1, 3);                               // AE_IFCHR, AE_IFBLK
  std::vector<std::pair<std::string, std::string>> xattrs;  // name, value
  std::vector<std::pair<int, int>> acl_users;               // ACCESS ACL: user id, permset
};

// Writes a tar (gzip when path ends in .gz) with the given entries; fails the test on error.
inline void write_tar(const std::string& path, const std::vector<ArcEntry>& entries) {
  struct archive* a = archive_write_new();
  if (path.ends_with(".gz")) archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& e : entries) {
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.path.c_str());
    archive_entry_set_filetype(en, e.type);
    archive_entry_set_perm(en, e.perm);
    archive_entry_set_uid(en, e.uid);
    archive_entry_set_gid(en, e.gid);
    archive_entry_set_mtime(en, 1700000000, 0);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(en, e.data.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) archive_entry_set_rdev(en, e.rdev);
    for (const auto& [n, v] : e.xattrs)
      archive_entry_xattr_add_entry(en, n.c_str(), v.data(), v.size());
    if (!e.acl_users.empty()) {
      archive_entry_acl_add_entry(en, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, 06, ARCHIVE_ENTRY_ACL_USER_OBJ,
                                  -1, nullptr);
      archive_entry_acl_add_entry(en, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, 04,
                                  ARCHIVE_ENTRY_ACL_GROUP_OBJ, -1, nullptr);
      archive_entry_acl_add_entry(en, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, 06, ARCHIVE_ENTRY_ACL_MASK, -1,
                                  nullptr);
      archive_entry_acl_add_entry(en, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, 04, ARCHIVE_ENTRY_ACL_OTHER,
                                  -1, nullptr);
      for (const auto& [id, perm] : e.acl_users)
        archive_entry_acl_add_entry(en, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, perm, ARCHIVE_ENTRY_ACL_USER,
                                    id, nullptr);
    }
    if (!e.hardlink.empty()) archive_entry_set_hardlink(en, e.hardlink.c_str());
    if (e.type == AE_IFREG && e.hardlink.empty()) archive_entry_set_size(en, e.data.size());
    ASSERT_EQ(archive_write_header(a, en), ARCHIVE_OK) << archive_error_string(a);
    if (e.type == AE_IFREG && e.hardlink.empty() && !e.data.empty())
      archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(en);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

// Paths of the entries of an archive, in order.
inline std::vector<std::string> list_tar(const std::string& path) {
  std::vector<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK) {
    struct archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK)
      out.emplace_back(archive_entry_pathname(e));
  }
  archive_read_free(a);
  return out;
}

// A fresh directory under $TMPDIR, removed by the fixture's TearDown.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + std::string("/berth-tmpl-XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      EXPECT_TRUE(remove_tree(dir_).ok());
    }
  }
  std::string dir_;
};

// A TempDirTest whose dir is a BERTH_ROOT (host_) with an empty template cache dir.
class CacheDirTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto h = HostConfig::load_at(dir_);
    ASSERT_TRUE(h.ok());
    host_ = std::move(h).value();
    ASSERT_TRUE(make_dirs(cache()).ok());
  }
  std::string cache() const { return host_.paths().cache_dir; }
  HostConfig host_;
};

inline bool exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

}  // namespace berth::tmpl::testing
