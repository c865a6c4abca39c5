#include "runtime/backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "runtime/lifecycle.h"
#include "runtime/snapshot.h"
#include "runtime/tree_stream.h"
#include "state/status.h"
#include "storage/backup_tree.h"
#include "storage/chunker.h"
#include "storage/root.h"
#include "sys/raw_calls.h"
#include "template/cache.h"

namespace berth::runtime {
namespace {

using storage::EntryType;
using storage::IndexEntry;

using Clock = std::chrono::steady_clock;

// The tree a backup reads, and what undoes what was made for it.
struct View {
  std::string root;
  bool consistent = true;
  std::optional<CtConfig> unmount;   // set: we mounted the stopped CT's root
  std::optional<TempSnapshot> snap;  // a running CT's temporary snapshot
  std::string snap_dir;
  View() = default;
  View(View&& o) noexcept
      : root(std::move(o.root)),
        consistent(o.consistent),
        unmount(std::move(o.unmount)),
        snap(std::move(o.snap)),
        snap_dir(std::move(o.snap_dir)) {
    o.unmount.reset();
    o.snap.reset();
    o.snap_dir.clear();
  }
  ~View() {
    if (unmount) (void)storage::umount_root(*unmount);
    snap.reset();
    if (!snap_dir.empty()) ::rmdir(snap_dir.c_str());
  }
};

// The one place that decides how a CT's tree is read. A stopped CT: its root, mounted for the
// read. A running CT: a temporary snapshot (runtime/snapshot.h: the CT frozen while its files are
// copied), mounted read-only below the run dir (mode 0700) and removed after the backup.
// live: a running CT's tree is read as it is (a later pass of a migration sends what changes).
Result<View> consistent_view(const CtConfig& ct, bool live = false) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (!s.exists) return Error::with_status(exitcode::kNoConfig, "CT does not exist");
  View v;
  v.root = ct.ve_root();
  if (s.running && live) {
    v.consistent = false;
    return v;
  }
  if (s.running) {
    std::string parent = ct.host().paths().run + "/backup-view";
    BERTH_RETURN_IF_ERROR(make_dirs(parent, 0700));
    if (::chmod(parent.c_str(), 0700) != 0)
      return Error::from_errno(errno, "chmod `" + parent + "`");
    v.snap_dir = parent + "/" + ct.ctid();
    auto snap = take_temporary_snapshot(ct, v.snap_dir);
    if (snap.ok()) {
      v.snap.emplace(std::move(*snap));
      v.root = v.snap->root();
      return v;
    }
    // No snapshot could be taken (no room for the copy, a freeze that timed out): read live.
    std::fprintf(stderr,
                 "Warning: not consistent: CT %s is running and no snapshot could be taken (%s); "
                 "its files are read live\n",
                 ct.ctid().c_str(), snap.error().message().c_str());
    v.consistent = false;
    return v;
  }
  if (!s.mounted) {
    BERTH_RETURN_IF_ERROR(storage::mount_root(ct));
    v.unmount = ct;
  }
  return v;
}

std::string utc_stamp(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<std::string> read_text_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) return Error::from_errno(errno, "read `" + path + "`");
  return out;
}

// Read fd to its end in chunks cut by the chunker; chunk(data, n) for each.
Status read_chunks(int fd, const std::function<Status(const uint8_t*, size_t)>& chunk,
                   uint64_t* total) {
  // Once per thread: zeroing a new 1 MiB buffer per file cost more than reading most files.
  thread_local std::vector<uint8_t> buf(storage::kChunkMax * 4);
  size_t have = 0;
  bool eof = false;
  *total = 0;
  while (!eof || have > 0) {
    while (!eof && have < buf.size()) {
      ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno(errno, "read");
      }
      if (n == 0) eof = true;
      have += static_cast<size_t>(n);
      *total += static_cast<uint64_t>(n);
    }
    size_t start = 0;
    while (have - start >= storage::kChunkMax || (eof && have > start)) {
      size_t len = storage::chunk_cut(buf.data() + start, have - start);
      BERTH_RETURN_IF_ERROR(chunk(buf.data() + start, len));
      start += len;
    }
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
  }
  return {};
}

class Progress {
 public:
  explicit Progress(bool on) : on_(on), start_(Clock::now()), last_(start_) {}
  void tick(uint64_t files, uint64_t bytes) {
    if (!on_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    std::fprintf(stderr, "\r%llu files, %.1f MiB", static_cast<unsigned long long>(files),
                 static_cast<double>(bytes) / 1048576.0);
  }
  void done() {
    if (on_) std::fputs("\r\033[K", stderr);
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  bool on_;
  Clock::time_point start_, last_;
};

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryFree>;

std::string amsg(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "libarchive error";
}

constexpr std::string_view kRootfs = "rootfs/";

// ve.conf and rootfs/ (the tree below root_fd) into the open archive a.
// The ctime of a walked entry (fd: the open regular file, else -1): INT64_MAX when it cannot be
// had (the entry is then sent).
// An overlay upper layer's opaque directory (a directory removed and made again in the CT: the
// template's entries below it stay hidden) carries this; only a snapshot's stream sends it.
constexpr const char* kOpaque = "trusted.overlay.opaque";

// Whether the directory ie of the tree below root_fd is opaque (kOpaque = "y").
bool opaque_dir(int root_fd, const IndexEntry& ie) {
  UniqueFd fd(sys::raw::openat2(
      root_fd, ie.path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
  if (!fd) return false;
  char v[2] = {};
  std::string p = "/proc/self/fd/" + std::to_string(fd.get());
  return ::getxattr(p.c_str(), kOpaque, v, sizeof v) == 1 && v[0] == 'y';
}

int64_t entry_ctime(int root_fd, const IndexEntry& ie, int fd) {
  UniqueFd own;
  if (fd < 0) {
    own = UniqueFd(sys::raw::openat2(
        root_fd, ie.path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
    fd = own.get();
  }
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return INT64_MAX;
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

// with_conf=false: a snapshot's tree (export_dir_stream): no ve.conf entry, and opaque
// directories carry kOpaque.
Status write_archive_entries(const CtConfig& ct, int root_fd, struct archive* a_raw,
                             BackupReport* rep, Progress* progress,
                             const ExportPass* pass = nullptr, uint64_t* sent = nullptr,
                             bool with_conf = true) {
  struct NoFree {
    void operator()(struct archive*) const {}
  };
  std::unique_ptr<struct archive, NoFree> a(a_raw);
  EntryPtr e(archive_entry_new());
  auto header = [&](struct archive_entry* en, const std::string& what) -> Status {
    if (archive_write_header(a.get(), en) < ARCHIVE_WARN)
      return Error::invalid("write `" + what + "`: " + amsg(a.get()));
    return {};
  };
  if (with_conf) {
    BERTH_ASSIGN_OR_RETURN(std::string conf, read_text_file(ct.conf_path()));
    archive_entry_set_pathname(e.get(), "ve.conf");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0600);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(conf.size()));
    archive_entry_set_mtime(e.get(), time(nullptr), 0);
    BERTH_RETURN_IF_ERROR(header(e.get(), "ve.conf"));
    archive_write_data(a.get(), conf.data(), conf.size());
    archive_entry_clear(e.get());
  }
  archive_entry_set_pathname(e.get(), "rootfs/");
  archive_entry_set_filetype(e.get(), AE_IFDIR);
  archive_entry_set_perm(e.get(), 0755);
  BERTH_RETURN_IF_ERROR(header(e.get(), "rootfs/"));
  storage::WalkStats ws;
  std::vector<char> buf(1 << 20);
  auto visit = [&](IndexEntry& ie, int fd) -> Status {
    if (pass && pass->select && !pass->select(ie, entry_ctime(root_fd, ie, fd))) return {};
    if (sent) ++*sent;
    archive_entry_clear(e.get());
    std::string path = std::string(kRootfs) + ie.path;
    archive_entry_copy_pathname(e.get(), path.c_str());
    archive_entry_set_uid(e.get(), ie.uid);
    archive_entry_set_gid(e.get(), ie.gid);
    archive_entry_set_perm(e.get(), ie.mode);
    archive_entry_set_mtime(e.get(), ie.mtime_ns / 1000000000, ie.mtime_ns % 1000000000);
    for (const auto& [k, v] : ie.xattrs)
      archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
    if (!with_conf && ie.type == EntryType::kDir && opaque_dir(root_fd, ie))
      archive_entry_xattr_add_entry(e.get(), kOpaque, "y", 1);
    switch (ie.type) {
      case EntryType::kFile: archive_entry_set_filetype(e.get(), AE_IFREG); break;
      case EntryType::kDir: archive_entry_set_filetype(e.get(), AE_IFDIR); break;
      case EntryType::kSymlink:
        archive_entry_set_filetype(e.get(), AE_IFLNK);
        archive_entry_copy_symlink(e.get(), ie.target.c_str());
        break;
      case EntryType::kHardlink:
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_copy_hardlink(e.get(), (std::string(kRootfs) + ie.target).c_str());
        break;
      case EntryType::kChar: archive_entry_set_filetype(e.get(), AE_IFCHR); break;
      case EntryType::kBlock: archive_entry_set_filetype(e.get(), AE_IFBLK); break;
      case EntryType::kFifo: archive_entry_set_filetype(e.get(), AE_IFIFO); break;
    }
    if (ie.type == EntryType::kChar || ie.type == EntryType::kBlock)
      archive_entry_set_rdev(e.get(), static_cast<dev_t>(ie.rdev));
    archive_entry_set_size(e.get(),
                           ie.type == EntryType::kFile ? static_cast<la_int64_t>(ie.size) : 0);
    BERTH_RETURN_IF_ERROR(header(e.get(), path));
    if (ie.type != EntryType::kFile) return {};
    // Exactly the size in the header: a file of a running CT that changes size meanwhile is cut
    // or padded with zeros.
    uint64_t left = ie.size;
    while (left > 0) {
      size_t want = left < buf.size() ? static_cast<size_t>(left) : buf.size();
      ssize_t n = ::read(fd, buf.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno(errno, "read `" + ie.path + "`");
      if (n == 0) {
        std::fill(buf.begin(), buf.begin() + static_cast<long>(want), 0);
        n = static_cast<ssize_t>(want);
      }
      if (archive_write_data(a.get(), buf.data(), static_cast<size_t>(n)) < 0)
        return Error::invalid("write `" + path + "`: " + amsg(a.get()));
      left -= static_cast<uint64_t>(n);
    }
    rep->logical += ie.size;
    progress->tick(ws.files, rep->logical);
    return {};
  };
  BERTH_RETURN_IF_ERROR(storage::walk_tree(root_fd, ct.local_uid(), ct.local_gid(), visit, &ws,
                                           pass ? pass->unchanged : storage::SkipUnchanged()));
  rep->files = ws.entries;
  if (ws.foreign_ids)
    std::fprintf(stderr,
                 "Warning: CT %s: %llu entries owned by ids outside the CT's range, "
                 "stored as 65534\n",
                 ct.ctid().c_str(), static_cast<unsigned long long>(ws.foreign_ids));
  return {};
}

// An archive in the format the name says: .tar.zst, .tar.gz or .tar (pax, numeric ids).
Status export_tree(const CtConfig& ct, int root_fd, const std::string& file, BackupReport* rep,
                   Progress* progress) {
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  archive_write_set_format_pax(a.get());
  if (file.ends_with(".tar.zst") || file.ends_with(".tzst"))
    archive_write_add_filter_zstd(a.get());
  else if (file.ends_with(".tar.gz") || file.ends_with(".tgz"))
    archive_write_add_filter_gzip(a.get());
  else if (!file.ends_with(".tar"))
    return Error::with_status(
        exitcode::kBadArgument,
        "--export `" + file + "`: name must end in .tar.zst, .tar.gz or .tar");
  std::string tmp = file + ".tmp";
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK)
    return Error::invalid("create `" + tmp + "`: " + amsg(a.get()));
  ScopeExit drop([&] { ::unlink(tmp.c_str()); });
  BERTH_RETURN_IF_ERROR(write_archive_entries(ct, root_fd, a.get(), rep, progress));
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return Error::invalid("finish `" + tmp + "`: " + amsg(a.get()));
  if (::rename(tmp.c_str(), file.c_str()) != 0)
    return Error::from_errno(errno, "rename `" + tmp + "`");
  drop.dismiss();
  struct stat st;
  if (::stat(file.c_str(), &st) == 0) rep->new_bytes = static_cast<uint64_t>(st.st_size);
  return {};
}

// The archive's bytes handed to a sink (migration's stream), zstd-compressed.
struct SinkState {
  const ByteSink* sink;
  Status failed;
  uint64_t bytes = 0;
};
la_ssize_t sink_write(struct archive*, void* client, const void* buf, size_t n) {
  auto* st = static_cast<SinkState*>(client);
  Status r = (*st->sink)(buf, n);
  if (!r.ok()) {
    st->failed = std::move(r);
    return -1;
  }
  st->bytes += n;
  return static_cast<la_ssize_t>(n);
}

}  // namespace

std::string backup_store_dir(const HostConfig& host, const std::string& storage) {
  return storage.empty() ? host.paths().backup : storage;
}

namespace {

// The tree below root as a zstd pax archive handed to sink.
Result<StreamReport> stream_tree(const CtConfig& ct, int root, const ByteSink& sink,
                                 bool progress_on, const ExportPass& pass, bool with_conf,
                                 bool consistent) {
  BackupReport rep;
  rep.consistent = consistent;
  Progress progress(progress_on);
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  archive_write_set_format_pax(a.get());
  archive_write_add_filter_zstd(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  SinkState st{&sink, {}, 0};
  if (archive_write_open2(a.get(), &st, nullptr, sink_write, nullptr, nullptr) != ARCHIVE_OK)
    return Error::invalid("stream: " + amsg(a.get()));
  uint64_t sent = 0;
  Status w = write_archive_entries(ct, root, a.get(), &rep, &progress, &pass, &sent, with_conf);
  if (!st.failed.ok()) return std::move(st.failed).error();
  BERTH_RETURN_IF_ERROR(w);
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (!st.failed.ok()) return std::move(st.failed).error();
    return Error::invalid("stream: " + amsg(a.get()));
  }
  progress.done();
  return StreamReport{rep.files, rep.logical, st.bytes, sent, rep.consistent};
}

}  // namespace

Result<StreamReport> export_stream(const CtConfig& ct, const ByteSink& sink, bool progress_on,
                                   const ExportPass& pass) {
  BERTH_ASSIGN_OR_RETURN(View view, consistent_view(ct, pass.live));
  UniqueFd root(::open(view.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + view.root + "`");
  return stream_tree(ct, root.get(), sink, progress_on, pass, true, view.consistent);
}

Result<StreamReport> export_dir_stream(const CtConfig& ct, const std::string& dir,
                                       const ByteSink& sink, const ExportPass& pass) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + dir + "`");
  return stream_tree(ct, root.get(), sink, false, pass, false, true);
}

Result<BackupReport> backup(const CtConfig& ct, const BackupOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(View view, consistent_view(ct));
  UniqueFd root(::open(view.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + view.root + "`");
  BackupReport rep;
  rep.consistent = view.consistent;
  Progress progress(opts.progress);
  if (!opts.export_file.empty()) {
    BERTH_RETURN_IF_ERROR(export_tree(ct, root.get(), opts.export_file, &rep, &progress));
    progress.done();
    rep.seconds = progress.seconds();
    return rep;
  }
  BERTH_ASSIGN_OR_RETURN(
      storage::BackupStore store,
      storage::BackupStore::open(backup_store_dir(ct.host(), opts.storage), true, true));
  // The previous backup of this CT: files whose metadata match reuse its chunk lists unread.
  std::map<std::string, IndexEntry> prev;
  BERTH_ASSIGN_OR_RETURN(auto all, store.list());
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->ctid != ct.ctid()) continue;
    auto idx = store.index(it->id);
    if (idx.ok())
      for (auto& e : *idx)
        if (e.type == EntryType::kFile) prev.emplace(e.path, std::move(e));
    break;
  }
  time_t now = time(nullptr);
  std::string id = ct.ctid() + "-" + utc_stamp(now);
  for (int n = 1; ::access((store.dir() + "/backups/" + id).c_str(), F_OK) == 0; ++n)
    id = ct.ctid() + "-" + utc_stamp(now) + "-" + std::to_string(n);

  std::vector<IndexEntry> entries;
  storage::WalkStats ws;
  // This thread walks, reads and cuts; one writer thread per online CPU hashes, compresses and
  // stores the chunks. A chunk's id is filled in after finish(): pending[ticket] names its slot.
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  storage::ChunkWriter writer(store, cpus > 0 ? static_cast<unsigned>(cpus) : 1);
  std::vector<std::pair<size_t, size_t>> pending;  // (entry, chunk) by ticket
  auto visit = [&](IndexEntry& e, int fd) -> Status {
    if (e.type == EntryType::kFile) {
      auto p = prev.find(e.path);
      if (!opts.full_read && p != prev.end() && p->second.size == e.size &&
          p->second.mtime_ns == e.mtime_ns && p->second.mode == e.mode && p->second.uid == e.uid &&
          p->second.gid == e.gid) {
        e.chunks = p->second.chunks;
        ++rep.reused_files;
      } else {
        uint64_t total = 0;
        BERTH_RETURN_IF_ERROR(read_chunks(
                                  fd,
                                  [&](const uint8_t* d, size_t n) -> Status {
                                    BERTH_ASSIGN_OR_RETURN(
                                        uint64_t ticket,
                                        writer.submit(std::vector<uint8_t>(d, d + n)));
                                    if (ticket != pending.size())
                                      return Error::invalid("chunk writer: tickets out of order");
                                    pending.emplace_back(entries.size(), e.chunks.size());
                                    storage::ChunkRef ref;
                                    ref.size = static_cast<uint32_t>(n);
                                    e.chunks.push_back(ref);
                                    return {};
                                  },
                                  &total)
                                  .context("`" + e.path + "`"));
        e.size = total;  // what was read (a running CT may change it meanwhile)
        rep.read_bytes += total;
      }
      rep.logical += e.size;
    }
    entries.push_back(std::move(e));
    progress.tick(entries.size(), rep.logical);
    return {};
  };
  BERTH_RETURN_IF_ERROR(storage::walk_tree(root.get(), ct.local_uid(), ct.local_gid(), visit, &ws));
  BERTH_ASSIGN_OR_RETURN(std::vector<storage::ChunkId> ids, writer.finish(&rep.new_bytes));
  for (size_t t = 0; t < pending.size(); ++t)
    entries[pending[t].first].chunks[pending[t].second].id = ids[t];
  progress.done();
  if (ws.foreign_ids)
    std::fprintf(stderr,
                 "Warning: CT %s: %llu entries owned by ids outside the CT's range, "
                 "stored as 65534\n",
                 ct.ctid().c_str(), static_cast<unsigned long long>(ws.foreign_ids));
  BERTH_ASSIGN_OR_RETURN(std::string conf, read_text_file(ct.conf_path()));
  storage::BackupMeta meta;
  meta.id = id;
  meta.ctid = ct.ctid();
  meta.created = now;
  meta.files = entries.size();
  meta.logical = rep.logical;
  meta.new_bytes = rep.new_bytes;
  meta.ostemplate = ct.ostemplate();
  meta.layout = layout_name(ct.layout());
  meta.consistent = view.consistent;
  BERTH_RETURN_IF_ERROR(store.write_backup(meta, entries, conf));
  rep.id = id;
  rep.files = entries.size();
  rep.seconds = progress.seconds();
  return rep;
}

namespace {

// The entries of an import archive, one at a time, as index entries below rootfs/.
class ArchiveSource {
 public:
  static Result<std::unique_ptr<ArchiveSource>> open(const std::string& file) {
    std::unique_ptr<ArchiveSource> s(new ArchiveSource);
    s->a_.reset(archive_read_new());
    archive_read_support_filter_all(s->a_.get());
    archive_read_support_format_tar(s->a_.get());
    if (archive_read_open_filename(s->a_.get(), file.c_str(), 1 << 17) != ARCHIVE_OK)
      return Error::with_status(exitcode::kArchiveRefused,
                                "open `" + file + "`: " + amsg(s->a_.get()));
    return s;
  }
  // An archive read from a stream (migration): src fills a buffer, 0 at the end.
  // whiteouts (a snapshot's upper layer): an overlay whiteout (a character device 0:0) is an
  // entry, and a directory's kOpaque = "y" is kept; other device nodes and xattrs are still
  // dropped.
  static Result<std::unique_ptr<ArchiveSource>> open_stream(const ByteSource& src,
                                                            bool whiteouts = false) {
    std::unique_ptr<ArchiveSource> s(new ArchiveSource);
    s->whiteouts_ = whiteouts;
    s->a_.reset(archive_read_new());
    s->src_ = &src;
    s->buf_.resize(1 << 17);
    archive_read_support_filter_zstd(s->a_.get());
    archive_read_support_format_tar(s->a_.get());
    if (archive_read_open(s->a_.get(), s.get(), nullptr, stream_read, nullptr) != ARCHIVE_OK) {
      if (!s->failed_.ok()) return std::move(s->failed_).error();
      return Error::with_status(exitcode::kArchiveRefused, "stream: " + amsg(s->a_.get()));
    }
    return s;
  }
  // The warning for what the import's rules left out (device nodes, xattrs outside user.*).
  void warn_dropped(const std::string& ctid) const {
    if (dropped_devices_ || dropped_xattrs_)
      std::fprintf(stderr,
                   "Warning: CT %s: the archive's %llu device nodes and %llu extended attributes "
                   "outside user.* were not imported\n",
                   ctid.c_str(), static_cast<unsigned long long>(dropped_devices_),
                   static_cast<unsigned long long>(dropped_xattrs_));
  }
  // What the stream's source failed with (a broken connection rather than a bad archive).
  Status take_failure() { return std::move(failed_); }
  // Next entry below rootfs/ (ve.conf is kept in conf()); nullopt at the end. Refuses what
  // leaves the tree.
  Result<std::optional<IndexEntry>> next() {
    for (;;) {
      struct archive_entry* en;
      int r = archive_read_next_header(a_.get(), &en);
      if (r == ARCHIVE_EOF) return std::optional<IndexEntry>();
      if (r < ARCHIVE_WARN) return refuse("read: " + amsg(a_.get()));
      std::string path = archive_entry_pathname(en) ? archive_entry_pathname(en) : "";
      while (path.starts_with("./")) path.erase(0, 2);
      if (path == "ve.conf") {
        if (archive_entry_size(en) > (1 << 20)) return refuse("ve.conf is too large");
        conf_.assign(static_cast<size_t>(archive_entry_size(en)), '\0');
        if (archive_read_data(a_.get(), conf_.data(), conf_.size()) !=
            static_cast<la_ssize_t>(conf_.size()))
          return refuse("read ve.conf: " + amsg(a_.get()));
        continue;
      }
      if (path == "rootfs" || path == "rootfs/") continue;
      if (!path.starts_with(kRootfs)) return refuse("entry `" + path + "` is not below rootfs/");
      path.erase(0, kRootfs.size());
      while (path.ends_with("/")) path.pop_back();
      if (!storage::is_tree_path(path))
        return refuse("entry `rootfs/" + path + "` leaves the tree");
      IndexEntry e;
      e.path = path;
      e.mode = archive_entry_perm(en) & 07777;
      e.uid = static_cast<uint32_t>(archive_entry_uid(en) < 0 ? 65534 : archive_entry_uid(en));
      e.gid = static_cast<uint32_t>(archive_entry_gid(en) < 0 ? 65534 : archive_entry_gid(en));
      if (archive_entry_uid(en) >= 65536) e.uid = 65534;
      if (archive_entry_gid(en) >= 65536) e.gid = 65534;
      e.mtime_ns =
          static_cast<int64_t>(archive_entry_mtime(en)) * 1000000000 + archive_entry_mtime_nsec(en);
      if (const char* hl = archive_entry_hardlink(en)) {
        std::string t = hl;
        while (t.starts_with("./")) t.erase(0, 2);
        if (!t.starts_with(kRootfs) || !storage::is_tree_path(t.substr(kRootfs.size())))
          return refuse("hardlink `rootfs/" + path + "` points out of rootfs/");
        e.type = EntryType::kHardlink;
        e.target = t.substr(kRootfs.size());
        return std::optional<IndexEntry>(std::move(e));
      }
      switch (archive_entry_filetype(en)) {
        case AE_IFREG: e.type = EntryType::kFile; break;
        case AE_IFDIR: e.type = EntryType::kDir; break;
        case AE_IFLNK:
          e.type = EntryType::kSymlink;
          e.target = archive_entry_symlink(en) ? archive_entry_symlink(en) : "";
          break;
        case AE_IFCHR:
          if (whiteouts_ && archive_entry_rdev(en) == 0) {
            e.type = EntryType::kChar;
            e.rdev = 0;
            break;
          }
          [[fallthrough]];
        case AE_IFBLK:
          // An archive is hostile input, as a template is (docs/security.md, wall 2): no device
          // nodes. A VPS's own tree never holds one (mknod is refused in its user namespace).
          ++dropped_devices_;
          continue;
        case AE_IFIFO: e.type = EntryType::kFifo; break;
        default: continue;  // sockets: nothing to restore
      }
      e.size = e.type == EntryType::kFile ? static_cast<uint64_t>(archive_entry_size(en)) : 0;
      archive_entry_xattr_reset(en);
      const char* name;
      const void* value;
      size_t size;
      while (archive_entry_xattr_next(en, &name, &value, &size) == ARCHIVE_OK) {
        std::string n = name;
        // Only the tenant's own namespace: trusted.overlay.* would redirect lookups in the CT's
        // upper layer, and a security.capability value from an archive could name any root id
        // (a v2 one applies in every user namespace).
        // A snapshot's upper layer: its opaque directories stay opaque.
        bool opaque = whiteouts_ && e.type == EntryType::kDir && n == kOpaque && size == 1 &&
                      *static_cast<const char*>(value) == 'y';
        if (!n.starts_with("user.") && !opaque) {
          ++dropped_xattrs_;
          continue;
        }
        e.xattrs.emplace_back(n, std::string(static_cast<const char*>(value), size));
      }
      std::sort(e.xattrs.begin(), e.xattrs.end());
      return std::optional<IndexEntry>(std::move(e));
    }
  }
  // The current entry's data into fd (sparse parts left as holes), then cut to size.
  Status write_data(int fd, uint64_t size) {
    const void* buf;
    size_t n;
    la_int64_t off;
    for (;;) {
      int r = archive_read_data_block(a_.get(), &buf, &n, &off);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return refuse("read data: " + amsg(a_.get()));
      if (static_cast<uint64_t>(off) + n > size) return refuse("data beyond the entry's size");
      size_t done = 0;
      while (done < n) {
        ssize_t w = ::pwrite(fd, static_cast<const char*>(buf) + done, n - done,
                             off + static_cast<off_t>(done));
        if (w < 0) return Error::from_errno(errno, "write").status(exitcode::kNoDiskSpace);
        done += static_cast<size_t>(w);
      }
    }
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return Error::from_errno(errno, "truncate");
    return {};
  }
  const std::string& conf() const { return conf_; }
  // What the import left out of the archive (reported once at the end).

 private:
  ArchiveSource() = default;
  static la_ssize_t stream_read(struct archive*, void* client, const void** out) {
    auto* s = static_cast<ArchiveSource*>(client);
    auto n = (*s->src_)(s->buf_.data(), s->buf_.size());
    if (!n.ok()) {
      s->failed_ = std::move(n).error();
      return -1;
    }
    *out = s->buf_.data();
    return static_cast<la_ssize_t>(*n);
  }
  const ByteSource* src_ = nullptr;
  bool whiteouts_ = false;
  std::vector<char> buf_;
  Status failed_;
  uint64_t dropped_devices_ = 0, dropped_xattrs_ = 0;
  Error refuse(const std::string& what) {
    return Error::with_status(exitcode::kArchiveRefused, "archive refused: " + what);
  }
  std::unique_ptr<struct archive, ArchiveReadFree> a_;
  std::string conf_;
};

Status write_chunks(const storage::BackupStore& store, const IndexEntry& e, int fd) {
  uint64_t off = 0;
  for (const auto& c : e.chunks) {
    auto data = store.read_chunk(c);
    if (!data.ok()) return std::move(data).error().status(exitcode::kBackupBroken);
    bool zero = data->find_first_not_of('\0') == std::string::npos;
    if (!zero) {
      size_t done = 0;
      while (done < data->size()) {
        ssize_t w =
            ::pwrite(fd, data->data() + done, data->size() - done, static_cast<off_t>(off + done));
        if (w < 0) return Error::from_errno(errno, "write").status(exitcode::kNoDiskSpace);
        done += static_cast<size_t>(w);
      }
    }
    off += data->size();
  }
  if (off != e.size)
    return Error::with_status(exitcode::kBackupBroken, "chunks do not add up to its size");
  if (::ftruncate(fd, static_cast<off_t>(off)) != 0) return Error::from_errno(errno, "truncate");
  return {};
}

// The config of the restored CT: the backup's, with what belongs to the original CT dropped
// when the target is another CTID.
Result<ConfFile> restored_config(const HostConfig& host, const std::string& conf_text,
                                 const std::string& orig, const std::string& target,
                                 const Say& say) {
  ConfFile conf = ConfFile::parse(conf_text);
  // New paths and a new id range (made by create), unless the CT is privileged (no range).
  conf.set("VE_ROOT", host.default_ve_root());
  conf.set("VE_PRIVATE", host.default_ve_private());
  if (conf.get_or("LOCAL_UID", "") != "0") {
    conf.erase("LOCAL_UID");
    conf.erase("LOCAL_GID");
  }
  if (target != orig && !orig.empty() && ::access(host.ct_conf_path(orig).c_str(), F_OK) == 0 &&
      !conf.get_or("IP_ADDRESS", "").empty()) {
    say("IP_ADDRESS dropped: CT " + orig + " still holds " + conf.get_or("IP_ADDRESS", ""));
    conf.erase("IP_ADDRESS");
  }
  std::string name = conf.get_or("NAME", "");
  if (!name.empty()) {
    auto other = ctid_by_name(host, name);
    if (other.ok() && *other != target) {
      say("NAME dropped: `" + name + "` is used by CT " + *other);
      conf.erase("NAME");
    }
  }
  std::string tmpl = conf.get_or("OSTEMPLATE", "");
  if (!tmpl.empty() && !tmpl::find_cache_archive(host, tmpl).ok())
    return Error::with_status(exitcode::kTemplateNotFound,
                              "template `" + tmpl +
                                  "` of the backup is not on this host "
                                  "(restoring without it is not done yet)");
  return conf;
}

// Count and sizes of the restored tree against what was written.
Status check_tree(int root_fd, const CtConfig& ct, const std::map<std::string, uint64_t>& sizes,
                  uint64_t entries) {
  storage::WalkStats ws;
  uint64_t bad = 0;
  std::string first;
  auto visit = [&](IndexEntry& e, int) -> Status {
    if (e.type != EntryType::kFile) return {};
    auto it = sizes.find(e.path);
    if (it == sizes.end() || it->second != e.size) {
      if (!bad++) first = e.path;
    }
    return {};
  };
  BERTH_RETURN_IF_ERROR(storage::walk_tree(root_fd, ct.local_uid(), ct.local_gid(), visit, &ws));
  if (bad || ws.entries != entries)
    return Error::with_status(
        exitcode::kBackupBroken,
        "restored tree differs from the backup: " + std::to_string(ws.entries) + " entries for " +
            std::to_string(entries) + ", " + std::to_string(bad) + " file sizes differ" +
            (first.empty() ? "" : " (first: `" + first + "`)"));
  return {};
}

// Make the mounted root of ct equal to the archive's tree (or the stored backup's index), then
// check it against what was written.
Status fill_tree(const CtConfig& ct, ArchiveSource* archive, const storage::BackupStore* store,
                 const std::vector<IndexEntry>& index, const Say& say) {
  const std::string& target = ct.ctid();
  uint64_t entries = 0;
  BERTH_RETURN_IF_ERROR(storage::mount_root(ct));
  ScopeExit unmount([&] { (void)storage::umount_root(ct); });
  UniqueFd root(::open(ct.ve_root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + ct.ve_root() + "`");
  storage::TreeWriter writer(root.get(), ct.local_uid(), ct.local_gid());
  std::map<std::string, uint64_t> sizes;
  if (archive) {
    for (;;) {
      BERTH_ASSIGN_OR_RETURN(auto e, archive->next());
      if (!e) break;
      BERTH_RETURN_IF_ERROR(
          writer.put(*e, [&](int fd) { return archive->write_data(fd, e->size); }));
      if (e->type == EntryType::kFile) sizes[e->path] = e->size;
      if (e->type == EntryType::kHardlink) sizes[e->path] = sizes[e->target];
      ++entries;
    }
    archive->warn_dropped(target);
  } else {
    for (const auto& e : index) {
      BERTH_RETURN_IF_ERROR(writer.put(e, [&](int fd) { return write_chunks(*store, e, fd); }));
      if (e.type == EntryType::kFile) sizes[e.path] = e.size;
      if (e.type == EntryType::kHardlink) sizes[e.path] = sizes[e.target];
      ++entries;
    }
  }
  BERTH_RETURN_IF_ERROR(writer.finish());
  BERTH_RETURN_IF_ERROR(check_tree(root.get(), ct, sizes, entries));
  say("Restored CT " + target + ": " + std::to_string(entries) + " entries (" +
      std::to_string(writer.written()) + " written, " + std::to_string(writer.kept()) +
      " kept as they were), verified");
  return {};
}

// Create CT target from conf and fill its tree. From the create on the CT exists: a killed
// restore leaves a CT that destroy or restore --force removes; a failed one is removed here.
Status create_and_fill(const HostConfig& host, const std::string& target, const ConfFile& conf,
                       ArchiveSource* archive, const storage::BackupStore* store,
                       const std::vector<IndexEntry>& index, const Say& say) {
  BERTH_RETURN_IF_ERROR(create(host, target, conf));
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host, target));
  Status st = fill_tree(ct, archive, store, index, say);
  // A stream that broke says so rather than the archive reader's "truncated".
  if (archive)
    if (Status f = archive->take_failure(); !f.ok()) st = std::move(f);
  if (!st.ok()) {
    if (auto d = destroy(ct); !d.ok())
      std::fprintf(stderr, "berth: CT %s: removing the failed restore: %s\n", target.c_str(),
                   d.error().message().c_str());
    return st;
  }
  return {};
}

}  // namespace

Status restore(const HostConfig& host, const std::string& ctid, const RestoreOptions& opts,
               const Say& say) {
  const std::string target = opts.new_ctid.empty() ? ctid : opts.new_ctid;
  std::optional<storage::BackupStore> store;
  std::vector<IndexEntry> index;
  std::string conf_text, orig = ctid;
  std::unique_ptr<ArchiveSource> archive;
  if (!opts.import_file.empty()) {
    // Two passes: the config first (to make the CT), then the tree.
    BERTH_ASSIGN_OR_RETURN(auto first, ArchiveSource::open(opts.import_file));
    for (;;) {
      BERTH_ASSIGN_OR_RETURN(auto e, first->next());
      if (!e) break;
    }
    if (first->conf().empty())
      return Error::with_status(exitcode::kArchiveRefused,
                                "archive `" + opts.import_file + "` has no ve.conf");
    conf_text = first->conf();
    BERTH_ASSIGN_OR_RETURN(archive, ArchiveSource::open(opts.import_file));
  } else {
    BERTH_ASSIGN_OR_RETURN(
        auto s, storage::BackupStore::open(backup_store_dir(host, opts.storage), false, false));
    store.emplace(std::move(s));
    BERTH_ASSIGN_OR_RETURN(storage::BackupMeta meta, store->meta(opts.backup_id));
    orig = meta.ctid;
    BERTH_ASSIGN_OR_RETURN(index, store->index(opts.backup_id));
    BERTH_ASSIGN_OR_RETURN(conf_text, store->conf(opts.backup_id));
  }

  if (::access(host.ct_conf_path(target).c_str(), F_OK) == 0) {
    if (!opts.force)
      return Error::with_status(
          exitcode::kPrivateExists,
          "CT " + target + " exists (restore --force replaces a stopped one)");
    BERTH_ASSIGN_OR_RETURN(CtConfig old, CtConfig::load(host, target));
    BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(old));
    if (s.running)
      return Error::with_status(exitcode::kRunning, "CT " + target + " is running; stop it first");
    if (opts.keep_config) {
      conf_text = old.conf().text();
      orig = target;
    }
    say("Replacing CT " + target);
    BERTH_RETURN_IF_ERROR(destroy(old));
  }
  BERTH_ASSIGN_OR_RETURN(ConfFile conf, restored_config(host, conf_text, orig, target, say));
  say("Creating CT " + target + " (" + conf.get_or("OSTEMPLATE", "") + ")");
  return create_and_fill(host, target, conf, archive.get(), store ? &*store : nullptr, index, say);
}

}  // namespace berth::runtime

namespace berth::runtime {

Status import_stream(const HostConfig& host, const std::string& ctid, const std::string& conf_text,
                     const ByteSource& src, bool existing, const Say& say, bool keep_ids) {
  BERTH_ASSIGN_OR_RETURN(auto archive, ArchiveSource::open_stream(src));
  std::vector<IndexEntry> none;
  if (existing) {
    BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host, ctid));
    Status st = fill_tree(ct, archive.get(), nullptr, none, say);
    if (Status f = archive->take_failure(); !f.ok()) return f;
    return st;
  }
  BERTH_ASSIGN_OR_RETURN(ConfFile conf, restored_config(host, conf_text, ctid, ctid, say));
  if (keep_ids) {
    // A checkpoint's user namespace maps the CT's root to its host ids: a live migration keeps
    // them (create refuses them when this host has given them to anyone else).
    ConfFile orig = ConfFile::parse(conf_text);
    for (const char* k : {"LOCAL_UID", "LOCAL_GID"})
      if (auto v = orig.get(k); v && !v->empty()) conf.set(k, *v);
  }
  return create_and_fill(host, ctid, conf, archive.get(), nullptr, none, say);
}

}  // namespace berth::runtime

namespace berth::runtime {
namespace {

// Every entry of a stream's archive through writer; sizes and entries (when given) note what
// was written, for check_tree.
Status write_stream(ArchiveSource& archive, storage::TreeWriter& writer, const std::string& ctid,
                    std::map<std::string, uint64_t>* sizes, uint64_t* entries) {
  Status st;
  for (;;) {
    auto e = archive.next();
    if (!e.ok()) {
      st = std::move(e).error();
      break;
    }
    if (!*e) break;
    st = writer.put(**e, [&](int fd) { return archive.write_data(fd, (*e)->size); });
    if (!st.ok()) break;
    if (sizes && (*e)->type == EntryType::kFile) (*sizes)[(*e)->path] = (*e)->size;
    if (sizes && (*e)->type == EntryType::kHardlink) (*sizes)[(*e)->path] = (*sizes)[(*e)->target];
    if (entries) ++*entries;
  }
  // A stream that broke says so rather than the archive reader's "truncated".
  if (Status f = archive.take_failure(); !f.ok()) return f;
  BERTH_RETURN_IF_ERROR(std::move(st));
  archive.warn_dropped(ctid);
  return {};
}

}  // namespace

Result<DeltaReport> import_delta_stream(
    const HostConfig& host, const std::string& ctid, const ByteSource& src,
    const std::function<Result<std::vector<std::string>>()>& removals) {
  BERTH_ASSIGN_OR_RETURN(auto archive, ArchiveSource::open_stream(src));
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host, ctid));
  BERTH_RETURN_IF_ERROR(storage::mount_root(ct));
  ScopeExit unmount([&] { (void)storage::umount_root(ct); });
  UniqueFd root(::open(ct.ve_root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::from_errno(errno, "open `" + ct.ve_root() + "`");
  storage::TreeWriter writer(root.get(), ct.local_uid(), ct.local_gid());
  writer.set_delta();
  BERTH_RETURN_IF_ERROR(write_stream(*archive, writer, ctid, nullptr, nullptr));
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> gone, removals());
  for (const auto& p : gone) BERTH_RETURN_IF_ERROR(writer.remove(p));
  BERTH_RETURN_IF_ERROR(writer.finish());
  return DeltaReport{writer.written(), writer.removed()};
}

}  // namespace berth::runtime

namespace berth::runtime {

Status import_dir_stream(const CtConfig& ct, int dir_fd, const ByteSource& src) {
  BERTH_ASSIGN_OR_RETURN(auto archive, ArchiveSource::open_stream(src, true));
  storage::TreeWriter writer(dir_fd, ct.local_uid(), ct.local_gid());
  std::map<std::string, uint64_t> sizes;
  uint64_t entries = 0;
  BERTH_RETURN_IF_ERROR(write_stream(*archive, writer, ct.ctid(), &sizes, &entries));
  BERTH_RETURN_IF_ERROR(writer.finish());
  return check_tree(dir_fd, ct, sizes, entries);
}

}  // namespace berth::runtime
