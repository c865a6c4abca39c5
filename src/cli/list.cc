// vzlist formatting: the field table, text columns, JSON objects, sorting and filters.
//
// Widths, headers and the trimming rule are legacy vzlist's (kolyshkin/vzctl src/vzlist.c): a
// negative width is left-aligned; a string column that is not the last one is cut to its width
// (list columns to their first word) unless -t; the line's trailing blanks are removed. Values
// come from the CT's own config file (as vzlist reads CTID.conf, not vz.conf) and from its
// runtime status; a running CT's UBC fields from its beancounters (ubc/model.h). Usage counters
// we cannot read (disk usage; held/maxheld/failcnt of a stopped CT) are `-` in text and null in
// JSON.
//
// Deviations from vzlist, on purpose: `layout` is 7 wide (our layouts are overlay|simfs); JSON
// without -o leaves out the aliases veid/vpsid; unknown numbers (cpus, ioprio) are null in JSON
// where vzlist 4.x printed 0. uptime stays 0 for a CT that is not running, as vzlist prints.
#include "cli/list.h"

#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/units.h"
#include "core/values/text.h"
#include "runtime/traffic.h"

namespace berth::cli {
namespace {

using Json = nlohmann::ordered_json;

// How a text cell is shortened when it is not the last column and -t was not given.
enum class Trim { kNone, kCut, kFirstWord };

// A sort key: null sorts before any value, numbers numerically, strings by strcmp.
struct SortKey {
  int kind = 0;  // 0 null, 1 number, 2 string
  long double num = 0;
  std::string str;
};

struct Field {
  std::string name;
  std::string header;
  int width = 0;
  Trim trim = Trim::kNone;
  bool suffixed = false;  // .m/.b/.l/.f/.s/.h: refused by -j, not in its default set
  bool alias = false;     // veid, vpsid: not in -j's default set
  ListNeeds needs;        // what of a row the field reads beyond the config and status
  std::function<std::optional<std::string>(const ListRow&)> text;  // nullopt: "-"
  std::function<Json(const ListRow&)> json;
  std::function<SortKey(const ListRow&)> sort;
};

constexpr const char* kDefaultFields = "ctid,numproc,status,ip,hostname";

SortKey null_key() { return {}; }
SortKey num_key(long double v) { return {1, v, {}}; }
SortKey str_key(std::string s) { return {2, 0, std::move(s)}; }

std::optional<std::string> conf_str(const ListRow& r, std::string_view key) {
  auto v = r.config.conf().get(key);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

std::vector<std::string> conf_list(const ListRow& r, std::string_view key) {
  return split_words(r.config.conf().get_or(key, ""));
}

using values::parse_u64;  // the config model's one number rule

std::optional<uint64_t> conf_num(const ListRow& r, std::string_view key) {
  auto v = conf_str(r, key);
  return v ? parse_u64(*v) : std::nullopt;
}

uint64_t ctid_num(const ListRow& r) { return parse_u64(r.config.ctid()).value_or(0); }

// Status words and vzlist's sort order for them (VE_RUNNING < STOPPED < MOUNTED < SUSPENDED).
enum StatusRank : int { kRankRunning, kRankStopped, kRankMounted, kRankSuspended };
int status_rank(const state::CtStatus& st) {
  if (st.running) return kRankRunning;
  if (st.mounted) return kRankMounted;  // vzlist checks the mount after the dump: mounted wins
  if (st.suspended) return kRankSuspended;
  return kRankStopped;
}

const char* status_word(const state::CtStatus& st) {
  static constexpr const char* kWords[] = {"running", "stopped", "mounted", "suspended"};
  return kWords[status_rank(st)];
}

Json opt_json(const std::optional<uint64_t>& v) { return v ? Json(*v) : Json(nullptr); }

Field str_field(std::string name, std::string header, int width, Trim trim,
                const std::function<std::optional<std::string>(const ListRow&)>& get) {
  Field f{std::move(name), std::move(header), width, trim};
  f.text = get;
  f.json = [get](const ListRow& r) {
    auto v = get(r);
    return v ? Json(*v) : Json(nullptr);
  };
  f.sort = [get](const ListRow& r) {
    auto v = get(r);
    return v ? str_key(*v) : null_key();
  };
  return f;
}

Field conf_str_field(std::string name, std::string header, int width, const char* key) {
  return str_field(std::move(name), std::move(header), width, Trim::kCut,
                   [key](const ListRow& r) { return conf_str(r, key); });
}

// A space-separated list (IP_ADDRESS, NAMESERVER, ...): a JSON array, its first word in text.
Field list_field(std::string name, std::string header, const char* key) {
  Field f{std::move(name), std::move(header), -15, Trim::kFirstWord};
  f.text = [key](const ListRow& r) -> std::optional<std::string> { return conf_str(r, key); };
  f.json = [key](const ListRow& r) { return Json(conf_list(r, key)); };
  f.sort = [key](const ListRow& r) {
    auto v = conf_str(r, key);
    return v ? str_key(*v) : null_key();
  };
  return f;
}

Field num_field(std::string name, std::string header, int width,
                const std::function<std::optional<uint64_t>(const ListRow&)>& get) {
  Field f{std::move(name), std::move(header), width, Trim::kNone};
  f.text = [get](const ListRow& r) -> std::optional<std::string> {
    auto v = get(r);
    return v ? std::optional(std::to_string(*v)) : std::nullopt;
  };
  f.json = [get](const ListRow& r) { return opt_json(get(r)); };
  f.sort = [get](const ListRow& r) {
    auto v = get(r);
    return v ? num_key(*v) : null_key();
  };
  return f;
}

Field conf_num_field(std::string name, std::string header, int width, const char* key) {
  return num_field(std::move(name), std::move(header), width,
                   [key](const ListRow& r) { return conf_num(r, key); });
}

Field bool_field(std::string name, std::string header, int width,
                 const std::function<bool(const ListRow&)>& get) {
  Field f{std::move(name), std::move(header), width, Trim::kNone};
  f.text = [get](const ListRow& r) { return std::optional<std::string>(get(r) ? "yes" : "no"); };
  f.json = [get](const ListRow& r) { return Json(get(r)); };
  f.sort = [get](const ListRow& r) { return num_key(get(r) ? 1 : 0); };
  return f;
}

// ---- user beancounters ----

struct UbcDef {
  const char* name;
  const char* header;
  const char* key;
  const char* alt_key;  // older spelling of the config key, or nullptr
  units::Kind kind;
};

// vzlist's UBC columns, in its order (FOR_ALL_UBC), with its headers.
constexpr UbcDef kUbcs[] = {
    {"kmemsize", "KMEMSIZE", "KMEMSIZE", nullptr, units::Kind::kBytes},
    {"lockedpages", "LOCKEDP", "LOCKEDPAGES", nullptr, units::Kind::kPages},
    {"privvmpages", "PRIVVMP", "PRIVVMPAGES", nullptr, units::Kind::kPages},
    {"shmpages", "SHMP", "SHMPAGES", nullptr, units::Kind::kPages},
    {"numproc", "NPROC", "NUMPROC", nullptr, units::Kind::kItems},
    {"physpages", "PHYSP", "PHYSPAGES", nullptr, units::Kind::kPages},
    {"vmguarpages", "VMGUARP", "VMGUARPAGES", nullptr, units::Kind::kPages},
    {"oomguarpages", "OOMGUARP", "OOMGUARPAGES", nullptr, units::Kind::kPages},
    {"numtcpsock", "NTCPSOCK", "NUMTCPSOCK", nullptr, units::Kind::kItems},
    {"numflock", "NFLOCK", "NUMFLOCK", nullptr, units::Kind::kItems},
    {"numpty", "NPTY", "NUMPTY", nullptr, units::Kind::kItems},
    {"numsiginfo", "NSIGINFO", "NUMSIGINFO", nullptr, units::Kind::kItems},
    {"tcpsndbuf", "TCPSNDB", "TCPSNDBUF", nullptr, units::Kind::kBytes},
    {"tcprcvbuf", "TCPRCVB", "TCPRCVBUF", nullptr, units::Kind::kBytes},
    {"othersockbuf", "OTHSOCKB", "OTHERSOCKBUF", nullptr, units::Kind::kBytes},
    {"dgramrcvbuf", "DGRAMRB", "DGRAMRCVBUF", nullptr, units::Kind::kBytes},
    {"numothersock", "NOTHSOCK", "NUMOTHERSOCK", nullptr, units::Kind::kItems},
    {"dcachesize", "DCACHESZ", "DCACHESIZE", "DCACHE", units::Kind::kBytes},
    {"numfile", "NFILE", "NUMFILE", nullptr, units::Kind::kItems},
    {"numiptent", "NIPTENT", "NUMIPTENT", "IPTENTRIES", units::Kind::kItems},
    {"swappages", "SWAPP", "SWAPPAGES", nullptr, units::Kind::kPages},
};

// barrier:limit from the config, each half on its own so that a bad half only hides itself.
std::array<std::optional<uint64_t>, 2> conf_barrier_limit(const ListRow& r, const char* key,
                                                          const char* alt, units::Kind kind) {
  auto v = conf_str(r, key);
  if (!v && alt) v = conf_str(r, alt);
  if (!v) return {};
  std::string_view s = *v;
  size_t colon = s.find(':');
  std::string_view b = s.substr(0, colon),
                   l = colon == std::string_view::npos ? b : s.substr(colon + 1);
  auto one = [kind](std::string_view part) -> std::optional<uint64_t> {
    auto x = units::parse_ubc_value(part, kind);
    return x.ok() ? std::optional(*x) : std::nullopt;
  };
  return {one(b), one(l)};
}

// held, maxheld, barrier, limit, failcnt (vzlist's index order: .b is 2, .l is 3).
std::array<std::optional<uint64_t>, 5> ubc_values(const ListRow& r, const UbcDef& d) {
  std::array<std::optional<uint64_t>, 5> v{};
  auto bl = conf_barrier_limit(r, d.key, d.alt_key, d.kind);
  v[2] = bl[0];
  v[3] = bl[1];
  // A running CT: the values of its beancounter (the kernel's limits where it enforces one).
  if (!r.status.running) return v;
  const ubc::Row* row = r.ubc ? r.ubc->find(d.name) : nullptr;
  if (!row) {
    if (std::string_view(d.name) == "numproc") v[0] = r.status.numproc;
    return v;
  }
  v = {row->held, row->maxheld, row->barrier, row->limit, row->failcnt};
  return v;
}

void add_ubc_fields(std::vector<Field>& out, const UbcDef& d) {
  static constexpr const char* kSuffix[] = {"", ".m", ".b", ".l", ".f"};
  static constexpr const char* kHeaderSuffix[] = {"", ".M", ".B", ".L", ".F"};
  for (int i = 0; i < 5; ++i) {
    Field f = num_field(std::string(d.name) + kSuffix[i], std::string(d.header) + kHeaderSuffix[i],
                        10, [d, i](const ListRow& r) { return ubc_values(r, d)[i]; });
    f.suffixed = i != 0;
    // numproc's held value is the status's count when no block was read (ubc_values).
    f.needs.ubc = !(i == 0 && std::string_view(d.name) == "numproc");
    if (i == 0) {
      f.json = [d](const ListRow& r) {
        auto v = ubc_values(r, d);
        Json o = Json::object();
        o["held"] = opt_json(v[0]);
        o["maxheld"] = opt_json(v[1]);
        o["barrier"] = opt_json(v[2]);
        o["limit"] = opt_json(v[3]);
        o["failcnt"] = opt_json(v[4]);
        return o;
      };
    }
    out.push_back(std::move(f));
  }
}

// ---- disk quota ----

// usage, softlimit, hardlimit; DISKSPACE in 1K blocks (suffixes are bytes), DISKINODES in inodes.
// The usage is the disk's (running or stopped); a CT without a disk has none ("-").
std::optional<std::array<std::optional<uint64_t>, 3>> disk_values(const ListRow& r, const char* key,
                                                                  uint64_t unit) {
  auto v = conf_str(r, key);
  if (!v) return std::nullopt;
  std::string_view s = *v;
  size_t colon = s.find(':');
  std::string_view soft = s.substr(0, colon),
                   hard = colon == std::string_view::npos ? soft : s.substr(colon + 1);
  auto one = [unit](std::string_view part) -> std::optional<uint64_t> {
    auto x = units::parse_size(part, unit);
    if (!x.ok()) return std::nullopt;
    return *x == units::kUnlimited ? *x : *x / unit;
  };
  std::optional<uint64_t> used;
  if (r.disk) used = unit == 1 ? r.disk->inodes_used : r.disk->bytes_used / unit;
  return std::array<std::optional<uint64_t>, 3>{used, one(soft), one(hard)};
}

void add_disk_fields(std::vector<Field>& out, const char* name, const char* header, const char* key,
                     uint64_t unit) {
  static constexpr const char* kSuffix[] = {"", ".s", ".h"};
  static constexpr const char* kHeaderSuffix[] = {"", ".S", ".H"};
  for (int i = 0; i < 3; ++i) {
    Field f = num_field(std::string(name) + kSuffix[i], std::string(header) + kHeaderSuffix[i], 10,
                        [key, unit, i](const ListRow& r) -> std::optional<uint64_t> {
                          auto v = disk_values(r, key, unit);
                          return v ? (*v)[i] : std::nullopt;
                        });
    f.suffixed = i != 0;
    f.needs.disk = i == 0;  // .s and .h are the config's
    if (i == 0) {
      f.json = [key, unit](const ListRow& r) {
        auto v = disk_values(r, key, unit);
        if (!v) return Json(nullptr);
        Json o = Json::object();
        o["usage"] = opt_json((*v)[0]);
        o["softlimit"] = opt_json((*v)[1]);
        o["hardlimit"] = opt_json((*v)[2]);
        return o;
      };
    }
    out.push_back(std::move(f));
  }
}

// ---- the table ----

std::string format_uptime(double secs) {
  auto total = static_cast<unsigned long long>(secs < 0 ? 0 : secs);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3llud%.2lluh:%.2llum:%.2llus", total / 86400, total / 3600 % 24,
                total / 60 % 60, total % 60);
  return buf;
}

double round_to(double v, double scale) { return std::round(v * scale) / scale; }

std::vector<Field> build_fields() {
  std::vector<Field> t;
  Field ctid =
      num_field("ctid", "CTID", 10, [](const ListRow& r) { return std::optional(ctid_num(r)); });
  t.push_back(ctid);
  for (const char* alias : {"veid", "vpsid"}) {
    Field a = ctid;
    a.name = alias;
    a.alias = true;
    t.push_back(std::move(a));
  }
  t.push_back(str_field("private", "PRIVATE", -32, Trim::kCut,
                        [](const ListRow& r) { return std::optional(r.config.ve_private()); }));
  t.push_back(str_field("root", "ROOT", -32, Trim::kCut,
                        [](const ListRow& r) { return std::optional(r.config.ve_root()); }));
  t.push_back(conf_str_field("mount_opts", "MOUNT_OPTS", -16, "MOUNT_OPTS"));
  t.push_back(conf_str_field("origin_sample", "ORIGIN_SAMPLE", 32, "ORIGIN_SAMPLE"));
  t.push_back(conf_str_field("hostname", "HOSTNAME", -32, "HOSTNAME"));
  t.push_back(conf_str_field("name", "NAME", -32, "NAME"));

  // The name when there is one (cut to 10), else the CTID; a string or a number in JSON.
  Field smart{"smart_name", "SMARTNAME", 10, Trim::kCut};
  smart.text = [](const ListRow& r) {
    return std::optional(conf_str(r, "NAME").value_or(r.config.ctid()));
  };
  smart.json = [](const ListRow& r) {
    auto n = conf_str(r, "NAME");
    return n ? Json(*n) : Json(ctid_num(r));
  };
  smart.sort = [](const ListRow& r) {
    auto n = conf_str(r, "NAME");
    return n ? str_key(*n) : null_key();
  };
  t.push_back(std::move(smart));

  t.push_back(conf_str_field("description", "DESCRIPTION", -32, "DESCRIPTION"));
  t.push_back(conf_str_field("ostemplate", "OSTEMPLATE", -32, "OSTEMPLATE"));
  t.push_back(list_field("ip", "IP_ADDR", "IP_ADDRESS"));
  t.push_back(list_field("nameserver", "NAMESERVER", "NAMESERVER"));
  t.push_back(list_field("searchdomain", "SEARCHDOMAIN", "SEARCHDOMAIN"));

  Field status = str_field("status", "STATUS", -9, Trim::kNone, [](const ListRow& r) {
    return std::optional<std::string>(status_word(r.status));
  });
  status.sort = [](const ListRow& r) { return num_key(status_rank(r.status)); };
  t.push_back(std::move(status));

  for (const auto& u : kUbcs) add_ubc_fields(t, u);
  add_disk_fields(t, "diskspace", "DSPACE", "DISKSPACE", 1024);
  add_disk_fields(t, "diskinodes", "DINODES", "DISKINODES", 1);

  Field la{"laverage", "LAVERAGE", 14, Trim::kNone};
  la.text = [](const ListRow& r) -> std::optional<std::string> {
    if (!r.status.laverage) return std::nullopt;
    const auto& a = *r.status.laverage;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%1.2f/%1.2f/%1.2f", a[0], a[1], a[2]);
    return buf;
  };
  la.json = [](const ListRow& r) {
    if (!r.status.laverage) return Json(nullptr);
    Json a = Json::array();
    for (double v : *r.status.laverage) a.push_back(round_to(v, 100));
    return a;
  };
  la.sort = [](const ListRow& r) {
    if (!r.status.laverage) return null_key();
    // Lexicographic on the three averages in hundredths (each far below 10^6).
    long double key = 0;
    for (double v : *r.status.laverage) key = key * 1e6L + std::llround(v * 100);
    return num_key(key);
  };
  la.needs.laverage = true;
  t.push_back(std::move(la));

  Field up{"uptime", "UPTIME", 15, Trim::kNone};
  up.text = [](const ListRow& r) {
    return r.status.running ? std::optional(format_uptime(r.status.uptime)) : std::nullopt;
  };
  up.json = [](const ListRow& r) {
    return Json(r.status.running ? round_to(r.status.uptime, 1000) : 0.0);
  };
  up.sort = [](const ListRow& r) {
    return r.status.running ? num_key(r.status.uptime) : null_key();
  };
  t.push_back(std::move(up));

  t.push_back(conf_num_field("cpulimit", "CPULIM", 7, "CPULIMIT"));
  t.push_back(conf_num_field("cpuunits", "CPUUNI", 7, "CPUUNITS"));
  t.push_back(conf_num_field("cpus", "CPUS", 5, "CPUS"));
  t.push_back(conf_num_field("ioprio", "IOP", 3, "IOPRIO"));
  t.push_back(num_field("iolimit", "IOLIMIT", 10, [](const ListRow& r) -> std::optional<uint64_t> {
    auto v = conf_str(r, "IOLIMIT");
    if (!v) return std::nullopt;
    auto n = units::parse_size(*v, 1);
    return n.ok() ? std::optional(*n) : std::nullopt;
  }));
  t.push_back(conf_num_field("iopslimit", "IOPS", 10, "IOPSLIMIT"));
  t.push_back(bool_field("onboot", "ONBOOT", 6,
                         [](const ListRow& r) { return r.config.conf().get("ONBOOT") == "yes"; }));
  t.push_back(conf_num_field("bootorder", "BOOTORDER", 10, "BOOTORDER"));
  t.push_back(str_field("layout", "LAYOUT", -7, Trim::kNone, [](const ListRow& r) {
    return std::optional<std::string>(layout_name(r.config.layout()));
  }));

  // FEATURES="nfs:on ppp:off": "nfs:on,ppp:off" in text (cut to 15), {"nfs": true, ...} in JSON.
  Field feat = str_field("features", "FEATURES", -15, Trim::kCut,
                         [](const ListRow& r) -> std::optional<std::string> {
                           std::string s;
                           for (const auto& w : conf_list(r, "FEATURES"))
                             s += (s.empty() ? "" : ",") + w;
                           return s.empty() ? std::nullopt : std::optional(s);
                         });
  feat.json = [](const ListRow& r) {
    Json o = Json::object();
    for (const auto& w : conf_list(r, "FEATURES")) {
      size_t colon = w.rfind(':');
      if (colon == std::string::npos) continue;
      o[w.substr(0, colon)] = w.substr(colon + 1) == "on";
    }
    return o.empty() ? Json(nullptr) : o;
  };
  t.push_back(std::move(feat));

  // vzlist's is_vswap_config(): the physpages limit is set (not unlimited, not INT_MAX).
  t.push_back(bool_field("vswap", "VSWAP", 5, [](const ListRow& r) {
    auto l = conf_barrier_limit(r, "PHYSPAGES", nullptr, units::Kind::kPages)[1];
    return l && *l != units::kUnlimited && *l != 2147483647ULL;
  }));
  t.push_back(bool_field("disabled", "DISABL", 6, [](const ListRow& r) {
    return r.config.conf().get("DISABLED") == "yes";
  }));

  Field ovc = conf_str_field("vm_overcommit", "VM_OVC", 6, "VM_OVERCOMMIT");
  ovc.trim = Trim::kNone;
  ovc.json = [](const ListRow& r) {
    auto v = conf_str(r, "VM_OVERCOMMIT");
    if (!v) return Json(nullptr);
    char* end = nullptr;
    double d = std::strtod(v->c_str(), &end);
    return end && *end == '\0' ? Json(d) : Json(nullptr);
  };
  t.push_back(std::move(ovc));
  t.push_back(conf_str_field("netfilter", "NETFILTER", -9, "NETFILTER"));
  t.push_back(list_field("capability", "CAPABILITY", "CAPABILITY"));
  t.push_back(num_field("local_uid", "LOCAL_UID", 10, [](const ListRow& r) {
    return std::optional<uint64_t>(r.config.local_uid());
  }));
  // Traffic counters (bytes, saved + live, as `berth netstat`); null when they cannot be read.
  t.push_back(num_field("netin", "NETIN", 14, [](const ListRow& r) -> std::optional<uint64_t> {
    auto c = runtime::traffic_counters(r.config);
    return c.ok() ? std::optional<uint64_t>(c->bytes_in) : std::nullopt;
  }));
  t.push_back(num_field("netout", "NETOUT", 14, [](const ListRow& r) -> std::optional<uint64_t> {
    auto c = runtime::traffic_counters(r.config);
    return c.ok() ? std::optional<uint64_t>(c->bytes_out) : std::nullopt;
  }));
  return t;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = build_fields();
  return kFields;
}

const Field* find_field(std::string_view name) {
  for (const auto& f : fields())
    if (f.name == name) return &f;
  return nullptr;
}

// Owned copies, not views: the field list may be a temporary (the -o value or the default set).
std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t comma = s.find(',', pos);
    out.emplace_back(
        s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (comma == std::string_view::npos) return out;
    pos = comma + 1;
  }
}

Result<std::vector<const Field*>> columns(const ListOptions& opts) {
  std::vector<const Field*> out;
  if (opts.fields.empty() && opts.json) {
    for (const auto& f : fields())
      if (!f.suffixed && !f.alias) out.push_back(&f);
    return out;
  }
  for (const std::string& name : split_commas(opts.fields.empty() ? kDefaultFields : opts.fields)) {
    const Field* f = find_field(name);
    if (f == nullptr) return Error::invalid("unknown field `" + name + "`", kListUsageExit);
    if (opts.json && f->suffixed)
      return Error::invalid("field `" + name + "` is not available in JSON output", kListUsageExit);
    out.push_back(f);
  }
  return out;
}

std::string pad(std::string s, int width) {
  size_t w = static_cast<size_t>(std::abs(width));
  if (s.size() >= w) return s;
  return width < 0 ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
}

std::string cell(const Field& f, const ListRow& r, bool cut) {
  std::string s = f.text(r).value_or("-");
  if (cut && f.trim == Trim::kFirstWord) s = s.substr(0, s.find(' '));
  size_t w = static_cast<size_t>(std::abs(f.width));
  if (cut && f.trim != Trim::kNone && s.size() > w) s.resize(w);
  return pad(std::move(s), f.width);
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

bool key_less(const SortKey& a, const SortKey& b) {
  if (a.kind != b.kind) return a.kind < b.kind;  // null first
  if (a.kind == 1) return a.num < b.num;
  return a.str < b.str;
}

bool glob_matches(const std::optional<std::string>& pattern,
                  const std::optional<std::string>& value) {
  if (!pattern) return true;
  return value && ::fnmatch(pattern->c_str(), value->c_str(), 0) == 0;
}

}  // namespace

std::string format_status_line(std::string_view ctid, const state::CtStatus& st) {
  std::string line = "CTID " + std::string(ctid);
  line += st.exists ? " exist" : " deleted";
  line += st.mounted ? " mounted" : " unmounted";
  line += st.running ? " running" : " down";
  if (!st.running && st.suspended) line += " suspended";
  return line;
}

std::string list_usage() {
  return "Usage: vzlist [-a | -S] [-n] [-H] [-t] [-j] [-o field[,field...] | -1] [-s [-]field]\n"
         "              [-h pattern] [-N pattern] [-d pattern] [CTID|name ...]\n"
         "       vzlist -L | --list\n"
         "Options:\n"
         "  -a, --all              list all containers (default: running ones)\n"
         "  -S, --stopped          list containers that are not running\n"
         "  -n, --name             show names instead of CTIDs\n"
         "  -H, --no-header        no column header\n"
         "  -t, --no-trim          do not cut long values\n"
         "  -j, --json             output as JSON\n"
         "  -o, --output f1,f2     output only these fields (see -L)\n"
         "  -1                     same as -H -octid\n"
         "  -s, --sort [-]field    sort by field ('-field' reverses)\n"
         "  -h, --hostname glob    only CTs whose hostname matches\n"
         "  -N, --name_filter glob only CTs whose name matches\n"
         "  -d, --description glob only CTs whose description matches\n"
         "  -L, --list             list the field names\n";
}

Result<ListOptions> parse_list_options(const std::vector<std::string>& args) {
  ListOptions o;
  std::string output, sort, hostname, name, description;
  bool one = false, names = false;
  // CLI11 throws; this is its adapter. getopt-style bundles (-aH, -octid, -s -numproc) work.
  try {
    CLI::App app{"vzlist"};
    app.set_help_flag("");  // -h is --hostname, as in vzlist
    app.add_flag("--help", o.help);
    app.add_flag("-a,--all", o.all);
    app.add_flag("-S,--stopped", o.stopped);
    CLI::Option* opt_n = app.add_flag("-n,--name", names);
    app.add_flag("-H,--no-header", o.no_header);
    app.add_flag("-t,--no-trim", o.no_trim);
    app.add_flag("-j,--json", o.json);
    app.add_flag("-L,--list", o.list_fields);
    CLI::Option* opt_1 = app.add_flag("-1", one);
    CLI::Option* opt_o = app.add_option("-o,--output", output);
    app.add_option("-s,--sort", sort);
    CLI::Option* opt_h = app.add_option("-h,--hostname", hostname);
    CLI::Option* opt_N = app.add_option("-N,--name_filter", name);
    CLI::Option* opt_d = app.add_option("-d,--description", description);
    app.add_option("ids", o.ids);
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
    app.parse(reversed);
    // -o, -1 and -n all set the columns; as with vzlist's getopt loop, the last one wins.
    for (const CLI::Option* p : app.parse_order()) {
      if (p == opt_o) o.fields = output;
      if (p == opt_1) o.fields = "ctid";
      if (p == opt_n) o.fields = "smart_name,numproc,status,ip,hostname";
    }
    if (*opt_1) o.no_header = true;
    if (*opt_h) o.hostname_glob = hostname;
    if (*opt_N) o.name_glob = name;
    if (*opt_d) o.description_glob = description;
  } catch (const CLI::ParseError& e) {
    return Error::invalid(std::string("bad command line: ") + e.what(), kListUsageExit);
  } catch (const std::exception& e) {
    return Error::invalid(std::string("bad command line: ") + e.what(), kListUsageExit);
  }
  if (!sort.empty() && sort.front() == '-') {
    o.sort_reverse = true;
    sort.erase(0, 1);
  }
  o.sort_field = sort;
  return o;
}

std::string format_field_names() {
  std::string out;
  char buf[128];
  for (const auto& f : fields()) {
    std::snprintf(buf, sizeof buf, "%-15s %-15s\n", f.name.c_str(), f.header.c_str());
    out += buf;
  }
  return out;
}

ListNeeds list_needs(const ListOptions& opts) {
  ListNeeds n;
  auto add = [&n](const Field& f) {
    n.ubc = n.ubc || f.needs.ubc;
    n.disk = n.disk || f.needs.disk;
    n.laverage = n.laverage || f.needs.laverage;
  };
  if (auto cols = columns(opts); cols.ok())
    for (const Field* f : *cols) add(*f);
  if (!opts.sort_field.empty())
    if (const Field* key = find_field(opts.sort_field)) add(*key);
  return n;
}

Status validate_list_options(const ListOptions& opts) {
  BERTH_RETURN_IF_ERROR(columns(opts));
  if (!opts.sort_field.empty() && find_field(opts.sort_field) == nullptr)
    return Error::invalid("invalid sort field name `" + opts.sort_field + "`", kListUsageExit);
  return {};
}

bool selected_by_state(const ListRow& row, const ListOptions& opts) {
  if (opts.stopped) return !row.status.running;
  return opts.all || !opts.ids.empty() || row.status.running;
}

bool matches_filters(const ListRow& row, const ListOptions& opts) {
  return glob_matches(opts.hostname_glob, conf_str(row, "HOSTNAME")) &&
         glob_matches(opts.name_glob, conf_str(row, "NAME")) &&
         glob_matches(opts.description_glob, conf_str(row, "DESCRIPTION"));
}

Result<std::string> render_list(std::vector<ListRow> rows, const ListOptions& opts) {
  BERTH_RETURN_IF_ERROR(validate_list_options(opts));
  BERTH_ASSIGN_OR_RETURN(std::vector<const Field*> cols, columns(opts));
  std::erase_if(rows, [&](const ListRow& r) { return !matches_filters(r, opts); });

  std::stable_sort(rows.begin(), rows.end(),
                   [](const ListRow& a, const ListRow& b) { return ctid_num(a) < ctid_num(b); });
  if (!opts.sort_field.empty()) {
    const Field* key = find_field(opts.sort_field);
    std::stable_sort(rows.begin(), rows.end(), [key](const ListRow& a, const ListRow& b) {
      return key_less(key->sort(a), key->sort(b));
    });
    if (opts.sort_reverse) std::reverse(rows.begin(), rows.end());
  }

  if (opts.json) {
    Json arr = Json::array();
    for (const auto& r : rows) {
      Json o = Json::object();
      for (const Field* f : cols) o[f->name] = f->json(r);
      arr.push_back(std::move(o));
    }
    // replace: a description with invalid UTF-8 must not make dump() throw.
    return arr.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  }

  std::string out;
  if (!opts.no_header) {
    std::string line;
    for (size_t i = 0; i < cols.size(); ++i)
      line += (i ? " " : "") + pad(cols[i]->header, cols[i]->width);
    out += rtrim(std::move(line)) + "\n";
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < cols.size(); ++i) {
      bool cut = !opts.no_trim && i + 1 < cols.size();
      line += (i ? " " : "") + cell(*cols[i], r, cut);
    }
    out += rtrim(std::move(line)) + "\n";
  }
  return out;
}

}  // namespace berth::cli
