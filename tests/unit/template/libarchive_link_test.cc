// The pax writer's report of a file type it cannot store (src/template/libarchive_link.cc defines
// the helper behind it in the statically linked binaries, this one included).
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

TEST(LibarchiveLink, PaxRefusesASocketWithAMessageThatNamesIt) {
  for (auto set_format : {archive_write_set_format_pax, archive_write_set_format_pax_restricted}) {
    std::unique_ptr<archive, ArchiveFree> a(archive_write_new());
    ASSERT_EQ(set_format(a.get()), ARCHIVE_OK);
    std::vector<char> buf(64 * 1024);
    size_t used = 0;
    ASSERT_EQ(archive_write_open_memory(a.get(), buf.data(), buf.size(), &used), ARCHIVE_OK);
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), "run/listening.sock");
    archive_entry_set_filetype(e.get(), AE_IFSOCK);
    archive_entry_set_perm(e.get(), 0755);
    EXPECT_LT(archive_write_header(a.get(), e.get()), ARCHIVE_OK);
    const char* msg = archive_error_string(a.get());
    ASSERT_NE(msg, nullptr);
    EXPECT_NE(std::string(msg).find("run/listening.sock"), std::string::npos) << msg;
#ifdef BERTH_LIBARCHIVE_LINK
    EXPECT_NE(std::string(msg).find("cannot store a socket"), std::string::npos) << msg;
#endif
    // A regular file after it is still written.
    std::unique_ptr<archive_entry, EntryFree> f(archive_entry_new());
    archive_entry_set_pathname(f.get(), "etc/hostname");
    archive_entry_set_filetype(f.get(), AE_IFREG);
    archive_entry_set_perm(f.get(), 0644);
    archive_entry_set_size(f.get(), 3);
    EXPECT_EQ(archive_write_header(a.get(), f.get()), ARCHIVE_OK) << archive_error_string(a.get());
    EXPECT_EQ(archive_write_data(a.get(), "ct\n", 3), 3);
    EXPECT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
    EXPECT_GT(used, 0u);
  }
}

}  // namespace
