// A deduplicating backup store: a directory (default <lib>/backup, mode 0700, host root's) that
// holds the backups of any number of VPSs and each distinct chunk of data once.
//
//   chunks/<2 hex>/<64 hex>   a chunk, zstd-compressed, named by the SHA-256 of its uncompressed
//                             bytes (a tenant cannot make two contents share a name)
//   backups/<id>/index.zst    the file list (backup_index.h)
//   backups/<id>/ve.conf      the VPS's config at backup time
//   backups/<id>/meta.json    written LAST: a backup without it is incomplete
//   lock                      flock: one writer (backup, delete, verify), readers share
//
// Crash safety: chunks are written to a ".tmp-" name and renamed, then one syncfs() before the
// index; the index, ve.conf and meta.json are each tmp + fsync + rename. A killed writer leaves
// unreferenced chunks, temp files and a backup directory without meta.json: the next writer
// removes them (repair(), run when the writer lock is taken).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "storage/backup_index.h"

namespace berth::storage {

struct BackupMeta {
  std::string id;  // <CTID>-<UTC yyyymmddThhmmssZ>
  std::string ctid;
  int64_t created = 0;     // unix seconds
  uint64_t files = 0;      // index entries
  uint64_t logical = 0;    // bytes of regular files
  uint64_t new_bytes = 0;  // compressed bytes this backup added to the store
  std::string ostemplate, layout;
  bool consistent = true;  // false: read from a running VPS without a snapshot
};

struct SweepResult {
  uint64_t incomplete_backups = 0, temp_files = 0, chunks_removed = 0, bytes_freed = 0;
};

// Per backup, for backup-list: compressed bytes of the chunks only it references, and of the
// chunks it shares with other backups.
struct BackupUsage {
  BackupMeta meta;
  uint64_t stored = 0, shared = 0;
};

bool is_backup_id(std::string_view id);

class BackupStore {
 public:
  // Open the store at dir, made (0700) when create is set. exclusive: the writer lock, then
  // repair() of what a killed writer left; else a shared lock. Blocks while another holds it.
  static Result<BackupStore> open(const std::string& dir, bool exclusive, bool create);
  // Without a lock, never blocking (berthd's listings while a backup runs): only for list() and
  // meta(). meta.json is written last and renamed into place, so a backup being written or
  // removed meanwhile is either absent or whole. Missing store: exit kBackupNotFound.
  static Result<BackupStore> open_unlocked(const std::string& dir);
  const std::string& dir() const { return dir_; }

  // Store data as a chunk unless one of that name exists. *id gets its name; returns the
  // compressed bytes written (0 when it was there).
  Result<uint64_t> put_chunk(const uint8_t* data, size_t n, ChunkId* id);
  // put_chunk() for a chunk already hashed (id: SHA-256 of data). Safe to call from several
  // threads at once.
  Result<uint64_t> put_named_chunk(const ChunkId& id, const uint8_t* data, size_t n) const;
  // A chunk's bytes, checked: it decompresses to ref.size bytes that hash to its name.
  Result<std::string> read_chunk(const ChunkRef& ref) const;

  // Write a complete backup (index, config, then meta.json last). The chunks must be stored.
  Status write_backup(const BackupMeta& meta, const std::vector<IndexEntry>& index,
                      const std::string& conf);
  // Complete backups, oldest first.
  Result<std::vector<BackupMeta>> list() const;
  Result<BackupMeta> meta(const std::string& id) const;  // missing: exit kBackupNotFound
  Result<std::vector<IndexEntry>> index(const std::string& id) const;
  Result<std::string> conf(const std::string& id) const;
  Result<std::vector<BackupUsage>> usage() const;

  // Remove the backup, then sweep. Needs the writer lock.
  Result<SweepResult> remove(const std::string& id);
  // One line per problem of the backup: index unreadable, chunk missing, corrupt. Empty: fine.
  std::vector<std::string> verify(const std::string& id) const;
  // Remove incomplete backups, temp files and chunks no backup references. Writer lock.
  Result<SweepResult> repair();

 private:
  BackupStore(std::string dir, UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}
  std::string chunk_path(const ChunkId& id) const;
  std::string dir_;
  UniqueFd lock_;
};

// Stores a backup's chunks with a pool of threads (hash, compress, write) while the caller reads
// and cuts the files: submit() hands over each chunk in order and gets a ticket; finish() waits for
// all and returns their ids by ticket, so the index is the same whatever order the threads ran in.
// Bounded: submit() blocks while 4 chunks per thread are queued. The first error stops the rest
// and is returned by the next submit() or by finish(); the chunks stored meanwhile are
// unreferenced and swept by the next writer's repair().
class ChunkWriter {
 public:
  ChunkWriter(const BackupStore& store, unsigned threads);
  ~ChunkWriter();
  Result<uint64_t> submit(std::vector<uint8_t> data);
  // The ids of every submitted chunk (by ticket), and the compressed bytes added to the store.
  Result<std::vector<ChunkId>> finish(uint64_t* new_bytes);

  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

 private:
  struct Job {
    uint64_t ticket = 0;
    std::vector<uint8_t> data;
  };
  void work();
  void stop();
  const BackupStore& store_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Job> queue_;
  size_t max_queued_ = 0;
  bool closing_ = false;
  Status error_;
  std::vector<ChunkId> ids_;
  std::set<ChunkId> claimed_;
  uint64_t new_bytes_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace berth::storage
