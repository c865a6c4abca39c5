// Host-wide allocation of the CTs' user-namespace id ranges (LOCAL_UID/LOCAL_GID).
//
// A CT's ids 0..65535 are host ids LOCAL_UID..LOCAL_UID+65535. Two CTs (of any Berth instance on
// the host) or a CT and another tool's user namespaces (LXC, podman, rootless users: all read
// /etc/subuid and /etc/subgid) must never share host ids, or root of one can own the other's files.
// So the registry is the host's own subordinate-id files: every CT's range is a line
// `<instance>.<CTID>:<base>:65536` in both /etc/subuid and /etc/subgid, added on create and
// removed on destroy, and a new range overlaps no line of either file (whoever owns it) and no
// LOCAL_UID/LOCAL_GID of this instance's configs (CTs made before the registry).
//
// Concurrency: one flock on a host-wide lock file (not under BERTH_ROOT, so all instances share
// it) orders Berth's own allocations; while a file is rewritten its shadow-utils lock
// (`<file>.lock`, the link(2) protocol of useradd/usermod) is held too, so a concurrent useradd
// never loses our line nor we its. Files are replaced atomically (temp file + rename), keeping
// their mode and owner; other lines are kept byte for byte.
// This module does not decide whether a CT is privileged (LOCAL_UID=0 has no range to register).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"

namespace berth::runtime {

// The host files. The defaults are the real ones; unit tests point them at temp files.
struct HostIdFiles {
  std::string subuid = "/etc/subuid";
  std::string subgid = "/etc/subgid";
  std::string lock = "/run/berth-idranges.lck";  // /run: only root can create it
};

struct SubIdRange {
  std::string owner;
  uint64_t start = 0, count = 0;
};

// The ranges of an /etc/subuid-style text (`owner:start:count` lines; comments, blank and
// malformed lines are skipped).
std::vector<SubIdRange> parse_subid(const std::string& text);

// The owner name of a CT's lines: `<instance>.<CTID>`, with any character of the instance other
// than letters, digits, '.', '_' and '-' replaced by '_'.
std::string range_owner(const HostConfig& host, const std::string& ctid);

// Lowest base >= first, stepping by size, whose [base, base+size) overlaps none of used; 0 when
// none fits below 2^32.
uint32_t first_free_base(const std::vector<SubIdRange>& used, uint32_t first, uint32_t size);

// An explicit LOCAL_UID/LOCAL_GID pair (--local_uid, --local_gid).
struct FixedIds {
  uint32_t uid = 0, gid = 0;
};

// Reserve the CT's range: fixed (an explicit --local_uid/--local_gid, the uid base in /etc/subuid,
// the gid base in /etc/subgid) or the first free one from 100000 in steps of 65536 (the same base
// in both), and register it in both files (replacing earlier lines of the same owner, left
// by a killed create). Returns the uid base (0 for a fixed uid 0, a privileged CT: nothing is
// registered).
// Host side, root. Errors: kResource when no range is free, kLocked when a shadow lock stays held,
// I/O errors on the files.
Result<uint32_t> reserve_id_range(const HostConfig& host, const std::string& ctid,
                                  std::optional<FixedIds> fixed, const HostIdFiles& files = {});

// Whether the CT has a line in either file.
bool id_range_registered(const HostConfig& host, const std::string& ctid,
                         const HostIdFiles& files = {});

// Remove the CT's lines from both files. None there is fine.
Status release_id_range(const HostConfig& host, const std::string& ctid,
                        const HostIdFiles& files = {});

}  // namespace berth::runtime
