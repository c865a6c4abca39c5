// Beancounter rows from raw counters, and the Version 2.5 text (see model.h).
#include "ubc/model.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/ct_config.h"
#include "ubc/text.h"

namespace berth::ubc {
namespace {

using units::Kind;
constexpr uint64_t kMax = units::kUnlimited;

enum : int {
  kKmemsize = 0,
  kLockedpages,
  kPrivvmpages,
  kShmpages,
  kDummy4,
  kNumproc,
  kPhyspages,
  kVmguarpages,
  kOomguarpages,
  kNumtcpsock,
  kNumflock,
  kNumpty,
  kNumsiginfo,
  kTcpsndbuf,
  kTcprcvbuf,
  kOthersockbuf,
  kDgramrcvbuf,
  kNumothersock,
  kDcachesize,
  kNumfile,
  kDummy20,
  kDummy21,
  kDummy22,
  kNumiptent,
  kSwappages,
};

// A kernel limit (-1 unlimited) in the row's unit.
uint64_t kernel_limit(int64_t v, uint64_t unit) {
  return v < 0 ? kMax : static_cast<uint64_t>(v) / unit;
}

// Fill barrier/limit: the kernel's limit when it enforces one, the config's barrier (never above
// the limit) when set.
void set_limits(Row& r, const units::BarrierLimit& conf, std::optional<uint64_t> kernel) {
  r.barrier = conf.barrier;
  r.limit = conf.limit;
  if (!kernel) return;
  r.limit = *kernel;
  r.barrier =
      std::min(conf.barrier == kMax && conf.limit == kMax ? *kernel : conf.barrier, *kernel);
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

const std::array<ResourceDef, kRowCount>& resources() {
  static const std::array<ResourceDef, kRowCount> kDefs = {{
      {"kmemsize", "KMEMSIZE", nullptr, Kind::kBytes},
      {"lockedpages", "LOCKEDPAGES", nullptr, Kind::kPages},
      {"privvmpages", "PRIVVMPAGES", nullptr, Kind::kPages},
      {"shmpages", "SHMPAGES", nullptr, Kind::kPages},
      {"dummy", nullptr, nullptr, Kind::kItems},
      {"numproc", "NUMPROC", nullptr, Kind::kItems},
      {"physpages", "PHYSPAGES", nullptr, Kind::kPages},
      {"vmguarpages", "VMGUARPAGES", nullptr, Kind::kPages},
      {"oomguarpages", "OOMGUARPAGES", nullptr, Kind::kPages},
      {"numtcpsock", "NUMTCPSOCK", nullptr, Kind::kItems},
      {"numflock", "NUMFLOCK", nullptr, Kind::kItems},
      {"numpty", "NUMPTY", nullptr, Kind::kItems},
      {"numsiginfo", "NUMSIGINFO", nullptr, Kind::kItems},
      {"tcpsndbuf", "TCPSNDBUF", nullptr, Kind::kBytes},
      {"tcprcvbuf", "TCPRCVBUF", nullptr, Kind::kBytes},
      {"othersockbuf", "OTHERSOCKBUF", nullptr, Kind::kBytes},
      {"dgramrcvbuf", "DGRAMRCVBUF", nullptr, Kind::kBytes},
      {"numothersock", "NUMOTHERSOCK", nullptr, Kind::kItems},
      {"dcachesize", "DCACHESIZE", "DCACHE", Kind::kBytes},
      {"numfile", "NUMFILE", nullptr, Kind::kItems},
      {"dummy", nullptr, nullptr, Kind::kItems},
      {"dummy", nullptr, nullptr, Kind::kItems},
      {"dummy", nullptr, nullptr, Kind::kItems},
      {"numiptent", "NUMIPTENT", "IPTENTRIES", Kind::kItems},
      {"swappages", "SWAPPAGES", nullptr, Kind::kPages},
  }};
  return kDefs;
}

int resource_index(std::string_view name) {
  if (name == "dummy") return -1;
  const auto& defs = resources();
  for (int i = 0; i < kRowCount; ++i)
    if (name == defs[i].name) return i;
  return -1;
}

const Row* Block::find(std::string_view name) const {
  for (const auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

std::array<units::BarrierLimit, kRowCount> config_limits(
    const std::function<std::optional<std::string>(std::string_view)>& get) {
  std::array<units::BarrierLimit, kRowCount> out{};
  const auto& defs = resources();
  for (int i = 0; i < kRowCount; ++i) {
    if (!defs[i].key) continue;
    auto v = get(defs[i].key);
    if ((!v || v->empty()) && defs[i].alt_key) v = get(defs[i].alt_key);
    if (!v || v->empty()) continue;
    auto bl = units::parse_barrier_limit(*v, defs[i].kind);
    if (bl.ok()) out[i] = *bl;
  }
  return out;
}

Block compute_block(const std::string& uid, const Raw& raw,
                    const std::array<units::BarrierLimit, kRowCount>& conf) {
  constexpr uint64_t kPage = units::kPageSize;
  Block b{uid, {}};
  const auto& defs = resources();
  b.rows.resize(kRowCount);
  for (int i = 0; i < kRowCount; ++i) {
    b.rows[i].name = defs[i].name;
    set_limits(b.rows[i], conf[i], std::nullopt);
  }
  auto fill = [&](int i, uint64_t held, std::optional<uint64_t> peak, uint64_t failcnt) {
    Row& r = b.rows[i];
    r.held = held;
    r.maxheld = std::max(held, peak.value_or(held));
    r.failcnt = failcnt;
  };
  auto pages = [](std::optional<uint64_t> bytes) -> std::optional<uint64_t> {
    return bytes ? std::optional(*bytes / kPage) : std::nullopt;
  };

  if (raw.kmem_usage) fill(kKmemsize, *raw.kmem_usage, raw.kmem_peak, raw.kmem_failcnt);
  fill(kLockedpages, raw.locked_bytes / kPage, std::nullopt, 0);
  fill(kPrivvmpages, raw.privvm_bytes / kPage, std::nullopt, 0);
  fill(kShmpages, raw.shmem / kPage, std::nullopt, 0);

  fill(kNumproc, raw.pids_current, raw.pids_peak, raw.pids_failcnt);
  set_limits(b.rows[kNumproc], conf[kNumproc], kernel_limit(raw.pids_limit, 1));

  // physpages' failcnt: the kernel's count of hits of the limit, or the OOM kills where the
  // kernel counts none (6.x v1 leaves memory.failcnt at 0 while the limit is hit).
  uint64_t mem_fail = raw.mem_failcnt + raw.swap_failcnt;
  if (mem_fail == 0) mem_fail = raw.oom_kills;
  fill(kPhyspages, raw.mem_usage / kPage, pages(raw.mem_peak), mem_fail);
  set_limits(b.rows[kPhyspages], conf[kPhyspages], kernel_limit(raw.mem_limit, kPage));

  uint64_t memsw = raw.mem_usage + raw.swap_usage;
  std::optional<uint64_t> memsw_peak;
  if (raw.mem_peak) memsw_peak = *raw.mem_peak + raw.swap_peak.value_or(raw.swap_usage);
  fill(kOomguarpages, memsw / kPage, pages(memsw_peak), raw.oom_kills);

  fill(kNumtcpsock, raw.numtcpsock, std::nullopt, 0);
  fill(kNumflock, raw.numflock, std::nullopt, 0);
  fill(kNumpty, raw.numpty, std::nullopt, 0);
  if (raw.sock_usage) fill(kTcpsndbuf, *raw.sock_usage, raw.sock_peak, raw.sock_failcnt);
  fill(kNumothersock, raw.numothersock, std::nullopt, 0);
  if (raw.dcache) fill(kDcachesize, *raw.dcache, std::nullopt, 0);
  fill(kNumfile, raw.numfile, std::nullopt, 0);

  fill(kSwappages, raw.swap_usage / kPage, pages(raw.swap_peak), raw.swap_failcnt);
  set_limits(b.rows[kSwappages], conf[kSwappages], kernel_limit(raw.swap_limit, kPage));
  return b;
}

std::vector<uint64_t> merge_maxheld(Block& b, const std::vector<uint64_t>& previous) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < b.rows.size(); ++i) {
    if (i < previous.size()) b.rows[i].maxheld = std::max(b.rows[i].maxheld, previous[i]);
    out.push_back(b.rows[i].maxheld);
  }
  return out;
}

std::string render_v25(const std::vector<Block>& blocks) {
  std::string out = "Version: 2.5\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%10s  %-12s %20s %20s %20s %20s %20s\n", "uid", "resource",
                "held", "maxheld", "barrier", "limit", "failcnt");
  out += buf;
  for (const auto& b : blocks) {
    bool first = true;
    for (const auto& r : b.rows) {
      std::string uid = first ? b.uid + ":" : "";
      std::snprintf(
          buf, sizeof buf, "%10s  %-12s %20llu %20llu %20llu %20llu %20llu\n", uid.c_str(),
          r.name.c_str(), static_cast<unsigned long long>(r.held),
          static_cast<unsigned long long>(r.maxheld), static_cast<unsigned long long>(r.barrier),
          static_cast<unsigned long long>(r.limit), static_cast<unsigned long long>(r.failcnt));
      out += buf;
      first = false;
    }
  }
  return out;
}

Result<std::vector<Block>> parse_v25(std::string_view text) {
  std::vector<Block> out;
  int lineno = 0;
  for (std::string_view line : lines_of(text)) {
    ++lineno;
    auto w = split_words(line);
    if (lineno == 1) {
      if (w.size() != 2 || w[0] != "Version:")
        return Error::with_status(exitcode::kVzubcFailed, "parse beancounters: no `Version:` line");
      if (w[1] != "2.5")
        return Error::with_status(
            exitcode::kVzubcFailed,
            "parse beancounters: version " + std::string(w[1]) + " is not supported");
      continue;
    }
    if (w.empty() || (w[0] == "uid" && w.size() > 1 && w[1] == "resource")) continue;
    if (w[0].back() == ':') {
      out.push_back(Block{w[0].substr(0, w[0].size() - 1), {}});
      w.erase(w.begin());
    }
    if (out.empty() || w.size() != 6)
      return Error::with_status(exitcode::kVzubcFailed,
                                "parse beancounters: bad line " + std::to_string(lineno));
    Row r{w[0]};
    uint64_t* dst[] = {&r.held, &r.maxheld, &r.barrier, &r.limit, &r.failcnt};
    for (int i = 0; i < 5; ++i) {
      auto v = parse_u64(w[i + 1]);
      if (!v)
        return Error::with_status(
            exitcode::kVzubcFailed,
            "parse beancounters: bad number on line " + std::to_string(lineno));
      *dst[i] = *v;
    }
    out.back().rows.push_back(std::move(r));
  }
  if (lineno == 0)
    return Error::with_status(exitcode::kVzubcFailed, "parse beancounters: empty input");
  return out;
}

}  // namespace berth::ubc
