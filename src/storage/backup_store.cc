#include "storage/backup_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <cctype>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/host_config.h"

namespace berth::storage {
namespace {

constexpr int kZstdLevel = 3;

Result<std::string> read_all(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "read `" + path + "`");
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::vector<std::string> dir_names(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (struct dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

ChunkId sha256(const uint8_t* data, size_t n) {
  static_assert(sizeof(ChunkId) == SHA256_DIGEST_SIZE);
  ChunkId id{};
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, n, data);
  sha256_digest(&ctx, id.size(), id.data());
  return id;
}

Status remove_dir_files(const std::string& dir) {
  for (const auto& n : dir_names(dir)) ::unlink((dir + "/" + n).c_str());
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove `" + dir + "`");
  return {};
}

}  // namespace

bool is_backup_id(std::string_view id) {
  if (id.empty() || id.size() > 200 || id.front() == '.' || id.front() == '-') return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

Result<BackupStore> BackupStore::open_unlocked(const std::string& dir) {
  struct stat st;
  int err = ::stat((dir + "/backups").c_str(), &st) != 0 ? errno : 0;
  if (err == 0 && !S_ISDIR(st.st_mode)) err = ENOTDIR;
  if (err != 0)
    return Error::from_errno(err, "backup store `" + dir + "`").status(exitcode::kBackupNotFound);
  return BackupStore(dir, UniqueFd());
}

Result<BackupStore> BackupStore::open(const std::string& dir, bool exclusive, bool create) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT || !create)
      return Error::from_errno(errno, "backup store `" + dir + "`")
          .status(exitcode::kBackupNotFound);
    size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0)
      BERTH_RETURN_IF_ERROR(make_dirs(dir.substr(0, slash), 0755));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + dir + "`");
  }
  // The store holds every VPS's files with their owners and setuid bits: host root only.
  if (::chmod(dir.c_str(), 0700) != 0) return Error::from_errno(errno, "chmod `" + dir + "`");
  for (const char* sub : {"/chunks", "/backups"})
    if (::mkdir((dir + sub).c_str(), 0700) != 0 && errno != EEXIST)
      return Error::from_errno(errno, "mkdir `" + dir + sub + "`");
  std::string lock_path = dir + "/lock";
  UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno(errno, "open `" + lock_path + "`");
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0)
    if (errno != EINTR) return Error::from_errno(errno, "lock `" + lock_path + "`");
  BackupStore store(dir, std::move(fd));
  if (exclusive) {
    auto r = store.repair();
    if (!r.ok()) return std::move(r).error().context("repair backup store `" + dir + "`");
    if (r->incomplete_backups || r->temp_files)
      std::fprintf(stderr,
                   "berth: backup store `%s`: removed %llu incomplete backup(s), %llu temp "
                   "file(s), %llu unreferenced chunk(s) a killed command left\n",
                   dir.c_str(), static_cast<unsigned long long>(r->incomplete_backups),
                   static_cast<unsigned long long>(r->temp_files),
                   static_cast<unsigned long long>(r->chunks_removed));
  }
  return store;
}

std::string BackupStore::chunk_path(const ChunkId& id) const {
  std::string hex = chunk_hex(id);
  return dir_ + "/chunks/" + hex.substr(0, 2) + "/" + hex;
}

Result<uint64_t> BackupStore::put_chunk(const uint8_t* data, size_t n, ChunkId* id) {
  *id = sha256(data, n);
  return put_named_chunk(*id, data, n);
}

Result<uint64_t> BackupStore::put_named_chunk(const ChunkId& id, const uint8_t* data,
                                              size_t n) const {
  std::string path = chunk_path(id);
  if (::access(path.c_str(), F_OK) == 0) return uint64_t{0};
  std::string sub = path.substr(0, path.rfind('/'));
  if (::mkdir(sub.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(errno, "mkdir `" + sub + "`");
  // One context per thread: ZSTD_compress() would allocate and free its tables per chunk.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(),
                                                                       ZSTD_freeCCtx);
  thread_local std::string packed;
  packed.resize(ZSTD_compressBound(n));
  size_t z = ZSTD_compressCCtx(cctx.get(), packed.data(), packed.size(), data, n, kZstdLevel);
  if (ZSTD_isError(z)) return Error::invalid(std::string("zstd: ") + ZSTD_getErrorName(z));
  // Unique per writer thread too: two threads may store the same new chunk at once (the second
  // rename replaces the first's file with the same bytes).
  static std::atomic<uint64_t> seq{0};
  std::string tmp = sub + "/.tmp-" + chunk_hex(id).substr(0, 16) + "-" + std::to_string(getpid()) +
                    "-" + std::to_string(seq.fetch_add(1));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "create `" + tmp + "`");
  size_t off = 0;
  while (off < z) {
    ssize_t w = ::write(fd.get(), packed.data() + off, z - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return Error::from_errno(err, "write `" + tmp + "`").status(exitcode::kNoDiskSpace);
    }
    off += static_cast<size_t>(w);
  }
  fd.reset();
  // No fsync here: write_backup() syncs the whole store's filesystem once before the index that
  // names these chunks is written, which orders every chunk before the index on disk.
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno(err, "rename `" + tmp + "`");
  }
  return static_cast<uint64_t>(z);
}

ChunkWriter::ChunkWriter(const BackupStore& store, unsigned threads) : store_(store) {
  if (threads == 0) threads = 1;
  max_queued_ = 4 * threads;
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ChunkWriter::~ChunkWriter() { stop(); }

void ChunkWriter::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  ready_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Result<uint64_t> ChunkWriter::submit(std::vector<uint8_t> data) {
  std::unique_lock<std::mutex> l(mu_);
  space_.wait(l, [&] { return queue_.size() < max_queued_ || !error_.ok(); });
  if (!error_.ok()) return Error(error_.error());
  uint64_t ticket = ids_.size();
  ids_.emplace_back();
  queue_.push_back({ticket, std::move(data)});
  l.unlock();
  ready_.notify_one();
  return ticket;
}

Result<std::vector<ChunkId>> ChunkWriter::finish(uint64_t* new_bytes) {
  stop();
  if (!error_.ok()) return Error(error_.error());
  *new_bytes = new_bytes_;
  return std::move(ids_);
}

void ChunkWriter::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> l(mu_);
      ready_.wait(l, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    space_.notify_one();
    ChunkId id = sha256(job.data.data(), job.data.size());
    bool first;
    {
      std::lock_guard<std::mutex> l(mu_);
      ids_[job.ticket] = id;
      // The same content twice in one backup: one thread stores it.
      first = error_.ok() && claimed_.insert(id).second;
    }
    if (!first) continue;
    auto added = store_.put_named_chunk(id, job.data.data(), job.data.size());
    std::lock_guard<std::mutex> l(mu_);
    if (added.ok()) {
      new_bytes_ += *added;
    } else if (error_.ok()) {
      error_ = std::move(added).error();
      space_.notify_all();
    }
  }
}

Result<std::string> BackupStore::read_chunk(const ChunkRef& ref) const {
  std::string path = chunk_path(ref.id);
  BERTH_ASSIGN_OR_RETURN(std::string packed, read_all(path));
  unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != ref.size)
    return Error::invalid("chunk " + chunk_hex(ref.id) + ": bad zstd frame or size");
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != size)
    return Error::invalid("chunk " + chunk_hex(ref.id) + ": does not decompress");
  if (sha256(reinterpret_cast<const uint8_t*>(out.data()), out.size()) != ref.id)
    return Error::invalid("chunk " + chunk_hex(ref.id) + ": content does not match its name");
  return out;
}

Status BackupStore::write_backup(const BackupMeta& meta, const std::vector<IndexEntry>& index,
                                 const std::string& conf) {
  std::string dir = dir_ + "/backups/" + meta.id;
  if (::mkdir(dir.c_str(), 0700) != 0) return Error::from_errno(errno, "mkdir `" + dir + "`");
  // The chunks' data reaches the disk before an index refers to them.
  if (::syncfs(lock_.get()) != 0) return Error::from_errno(errno, "syncfs `" + dir_ + "`");
  std::string raw = encode_index(index);
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  size_t z = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(z)) return Error::invalid(std::string("zstd: ") + ZSTD_getErrorName(z));
  packed.resize(z);
  BERTH_RETURN_IF_ERROR(write_file_atomic(dir + "/index.zst", packed, 0600));
  BERTH_RETURN_IF_ERROR(write_file_atomic(dir + "/ve.conf", conf, 0600));
  nlohmann::json j = {{"version", 1},
                      {"id", meta.id},
                      {"ctid", meta.ctid},
                      {"created", meta.created},
                      {"files", meta.files},
                      {"logical", meta.logical},
                      {"new_bytes", meta.new_bytes},
                      {"ostemplate", meta.ostemplate},
                      {"layout", meta.layout},
                      {"consistent", meta.consistent}};
  return write_file_atomic(dir + "/meta.json", j.dump(2) + "\n", 0600);
}

Result<BackupMeta> BackupStore::meta(const std::string& id) const {
  if (!is_backup_id(id))
    return Error::with_status(exitcode::kBackupNotFound, "`" + id + "` is not a backup id");
  auto text = read_all(dir_ + "/backups/" + id + "/meta.json");
  if (!text.ok())
    return Error::with_status(exitcode::kBackupNotFound,
                              "backup " + id + " not found in `" + dir_ + "`");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::invalid("backup " + id + ": meta.json does not parse");
  BackupMeta m;
  m.id = id;
  m.ctid = j.value("ctid", "");
  m.created = j.value("created", int64_t{0});
  m.files = j.value("files", uint64_t{0});
  m.logical = j.value("logical", uint64_t{0});
  m.new_bytes = j.value("new_bytes", uint64_t{0});
  m.ostemplate = j.value("ostemplate", "");
  m.layout = j.value("layout", "");
  m.consistent = j.value("consistent", true);
  return m;
}

Result<std::vector<BackupMeta>> BackupStore::list() const {
  std::vector<BackupMeta> out;
  for (const auto& n : dir_names(dir_ + "/backups")) {
    if (!is_backup_id(n) || ::access((dir_ + "/backups/" + n + "/meta.json").c_str(), F_OK) != 0)
      continue;
    auto m = meta(n);
    if (m.ok()) out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](const BackupMeta& a, const BackupMeta& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  return out;
}

Result<std::vector<IndexEntry>> BackupStore::index(const std::string& id) const {
  BERTH_ASSIGN_OR_RETURN(BackupMeta m, meta(id));
  BERTH_ASSIGN_OR_RETURN(std::string packed, read_all(dir_ + "/backups/" + id + "/index.zst"));
  unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ULL << 34))
    return Error::invalid("backup " + id + ": index is not a zstd frame");
  std::string raw(size, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != size)
    return Error::invalid("backup " + id + ": index does not decompress");
  auto entries = decode_index(raw);
  if (!entries.ok()) return std::move(entries).error().context("backup " + id);
  return entries;
}

Result<std::string> BackupStore::conf(const std::string& id) const {
  return read_all(dir_ + "/backups/" + id + "/ve.conf");
}

Result<std::vector<BackupUsage>> BackupStore::usage() const {
  BERTH_ASSIGN_OR_RETURN(std::vector<BackupMeta> all, list());
  std::vector<std::set<ChunkId>> sets;
  std::map<ChunkId, unsigned> refs;
  for (const auto& m : all) {
    std::set<ChunkId> s;
    auto idx = index(m.id);
    if (idx.ok())
      for (const auto& e : *idx)
        for (const auto& c : e.chunks) s.insert(c.id);
    for (const auto& c : s) ++refs[c];
    sets.push_back(std::move(s));
  }
  std::map<ChunkId, uint64_t> sizes;
  for (const auto& [id, n] : refs) {
    struct stat st;
    sizes[id] = ::stat(chunk_path(id).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  std::vector<BackupUsage> out;
  for (size_t i = 0; i < all.size(); ++i) {
    BackupUsage u{all[i]};
    for (const auto& c : sets[i]) (refs[c] == 1 ? u.stored : u.shared) += sizes[c];
    out.push_back(std::move(u));
  }
  return out;
}

Result<SweepResult> BackupStore::repair() {
  SweepResult r;
  std::set<ChunkId> live;
  bool keep_all = false;
  for (const auto& n : dir_names(dir_ + "/backups")) {
    std::string b = dir_ + "/backups/" + n;
    if (!is_backup_id(n) || ::access((b + "/meta.json").c_str(), F_OK) != 0) {
      BERTH_RETURN_IF_ERROR(remove_dir_files(b));
      ++r.incomplete_backups;
      continue;
    }
    auto idx = index(n);
    // An index that does not read keeps every chunk: never delete data on a guess (verify
    // names the broken backup; deleting it lets the sweep run again).
    if (!idx.ok()) {
      if (!keep_all)
        std::fprintf(stderr, "berth: backup store `%s`: %s; no chunk is removed\n", dir_.c_str(),
                     idx.error().message().c_str());
      keep_all = true;
      continue;
    }
    for (const auto& e : *idx)
      for (const auto& c : e.chunks) live.insert(c.id);
  }
  for (const auto& sub : dir_names(dir_ + "/chunks")) {
    std::string sd = dir_ + "/chunks/" + sub;
    for (const auto& n : dir_names(sd)) {
      std::string p = sd + "/" + n;
      ChunkId id;
      bool temp = n.starts_with(".tmp-");
      if (!temp && (keep_all || (parse_chunk_hex(n, &id) && live.count(id)))) continue;
      struct stat st;
      if (::lstat(p.c_str(), &st) == 0) r.bytes_freed += static_cast<uint64_t>(st.st_size);
      if (::unlink(p.c_str()) != 0 && errno != ENOENT)
        return Error::from_errno(errno, "remove `" + p + "`");
      ++(temp ? r.temp_files : r.chunks_removed);
    }
  }
  return r;
}

Result<SweepResult> BackupStore::remove(const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(BackupMeta m, meta(id));
  std::string dir = dir_ + "/backups/" + id;
  // meta.json first: from then on the backup is incomplete, and a killed delete is finished by
  // the next writer's repair.
  if (::unlink((dir + "/meta.json").c_str()) != 0)
    return Error::from_errno(errno, "remove `" + dir + "/meta.json`");
  BERTH_RETURN_IF_ERROR(remove_dir_files(dir));
  return repair();
}

std::vector<std::string> BackupStore::verify(const std::string& id) const {
  std::vector<std::string> problems;
  auto idx = index(id);
  if (!idx.ok()) return {idx.error().message()};
  std::set<ChunkId> seen;
  for (const auto& e : *idx)
    for (const auto& c : e.chunks) {
      if (!seen.insert(c.id).second) continue;
      std::string path = chunk_path(c.id);
      if (::access(path.c_str(), F_OK) != 0) {
        problems.push_back("chunk " + chunk_hex(c.id) + " (of `" + e.path + "`) is missing");
        continue;
      }
      auto data = read_chunk(c);
      if (!data.ok()) problems.push_back(data.error().message() + " (of `" + e.path + "`)");
    }
  return problems;
}

}  // namespace berth::storage
