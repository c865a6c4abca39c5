// The CT's /proc with /proc/user_beancounters in it (served by the beancounter FUSE server).
//
// procfs refuses new names in its root, is refused as an overlayfs layer, and a bind mount needs
// an existing target, so the only way to show /proc/user_beancounters in a CT of a stock kernel
// is a /proc that is not procfs. The CT's /proc is a directory of the instance's FUSE server,
// <run>/ubcfs/.proc/<CTID>, holding:
//   user_beancounters  the CT's block (as <run>/ubcfs/<CTID>), computed on every read;
//   meminfo            the CT's RAM and swap (ubc/meminfo.h), computed on every read;
//   loadavg            the CT's load average (ubc/loadavg.h), sampled by the server;
//   cpuinfo            the CPUs the CT may use (ubc/cpuinfo.h);
//   .real              an empty directory, where the CT's own procfs (masks included) is mounted;
//   every other name   a symlink ".real/<name>", so /proc/self, /proc/<pid>/fd/..., /proc/sys
//                      and the rest are the real procfs, magic links and writes included.
// Listing /proc gives the CT's procfs' names (its pids, not the host's) plus user_beancounters,
// with no file type (DT_UNKNOWN: tools that want one stat the name, which follows the link).
// What differs from a plain procfs: statfs("/proc") says FUSE, and lstat of /proc/<name> says
// symlink. Config key PROC_BEANCOUNTERS="no" gives a CT the plain procfs instead.
#pragma once

#include <string>
#include <string_view>

#include "isolation/proc_mask.h"

namespace berth::ubc {

inline constexpr const char* kProcDir = ".proc";                  // under the server's mount
inline constexpr const char* kRealDir = isolation::kProcRealDir;  // in the view: the CT's procfs
inline constexpr const char* kUbcName = "user_beancounters";
inline constexpr const char* kMeminfoName = "meminfo";
inline constexpr const char* kLoadavgName = "loadavg";
inline constexpr const char* kCpuinfoName = "cpuinfo";

// What a path of the server's filesystem names.
struct Node {
  enum Kind {
    kNone,         // no such path
    kRoot,         // "/"
    kCtFile,       // "/<CTID>": the CT's block
    kProcTop,      // "/.proc"
    kProcRoot,     // "/.proc/<CTID>": the CT's /proc
    kProcUbc,      // "/.proc/<CTID>/user_beancounters"
    kProcReal,     // "/.proc/<CTID>/.real"
    kProcMeminfo,  // "/.proc/<CTID>/meminfo": the CT's own (ubc/meminfo.h)
    kProcLoadavg,  // "/.proc/<CTID>/loadavg": the CT's own (ubc/loadavg.h)
    kProcCpuinfo,  // "/.proc/<CTID>/cpuinfo": its CPUs only (ubc/cpuinfo.h)
    kProcLink,     // "/.proc/<CTID>/<name>": symlink to .real/<name>
  } kind = kNone;
  std::string ctid;
  std::string name;  // kProcLink only
};

// Splits a server path. CTIDs and names are not checked against anything here (a CTID must only
// be one path component without dots at its start); the caller checks that the CT exists and
// that a link name is one procfs has.
Node parse_node(std::string_view path);

// A decimal number without a leading zero: a pid or tid name of procfs.
bool is_pid_name(std::string_view name);

// The symlink's text for name.
inline std::string link_target(std::string_view name) {
  return std::string(kRealDir) + "/" + std::string(name);
}

// Host path of the CT's /proc view in the server's mount (start clones it for the CT).
std::string proc_view_dir(const std::string& mount_dir, const std::string& ctid);

}  // namespace berth::ubc
