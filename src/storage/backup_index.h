// The file list of one backup (backups/<id>/index.zst in the store, zstd over this encoding):
// every entry of the VPS's tree with what is needed to make it again, ids as the VPS sees them
// (unshifted). Binary, versioned ("BERTHIDX" + version); paths are bytes (any name a tenant can
// make, newlines included) and are checked on decode like an archive's: relative, no "." or ".."
// component, so a damaged or forged index cannot name a file outside the tree it is restored to.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace berth::storage {

enum class EntryType : uint8_t {
  kFile = 1,
  kDir = 2,
  kSymlink = 3,
  kHardlink = 4,  // another name of an earlier kFile entry (target: its path)
  kChar = 5,
  kBlock = 6,
  kFifo = 7,
};

using ChunkId = std::array<uint8_t, 32>;  // SHA-256 of the chunk's uncompressed bytes

struct ChunkRef {
  ChunkId id{};
  uint32_t size = 0;  // uncompressed bytes
  bool operator==(const ChunkRef&) const = default;
};

struct IndexEntry {
  EntryType type = EntryType::kFile;
  std::string path;           // relative to the tree's root, '/'-separated, never empty
  uint32_t mode = 0;          // permission bits with setuid/setgid/sticky (no type bits)
  uint32_t uid = 0, gid = 0;  // as the VPS sees them
  int64_t mtime_ns = 0;
  uint64_t size = 0;   // regular files: bytes
  uint64_t rdev = 0;   // devices
  std::string target;  // symlink: its target; hardlink: the earlier path
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::vector<ChunkRef> chunks;
  bool operator==(const IndexEntry&) const = default;
};

inline constexpr uint32_t kIndexVersion = 1;

std::string encode_index(const std::vector<IndexEntry>& entries);
// Errors name the first problem (truncated, bad version, unsafe path).
Result<std::vector<IndexEntry>> decode_index(std::string_view data);

// A path a tree may hold: relative, non-empty, no empty, "." or ".." component. Pure.
bool is_tree_path(std::string_view path);

std::string chunk_hex(const ChunkId& id);
bool parse_chunk_hex(std::string_view hex, ChunkId* out);

// The id a VPS sees for host id `host` of a VPS whose range starts at base (65536 ids); nullopt
// when outside the range. base 0 (a privileged VPS): host ids below 65536 are its own.
bool unshift_id(uint32_t host, uint32_t base, uint32_t* out);
// The host id of a VPS id: base + id inside the range, else base + 65534 (the overflow id).
uint32_t shift_id(uint32_t id, uint32_t base);

}  // namespace berth::storage
