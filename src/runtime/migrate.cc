#include "runtime/migrate.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>

#include "core/conf_file.h"
#include "core/ct_model.h"
#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "net/addr.h"
#include "net/routed.h"
#include "runtime/checkpoint.h"
#include "runtime/lifecycle.h"
#include "runtime/migrate_proto.h"
#include "runtime/snapshot.h"
#include "runtime/tree_delta.h"
#include "runtime/tree_stream.h"
#include "state/status.h"
#include "storage/disk.h"
#include "storage/idshift.h"
#include "storage/snapshot.h"
#include "sys/fs.h"
#include "sys/kernel.h"
#include "sys/process.h"
#include "template/cache.h"

namespace berth::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using mig::Frame;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string mib(uint64_t b) {
  char buf[32];
  if (b > 0 && b < (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / 1048576.0);
  return buf;
}

int64_t realtime_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Tests: with BERTH_TEST_PAUSE_DIR set, an online migration writes <dir>/<point>.waiting at
// `point` and waits (up to 5 minutes) for <dir>/<point>.go, so a test can change the VPS's files
// between the copies (tests/vm/migrate.sh).
void test_pause(const char* point) {
  const char* dir = std::getenv("BERTH_TEST_PAUSE_DIR");
  if (!dir || !*dir) return;
  std::string base = std::string(dir) + "/" + point;
  UniqueFd waiting(::open((base + ".waiting").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  for (int i = 0; i < 6000 && ::access((base + ".go").c_str(), F_OK) != 0; ++i) ::usleep(50000);
  ::unlink((base + ".waiting").c_str());
  ::unlink((base + ".go").c_str());
}

// ---- markers (both sides): small key=value files, written to a .tmp and renamed ----

std::string marker_path(const HostConfig& host, const char* dir, const std::string& ctid) {
  return host.paths().lib + "/" + dir + "/" + ctid;
}

Status write_marker(const HostConfig& host, const char* dir, const std::string& ctid,
                    const std::string& text) {
  std::string d = host.paths().lib + "/" + dir;
  BERTH_RETURN_IF_ERROR(make_dirs(d, 0700));
  std::string p = d + "/" + ctid, tmp = p + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno(errno, "create `" + tmp + "`");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0)
    return Error::from_errno(errno, "write `" + tmp + "`");
  if (::rename(tmp.c_str(), p.c_str()) != 0) return Error::from_errno(errno, "rename `" + p + "`");
  return {};
}

std::optional<ConfFile> read_marker(const HostConfig& host, const char* dir,
                                    const std::string& ctid) {
  std::string p = marker_path(host, dir, ctid);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  return ConfFile::parse(text);
}

void remove_marker(const HostConfig& host, const char* dir, const std::string& ctid) {
  ::unlink(marker_path(host, dir, ctid).c_str());
}

constexpr const char* kOut = "migrate-out";
constexpr const char* kIn = "migrate-in";

// `berth --skiplock CMD CTID args...` as a child (this same binary), so a start goes through the
// watcher as a command line's does (cli/cli.cc). Its output goes to our stderr.
Status run_self(const std::vector<std::string>& args) {
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return Error::from_errno(errno, "readlink /proc/self/exe");
  exe[n] = '\0';
  std::vector<std::string> argv{"berth", "--quiet", "--skiplock"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) {
    ::dup2(2, 1);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // dup2 clears it on fd 0
    if (null >= 0) ::dup2(null, 0);
    std::vector<char*> av;
    for (auto& a : argv) av.push_back(a.data());
    av.push_back(nullptr);
    ::execv(exe, av.data());
    ::_exit(exitcode::kCommandNotExecutable);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  int code = sys::exit_code_of(st);
  if (code != exitcode::kOk)
    return Error::with_status(code,
                              "berth " + args[0] + " exited with status " + std::to_string(code));
  return {};
}

// ---- the source's ssh link ----

class SshLink {
 public:
  static Result<SshLink> open(const MigrateOptions& o) {
    std::vector<std::string> argv{"ssh", "-T", "-e", "none", "-o", "BatchMode=yes"};
    argv.insert(argv.end(), o.ssh_opts.begin(), o.ssh_opts.end());
    argv.push_back("--");
    argv.push_back(o.dest);
    // The remote side's shell reads this line: only a checked path goes in it.
    argv.push_back(o.remote_berth + " _migrate-recv");
    int to[2], from[2];
    if (::pipe2(to, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
    if (::pipe2(from, O_CLOEXEC) != 0) {
      ::close(to[0]);
      ::close(to[1]);
      return Error::from_errno(errno, "pipe");
    }
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno(errno, "fork");
    if (pid == 0) {
      ::dup2(to[0], 0);
      ::dup2(from[1], 1);
      ::signal(SIGPIPE, SIG_DFL);
      std::vector<char*> av;
      for (auto& a : argv) av.push_back(a.data());
      av.push_back(nullptr);
      ::execvp("ssh", av.data());
      ::_exit(exitcode::kCommandNotFound);
    }
    ::close(to[0]);
    ::close(from[1]);
    SshLink l;
    l.pid_ = pid;
    l.out_ = UniqueFd(to[1]);
    l.in_ = UniqueFd(from[0]);
    return l;
  }
  SshLink() = default;
  SshLink(SshLink&& o) noexcept : pid_(o.pid_), out_(std::move(o.out_)), in_(std::move(o.in_)) {
    o.pid_ = -1;
  }
  SshLink& operator=(SshLink&&) = delete;
  // Closing our end tells the receiver we are gone; it cleans up and exits, then ssh does: we
  // wait for that, so a failed migration returns only once the destination has undone its part.
  ~SshLink() { (void)close(); }
  int close() {
    out_ = UniqueFd();
    in_ = UniqueFd();
    if (pid_ <= 0) return 0;
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {}
    pid_ = -1;
    return sys::exit_code_of(st);
  }
  Status send(Frame t, std::string_view p) {
    auto st = mig::write_frame(out_.get(), t, p);
    if (!st.ok()) return std::move(st).error().status(exitcode::kMigCopy).context("destination");
    sent_ += p.size() + 5;
    return {};
  }
  // The destination's answer: ok, or its error with its status.
  Status reply(int lost_status) {
    auto r = mig::read_frame(in_.get());
    if (!r.ok()) return std::move(r).error().status(lost_status).context("destination");
    if (r->type != Frame::kReply)
      return Error::with_status(lost_status, "destination: unexpected frame");
    auto [code, msg] = mig::parse_reply(r->payload);
    if (code == 0) {
      last_ = msg;
      return {};
    }
    // A malformed reply (negative) counts as a lost connection.
    int status = code > exitcode::kOk ? code : lost_status;
    return Error::with_status(status, "destination: " + msg);
  }
  const std::string& last_reply() const { return last_; }
  uint64_t sent() const { return sent_; }

 private:
  pid_t pid_ = -1;
  UniqueFd out_, in_;
  uint64_t sent_ = 0;
  std::string last_;
};

// An archive's bytes as kData frames of up to 1 MiB.
ByteSink data_sink(SshLink& link) {
  return [&link](const void* p, size_t n) -> Status {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      size_t k = n < (1u << 20) ? n : (1u << 20);
      BERTH_RETURN_IF_ERROR(link.send(Frame::kData, std::string_view(c, k)));
      c += k;
      n -= k;
    }
    return {};
  };
}

// The archive goes in frames of up to 1 MiB, then a kEnd.
Result<StreamReport> send_archive(const CtConfig& ct, SshLink& link, bool progress,
                                  const ExportPass& pass) {
  auto rep = export_stream(ct, data_sink(link), progress, pass);
  if (!rep.ok()) return std::move(rep).error().status(exitcode::kMigCopy).context("copy");
  BERTH_RETURN_IF_ERROR(link.send(Frame::kEnd, {}));
  return rep;
}

// Right after a pass's start time is taken: the CT's file system written back. A write through
// a shared mapping to a page that is already dirty changes no file time; once written back the
// page is write-protected again, so the next write faults and stamps the file's ctime, which the
// next pass's check sees (runtime/tree_delta.h).
void write_back(const CtConfig& ct) {
  UniqueFd root(::open(ct.ve_root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root) (void)::syncfs(root.get());
}

// The whole tree, each entry noted in record; then the destination's answer.
Result<StreamReport> send_tree(const CtConfig& ct, SshLink& link, bool progress,
                               TreeRecord& record) {
  record.start_pass(realtime_ns());
  write_back(ct);
  ExportPass pass;
  pass.select = [&](const storage::IndexEntry& e, int64_t ctime) { return record.visit(e, ctime); };
  BERTH_ASSIGN_OR_RETURN(StreamReport rep, send_archive(ct, link, progress, pass));
  (void)record.finish_pass();
  // The destination answers once the tree is written and verified.
  BERTH_RETURN_IF_ERROR(link.reply(exitcode::kMigCopy));
  return rep;
}

// A later copy of the tree (runtime/tree_delta.h): the entries changed since the last one, the
// paths gone since; live: read while the CT runs. bytes: the archive's and the removal list's.
struct DeltaSent {
  StreamReport rep;
  size_t removed = 0;
};
Result<DeltaSent> send_delta(const CtConfig& ct, SshLink& link, TreeRecord& record, bool live) {
  record.start_pass(realtime_ns());
  write_back(ct);
  BERTH_RETURN_IF_ERROR(link.send(Frame::kDelta, {}));
  ExportPass pass;
  pass.live = live;
  pass.select = [&](const storage::IndexEntry& e, int64_t ctime) { return record.visit(e, ctime); };
  pass.unchanged = [&](const storage::IndexEntry& e, const struct stat& st) {
    using storage::EntryType;
    EntryType kind = S_ISREG(st.st_mode)   ? EntryType::kFile
                     : S_ISDIR(st.st_mode) ? EntryType::kDir
                     : S_ISLNK(st.st_mode) ? EntryType::kSymlink
                     : S_ISCHR(st.st_mode) ? EntryType::kChar
                     : S_ISBLK(st.st_mode) ? EntryType::kBlock
                                           : EntryType::kFifo;
    return record.unchanged(
        e, kind, static_cast<uint64_t>(st.st_size), st.st_rdev,
        static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec);
  };
  DeltaSent out;
  BERTH_ASSIGN_OR_RETURN(out.rep, send_archive(ct, link, false, pass));
  std::vector<std::string> gone = record.finish_pass();
  out.removed = gone.size();
  for (const auto& payload : encode_removals(gone, 1u << 20)) {
    BERTH_RETURN_IF_ERROR(link.send(Frame::kRemove, payload));
    out.rep.bytes += payload.size();
  }
  BERTH_RETURN_IF_ERROR(link.send(Frame::kEnd, {}));
  BERTH_RETURN_IF_ERROR(link.reply(exitcode::kMigCopy));
  return out;
}

// What a killed migration left mounted of a snapshot image it was reading or writing
// (<snapshots>/<uuid>.mnt): unmounted, so the next one (or destroy) can go on.
void release_snapshot_stages(const CtConfig& ct) {
  auto idx = storage::load_index(ct);
  std::vector<std::string> uuids;
  if (idx.ok())
    for (const auto& e : idx->entries) uuids.push_back(e.uuid);
  // The destination's index is written only at the end: its stages are found by name.
  const std::string dir = storage::snapshots_dir(ct);
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() == 40 && n.ends_with(".mnt") && storage::valid_uuid(n.substr(0, 36)))
        uuids.push_back(n.substr(0, 36));
    }
    ::closedir(d);
  }
  for (const auto& u : uuids) {
    std::string stage = dir + "/" + u + ".mnt";
    if (sys::is_mount_point(stage)) (void)sys::umount_tree(stage);
  }
}

Result<StreamReport> send_tree_snapshot(const CtConfig& ct, SshLink& link,
                                        const storage::SnapshotEntry& e,
                                        const mig::SnapshotHeader& h) {
  BERTH_RETURN_IF_ERROR(link.send(Frame::kSnapshot, mig::encode_snapshot_header(h)));
  return export_dir_stream(ct, snapshot_tree(ct, e), data_sink(link));
}

// A snapshot of a disk image: its size and inode count, then the tree its file system holds
// (/upper or /root, read from a read-only mount of it), owners unshifted: the destination makes
// an image like it and writes the tree into it with its own ids. Only data travels (holes and
// free blocks do not), compressed.
Result<StreamReport> send_image_snapshot(const CtConfig& ct, SshLink& link,
                                         const storage::SnapshotEntry& e, mig::SnapshotHeader h) {
  const std::string img = storage::snapshots_dir(ct) + "/" + e.file;
  UniqueFd fd(::open(img.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  std::string sb(1024, '\0');
  if (!fd || ::fstat(fd.get(), &st) != 0 ||
      ::pread(fd.get(), sb.data(), sb.size(), 1024) != static_cast<ssize_t>(sb.size()))
    return Error::from_errno(errno, "read `" + img + "`");
  BERTH_ASSIGN_OR_RETURN(storage::DiskUsage du, storage::parse_ext4_superblock(sb));
  h.image_bytes = static_cast<uint64_t>(st.st_size);
  h.image_inodes = du.inodes_total;
  const std::string stage = storage::snapshots_dir(ct) + "/" + e.uuid + ".mnt";
  release_snapshot_stages(ct);
  if (::mkdir(stage.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + stage + "`");
  ScopeExit drop([&] { ::rmdir(stage.c_str()); });
  BERTH_ASSIGN_OR_RETURN(storage::ReadOnlyImageMount ro,
                         storage::ReadOnlyImageMount::mount(img, stage));
  const std::string leaf = ct.layout() == Layout::kImage ? "root" : "upper";
  ExportPass pass;
  pass.select = [&](const storage::IndexEntry& ie, int64_t) {
    return ie.path == leaf || ie.path.starts_with(leaf + "/");
  };
  BERTH_RETURN_IF_ERROR(link.send(Frame::kSnapshot, mig::encode_snapshot_header(h)));
  return export_dir_stream(ct, stage, data_sink(link), pass);
}

// The CT's snapshots, after its tree: the index (kSnapshots), then each snapshot's config and
// tree (kSnapshot, an archive as kData, kEnd), the destination answering each. Bytes sent.
Result<uint64_t> send_snapshots(const CtConfig& ct, SshLink& link) {
  BERTH_ASSIGN_OR_RETURN(storage::SnapshotIndex idx,
                         storage::load_index(ct).status(exitcode::kMigCopy));
  if (idx.entries.empty()) return uint64_t{0};
  for (auto& e : idx.entries) e.mounted_at.clear();
  std::string json = storage::index_to_json(idx);
  if (json.size() > mig::kMaxFrame)
    return Error::with_status(exitcode::kMigCopy, "the snapshot index is too large to send");
  BERTH_RETURN_IF_ERROR(link.send(Frame::kSnapshots, json));
  BERTH_RETURN_IF_ERROR(link.reply(exitcode::kMigCopy));
  uint64_t bytes = json.size();
  for (const auto& e : idx.entries) {
    mig::SnapshotHeader h{e.uuid, "", e.has_config};
    if (e.has_config) {
      std::string conf = storage::snapshots_dir(ct) + "/" + e.uuid + ".conf";
      BERTH_ASSIGN_OR_RETURN(h.conf, sys::read_file(conf).status(exitcode::kMigCopy));
    }
    Result<StreamReport> rep = is_image_snapshot(e) ? send_image_snapshot(ct, link, e, h)
                                                    : send_tree_snapshot(ct, link, e, h);
    if (!rep.ok())
      return std::move(rep).error().status(exitcode::kMigCopy).context("snapshot " + e.uuid);
    BERTH_RETURN_IF_ERROR(link.send(Frame::kEnd, {}));
    BERTH_RETURN_IF_ERROR(link.reply(exitcode::kMigCopy));
    bytes += rep->bytes;
  }
  return bytes;
}

// A snapshot mounted (snapshot-mount) is refused before anything is stopped or copied.
Status check_snapshots(const CtConfig& ct) {
  auto snaps = list_snapshots(ct);
  if (!snaps.ok() || snaps->entries.empty()) return {};
  if (auto m = check_no_snapshot_mounted(ct); !m.ok())
    return Error::with_status(exitcode::kMigCopy,
                              "CT " + ct.ctid() + ": " + m.error().message() + " before migrating");
  // A simfs area made elsewhere that holds host ids (mounted idmapped, storage/idshift.h): its
  // snapshots' copies hold them too, which the stream (owners relative to LOCAL_UID) would lose.
  if (ct.layout() == Layout::kSimfs) {
    auto owners = storage::area_owners(ct.ve_private(), ct.local_uid());
    if (owners.ok() && *owners != storage::AreaOwners::kCtIds)
      return Error::with_status(exitcode::kMigCopy,
                                "CT " + ct.ctid() +
                                    ": snapshots of a simfs area owned by host ids are not "
                                    "carried (delete them first)");
  }
  return {};
}

// The regular files of dir (a CRIU dump, our own files) as kFile + kData + kEnd frames.
Result<uint64_t> send_dump_dir(SshLink& link, const std::string& dir, const std::string& name) {
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Error::from_errno(errno, "open `" + dir + "`").status(exitcode::kMigCopy);
  DIR* d = ::fdopendir(::fcntl(dfd.get(), F_DUPFD_CLOEXEC, 0));
  if (!d) return Error::from_errno(errno, "read `" + dir + "`").status(exitcode::kMigCopy);
  std::vector<std::string> files;
  while (struct dirent* e = ::readdir(d))
    if (e->d_type == DT_REG) files.emplace_back(e->d_name);
  ::closedir(d);
  uint64_t bytes = 0;
  std::string buf(1 << 20, '\0');
  for (const auto& f : files) {
    std::string rel = name + "/" + f;
    if (!mig::is_dump_file_name(rel))
      return Error::with_status(exitcode::kMigCopy, "dump file `" + rel + "`: unexpected name");
    UniqueFd fd(::openat(dfd.get(), f.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "open `" + dir + "/" + f + "`");
    BERTH_RETURN_IF_ERROR(link.send(Frame::kFile, rel));
    ssize_t n;
    while ((n = ::read(fd.get(), buf.data(), buf.size())) > 0) {
      BERTH_RETURN_IF_ERROR(link.send(Frame::kData, std::string_view(buf.data(), n)));
      bytes += static_cast<uint64_t>(n);
    }
    if (n < 0) return Error::from_errno(errno, "read `" + dir + "/" + f + "`");
    BERTH_RETURN_IF_ERROR(link.send(Frame::kEnd, {}));
  }
  return bytes;
}

// The CT's OS template archive, for a destination that lacks it; its answer once imported.
Result<uint64_t> send_template(const CtConfig& ct, SshLink& link) {
  BERTH_ASSIGN_OR_RETURN(
      std::string path,
      tmpl::find_cache_archive(ct.host(), ct.get_or("OSTEMPLATE", "")).status(exitcode::kMigCopy));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`").status(exitcode::kMigCopy);
  BERTH_RETURN_IF_ERROR(link.send(Frame::kTemplate, path.substr(path.rfind('/') + 1)));
  uint64_t bytes = 0;
  std::string buf(1 << 20, '\0');
  ssize_t n;
  while ((n = ::read(fd.get(), buf.data(), buf.size())) > 0) {
    BERTH_RETURN_IF_ERROR(link.send(Frame::kData, std::string_view(buf.data(), n)));
    bytes += static_cast<uint64_t>(n);
  }
  if (n < 0) return Error::from_errno(errno, "read `" + path + "`").status(exitcode::kMigCopy);
  BERTH_RETURN_IF_ERROR(link.send(Frame::kEnd, {}));
  BERTH_RETURN_IF_ERROR(link.reply(exitcode::kMigCopy));
  return bytes;
}

struct Phases {
  bool on;
  const Say& say;
  void done(const std::string& what, Clock::time_point t, uint64_t bytes,
            const std::string& more = "") {
    if (!on) return;
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-22s %9.1f ms  %s%s", what.c_str(), ms_since(t),
                  mib(bytes).c_str(), more.c_str());
    say(buf);
  }
  void delta(const std::string& what, Clock::time_point t, const DeltaSent& d) {
    done(what, t, d.rep.bytes,
         "  (" + std::to_string(d.rep.sent) + " of " + std::to_string(d.rep.entries) +
             " entries, " + std::to_string(d.removed) + " removed)");
  }
};

// Remove the source's copy once the destination holds the CT.
Status finish_source(const CtConfig& ct, const MigrateOptions& opts, const Say& say) {
  // An online migration's dumps: the CT runs on the destination now.
  (void)sys::remove_tree(default_dumpdir(ct) + "-migrate");
  if (opts.remove_area) {
    release_snapshot_stages(ct);  // what a killed earlier run left mounted
    BERTH_RETURN_IF_ERROR(destroy(ct));
    say("CT " + ct.ctid() + " removed on this host");
  } else {
    std::string conf = ct.conf_path();
    if (::rename(conf.c_str(), (conf + ".migrated").c_str()) != 0)
      return Error::from_errno(errno, "rename `" + conf + "`");
    say("CT " + ct.ctid() + " kept on this host, config renamed to " + conf + ".migrated");
  }
  remove_marker(ct.host(), kOut, ct.ctid());
  return {};
}

// A failure before the commit: the CT goes on here (started again when it ran). The link is
// closed first and its end awaited: the destination has removed its copy before this host
// starts the CT again, so it never runs on both.
Error keep_on_source(const CtConfig& ct, bool ran, Error why, SshLink& link,
                     const MigrateOptions& opts) {
  link.close();
  // Pre-dumps of an online migration that never reached its final dump.
  (void)sys::remove_tree(default_dumpdir(ct) + "-migrate");
  if (ran) {
    auto st = state::query_status(ct);
    if (st.ok() && !st->running) {
      Status s = opts.start_here ? opts.start_here(ct.ctid()) : run_self({"start", ct.ctid()});
      if (!s.ok())
        return why.context("migration failed, CT " + ct.ctid() +
                           " is stopped on this host (start failed: " + s.error().message() + ")");
    }
    remove_marker(ct.host(), kOut, ct.ctid());
    return why.context("migration failed, CT " + ct.ctid() + " runs on this host");
  }
  remove_marker(ct.host(), kOut, ct.ctid());
  return why.context("migration failed, CT " + ct.ctid() + " stays on this host");
}

Status migrate_locked(const HostConfig& host, const CtConfig& ct, const MigrateOptions& opts,
                      const Say& say) {
  const std::string& ctid = ct.ctid();
  Phases ph{opts.times, say};
  auto t_all = Clock::now();
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  std::optional<ConfFile> marker = read_marker(host, kOut, ctid);
  BERTH_ASSIGN_OR_RETURN(bool recovered, recover_killed_migration(ct, say));
  if (recovered) {
    BERTH_ASSIGN_OR_RETURN(s, state::query_status(ct));
  }
  // (A migration that committed and was killed finishes below, running or not.)
  const bool committed_before = marker && marker->get_or("PHASE", "") == "committing";
  if (opts.online && !s.running && !opts.check_only && !committed_before)
    return Error::with_status(exitcode::kMigNotRunning, "CT " + ctid + " is not running");
  if (opts.online) {
    if (std::string why = criu_unusable_reason(); !why.empty())
      return Error::with_status(exitcode::kMigSourceStop,
                                "CT " + ctid + " cannot be checkpointed here: " + why);
  }
  BERTH_RETURN_IF_ERROR(check_snapshots(ct));
  std::string conf_text;
  {
    UniqueFd fd(::open(ct.conf_path().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "open `" + ct.conf_path() + "`");
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) conf_text.append(buf, size_t(n));
  }

  auto t = Clock::now();
  BERTH_ASSIGN_OR_RETURN(SshLink link, SshLink::open(opts));
  mig::Hello h{mig::kProtocol, BERTH_VERSION, ctid,
               opts.check_only ? "check" : (opts.online ? "online" : "offline"), opts.keep_dst};
  BERTH_RETURN_IF_ERROR(
      link.send(Frame::kHello, mig::encode_hello(h)).status(exitcode::kMigConnect));
  BERTH_RETURN_IF_ERROR(link.send(Frame::kConfig, conf_text).status(exitcode::kMigConnect));
  Status pre = link.reply(exitcode::kMigConnect);
  if (marker && marker->get_or("PHASE", "") == "committing") {
    if (!pre.ok() && pre.error().exit_status() == exitcode::kMigExists) {
      // The commit reached the destination before this host's last migrate was killed.
      say("CT " + ctid + " was migrated to " + marker->get_or("DEST", "?") +
          " already; finishing on this host");
      link.close();
      return finish_source(ct, opts, say);
    }
    remove_marker(host, kOut, ctid);
  }
  if (!pre.ok()) {
    Error e = std::move(pre).error();
    if (e.exit_status() == exitcode::kMigConnect)
      e.context("cannot connect to " + opts.dest + " (ssh's message above)");
    return e;
  }
  ph.done("preflight", t, 0);
  say("Destination " + opts.dest + " accepts CT " + ctid + " (" + link.last_reply() + ")");
  if (opts.check_only) return {};
  // The destination lacks the CT's OS template: its archive goes first.
  if (std::string_view r = link.last_reply();
      r.size() >= mig::kNeedsTemplate.size() &&
      r.substr(r.size() - mig::kNeedsTemplate.size()) == mig::kNeedsTemplate) {
    t = Clock::now();
    auto sent = send_template(ct, link);
    if (!sent.ok()) return sent.error();
    ph.done("template", t, *sent);
  }
  sys::crash_point("migrate_checked");

  const bool ran = s.running || (marker && marker->get_or("RAN", "") == "yes" && !s.running);
  auto rec = [&](const std::string& phase) {
    return write_marker(host, kOut, ctid,
                        "DEST=\"" + opts.dest + "\"\nPHASE=\"" + phase + "\"\nRAN=\"" +
                            (ran ? "yes" : "no") + "\"\n");
  };
  BERTH_RETURN_IF_ERROR(rec("copying"));
  auto cancelled = [&] { return opts.cancelled && opts.cancelled(); };
  const auto cancel_error = [&] {
    return Error::with_status(exitcode::kMigUsage, "cancelled before the final freeze");
  };

  if (opts.online) {
    // 1. The tree while the CT runs (from a temporary snapshot when one can be taken), each
    // entry noted: the later copies send only what changed (runtime/tree_delta.h).
    TreeRecord record;
    t = Clock::now();
    auto first = send_tree(ct, link, opts.progress, record);
    if (!first.ok()) return keep_on_source(ct, false, std::move(first).error(), link, opts);
    ph.done("copy (running)", t, first->bytes);
    t = Clock::now();
    auto snaps = send_snapshots(ct, link);
    if (!snaps.ok()) return keep_on_source(ct, false, std::move(snaps).error(), link, opts);
    if (*snaps) ph.done("snapshots", t, *snaps);
    if (cancelled()) return keep_on_source(ct, false, cancel_error(), link, opts);
    sys::crash_point("migrate_copied_running");
    test_pause("copied");
    // 2. Memory pre-dumps while it runs, until the pages written stop shrinking.
    std::string dumpdir = default_dumpdir(ct) + "-migrate";
    (void)make_dirs(dumpdir, 0700);
    std::string parent;
    uint64_t last = UINT64_MAX;
    constexpr int kMaxRounds = 5;
    for (int round = 1; round <= kMaxRounds; ++round) {
      std::string name = "pre" + std::to_string(round);
      t = Clock::now();
      auto pd = pre_dump(ct, dumpdir, name, parent);
      if (!pd.ok())
        return keep_on_source(ct, false, std::move(pd).error().status(exitcode::kMigSourceStop),
                              link, opts);
      auto sent = send_dump_dir(link, dumpdir + "/" + name, name);
      if (!sent.ok()) return keep_on_source(ct, false, std::move(sent).error(), link, opts);
      ph.done("pre-dump " + std::to_string(round), t, *sent);
      sys::crash_point("migrate_predumped");
      parent = name;
      if (cancelled()) return keep_on_source(ct, false, cancel_error(), link, opts);
      if (pd->bytes >= last * 9 / 10 || pd->bytes < (1u << 20)) break;
      last = pd->bytes;
    }
    // 3. The files changed since the first copy, still running: the frozen copy is left with
    // what changes from here on.
    t = Clock::now();
    auto live = send_delta(ct, link, record, true);
    if (!live.ok()) return keep_on_source(ct, false, std::move(live).error(), link, opts);
    ph.delta("delta (running)", t, *live);
    if (cancelled()) return keep_on_source(ct, false, cancel_error(), link, opts);
    test_pause("freeze");
    // 4. Frozen: the final dump (only pages changed since the last pre-dump), then the files
    // changed since the last copy, then the dump; the destination restores.
    auto frozen = Clock::now();
    ChkpntOptions co;
    co.dumpdir = dumpdir + "/final";
    co.parent = parent.empty() ? "" : "../" + parent;
    co.leave_running = false;
    BERTH_RETURN_IF_ERROR(rec("dumped"));
    // From the dump on, the CT's processes exist only in it: a failure restores them here. If
    // that fails too, the dump and the record (PHASE dumped) stay: the next `start` or `migrate`
    // of the CT restores it from there (recover_killed_migration).
    auto undo = [&](Error e) -> Error {
      link.close();  // the destination's copy is gone before the CT comes back here
      UndumpOptions ro;
      ro.dumpdir = co.dumpdir;
      auto r = restore_checkpoint(ct, ro);
      if (!r.ok())
        return e.context("migration failed and CT " + ctid +
                         " could not be restored on this host (its dump is kept in " + co.dumpdir +
                         "; `start` restores it from there): " + r.error().message());
      remove_marker(host, kOut, ctid);
      (void)sys::remove_tree(dumpdir);
      return e.context("migration failed, CT " + ctid + " runs on this host again");
    };
    auto ck = checkpoint(ct, co);
    if (!ck.ok()) {
      // A checkpoint that failed after its dump was complete and the CT's processes were gone
      // (its teardown: the network, the unmount of its root or disk): the dump is all there is
      // of them, never thrown away.
      auto now = state::query_status(ct);
      if (dump_complete(co.dumpdir) && now.ok() && !now->running)
        return undo(std::move(ck).error().status(exitcode::kMigSourceStop));
      return keep_on_source(ct, false, std::move(ck).error().status(exitcode::kMigSourceStop), link,
                            opts);
    }
    ph.done("checkpoint", frozen, ck->bytes);
    sys::crash_point("migrate_dumped");
    t = Clock::now();
    auto second = send_delta(ct, link, record, false);
    if (!second.ok()) return undo(std::move(second).error());
    ph.delta("delta (frozen)", t, *second);
    t = Clock::now();
    auto sent = send_dump_dir(link, co.dumpdir, "final");
    if (!sent.ok()) return undo(std::move(sent).error());
    ph.done("dump", t, ck->bytes);
    t = Clock::now();
    if (auto st = link.send(Frame::kRestore, {}); !st.ok()) return undo(std::move(st).error());
    if (auto r = link.reply(exitcode::kMigDestStart); !r.ok()) return undo(std::move(r).error());
    ph.done("restore", t, 0);
    sys::crash_point("migrate_restored");
    say("CT " + ctid + " was frozen for " + std::to_string(static_cast<long>(ms_since(frozen))) +
        " ms");
    BERTH_RETURN_IF_ERROR(rec("committing"));
    if (auto st = link.send(Frame::kCommit, {}); !st.ok()) return st;
    BERTH_RETURN_IF_ERROR(link.reply(exitcode::kMigCopy));
    sys::crash_point("migrate_committed");
    link.close();
    (void)sys::remove_tree(dumpdir);
    BERTH_RETURN_IF_ERROR(finish_source(ct, opts, say));
    ph.done("total", t_all, link.sent());
    return {};
  }

  // Offline: stop, copy, create (and start) there, commit, remove here.
  if (cancelled()) return keep_on_source(ct, false, cancel_error(), link, opts);
  if (s.running) {
    t = Clock::now();
    say("Stopping CT " + ctid);
    if (auto st = stop(ct, {}); !st.ok())
      return keep_on_source(ct, false, std::move(st).error().status(exitcode::kMigSourceStop), link,
                            opts);
    ph.done("stop", t, 0);
  }
  sys::crash_point("migrate_stopped");
  t = Clock::now();
  TreeRecord record;
  auto rep = send_tree(ct, link, opts.progress, record);
  if (!rep.ok()) return keep_on_source(ct, ran, std::move(rep).error(), link, opts);
  ph.done("copy", t, rep->bytes);
  t = Clock::now();
  auto snaps = send_snapshots(ct, link);
  if (!snaps.ok()) return keep_on_source(ct, ran, std::move(snaps).error(), link, opts);
  if (*snaps) ph.done("snapshots", t, *snaps);
  sys::crash_point("migrate_copied");
  if (ran) {
    t = Clock::now();
    if (auto st = link.send(Frame::kStart, {}); !st.ok())
      return keep_on_source(ct, ran, std::move(st).error(), link, opts);
    if (auto r = link.reply(exitcode::kMigDestStart); !r.ok())
      return keep_on_source(ct, ran, std::move(r).error(), link, opts);
    ph.done("start there", t, 0);
  }
  sys::crash_point("migrate_started");
  BERTH_RETURN_IF_ERROR(rec("committing"));
  if (auto st = link.send(Frame::kCommit, {}); !st.ok())
    return keep_on_source(ct, ran, std::move(st).error(), link, opts);
  if (auto r = link.reply(exitcode::kMigCopy); !r.ok())
    return std::move(r).error().context(
        "the commit's answer was lost: run the same migrate again to finish it (CT " + ctid +
        " is stopped on this host)");
  sys::crash_point("migrate_committed");
  link.close();
  BERTH_RETURN_IF_ERROR(finish_source(ct, opts, say));
  ph.done("total", t_all, link.sent());
  return {};
}

// ---- the receiver ----

// A tree's archive as kData frames up to a kEnd, read as a byte stream.
struct FrameSource {
  int in;
  std::string pending;
  size_t pos = 0;
  bool ended = false;
  Result<size_t> read(void* buf, size_t n) {
    while (pos >= pending.size()) {
      if (ended) return size_t{0};
      BERTH_ASSIGN_OR_RETURN(auto nf, mig::read_frame(in));
      if (nf.type == Frame::kEnd) {
        ended = true;
        return size_t{0};
      }
      if (nf.type != Frame::kData)
        return Error::with_status(exitcode::kMigUsage, "bad stream: unexpected frame");
      pending = std::move(nf.payload);
      pos = 0;
    }
    size_t k = std::min(n, pending.size() - pos);
    std::memcpy(buf, pending.data() + pos, k);
    pos += k;
    return k;
  }
  // What the archive reader left (padding after the end of the tar), up to the kEnd.
  Status drain() {
    while (!ended) {
      BERTH_ASSIGN_OR_RETURN(auto nf, mig::read_frame(in));
      if (nf.type == Frame::kEnd)
        ended = true;
      else if (nf.type != Frame::kData)
        return Error::with_status(exitcode::kMigUsage, "bad stream: unexpected frame");
    }
    return {};
  }
};

// Removal lists as kRemove frames up to a kEnd; at most kMaxRemovalBytes of them.
Result<std::vector<std::string>> read_removals(int in) {
  constexpr size_t kMaxRemovalBytes = 256u << 20;
  std::vector<std::string> out;
  size_t bytes = 0;
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(auto f, mig::read_frame(in));
    if (f.type == Frame::kEnd) return out;
    if (f.type != Frame::kRemove)
      return Error::with_status(exitcode::kMigUsage, "bad stream: unexpected frame in removals");
    bytes += f.payload.size();
    if (bytes > kMaxRemovalBytes)
      return Error::with_status(exitcode::kMigUsage, "bad stream: too many removals");
    BERTH_ASSIGN_OR_RETURN(auto paths, parse_removals(f.payload));
    for (auto& p : paths) out.push_back(std::move(p));
  }
}

class Receiver {
 public:
  Receiver(const HostConfig& host, int in, int out) : host_(host), in_(in), out_(out) {}
  int run();

 private:
  int fail(int status, const std::string& msg) {
    (void)mig::write_frame(out_, Frame::kReply, mig::encode_reply(status, msg));
    std::fprintf(stderr, "berth _migrate-recv: %s\n", msg.c_str());
    return status;
  }
  Status ok(const std::string& msg) {
    return mig::write_frame(out_, Frame::kReply, mig::encode_reply(0, msg));
  }
  Status preflight(const std::string& conf_text);
  void cleanup();
  Status receive_dump_file(const std::string& rel);
  Status receive_template(const std::string& file_name);
  Status receive_delta();
  Status receive_snapshot_index(const std::string& json);
  Status receive_snapshot(const std::string& header);
  Status receive_image_snapshot(const CtConfig& ct, const mig::SnapshotHeader& h,
                                const ByteSource& src);
  bool snapshots_complete() const { return snaps_left_.empty(); }
  Status remove_leftover(const std::string& ctid);
  Status restore_here();

  const HostConfig& host_;
  int in_, out_;
  mig::Hello hello_;
  bool made_ = false;
  std::string need_template_;      // the CT's OS template, not on this host: the source sends it
  std::string imported_template_;  // imported for this migration: removed unless it commits
  // The snapshot index received (kSnapshots) and the snapshots of it still to come; the index
  // is written once the last one is in.
  std::optional<storage::SnapshotIndex> snaps_;
  std::set<std::string> snaps_left_;
};

Status Receiver::remove_leftover(const std::string& ctid) {
  auto ct = CtConfig::load(host_, ctid);
  if (ct.ok()) {
    (void)stop(*ct, {true, false});
    release_snapshot_stages(*ct);
    if (auto d = destroy(*ct); !d.ok() && d.error().exit_status() != exitcode::kNoConfig) return d;
  }
  (void)sys::remove_tree(default_dumpdir(CtConfig(host_, ctid, ConfFile())));
  remove_marker(host_, kIn, ctid);
  return {};
}

Status Receiver::preflight(const std::string& conf_text) {
  const std::string& ctid = hello_.ctid;
  if (hello_.protocol != mig::kProtocol)
    return Error::with_status(
        exitcode::kMigVersion,
        "migration protocol " + std::to_string(hello_.protocol) + " (berth " + hello_.version +
            ") is not this host's " + std::to_string(mig::kProtocol) +
            " (berth " BERTH_VERSION "): run the same berth version on both hosts");
  if (read_marker(host_, kIn, ctid)) {
    std::fprintf(stderr, "CT %s: removing what a killed migration left here\n", ctid.c_str());
    BERTH_RETURN_IF_ERROR(remove_leftover(ctid));
  }
  if (::access(host_.ct_conf_path(ctid).c_str(), F_OK) == 0)
    return Error::with_status(exitcode::kMigExists, "CT " + ctid + " exists on this host");
  ConfFile conf = ConfFile::parse(conf_text);
  // A privileged CT is host root wherever it runs: this host's admin trusts it by creating it
  // here (--i-trust-this-vps), never because a stream said PRIVILEGED_TRUSTED.
  if (conf.get_or("LOCAL_UID", "") == "0" || conf.get_or("LOCAL_GID", "") == "0")
    return Error::with_status(exitcode::kMigDestStart,
                              "CT " + ctid +
                                  " is privileged (LOCAL_UID=0: its root is host root): not "
                                  "accepted by migration");
  // A template this host lacks comes along with the CT (the source sends its archive).
  std::string tmpl = conf.get_or("OSTEMPLATE", "");
  if (!tmpl.empty() && !tmpl::find_cache_archive(host_, tmpl).ok()) {
    BERTH_RETURN_IF_ERROR(tmpl::validate_template_name(tmpl)
                              .status(exitcode::kMigDestStart)
                              .context("its OSTEMPLATE"));
    need_template_ = tmpl;
  }
  // Validated as create validates it, with this host's paths and no id range yet.
  conf.set("VE_ROOT", host_.default_ve_root());
  conf.set("VE_PRIVATE", host_.default_ve_private());
  CtConfig ct(host_, ctid, conf);
  if (auto v = validate_config(ct); !v.ok())
    return std::move(v).error().status(exitcode::kMigDestStart).context("its config");
  auto addrs = net::parse_ip_list(conf.get_or("IP_ADDRESS", ""));
  if (!addrs.ok()) return std::move(addrs).error().status(exitcode::kMigDestStart);
  if (auto a = net::check_routed_addresses(ct, *addrs); !a.ok())
    return std::move(a).error().status(exitcode::kMigIpInUse);
  if (hello_.mode == "online") {
    if (std::string why = criu_unusable_reason(); !why.empty())
      return Error::with_status(exitcode::kMigVersion, "CRIU cannot restore here: " + why);
  }
  return {};
}

// Online: the CT's processes from the dump files received (the final dump and its parents).
Status Receiver::restore_here() {
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host_, hello_.ctid));
  // CRIU finds a dump's earlier pages through a "parent" link in its directory: the files came
  // without them, so the chain pre1 <- pre2 <- ... <- final is linked again here.
  const std::string base = default_dumpdir(ct) + "-migrate";
  int last = 0;
  while (sys::is_dir(base + "/pre" + std::to_string(last + 1))) ++last;
  for (int i = 2; i <= last + 1; ++i) {
    std::string dir =
        base + "/" + (i == last + 1 ? std::string("final") : "pre" + std::to_string(i));
    if (!sys::is_dir(dir)) continue;
    std::string link = dir + "/parent";
    ::unlink(link.c_str());
    if (::symlink(("../pre" + std::to_string(i - 1)).c_str(), link.c_str()) != 0)
      return Error::from_errno(errno, "link `" + link + "`").status(exitcode::kMigDestStart);
  }
  UndumpOptions ro;
  ro.dumpdir = base + "/final";
  BERTH_RETURN_IF_ERROR(restore_checkpoint(ct, ro));
  return {};
}

Status Receiver::receive_dump_file(const std::string& rel) {
  if (!mig::is_dump_file_name(rel)) {
    std::string shown = rel.substr(0, 80);
    return Error::with_status(exitcode::kMigUsage, "bad stream: dump file name `" + shown + "`");
  }
  CtConfig ct(host_, hello_.ctid, ConfFile());
  std::string base = default_dumpdir(ct) + "-migrate";
  BERTH_RETURN_IF_ERROR(make_dirs(base, 0700));
  std::string dir = rel.substr(0, rel.find('/')), name = rel.substr(rel.find('/') + 1);
  UniqueFd bfd(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!bfd) return Error::from_errno(errno, "open `" + base + "`");
  if (::mkdirat(bfd.get(), dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + dir + "`");
  UniqueFd dfd(::openat(bfd.get(), dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd) return Error::from_errno(errno, "open `" + dir + "`");
  UniqueFd fd(::openat(dfd.get(), name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "create `" + rel + "`");
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(auto f, mig::read_frame(in_));
    if (f.type == Frame::kEnd) return {};
    if (f.type != Frame::kData)
      return Error::with_status(exitcode::kMigUsage, "bad stream: unexpected frame in a file");
    if (::write(fd.get(), f.payload.data(), f.payload.size()) !=
        static_cast<ssize_t>(f.payload.size()))
      return Error::from_errno(errno, "write `" + rel + "`").status(exitcode::kMigCopy);
  }
}

// A later copy of the tree: the changed entries' archive, then the paths gone (kDelta).
Status Receiver::receive_delta() {
  FrameSource fs{in_, {}};
  ByteSource src = [&](void* buf, size_t n) { return fs.read(buf, n); };
  auto rep =
      import_delta_stream(host_, hello_.ctid, src, [&]() -> Result<std::vector<std::string>> {
        BERTH_RETURN_IF_ERROR(fs.drain());
        return read_removals(in_);
      });
  if (!rep.ok()) return std::move(rep).error();
  return {};
}

// The source's snapshot index: hostile input like the rest. Every uuid a lower-case uuid, each
// once, every snapshot a tree (its file is its uuid), parents and current among them; kept
// until its snapshots are in (receive_snapshot).
Status Receiver::receive_snapshot_index(const std::string& json) {
  auto bad = [](const std::string& what) {
    return Error::with_status(exitcode::kMigUsage, "bad stream: snapshot index: " + what);
  };
  auto idx = storage::index_from_json(json);
  if (!idx.ok()) return bad(idx.error().message());
  constexpr size_t kMaxSnapshots = 4096;
  if (idx->entries.empty() || idx->entries.size() > kMaxSnapshots)
    return bad(std::to_string(idx->entries.size()) + " snapshots");
  std::set<std::string> uuids;
  for (auto& e : idx->entries) {
    if (e.uuid.find_first_of("ABCDEF") != std::string::npos || !uuids.insert(e.uuid).second)
      return bad("uuid `" + e.uuid + "`");
    if (e.file != e.uuid && e.file != e.uuid + ".img") return bad("file `" + e.file + "`");
    // Shown by snapshot-list: bounded, no control characters.
    for (const std::string* text : {&e.name, &e.description, &e.date})
      if (text->size() > 4096 || std::any_of(text->begin(), text->end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
          }))
        return bad("snapshot " + e.uuid + ": a name, description or date that is not text");
    e.mounted_at.clear();
    e.size = 0;  // measured here once written
  }
  for (const auto& e : idx->entries)
    if (!e.parent.empty() && !uuids.count(e.parent)) return bad("parent `" + e.parent + "`");
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host_, hello_.ctid));
  // The kind of every snapshot is the CT's here: an image with a disk, a tree without.
  const bool disk = storage::has_disk(ct);
  for (const auto& e : idx->entries)
    if (is_image_snapshot(e) != disk)
      return bad("snapshot " + e.uuid + (disk ? " is a tree" : " is an image") + ", CT " +
                 hello_.ctid + (disk ? " has a disk here" : " has no disk here"));
  BERTH_ASSIGN_OR_RETURN(auto here, storage::load_index(ct));
  if (!here.entries.empty()) return bad("CT " + hello_.ctid + " has snapshots here already");
  std::string dir = storage::snapshots_dir(ct);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + dir + "`");
  snaps_left_ = std::move(uuids);
  snaps_ = std::move(*idx);
  return {};
}

// One snapshot: its config (checked as the CT's own is) and its tree, written below
// <snapshots>/<uuid>/<upper|root> under import's rules, as `snapshot` would have made it.
Status Receiver::receive_snapshot(const std::string& header) {
  BERTH_ASSIGN_OR_RETURN(mig::SnapshotHeader h, mig::parse_snapshot_header(header));
  if (!snaps_left_.erase(h.uuid))
    return Error::with_status(exitcode::kMigUsage, "bad stream: snapshot " + h.uuid +
                                                       " is not in the index or came twice");
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host_, hello_.ctid));
  storage::SnapshotEntry* e = snaps_->find(h.uuid);
  const std::string dir = storage::snapshots_dir(ct);
  if (h.has_config) {
    ConfFile conf = ConfFile::parse(h.conf);
    for (const char* key : {"VE_PRIVATE", "VE_ROOT", "LOCAL_UID", "LOCAL_GID"}) {
      if (auto v = ct.conf().get(key))
        conf.set(key, *v);
      else
        conf.erase(key);
    }
    if (auto v = validate_config(CtConfig(host_, hello_.ctid, conf)); !v.ok())
      return std::move(v)
          .error()
          .status(exitcode::kMigCopy)
          .context("snapshot " + h.uuid + "'s config");
    BERTH_RETURN_IF_ERROR(write_file_atomic(dir + "/" + h.uuid + ".conf", h.conf, 0600));
  }
  e->has_config = h.has_config;
  if (is_image_snapshot(*e) != (h.image_bytes > 0))
    return Error::with_status(exitcode::kMigUsage,
                              "bad stream: snapshot " + h.uuid + " is not of the index's kind");
  FrameSource fs{in_, {}};
  ByteSource src = [&](void* buf, size_t n) { return fs.read(buf, n); };
  if (h.image_bytes) {
    BERTH_RETURN_IF_ERROR(receive_image_snapshot(ct, h, src).context("snapshot " + h.uuid));
    BERTH_RETURN_IF_ERROR(fs.drain());
    e->size = storage::allocated_bytes(dir + "/" + e->file);
    if (snapshots_complete()) BERTH_RETURN_IF_ERROR(storage::save_index(ct, *snaps_));
    return {};
  }
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd) return Error::from_errno(errno, "open `" + dir + "`");
  if (::mkdirat(dfd.get(), h.uuid.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir `" + dir + "/" + h.uuid + "`");
  UniqueFd sfd(
      ::openat(dfd.get(), h.uuid.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sfd) return Error::from_errno(errno, "open `" + dir + "/" + h.uuid + "`");
  // The copy's top as `cp -a` of the live tree makes it: that tree's owner and mode.
  struct stat top;
  std::string live = snapshot_source_path(ct);
  if (::stat(live.c_str(), &top) != 0) return Error::from_errno(errno, "stat `" + live + "`");
  std::string leaf = ct.layout() == Layout::kSimfs ? "root" : "upper";
  if (::mkdirat(sfd.get(), leaf.c_str(), 0700) != 0)
    return Error::from_errno(errno, "mkdir `" + leaf + "`");
  UniqueFd lfd(::openat(sfd.get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!lfd || ::fchown(lfd.get(), top.st_uid, top.st_gid) != 0 ||
      ::fchmod(lfd.get(), top.st_mode & 07777) != 0)
    return Error::from_errno(errno, "set up `" + leaf + "` of snapshot " + h.uuid);
  BERTH_RETURN_IF_ERROR(import_dir_stream(ct, lfd.get(), src).context("snapshot " + h.uuid));
  BERTH_RETURN_IF_ERROR(fs.drain());
  e->size = storage::allocated_bytes(dir + "/" + h.uuid);
  if (snapshots_complete()) BERTH_RETURN_IF_ERROR(storage::save_index(ct, *snaps_));
  return {};
}

// A snapshot of a disk image: a new image of the header's size and inode count (as create
// makes the CT's), the stream's tree written into its file system (import's rules, this host's
// ids), the overlay's empty work dir and lost+found made as create and mkfs make them; renamed to
// <uuid>.img once complete (a part-made one is <uuid>.img.tmp, removed with the CT).
Status Receiver::receive_image_snapshot(const CtConfig& ct, const mig::SnapshotHeader& h,
                                        const ByteSource& src) {
  const std::string base = storage::snapshots_dir(ct) + "/" + h.uuid;
  const std::string img = base + ".img", tmp = img + ".tmp", stage = base + ".mnt";
  if (sys::path_exists(img)) return Error::from_errno(EEXIST, "`" + img + "`");
  ::unlink(tmp.c_str());
  ScopeExit drop_tmp([&] { ::unlink(tmp.c_str()); });
  BERTH_RETURN_IF_ERROR(storage::make_disk_image(tmp, h.image_bytes, h.image_inodes));
  if (::mkdir(stage.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + stage + "`");
  ScopeExit drop_stage([&] { ::rmdir(stage.c_str()); });
  BERTH_RETURN_IF_ERROR(storage::mount_image(tmp, stage));
  {
    ScopeExit unmount([&] { (void)sys::umount_tree(stage); });
    UniqueFd root(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) return Error::from_errno(errno, "open `" + stage + "`");
    BERTH_RETURN_IF_ERROR(import_dir_stream(ct, root.get(), src));
    sys::crash_point("migrate_recv_image");  // tests: the receiver killed mid-image
    std::vector<const char*> dirs{"lost+found"};
    if (ct.layout() != Layout::kImage) dirs.push_back("work");
    for (const char* d : dirs)
      if (::mkdirat(root.get(), d, 0700) != 0 && errno != EEXIST)
        return Error::from_errno(errno, std::string("mkdir `") + d + "`");
    if (::syncfs(root.get()) != 0) return Error::from_errno(errno, "sync `" + stage + "`");
  }
  if (::rename(tmp.c_str(), img.c_str()) != 0)
    return Error::from_errno(errno, "rename `" + tmp + "`");
  drop_tmp.dismiss();
  return {};
}

// The archive goes to a private directory of the template dir, then through the template
// import's own checks (its name and suffix, readable as an archive); it is unpacked later as any
// template is (hostile-archive rules).
Status Receiver::receive_template(const std::string& file_name) {
  auto parts = tmpl::split_archive_name(file_name);
  const std::string shown = file_name.substr(0, 80);
  if (!parts || parts->first != need_template_ || file_name.find('/') != std::string::npos)
    return Error::with_status(exitcode::kMigUsage, "bad stream: template archive `" + shown + "`");
  BERTH_RETURN_IF_ERROR(make_dirs(host_.paths().template_dir, 0755));
  std::string tmp = host_.paths().template_dir + "/.migrate-XXXXXX";
  if (::mkdtemp(tmp.data()) == nullptr)
    return Error::from_errno(errno, "mkdtemp in `" + host_.paths().template_dir + "`");
  ScopeExit gone([&] { (void)sys::remove_tree(tmp); });
  std::string path = tmp + "/" + file_name;
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno(errno, "create `" + path + "`");
    for (;;) {
      BERTH_ASSIGN_OR_RETURN(auto f, mig::read_frame(in_));
      if (f.type == Frame::kEnd) break;
      if (f.type != Frame::kData)
        return Error::with_status(exitcode::kMigUsage, "bad stream: unexpected frame in a file");
      if (::write(fd.get(), f.payload.data(), f.payload.size()) !=
          static_cast<ssize_t>(f.payload.size()))
        return Error::from_errno(errno, "write `" + path + "`").status(exitcode::kMigCopy);
    }
  }
  BERTH_RETURN_IF_ERROR(
      tmpl::import_template(host_, path, std::nullopt).status(exitcode::kMigDestStart));
  imported_template_ = need_template_;
  return {};
}

void Receiver::cleanup() {
  if (made_ && hello_.keep_dst) {
    auto ct = CtConfig::load(host_, hello_.ctid);
    if (ct.ok()) (void)stop(*ct, {true, false});
    remove_marker(host_, kIn, hello_.ctid);
    std::fprintf(stderr, "CT %s: the partial copy is kept here (--keep-dst), stopped\n",
                 hello_.ctid.c_str());
    return;  // with the template it needs
  }
  if (made_) {
    if (auto st = remove_leftover(hello_.ctid); !st.ok())
      std::fprintf(stderr, "CT %s: removing the partial copy: %s\n", hello_.ctid.c_str(),
                   st.error().message().c_str());
    else
      std::fprintf(stderr, "CT %s: the partial copy was removed from this host\n",
                   hello_.ctid.c_str());
  }
  // A template imported for a migration that did not commit goes too (refused, and kept, if a
  // CT of this host has come to use it meanwhile).
  if (!imported_template_.empty()) (void)tmpl::remove_template(host_, imported_template_);
}

int Receiver::run() {
  auto h = mig::read_frame(in_);
  if (!h.ok()) return fail(exitcode::kMigUsage, h.error().message());
  if (h->type != Frame::kHello) return fail(exitcode::kMigUsage, "bad stream: no hello");
  auto hello = mig::parse_hello(h->payload);
  if (!hello.ok()) return fail(exitcode::kMigUsage, hello.error().message());
  hello_ = *hello;
  auto c = mig::read_frame(in_);
  if (!c.ok() || c->type != Frame::kConfig)
    return fail(exitcode::kMigUsage, "bad stream: no config");
  if (c->payload.size() > (1u << 20)) return fail(exitcode::kMigUsage, "config too large");
  const std::string ctid = hello_.ctid;
  auto lock = lock_ct(host_, ctid, false);
  if (!lock.ok()) return fail(exitcode::kMigLocked, "CT " + ctid + " is locked on the destination");
  if (auto st = preflight(c->payload); !st.ok())
    return fail(st.error().exit_status(), st.error().message());
  std::string criu = hello_.mode == "online" ? ", CRIU " + criu_version() : "";
  std::string needs = need_template_.empty() ? "" : std::string(mig::kNeedsTemplate);
  if (!ok("berth " BERTH_VERSION + criu + needs).ok()) return exitcode::kMigConnect;
  if (hello_.mode == "check") return exitcode::kOk;

  // Everything from here is undone unless the source commits.
  // The import's progress lines stay here: the source's terminal gets errors and warnings only.
  auto say = [](const std::string&) {};
  bool committed = false;
  int rc = exitcode::kOk;
  bool first_tree = true;
  for (;;) {
    auto f = mig::read_frame(in_);
    if (!f.ok()) {
      rc = f.error().has_exit_status() ? f.error().exit_status() : exitcode::kMigConnect;
      std::fprintf(stderr, "CT %s: migration ended before its commit (%s)\n", ctid.c_str(),
                   f.error().message().c_str());
      break;
    }
    if (f->type == Frame::kQuit) break;
    if (f->type == Frame::kData) {
      // The tree's archive: this frame is its first block.
      if (first_tree) {
        if (auto st = write_marker(host_, kIn, ctid, "SOURCE=\"migrate\"\n"); !st.ok()) {
          rc = fail(exitcode::kMigCopy, st.error().message());
          break;
        }
        made_ = true;
      }
      FrameSource fs{in_, std::move(f->payload)};
      ByteSource src = [&](void* buf, size_t n) { return fs.read(buf, n); };
      Status st =
          import_stream(host_, ctid, c->payload, src, !first_tree, say, hello_.mode == "online");
      if (st.ok()) st = fs.drain();
      first_tree = false;
      if (!st.ok()) {
        rc = fail(exitcode::kMigCopy, "copy of CT " + ctid + " failed: " + st.error().message());
        break;
      }
      if (!ok("copied").ok()) break;
      continue;
    }
    if (f->type == Frame::kDelta && made_ && !first_tree) {
      if (auto st = receive_delta(); !st.ok()) {
        rc = fail(exitcode::kMigCopy, "copy of CT " + ctid + " failed: " + st.error().message());
        break;
      }
      if (!ok("copied").ok()) break;
      continue;
    }
    if (f->type == Frame::kSnapshots && made_ && !first_tree && !snaps_) {
      if (auto st = receive_snapshot_index(f->payload); !st.ok()) {
        rc = fail(st.error().has_exit_status() ? st.error().exit_status() : exitcode::kMigCopy,
                  st.error().message());
        break;
      }
      if (!ok("snapshot index taken").ok()) break;
      continue;
    }
    if (f->type == Frame::kSnapshot && snaps_ && !snapshots_complete()) {
      if (auto st = receive_snapshot(f->payload); !st.ok()) {
        rc = fail(st.error().has_exit_status() ? st.error().exit_status() : exitcode::kMigCopy,
                  "snapshots of CT " + ctid + ": " + st.error().message());
        break;
      }
      if (!ok("snapshot copied").ok()) break;
      continue;
    }
    if (!snapshots_complete() && f->type != Frame::kQuit) {
      rc = fail(exitcode::kMigUsage, "bad stream: snapshots of the index missing");
      break;
    }
    if (f->type == Frame::kTemplate && !need_template_.empty() && imported_template_.empty()) {
      if (auto st = receive_template(f->payload); !st.ok()) {
        rc = fail(st.error().has_exit_status() ? st.error().exit_status() : exitcode::kMigCopy,
                  "OS template of CT " + ctid + ": " + st.error().message());
        break;
      }
      if (!ok("template " + need_template_ + " imported").ok()) break;
      continue;
    }
    if (f->type == Frame::kFile && made_) {
      if (auto st = receive_dump_file(f->payload); !st.ok()) {
        rc = fail(st.error().has_exit_status() ? st.error().exit_status() : exitcode::kMigCopy,
                  st.error().message());
        break;
      }
      continue;
    }
    if ((f->type == Frame::kStart || f->type == Frame::kRestore) && made_) {
      bool start = f->type == Frame::kStart;
      Status up = start ? run_self({"start", ctid, "--wait"}) : restore_here();
      if (!up.ok()) {
        rc = fail(exitcode::kMigDestStart, std::string(start ? "start" : "restore") + " of CT " +
                                               ctid + " failed: " + up.error().message());
        break;
      }
      if (!ok("running").ok()) break;
      continue;
    }
    if (f->type == Frame::kCommit && made_) {
      remove_marker(host_, kIn, ctid);
      (void)sys::remove_tree(default_dumpdir(CtConfig(host_, ctid, ConfFile())) + "-migrate");
      committed = true;
      (void)ok("committed");
      break;
    }
    rc = fail(exitcode::kMigUsage, "bad stream: unexpected frame");
    break;
  }
  if (!committed) {
    cleanup();
    if (rc == exitcode::kOk) rc = exitcode::kMigCopy;
  }
  return rc;
}

}  // namespace

Status migrate(const HostConfig& host, const std::string& ctid, const MigrateOptions& opts,
               const Say& say) {
  ::signal(SIGPIPE, SIG_IGN);
  for (char c : opts.remote_berth)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
          c == '-' || c == '+'))
      return Error::with_status(exitcode::kMigUsage,
                                "--remote-berth `" + opts.remote_berth +
                                    "`: only letters, digits and / . _ - + are allowed");
  if (opts.dest.empty() || opts.dest.front() == '-')
    return Error::with_status(exitcode::kMigUsage, "destination `" + opts.dest + "` is not a host");
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok())
    return Error::with_status(exitcode::kMigNoSource,
                              "CT " + ctid + " does not exist on this host");
  auto lock = lock_ct(host, ctid, false);
  if (!lock.ok()) return std::move(lock).error().status(exitcode::kMigLocked);
  return migrate_locked(host, *ct, opts, say);
}

int migrate_receive(const HostConfig& host, int in, int out) {
  ::signal(SIGPIPE, SIG_IGN);
  Receiver r(host, in, out);
  return r.run();
}

Result<bool> recover_killed_migration(const CtConfig& ct, const Say& say) {
  const std::string& ctid = ct.ctid();
  std::optional<ConfFile> marker = read_marker(ct.host(), kOut, ctid);
  if (!marker || marker->get_or("PHASE", "") != "dumped") return false;
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (s.running) return false;
  std::string final_dir = default_dumpdir(ct) + "-migrate/final";
  if (!dump_complete(final_dir)) return false;
  say("Restoring CT " + ctid + " from the dump a killed migration left in " + final_dir);
  UndumpOptions ro;
  ro.dumpdir = final_dir;
  auto r = restore_checkpoint(ct, ro);
  if (!r.ok())
    return std::move(r)
        .error()
        .status(exitcode::kMigSourceStop)
        .context("CT " + ctid + " is stopped here; its dump is kept in " + final_dir);
  (void)sys::remove_tree(default_dumpdir(ct) + "-migrate");
  remove_marker(ct.host(), kOut, ctid);
  return true;
}

void forget_killed_receive(const HostConfig& host, const std::string& ctid) {
  remove_marker(host, kIn, ctid);
}

std::string migrated_away_to(const HostConfig& host, const std::string& ctid) {
  auto m = read_marker(host, kOut, ctid);
  if (!m || m->get_or("PHASE", "") != "committing") return "";
  return m->get_or("DEST", "?");
}

}  // namespace berth::runtime
