// Capabilities of a CT: the OpenVZ default set, the CAPABILITY key, and the child-side drop.
//
// Owns which capabilities a VPS keeps (vzctl's CAPDEFAULTMASK_UPSTREAM, see caps.cc) and how the
// CT's `CAPABILITY="NET_ADMIN:on SYS_TIME:off"` key changes it. The drop itself runs in the CT's
// init process right before exec. Does not touch securebits: setuid-root programs (su, sudo) must
// keep working inside the CT, which is also why no_new_privs is never set (ARCHITECTURE.md sec. 2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::isolation {

// The capabilities a CT keeps by default, limited to 0..last_cap (the running kernel's
// /proc/sys/kernel/cap_last_cap). Sorted. Pure.
std::vector<int> default_ct_capabilities(int last_cap);

// A capability by name: case-insensitive, with or without the CAP_ prefix ("net_admin",
// "CAP_NET_ADMIN"). OpenVZ's VE_ADMIN maps to NET_ADMIN; SETVEID is accepted and maps to -1 (no
// upstream equivalent; the caller ignores it). Unknown name: Error exit 13. Pure.
Result<int> parse_cap_name(std::string_view name);

// Apply a CAPABILITY value ("NAME:on NAME:off ...", blank- or comma-separated) to base. Caps above
// last_cap are left out (the running kernel does not have them). Bad syntax: exit 21; unknown
// name: exit 13. Returns a sorted list. Pure.
Result<std::vector<int>> apply_capability_setting(std::vector<int> base, std::string_view setting,
                                                  int last_cap);

// The CT's capability set: the default set with the CT's CAPABILITY key applied. Host side or
// child side; reads the running kernel's last capability number.
Result<std::vector<int>> ct_capabilities(const CtConfig& cfg);

// "chown dac_override ..." (libcap names without the cap_ prefix), for logs and vzlist.
std::string capability_names(const std::vector<int>& caps);

// Child side, last step before exec: drop every capability not in keep from the bounding set,
// then set permitted, effective and inheritable to keep and clear the ambient set. Needs
// CAP_SETPCAP in the current user namespace (uid 0 of a fresh userns has it). Securebits are
// left as they are. On failure the process may hold fewer caps than before; the caller exits.
// Error exit 13.
Status drop_caps(const std::vector<int>& keep);

// drop_caps in two halves, for a process that must not allocate when it drops (a clone sharing
// its caller's memory, once the CT's root can signal it: runtime/exec.cc). plan_caps runs
// anywhere; apply_cap_plan makes system calls only (no libcap, no allocation).
struct CapPlan {
  std::vector<int> drop_bound;  // dropped from the bounding set, in this order
  uint32_t keep[2] = {0, 0};    // permitted = effective = inheritable (capset v3's two words)
};
// in_bound(c): whether c will be in the bounding set of the process that applies the plan (a
// process that has just joined a user namespace has them all); caps not in it cannot be kept.
// Caps above the running kernel's last one are left out.
CapPlan plan_caps(const std::vector<int>& keep, bool (*in_bound)(int));
// Whether c is in this process's bounding set now.
bool in_own_bound(int c);
// Every capability (the bounding set of a process that has just joined a user namespace).
bool in_fresh_userns_bound(int c);
// Applies p to the calling process with raw system calls. 0, or the errno of the step that failed
// with *failed_cap the cap it was dropping (-1: setting the sets, -2: clearing the ambient set).
int apply_cap_plan(const CapPlan& p, int* failed_cap) noexcept;

}  // namespace berth::isolation
