// CtModel: one VPS's configuration as typed, validated values.
//
// parse_model() reads every key whose value has a grammar (CTID.conf over berth.conf, the keys
// CtConfig::get() sees) once, with the one parser of its kind in core/values/, into the fields
// below. Any bad value is an Error (exit 21, kBadValue) of one line that names the key:
//   NETIF: bad MAC `zz:00:00:00:00:01` in entry `ifname=eth0,mac=zz:00:00:00:00:01`
// validate_config() is the check every entry point makes first (create, set, start; the daemon
// and OCI front-ends will call the same), before anything is mounted, made or cloned. The
// ConfFile stays the source of truth for saving (comments and unknown keys are kept); this model
// is what consumers read. Pure; unit-tested (tests/unit/core/ct_model_test.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "core/units.h"
#include "core/values/bitmap.h"
#include "core/values/devices.h"
#include "core/values/ip.h"
#include "core/values/netif.h"
#include "core/values/rate.h"

namespace berth {

struct CtModel {
  std::string ctid;
  // Network.
  std::string hostname;                      // HOSTNAME ("" = none)
  std::vector<values::IpAddr> ip_addresses;  // IP_ADDRESS
  std::vector<values::IpAddr> ip_forced;     // IP_ADDRESS_FORCED
  std::vector<std::string> nameservers;      // NAMESERVER (canonical addresses or "inherit")
  std::vector<std::string> searchdomains;    // SEARCHDOMAIN
  std::vector<values::Netif> netif;          // NETIF
  std::vector<std::string> netdev;           // NETDEV
  std::vector<values::RateEntry> rate;       // RATE
  // Devices.
  std::vector<values::DevNode> devnodes;  // DEVNODES (numbers resolved at start)
  std::vector<values::DevNode> devices;   // DEVICES
  // CPU, memory, I/O.
  std::optional<values::CpuMask> cpumask;   // CPUMASK (nullopt: not set)
  std::optional<values::CpuMask> nodemask;  // NODEMASK
  std::optional<uint64_t> cpuunits, cpulimit, cpus, ioprio, iolimit, iopslimit;
  std::map<std::string, units::BarrierLimit, std::less<>> ubc;  // the UBC keys that are set
  // User namespace.
  uint32_t local_uid = 0, local_gid = 0;
};

// The UBC keys (barrier:limit pairs) and the unit of each.
struct UbcKey {
  std::string_view key;
  units::Kind kind;
  std::string_view alias;  // an older spelling of the key vzctl still reads ("" if none)
};
const std::vector<UbcKey>& ubc_keys();
const UbcKey* find_ubc_key(std::string_view key);

// Keys parse_model() checks, in the order it checks them.
const std::vector<std::string_view>& model_keys();

// Looks a config key up: CtConfig::get() (the CT's file, then berth.conf), or a test's map.
using KeyLookup = std::function<std::optional<std::string>(std::string_view)>;

// Parse and check every key of model_keys() that is set. The first bad one is the error.
// LOCAL_UID/LOCAL_GID come from the CT's own file only (CtConfig::local_uid()).
Result<CtModel> parse_model(const CtConfig& ct);
// The same over any lookup (ctid left empty).
Result<CtModel> parse_model(const KeyLookup& get);
// parse_model() for its verdict only.
Status validate_config(const CtConfig& ct);

}  // namespace berth
