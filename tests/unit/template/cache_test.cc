// Template cache: names, lookup order, listing, shared unpacked roots, remove and import.
#include "template/cache.h"

#include <gtest/gtest.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/exit_codes.h"
#include "test_util.h"

namespace berth::tmpl {
namespace {

using testing::exists;
using testing::write_tar;

TEST(TemplateName, Validation) {
  for (const char* ok : {"busybox", "debian-12-x86_64-minimal", "centos-6-x86", "a.b_c-1", "X"})
    EXPECT_TRUE(validate_template_name(ok).ok()) << ok;
  for (const char* bad : {"", "a/b", "..", "a..b", ".hidden", "a b", "a@b", "a$b", "\xc3\xa9"}) {
    auto st = validate_template_name(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().exit_status(), exitcode::kBadValue) << bad;
  }
  EXPECT_FALSE(validate_template_name(std::string(201, 'a')).ok());
}

TEST(TemplateName, SplitArchiveName) {
  auto s = split_archive_name("debian-12.tar.gz");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, "debian-12");
  EXPECT_EQ(s->second, ".tar.gz");
  EXPECT_EQ(split_archive_name("x.tar")->second, ".tar");
  EXPECT_EQ(split_archive_name("x.tar.zst")->second, ".tar.zst");
  EXPECT_EQ(split_archive_name("x.tar.bz2")->first, "x");
  EXPECT_EQ(split_archive_name("x.tgz")->second, ".tar.gz");
  EXPECT_FALSE(split_archive_name("x.zip"));
  EXPECT_FALSE(split_archive_name(".tar.gz"));
}

class TemplateCache : public testing::CacheDirTest {
 protected:
  std::string rootfs() const { return host_.paths().template_dir + "/rootfs"; }
  void write_template(const std::string& file, const std::string& content) {
    write_tar(cache() + "/" + file, {{"./", AE_IFDIR, 0755},
                                     {"./etc/", AE_IFDIR, 0755},
                                     {"./etc/version", AE_IFREG, 0644, content}});
  }
};

TEST_F(TemplateCache, FindOrderAndNotFound) {
  auto missing = find_cache_archive(host_, "t");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().exit_status(), exitcode::kTemplateNotFound);
  EXPECT_NE(missing.error().message().find("OS template `t` not found"), std::string::npos);
  EXPECT_EQ(find_cache_archive(host_, "../etc").error().exit_status(), exitcode::kBadValue);

  const char* order[] = {".tar.bz2", ".tar.zst", ".tar.xz", ".tar.gz", ".tar"};
  for (const char* suffix : order) {  // add from last to first: each one must win over the others
    std::ofstream(cache() + "/t" + suffix) << "x";
    auto found = find_cache_archive(host_, "t");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(*found, cache() + "/t" + suffix);
  }
  ASSERT_EQ(mkdir((cache() + "/d.tar").c_str(), 0755), 0);  // a directory is not an archive
  EXPECT_FALSE(find_cache_archive(host_, "d").ok());
}

TEST_F(TemplateCache, ListTemplates) {
  write_template("b.tar.gz", "1");
  write_template("a.tar", "1");
  write_template("a.tar.xz", "2");  // shadowed by a.tar
  std::ofstream(cache() + "/README") << "not a template";
  std::ofstream(cache() + "/.hidden.tar") << "ours";
  auto list = list_templates(host_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[0].archive_path, cache() + "/a.tar");
  EXPECT_GT((*list)[0].size, 0u);
  EXPECT_FALSE((*list)[0].unpacked);
  EXPECT_EQ((*list)[1].name, "b");
  ASSERT_TRUE(ensure_unpacked(host_, "b").ok());
  list = list_templates(host_);
  EXPECT_TRUE((*list)[1].unpacked);
}

TEST_F(TemplateCache, ListWithoutCacheDir) {
  auto h = HostConfig::load_at(dir_ + "/nothing");
  ASSERT_TRUE(h.ok());
  auto list = list_templates(*h);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(TemplateCache, EnsureUnpackedIsStableUntilArchiveChanges) {
  write_template("t.tar.gz", "one");
  auto first = ensure_unpacked(host_, "t");
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->rfind(rootfs() + "/t@", 0), 0u) << *first;
  std::ifstream v1(*first + "/etc/version");
  std::string got;
  v1 >> got;
  EXPECT_EQ(got, "one");

  auto again = ensure_unpacked(host_, "t");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);

  write_template("t.tar.gz", "two");  // same size, maybe same second: the id must still change
  auto changed = ensure_unpacked(host_, "t");
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *first);
  std::ifstream v2(*changed + "/etc/version");
  v2 >> got;
  EXPECT_EQ(got, "two");
  EXPECT_TRUE(exists(*first));  // an older root may still be a CT's lower layer
}

TEST_F(TemplateCache, EnsureUnpackedRemovesStaleTempAndLeavesNoneOnFailure) {
  ASSERT_TRUE(make_dirs(rootfs() + "/.tmp-t-crashed/etc").ok());
  std::ofstream(cache() + "/bad.tar.gz") << "garbage";
  auto bad = ensure_unpacked(host_, "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(exists(rootfs() + "/.tmp-t-crashed"));
  write_template("t.tar", "x");
  ASSERT_TRUE(ensure_unpacked(host_, "t").ok());
  // Only the lock file and the final root remain: no temp dir, nothing for "bad".
  std::vector<std::string> names;
  DIR* d = opendir(rootfs().c_str());
  ASSERT_NE(d, nullptr);
  while (struct dirent* de = readdir(d))
    if (std::string_view(de->d_name) != "." && std::string_view(de->d_name) != "..")
      names.push_back(de->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], ".lock");
  EXPECT_EQ(names[1].rfind("t@", 0), 0u);
  auto missing = ensure_unpacked(host_, "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().exit_status(), exitcode::kTemplateNotFound);
}

TEST_F(TemplateCache, RemoveTemplate) {
  write_template("t.tar.gz", "1");
  auto root = ensure_unpacked(host_, "t");
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(make_dirs(host_.paths().conf_dir).ok());
  std::ofstream(host_.paths().conf_dir + "/101.conf") << "OSTEMPLATE=\"t\"\n";
  auto refused = remove_template(host_, "t");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().exit_status(), exitcode::kBadValue);
  EXPECT_NE(refused.error().message().find("101"), std::string::npos) << refused.error().message();
  EXPECT_TRUE(exists(*root));

  std::ofstream(host_.paths().conf_dir + "/101.conf") << "OSTEMPLATE=\"other\"\n";
  ASSERT_TRUE(remove_template(host_, "t").ok());
  EXPECT_FALSE(exists(*root));
  EXPECT_FALSE(exists(cache() + "/t.tar.gz"));
  auto again = remove_template(host_, "t");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().exit_status(), exitcode::kTemplateNotFound);
}

TEST_F(TemplateCache, ImportTemplate) {
  std::string src = dir_ + "/my-os-1.tgz";
  write_tar(src, {{"./etc/", AE_IFDIR, 0755}});
  ASSERT_TRUE(import_template(host_, src, std::nullopt).ok());
  EXPECT_TRUE(exists(cache() + "/my-os-1.tar.gz"));
  auto dup = import_template(host_, src, std::nullopt);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().exit_status(), exitcode::kBadValue);
  ASSERT_TRUE(import_template(host_, src, std::string("renamed")).ok());
  EXPECT_TRUE(find_cache_archive(host_, "renamed").ok());

  EXPECT_EQ(import_template(host_, src, std::string("bad/name")).error().exit_status(),
            exitcode::kBadValue);
  std::string junk = dir_ + "/junk.tar.xz";
  std::ofstream(junk) << "not an archive";
  EXPECT_EQ(import_template(host_, junk, std::nullopt).error().exit_status(), exitcode::kBadValue);
  EXPECT_FALSE(exists(cache() + "/junk.tar.xz"));
  EXPECT_EQ(import_template(host_, dir_ + "/file.zip", std::nullopt).error().exit_status(),
            exitcode::kBadValue);
  EXPECT_FALSE(import_template(host_, dir_ + "/absent.tar", std::nullopt).ok());
}

}  // namespace
}  // namespace berth::tmpl
