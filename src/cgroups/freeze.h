// Freezing a CT's cgroup for a consistent snapshot: every process of the group and its sub-groups
// stops where it is (no signal, nothing it can see but the time), and runs on when thawed.
//
// v1: the freezer hierarchy's freezer.state (FROZEN, THAWED); it is not delegated to the CT
// (v1.h: delegated_inside_v1), so the CT cannot thaw itself. v2: cgroup.freeze of the CT's group,
// which stays the host's (delegate() hands over only the dir and its procs files); a group is
// frozen whenever an ancestor is, so a sub-group the CT owns cannot escape either.
// Free functions over Backend's hierarchies, so the interface every caller compiles against stays.
#pragma once

#include <string>
#include <utility>

#include "cgroups/backend.h"
#include "core/error.h"

namespace berth::cgroups {

// Freeze the group rel and wait (up to timeout_ms) until the kernel says it is frozen (v1
// freezer.state FROZEN, v2 cgroup.events `frozen 1`). On timeout it is thawed again: EBUSY.
Status freeze_group(const Backend& cg, const std::string& rel, int timeout_ms);
// The group's directory in the hierarchy that freezes (v2: the group; v1: the freezer's), as
// CRIU's freeze_cgroup wants it.
Result<std::string> freezer_dir(const Backend& cg, const std::string& rel);
// Undo freeze_group. A group that is not frozen, or does not exist, is fine.
Status thaw_group(const Backend& cg, const std::string& rel);

// A group frozen by freeze_group, thawed on destruction (every path out of a snapshot).
class FreezeGuard {
 public:
  FreezeGuard() = default;
  FreezeGuard(const Backend& cg, std::string rel) : cg_(&cg), rel_(std::move(rel)) {}
  FreezeGuard(FreezeGuard&& o) noexcept
      : cg_(std::exchange(o.cg_, nullptr)), rel_(std::move(o.rel_)) {}
  FreezeGuard& operator=(FreezeGuard&&) = delete;
  FreezeGuard(const FreezeGuard&) = delete;
  FreezeGuard& operator=(const FreezeGuard&) = delete;
  ~FreezeGuard() { (void)thaw(); }
  void dismiss() { cg_ = nullptr; }  // the group stays frozen
  // Frozen again after a thaw(): thawed on destruction as before.
  void rearm(const Backend& cg, std::string rel) {
    cg_ = &cg;
    rel_ = std::move(rel);
  }
  Status thaw() {
    if (!cg_) return {};
    return thaw_group(*std::exchange(cg_, nullptr), rel_);
  }

 private:
  const Backend* cg_ = nullptr;
  std::string rel_;
};

}  // namespace berth::cgroups
