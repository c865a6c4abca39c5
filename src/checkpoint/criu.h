// checkpoint/: CRIU, driven through its RPC interface. `criu swrk FD` serves one request on a
// SOCK_SEQPACKET socket pair: a criu_req message (rpc.proto, from Debian's criu package, compiled
// by protoc-c at build time) goes in, notifications may come back (answered at once), then one
// criu_resp. Nothing here parses CRIU's text output; its log goes to a file in the images
// directory (log_tail() reads its end for an error message).
//
// The CRIU process is this process's child; with rst_sibling a restored tree's root is our child
// too (the caller reaps or hands it over).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace berth::checkpoint {

enum class Request { kDump, kPreDump, kRestore, kCheck, kVersion };

struct CriuOptions {
  int images_dir_fd = -1;  // must stay open (inherited by criu)
  std::string log_file;    // a name in the images directory
  int log_level = 4;
  pid_t pid = 0;  // dump, pre-dump: the root of the tree
  bool leave_running = false;
  bool tcp_established = true;
  bool file_locks = true;
  bool ext_unix_sk = false;
  std::string root;          // restore: where the tree's root mount is
  bool rst_sibling = false;  // restore: the tree's root becomes our child, not criu's
  std::string parent_img;    // relative to the images dir: the previous pre-dump
  bool track_mem = false;    // dirty page tracking for a later dump (pre-dump, migration)
  // Mounts whose source is outside the tree's namespace are bound from the same place (found
  // automatically), with their sharing (as vzctl's use of --ext-mount-map auto).
  bool auto_ext_mnt = true;
  std::vector<std::string> external;                         // --external
  std::vector<std::pair<std::string, std::string>> ext_mnt;  // restore: key -> host path
  std::vector<std::pair<std::string, int>> inherit_fd;       // restore: key -> fd (inherited)
  bool nftables_lock = true;  // network lock with nftables (the host may have no iptables)
  bool soft_cgroups = true;   // restore into existing groups, make missing ones
  std::string freeze_cgroup;  // dump: freeze with this cgroup (v1 freezer or v2 dir)
  // restore: the tree's root cgroup here, every controller ("/<instance>/<CTID>"): a dump made
  // by another instance (a migration) names its own groups.
  std::string cgroup_root;
  // dump: where CRIU looks for the paths of inotify watches it cannot open by handle (overlayfs
  // gives no file handles): the CT's trees ("/" itself is not a path CRIU scans).
  std::vector<std::string> irmap_scan_paths;
  // Run in the forked child before criu is exec'ed (a mount namespace of its own, for one);
  // false: criu is not run.
  std::function<bool()> in_child;
};

struct CriuResult {
  int cr_errno = 0;
  std::string errmsg;  // CRIU's cr_errmsg, when it gave one
  pid_t restored_pid = 0;
  std::string version;  // kVersion: "3.17.1"
};

// Called for each notification (script name: "post-dump", "setup-namespaces", "post-restore",
// "network-lock", ...; pid: the tree's root for restore ones). A failure makes CRIU fail.
using NotifyFn = std::function<Status(std::string_view script, pid_t pid)>;

// The criu binary (PATH, then /usr/sbin), or empty when there is none.
std::string criu_binary();

// Runs one request. An error when CRIU could not be run or answered that it failed (its message
// and errno, plus the end of its log when log_path is given).
Result<CriuResult> run(Request req, const CriuOptions& opts, const NotifyFn& notify = {},
                       const std::string& log_path = "");

// The last n non-empty lines of a CRIU log ("" when it cannot be read), its errors first.
std::string log_tail(const std::string& path, int n);

}  // namespace berth::checkpoint
