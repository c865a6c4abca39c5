// nf_tables over its own netlink protocol, for the few per-CT operations that must cost the same
// whatever the host's ruleset holds: set elements added or removed, a table or chain looked up by
// name, a table removed.
//
// libnftables (filter.cc's run_nft) first reads the host's whole ruleset into its cache for any
// command that touches a set or removes something: with a few hundred tables on the host (other
// instances' CTs, other tools) that is seconds per command. These messages name their object, so
// the kernel does the lookup and nothing else is read. Everything else (making the tables with
// their rules, which happens once per instance) stays with libnftables. Host side, CAP_NET_ADMIN.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace berth::net::nft {

// NFPROTO_* of the tables Berth uses.
enum class Family : uint8_t { kInet = 1, kArp = 3, kBridge = 7 };

// One change of a transaction.
struct Change {
  enum Kind { kAddElements, kDeleteElements, kAddTable, kDeleteTable } kind;
  Family family;
  std::string table;
  std::string set;                         // elements only
  std::vector<std::vector<uint8_t>> keys;  // elements only: each key as the set stores it
};

// Runs the changes as one nf_tables transaction (all or none). An element that is already there
// is fine to add; deleting a missing element or table is ENOENT (add it first in the same
// transaction to make a delete that never fails). Errors carry the kernel's errno.
Status apply(const std::vector<Change>& changes);

// Whether the table exists (ENOENT is false; other errors are errors).
Result<bool> table_exists(Family family, const std::string& table);
// Whether the chain exists in the table.
Result<bool> chain_exists(Family family, const std::string& table, const std::string& chain);

// Runs fn in a throwaway thread that joins the network namespace of process pid (host root only;
// the caller stays where it is); fn's status.
Status in_netns_of(pid_t pid, const std::function<Status()>& fn);

// Remove a table of the network namespace of process pid (host root only; the call joins that
// namespace from a throwaway thread, the caller stays where it is). Returns whether it was there.
Result<bool> delete_table_in_netns_of(pid_t pid, Family family, const std::string& table);

// Set keys. ifname: IFNAMSIZ bytes, zero padded (nft's ifname type); a concatenation is the
// fields in order, each padded to a multiple of 4 bytes (nft's concat layout).
std::vector<uint8_t> ifname_key(const std::string& ifname);
std::vector<uint8_t> concat_key(const std::vector<std::vector<uint8_t>>& fields);

}  // namespace berth::net::nft
