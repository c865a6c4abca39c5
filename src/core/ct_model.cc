// The typed, validated configuration of a VPS (see ct_model.h).
#include "core/ct_model.h"

#include <algorithm>
#include <climits>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth {
namespace {

using units::Kind;

// key: message, exit 21, one line.
Error bad_key(std::string_view key, const Error& why) {
  return Error::invalid(std::string(key) + ": " + values::printable(why.message()),
                        exitcode::kBadValue);
}

Error bad_key(std::string_view key, std::string_view value, std::string_view why) {
  return Error::invalid(std::string(key) + ": invalid value `" + values::printable(value) + "` (" +
                            std::string(why) + ")",
                        exitcode::kBadValue);
}

template <class T>
Status take(std::string_view key, Result<T> r, T& out) {
  if (!r.ok()) return bad_key(key, r.error());
  out = std::move(r).value();
  return {};
}

Status number(std::string_view key, const std::string& v, uint64_t max,
              std::optional<uint64_t>& out) {
  out = values::parse_u64_max(v, max);
  if (!out)
    return bad_key(key, v,
                   max == static_cast<uint64_t>(INT64_MAX)
                       ? "a number expected"
                       : "0.." + std::to_string(max) + " expected");
  return {};
}

Status word_list(std::string_view key, const std::string& v, bool (*valid)(std::string_view),
                 std::string_view what, std::vector<std::string>& out) {
  out = values::split_any(v, " \t");
  for (auto& w : out) {
    if (w == "inherit" && key != "NETDEV") continue;
    if (!valid(w))
      return bad_key(key, v, "bad " + std::string(what) + " `" + values::printable(w) + "`");
  }
  return {};
}

bool is_nameserver(std::string_view s) { return values::canonical_ip(s, false).has_value(); }

Status id_base(std::string_view key, const std::string& v, uint32_t& out) {
  auto n = values::parse_u64(v);
  // The CT's id range [n, n + 65536) must fit in 32 bits; 0 = no user namespace.
  if (!n || *n + kIdRangeSize > (1ULL << 32)) return bad_key(key, v, "id base out of range");
  out = static_cast<uint32_t>(*n);
  return {};
}

}  // namespace

const std::vector<UbcKey>& ubc_keys() {
  static const std::vector<UbcKey> kUbc = {
      {"KMEMSIZE", Kind::kBytes, ""},         {"LOCKEDPAGES", Kind::kPages, ""},
      {"PRIVVMPAGES", Kind::kPages, ""},      {"SHMPAGES", Kind::kPages, ""},
      {"NUMPROC", Kind::kItems, ""},          {"PHYSPAGES", Kind::kPages, ""},
      {"VMGUARPAGES", Kind::kPages, ""},      {"OOMGUARPAGES", Kind::kPages, ""},
      {"NUMTCPSOCK", Kind::kItems, ""},       {"NUMFLOCK", Kind::kItems, ""},
      {"NUMPTY", Kind::kItems, ""},           {"NUMSIGINFO", Kind::kItems, ""},
      {"TCPSNDBUF", Kind::kBytes, ""},        {"TCPRCVBUF", Kind::kBytes, ""},
      {"OTHERSOCKBUF", Kind::kBytes, ""},     {"DGRAMRCVBUF", Kind::kBytes, ""},
      {"NUMOTHERSOCK", Kind::kItems, ""},     {"NUMFILE", Kind::kItems, ""},
      {"DCACHESIZE", Kind::kBytes, "DCACHE"}, {"NUMIPTENT", Kind::kItems, "IPTENTRIES"},
      {"AVNUMPROC", Kind::kItems, ""},        {"SWAPPAGES", Kind::kPages, ""},
  };
  return kUbc;
}

const UbcKey* find_ubc_key(std::string_view key) {
  const auto& t = ubc_keys();
  auto it = std::find_if(t.begin(), t.end(), [&](const UbcKey& u) { return u.key == key; });
  return it == t.end() ? nullptr : &*it;
}

const std::vector<std::string_view>& model_keys() {
  static const std::vector<std::string_view> kKeys = [] {
    std::vector<std::string_view> k = {
        "LOCAL_UID",  "LOCAL_GID",    "HOSTNAME", "IP_ADDRESS", "IP_ADDRESS_FORCED",
        "NAMESERVER", "SEARCHDOMAIN", "NETIF",    "NETDEV",     "RATE",
        "DEVNODES",   "DEVICES",      "CPUMASK",  "NODEMASK",   "CPUUNITS",
        "CPULIMIT",   "CPUS",         "IOPRIO",   "IOLIMIT",    "IOPSLIMIT"};
    for (const auto& u : ubc_keys()) k.push_back(u.key);
    return k;
  }();
  return kKeys;
}

Result<CtModel> parse_model(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(CtModel m, parse_model([&ct](std::string_view key) {
                           return key == "LOCAL_UID" || key == "LOCAL_GID" ? ct.conf().get(key)
                                                                           : ct.get(key);
                         }));
  m.ctid = ct.ctid();
  return m;
}

Result<CtModel> parse_model(const KeyLookup& get) {
  CtModel m;
  m.local_uid = kDefaultLocalUid;
  if (auto v = get("LOCAL_UID")) BERTH_RETURN_IF_ERROR(id_base("LOCAL_UID", *v, m.local_uid));
  m.local_gid = m.local_uid;
  if (auto v = get("LOCAL_GID")) BERTH_RETURN_IF_ERROR(id_base("LOCAL_GID", *v, m.local_gid));
  if (auto v = get("HOSTNAME"); v && !v->empty()) {
    if (!values::is_valid_hostname(*v)) return bad_key("HOSTNAME", *v, "not a valid host name");
    m.hostname = *v;
  }
  if (auto v = get("IP_ADDRESS"))
    BERTH_RETURN_IF_ERROR(take("IP_ADDRESS", values::parse_ip_list(*v), m.ip_addresses));
  if (auto v = get("IP_ADDRESS_FORCED"))
    BERTH_RETURN_IF_ERROR(take("IP_ADDRESS_FORCED", values::parse_ip_list(*v), m.ip_forced));
  if (auto v = get("NAMESERVER"))
    BERTH_RETURN_IF_ERROR(word_list("NAMESERVER", *v, is_nameserver, "IP address", m.nameservers));
  if (auto v = get("SEARCHDOMAIN"))
    BERTH_RETURN_IF_ERROR(
        word_list("SEARCHDOMAIN", *v, values::is_valid_hostname, "domain", m.searchdomains));
  if (auto v = get("NETIF")) BERTH_RETURN_IF_ERROR(take("NETIF", values::parse_netif(*v), m.netif));
  if (auto v = get("NETDEV"))
    BERTH_RETURN_IF_ERROR(
        word_list("NETDEV", *v, values::is_valid_ifname, "interface name", m.netdev));
  if (auto v = get("RATE"))
    BERTH_RETURN_IF_ERROR(take("RATE", values::parse_rate_list(*v), m.rate));
  if (auto v = get("DEVNODES"))
    BERTH_RETURN_IF_ERROR(take("DEVNODES", values::parse_devnodes(*v), m.devnodes));
  if (auto v = get("DEVICES"))
    BERTH_RETURN_IF_ERROR(take("DEVICES", values::parse_devices(*v), m.devices));
  for (auto [key, out] : {std::pair{"CPUMASK", &m.cpumask}, std::pair{"NODEMASK", &m.nodemask}}) {
    auto v = get(key);
    if (!v) continue;
    auto mask = values::parse_cpumask(*v, out == &m.cpumask);
    if (!mask.ok()) return bad_key(key, mask.error());
    *out = std::move(*mask);
  }
  struct Num {
    std::string_view key;
    uint64_t max;
    std::optional<uint64_t>* out;
  };
  const uint64_t kAny = static_cast<uint64_t>(INT64_MAX);
  for (const Num& n : {Num{"CPUUNITS", kAny, &m.cpuunits}, Num{"CPULIMIT", kAny, &m.cpulimit},
                       Num{"CPUS", kAny, &m.cpus}, Num{"IOPRIO", 7, &m.ioprio},
                       Num{"IOLIMIT", kAny, &m.iolimit}, Num{"IOPSLIMIT", kAny, &m.iopslimit}})
    if (auto v = get(n.key)) BERTH_RETURN_IF_ERROR(number(n.key, *v, n.max, *n.out));
  for (const auto& u : ubc_keys()) {
    auto v = get(u.key);
    if (!v) continue;
    auto bl = units::parse_barrier_limit(*v, u.kind);
    if (!bl.ok()) return bad_key(u.key, bl.error());
    m.ubc.emplace(std::string(u.key), *bl);
  }
  return m;
}

Status validate_config(const CtConfig& ct) {
  auto m = parse_model(ct);
  if (!m.ok()) return std::move(m).error();
  return {};
}

}  // namespace berth
