// unpack_archive() over libarchive's read + write_disk pair, and remove_tree().
//
// Entries are written by absolute path (dest_dir + "/" + entry path) so nothing here calls
// chdir(2): the daemon is multi-threaded. That is why we check absolute paths and ".." ourselves
// instead of relying on ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS (which would refuse our own prefix);
// SECURE_NODOTDOT and SECURE_SYMLINKS stay on as a second line, with dest_dir canonicalized so
// that its own components contain no symlink.
#include "template/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>

#include "core/unique_fd.h"
#include "template/entry_policy.h"

namespace berth::tmpl {
namespace {

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<struct archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<struct archive, WriteDeleter>;

std::string archive_message(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

// An entry path is acceptable when it is relative and has no ".." component. "./x" and "x/" are
// fine; the empty path and "." name dest_dir itself.
bool is_safe_relative(std::string_view p) {
  if (!p.empty() && p.front() == '/') return false;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    if (p.substr(pos, next - pos) == "..") return false;
    pos = next + 1;
  }
  return true;
}

// "./a//b/" -> "a/b"; "." and "./" -> "". Only for bookkeeping (hardlink targets, messages).
std::string normalize(std::string_view rel) {
  std::string out;
  size_t pos = 0;
  while (pos <= rel.size()) {
    size_t next = rel.find('/', pos);
    if (next == std::string_view::npos) next = rel.size();
    std::string_view c = rel.substr(pos, next - pos);
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    pos = next + 1;
  }
  return out;
}

std::string join(const std::string& dir, std::string_view rel) {
  while (rel.size() >= 2 && rel.substr(0, 2) == "./") rel.remove_prefix(2);
  if (rel.empty() || rel == ".") return dir;
  return dir + "/" + std::string(rel);
}

Status copy_data(struct archive* in, struct archive* out) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(in, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) return {};
    if (r < ARCHIVE_WARN) return Error::invalid("read: " + archive_message(in));
    if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN)
      return Error::invalid("write: " + archive_message(out));
  }
}

Status remove_at(int parent_fd, const char* name, dev_t dev, const std::string& shown) {
  struct stat st;
  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "stat `" + shown + "`");
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev)
      return Error::invalid("`" + shown + "` is a mount point; not removing it");
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Error::from_errno(errno, "open `" + shown + "`");
    DIR* d = fdopendir(fd);
    if (!d) {
      int err = errno;
      close(fd);
      return Error::from_errno(err, "opendir `" + shown + "`");
    }
    Status st_children;
    while (struct dirent* de = readdir(d)) {
      std::string_view n = de->d_name;
      if (n == "." || n == "..") continue;
      st_children = remove_at(dirfd(d), de->d_name, dev, shown + "/" + std::string(n));
      if (!st_children.ok()) break;
    }
    closedir(d);
    BERTH_RETURN_IF_ERROR(st_children);
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "rmdir `" + shown + "`");
    return {};
  }
  if (unlinkat(parent_fd, name, 0) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "unlink `" + shown + "`");
  return {};
}

}  // namespace

Status remove_tree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "stat `" + path + "`");
  }
  return remove_at(AT_FDCWD, path.c_str(), st.st_dev, path);
}

namespace {

// The write half shared by unpack_archive() and import_tree(): every entry of in goes through
// sanitize_entry() and is written under dest. next_rel returns the entry's path relative to the
// tree (or an error); in is an archive or a disk reader.
template <class NextRel>
Status write_entries(struct archive* in, const std::string& dest_dir, const IdPolicy& policy,
                     const std::string& what, EntryReport* report_out, NextRel next_rel) {
  char real[PATH_MAX];
  if (!realpath(dest_dir.c_str(), real))
    return Error::from_errno(errno, "resolve `" + dest_dir + "`").context(what);
  const std::string dest = std::string_view(real) == "/" ? "" : real;
  WriteArchive out(archive_write_disk_new());
  if (!out) return Error::from_errno(ENOMEM, "libarchive").context(what);
  // No FFLAGS: an immutable bit from a template would make the unpacked root unremovable.
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_ACL |
              ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SPARSE;
  if (geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(out.get(), flags);
  // No user/group lookup set: libarchive then uses the numeric ids, as tar --numeric-owner.

  StreamState state;
  EntryReport report;
  unsigned warnings = 0;
  std::string first_warning;
  struct archive_entry* entry;
  for (;;) {
    Result<std::optional<std::string>> next = next_rel(&entry);
    if (!next.ok()) return std::move(next).error().context(what);
    if (!*next) break;
    const std::string rel = **next;
    if (!is_safe_relative(rel))
      return Error::invalid("entry `" + rel + "` leaves the destination").context(what);
    std::string link_rel;
    if (const char* link = archive_entry_hardlink(entry)) {
      if (!is_safe_relative(link))
        return Error::invalid("hardlink `" + rel + "` points outside (`" + link + "`)")
            .context(what);
      link_rel = normalize(link);
      archive_entry_set_hardlink(entry, join(dest, link).c_str());
    }
    if (sanitize_entry(entry, normalize(rel), link_rel, policy, state, report) ==
        EntryVerdict::kSkip)
      continue;
    archive_entry_set_pathname(entry, join(dest, rel).c_str());

    int r = archive_write_header(out.get(), entry);
    if (r < ARCHIVE_WARN)
      return Error::invalid("entry `" + rel + "`: " + archive_message(out.get())).context(what);
    if (r == ARCHIVE_WARN && warnings++ == 0)
      first_warning = rel + ": " + archive_message(out.get());
    if (archive_entry_size(entry) > 0)
      BERTH_RETURN_IF_ERROR(copy_data(in, out.get()).context(what));
    r = archive_write_finish_entry(out.get());
    if (r < ARCHIVE_WARN)
      return Error::invalid("entry `" + rel + "`: " + archive_message(out.get())).context(what);
    if (r == ARCHIVE_WARN && warnings++ == 0)
      first_warning = rel + ": " + archive_message(out.get());
  }
  // Directory modes and times are applied here, after their contents were written.
  if (archive_write_close(out.get()) < ARCHIVE_WARN)
    return Error::invalid("finish: " + archive_message(out.get())).context(what);

  if (std::string changed = report.summary(); !changed.empty())
    std::fprintf(stderr, "berth: warning: %s: %s\n", what.c_str(), changed.c_str());
  if (report_out) *report_out = report;
  if (warnings)
    std::fprintf(stderr, "berth: warning: %s: %u entries not fully restored (first: %s)\n",
                 what.c_str(), warnings, first_warning.c_str());
  return {};
}

}  // namespace

Status unpack_archive(const std::string& archive, const std::string& dest_dir, uint32_t uid_shift,
                      uint32_t gid_shift, EntryReport* report) {
  const std::string what = "unpack `" + archive + "` into `" + dest_dir + "`";
  ReadArchive in(archive_read_new());
  if (!in) return Error::from_errno(ENOMEM, "libarchive").context(what);
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open_filename(in.get(), archive.c_str(), 1 << 17) != ARCHIVE_OK)
    return Error::invalid(archive_message(in.get())).context(what);
  struct archive* a = in.get();
  return write_entries(
      a, dest_dir, {uid_shift, gid_shift}, what, report,
      [a](struct archive_entry** e) -> Result<std::optional<std::string>> {
        int r = archive_read_next_header(a, e);
        if (r == ARCHIVE_EOF) return std::optional<std::string>();
        if (r < ARCHIVE_WARN) return Error::invalid("read: " + archive_message(a));
        const char* raw = archive_entry_pathname(*e);
        return std::optional<std::string>(raw ? raw : "");  // a copy: set_pathname frees raw
      });
}

Status import_tree(const std::string& src_dir, const std::string& dest_dir, uint32_t uid_shift,
                   uint32_t gid_shift, EntryReport* report) {
  const std::string what = "import `" + src_dir + "` into `" + dest_dir + "`";
  char real[PATH_MAX];
  if (!realpath(src_dir.c_str(), real))
    return Error::from_errno(errno, "resolve `" + src_dir + "`").context(what);
  const std::string src = real;
  ReadArchive in(archive_read_disk_new());
  if (!in) return Error::from_errno(ENOMEM, "libarchive").context(what);
  // Symlinks are taken as links, never followed; one file system only; ids stay numeric.
  archive_read_disk_set_symlink_physical(in.get());
  archive_read_disk_set_behavior(in.get(),
                                 ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS);
  if (archive_read_disk_open(in.get(), src.c_str()) != ARCHIVE_OK)
    return Error::invalid(archive_message(in.get())).context(what);
  struct archive* a = in.get();
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> holder(archive_entry_new(),
                                                                                archive_entry_free);
  // Hardlinks: archive_read_disk reports every name of a file as a plain file; the resolver
  // turns later names into hardlink entries as tar does.
  std::unique_ptr<struct archive_entry_linkresolver, void (*)(struct archive_entry_linkresolver*)>
      links(archive_entry_linkresolver_new(), archive_entry_linkresolver_free);
  archive_entry_linkresolver_set_strategy(links.get(), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  auto strip = [&src](const char* p) -> Result<std::string> {
    std::string_view v = p ? p : "";
    if (v == src) return std::string(".");
    if (!v.starts_with(src + "/"))
      return Error::invalid("entry `" + std::string(v) + "` is outside the tree");
    return std::string(v.substr(src.size() + 1));
  };
  return write_entries(a, dest_dir, {uid_shift, gid_shift}, what, report,
                       [&](struct archive_entry** e) -> Result<std::optional<std::string>> {
                         for (;;) {
                           archive_entry_clear(holder.get());
                           int r = archive_read_next_header2(a, holder.get());
                           if (r == ARCHIVE_EOF) return std::optional<std::string>();
                           if (r < ARCHIVE_WARN)
                             return Error::invalid("read: " + archive_message(a));
                           archive_read_disk_descend(a);
                           BERTH_ASSIGN_OR_RETURN(std::string rel,
                                                  strip(archive_entry_pathname(holder.get())));
                           struct archive_entry* cur = holder.get();
                           struct archive_entry* spare = nullptr;
                           archive_entry_linkify(links.get(), &cur, &spare);
                           if (!cur) continue;  // deferred by the resolver (not with this strategy)
                           if (const char* hl = archive_entry_hardlink(cur)) {
                             BERTH_ASSIGN_OR_RETURN(std::string target, strip(hl));
                             archive_entry_set_hardlink(cur, target.c_str());
                           }
                           archive_entry_set_pathname(cur, rel.c_str());
                           *e = cur;
                           return std::optional<std::string>(rel);
                         }
                       });
}

}  // namespace berth::tmpl
