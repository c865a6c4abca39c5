// cgroups: one interface over cgroup v1 and v2 (ARCHITECTURE.md section 5).
//
// Each CT's cgroup is <mount>/<instance>/<ctid> in every hierarchy the host has (v1: each
// controller's own mount, plus named ones like name=systemd; v2: the unified mount). The
// instance directory carries the Berth instance's name (CGROUP_PARENT), so two instances never
// touch each other's groups. The backend is picked once by detect_backend(); no caller asks
// "v1 or v2?". The host's own cgroup mounts are never changed. Resource limits are applied by
// the resource-management code (a later issue) through apply().
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/resources.h"
#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::cgroups {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;  // "v1" or "v2"
  // mkdir the CT's group in every hierarchy (parents too). The group itself must be new in the
  // first hierarchy (exit 9 otherwise; nothing made then): a start has removed its own leftovers
  // before, so an existing one was made a moment ago by a start of another root under the same
  // CGROUP_PARENT, whose group a failed start here must not remove. Other existing groups (the
  // instance's; below the first hierarchy) are reused.
  virtual Status create(const std::string& rel) = 0;
  // v2: an O_PATH|O_DIRECTORY fd of the group for clone3(CLONE_INTO_CGROUP); v1: invalid fd.
  virtual Result<UniqueFd> open_for_clone(const std::string& rel) = 0;
  // Move pid into the group in every hierarchy (v1; on v2 only when not cloned into it).
  virtual Status attach(const std::string& rel, pid_t pid) = 0;
  // The stall-free way into the group for a new single-threaded child (exec's joiner, start's
  // child) on v1: clone it into `clone_into` (clone3 CLONE_INTO_CGROUP: the unified group of a
  // hybrid host; invalid without one), and it writes "0" itself into the v1 hierarchies' `tasks`
  // files, opened here. A thread that moves itself skips the global threadgroup lock, so neither
  // waits for an RCU grace period (a cgroup.procs write of another process's pid can wait 7-15
  // ms). nullopt: v2 (clone into open_for_clone's group instead), or a file could not be opened
  // (then the parent attaches the child).
  struct SelfJoin {
    UniqueFd clone_into;
    std::vector<UniqueFd> tasks;
  };
  virtual std::optional<SelfJoin> open_self_join(const std::string&) { return std::nullopt; }
  // PIDs (thread-group leaders) in the group and its sub-groups; empty when it does not exist.
  virtual std::vector<pid_t> pids(const std::string& rel) const = 0;
  // SIGKILL every process in the group and its sub-groups (thawing what is frozen) and wait
  // (bounded) until they are gone.
  virtual Status kill_all(const std::string& rel) = 0;
  // rmdir the group and every sub-group the CT made (any depth, any path length) in every
  // hierarchy, then the instance dir if it became empty.
  virtual Status remove(const std::string& rel) = 0;
  virtual bool exists(const std::string& rel) const = 0;
  // Give the CT's root (host uid/gid) the group dir and its procs files, so an init inside
  // (systemd) can make sub-groups. v1: only the hierarchies whose limits hold against sub-groups
  // and cost no scarce host-wide id (v1.h: delegated_inside_v1); v2: the one group.
  virtual Status delegate(const std::string& rel, uid_t uid, gid_t gid) = 0;
  // Bound the sub-groups the CT may make below its group: at most `descendants` groups, at most
  // `depth` levels (kNoLimit: none). v2 cgroup.max.descendants / cgroup.max.depth, which stay the
  // host's (not delegated); v1 has no such files and does nothing (its memory hierarchy, whose
  // ids are host-wide and scarce, is not delegated).
  virtual Status limit_nesting(const std::string& rel, int64_t descendants, int64_t depth) = 0;
  // Device access of the group: everything denied but `allow` (v1 devices.allow rules, e.g.
  // "c 1:3 rwm"). v1 only; on v2 this needs a BPF device program (not yet: returns ENOTSUP).
  virtual Status set_devices(const std::string& rel, const std::vector<std::string>& allow) = 0;
  // Set the limits r holds (only those) on the group, live. Controllers and files this host lacks
  // are skipped without error (e.g. memsw without swap accounting); a refused write is an error.
  virtual Status apply(const std::string& rel, const Resources& r) = 0;
  // Beancounter counters of the group (zeros for what the host does not count).
  virtual Stats stats(const std::string& rel) const = 0;
  // Mount points of the hierarchies, for mounting them inside a CT (name, options).
  struct Hierarchy {
    std::string mount;    // host mount point, e.g. /sys/fs/cgroup/memory
    std::string options;  // v1: "memory" or "cpu,cpuacct" or "name=systemd"; v2: ""
  };
  virtual std::vector<Hierarchy> hierarchies() const = 0;
  // A hybrid host's unified (cgroup2) mount beside the v1 hierarchies, where every CT's processes
  // get a group too ("": none, or a v2 host, whose one hierarchy is hierarchies()).
  virtual std::string unified_mount() const { return ""; }
  // Whether delegate() gives the CT's root its group in hierarchy h.
  virtual bool delegates(const Hierarchy& h) const = 0;
  // v2: every group of the subtree at rel (what an init inside made), parents first: its path
  // below rel ("" for rel itself), the controllers it hands to its children ("memory pids ..."),
  // its owner; and turning controllers on again in a group (a restore). v1: none.
  struct SubGroup {
    std::string path, controllers;
    uid_t uid = 0;
    gid_t gid = 0;
  };
  virtual std::vector<SubGroup> subgroups(const std::string&) const { return {}; }
  virtual Status set_subtree_control(const std::string&, const std::string&) { return {}; }
};

// Reads /proc/self/mountinfo once: cgroup2 on /sys/fs/cgroup means v2, else the v1 hierarchies.
// cache: a file that keeps what was found (for this boot and mount namespace, 60 s, each mount
// checked to be the same cgroup file system still): the host's mountinfo has two lines per running
// CT, and with 1000 running one read of it costs ~25 ms, paid by every command. "": no cache.
Result<std::unique_ptr<Backend>> detect_backend(const std::string& cache = "");

// "<instance>/<ctid>"
std::string ct_group(const std::string& instance, const std::string& ctid);

}  // namespace berth::cgroups
