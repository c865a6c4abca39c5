// Linked into the executables (not berth_lib) when the libraries are linked statically
// (CMakeLists.txt, BERTH_STATIC_LIBS): keeps libarchive's table of write formats out of them.
//
// libarchive's pax writer reports a file type it cannot store (a socket) through one internal
// helper, and libarchive 3.6 defines that helper in the object that also holds
// archive_write_set_format(), the switch over every write format. Linking that object for the
// helper linked every writer it names: xar's brings libxml2 and ICU (34 MB of the binary), and
// their tables of pointers are about a third of the pages the loader relocates, copy-on-write,
// before main() of every command (bench/README.md, `bench/startup`). Berth writes pax
// only (runtime/backup.cc, template/), so the helper is defined here and that object is not
// linked. Should a libarchive define the helper in an object the link needs for something else,
// or Berth call a function of the format table, the link fails with a duplicate definition: loud,
// never a silent change.
#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

namespace {

const char* kind_of(const archive_entry* entry) {
  switch (archive_entry_filetype(const_cast<archive_entry*>(entry))) {
    case AE_IFSOCK: return "a socket";
    case AE_IFIFO: return "a fifo";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFLNK: return "a symbolic link";
    case AE_IFDIR: return "a directory";
    default: return "a file of this type";
  }
}

}  // namespace

// NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): libarchive's name
extern "C" void __archive_write_entry_filetype_unsupported(archive* a, archive_entry* entry,
                                                           const char* format) {
  const char* path = archive_entry_pathname(entry);
  archive_set_error(a, EINVAL, "%s: the %s format cannot store %s", path ? path : "(no name)",
                    format ? format : "archive", kind_of(entry));
}
