// Backups of a VPS into a deduplicating store (storage/backup_store.h), restore from one, and the
// portable archive (export/import). The orchestration: which view of the tree is read (a
// snapshot of a running VPS, or the stopped VPS's mounted root), how a restored VPS is made (the
// create pipeline, then its mounted root is made equal to the backup), and what is checked after.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "runtime/set.h"
#include "storage/backup_store.h"

namespace berth::runtime {

// --storage DIR, else the host's store (HostPaths::backup).
std::string backup_store_dir(const HostConfig& host, const std::string& storage);

struct BackupOptions {
  std::string storage;
  bool full_read = false;   // read every file even when its previous backup's entry matches
  std::string export_file;  // non-empty: write this archive instead of a stored backup
  bool progress = false;    // a progress line on stderr
};

struct BackupReport {
  std::string id;  // empty for an export
  uint64_t files = 0, logical = 0, new_bytes = 0, read_bytes = 0, reused_files = 0;
  double seconds = 0;
  bool consistent = true;
};

// The caller holds the CT's lock.
Result<BackupReport> backup(const CtConfig& ct, const BackupOptions& opts);

struct RestoreOptions {
  std::string storage;
  std::string backup_id;    // from the store, or
  std::string import_file;  // from an exported archive
  std::string new_ctid;     // empty: the CTID argument
  bool force = false;       // replace the target CT when it exists and is stopped
  // With force, when the target exists: its config (limits, addresses, template) is kept and
  // only the files come from the backup (berthd: a customer cannot bring old limits back).
  bool keep_config = false;
};

// Make CT `ctid` (or opts.new_ctid) from a backup or an archive. The caller holds the target's
// lock.
Status restore(const HostConfig& host, const std::string& ctid, const RestoreOptions& opts,
               const Say& say);

}  // namespace berth::runtime
