// The stream between `berth migrate` (the source) and `berth _migrate-recv` (the destination,
// started by ssh): one ssh channel, frames in both directions (docs/migration.md, "Protocol").
//
// A frame is a type byte, a 4-byte big-endian length and that many bytes of payload. The
// receiver treats every byte as hostile: a frame longer than kMaxFrame, an unknown type or a
// malformed hello ends the session with an error and nothing made is kept.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace berth::runtime::mig {

// Bumped when a frame's meaning changes; the receiver refuses another (vzmigrate's 17).
inline constexpr int kProtocol = 4;  // 2: kTemplate; 3: kDelta, kRemove; 4: kSnapshots, kSnapshot
inline constexpr uint32_t kMaxFrame = 4u << 20;

enum class Frame : char {
  kHello = 'H',    // src: key=value lines (encode_hello)
  kConfig = 'C',   // src: the CT's config file
  kReply = 'R',    // dst: "<status> <message>" (0: ok)
  kData = 'D',     // src: bytes of the tree's archive (runtime/backup.h export_stream)
  kEnd = 'E',      // src: end of the archive; dst replies once the tree is written
  kFile = 'F',     // src: "<dir>/<name>": a dump file follows as kData frames, kEnd closes it
  kStart = 'S',    // src: start the CT there (it ran here)
  kRestore = 'X',  // src: restore the CT from the dump files sent (online)
  kCommit = 'K',   // src: the CT is the destination's now; dst drops its "incoming" marker
  kQuit = 'Q',     // src: give up; dst removes what it made (unless keep_dst)
  // src: "<archive file name>": the CT's OS template archive follows as kData frames, kEnd
  // closes it; sent only when the destination's preflight reply ends with kNeedsTemplate.
  kTemplate = 'T',
  // src: the tree again as a delta (runtime/tree_delta.h): kData frames of an archive of the
  // entries changed since the last copy, kEnd, then kRemove frames, kEnd; dst replies once the
  // tree is written. A later copy of an online migration (protocol 3).
  kDelta = 'L',
  // src: paths gone from the tree since the last copy (encode_removals: NUL-separated tree
  // paths); dst removes them without following symlinks or leaving the tree.
  kRemove = 'M',
  // src: the CT's snapshot index (storage::index_to_json, mounted_at left out); each of its
  // snapshots follows as a kSnapshot; dst replies after each (protocol 4).
  kSnapshots = 'N',
  // src: encode_snapshot_header (its uuid, an image's size and inodes, its <uuid>.conf): that
  // snapshot's tree follows as kData frames of an archive (tree_stream.h export_dir_stream; an
  // image's: the tree its file system holds), kEnd closes it.
  kSnapshot = 'P',
};

// The end of the destination's preflight reply when it lacks the CT's OS template.
inline constexpr std::string_view kNeedsTemplate = "; needs the OS template";

struct Hello {
  int protocol = 0;
  std::string version;  // BERTH_VERSION of the sender
  std::string ctid;
  std::string mode;  // check, offline, online
  bool keep_dst = false;
};

std::string encode_frame(Frame type, std::string_view payload);
std::string encode_hello(const Hello& h);
// Refuses unknown modes, a CTID that is not one, missing keys (exit status 1: bad stream).
Result<Hello> parse_hello(std::string_view text);
std::string encode_reply(int status, std::string_view message);
// A reply's status and message; a malformed one is status -1.
std::pair<int, std::string> parse_reply(std::string_view text);
// A dump file's name as "<dir>/<name>", both one plain component ([A-Za-z0-9._-], no dot
// first): the receiver writes nothing else.
bool is_dump_file_name(std::string_view s);

// A kSnapshot header: "<uuid>" (a tree) or "<uuid>.img <bytes> <inodes>" (a disk image: the
// destination makes one of that size and inode count and writes the tree into it), then
// optionally "\n<config>". The uuid is a lower-case storage::valid_uuid (no path separator, no
// dot); bytes 1 MiB..64 TiB, inodes at most 2^32; a config at most 1 MiB. Anything else is
// refused (status 1).
struct SnapshotHeader {
  std::string uuid, conf;
  bool has_config = false;
  uint64_t image_bytes = 0;  // 0: a tree
  uint64_t image_inodes = 0;
};
std::string encode_snapshot_header(const SnapshotHeader& h);
Result<SnapshotHeader> parse_snapshot_header(std::string_view payload);

// --ssh's words as a shell would split them (blanks; '...' and "..." group; \ escapes), without
// running a shell: `-o "SetEnv=A=1 B=2"` is one option, as ssh needs (it keeps its first SetEnv).
Result<std::vector<std::string>> split_words(const std::string& s);

// Blocking frame I/O on fds (a pipe to ssh, or stdin/stdout of the receiver).
Status write_frame(int fd, Frame type, std::string_view payload);
struct Received {
  Frame type;
  std::string payload;
};
// EOF before a frame: an error with code ECONNRESET ("connection closed").
Result<Received> read_frame(int fd);

}  // namespace berth::runtime::mig
