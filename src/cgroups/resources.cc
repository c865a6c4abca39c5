// Write plans for cgroup v1 and v2, and parsing of the counters read back (see resources.h).
#include "cgroups/resources.h"

#include <charconv>
#include <cstdio>

#include "cgroups/convert.h"
#include "sys/fs.h"

namespace berth::cgroups {
namespace {

std::string v1_number(int64_t v) { return v == kNoLimit ? "-1" : std::to_string(v); }
std::string v2_number(int64_t v) { return v == kNoLimit ? "max" : std::to_string(v); }

// memory+swap for v1's memsw: unlimited when either part is (the kernel requires memsw >= mem).
int64_t mem_plus_swap(const Resources& r) {
  if (!r.memory_limit || *r.memory_limit == kNoLimit || *r.swap_limit == kNoLimit) return kNoLimit;
  return *r.memory_limit + *r.swap_limit;
}

}  // namespace

std::vector<CgroupWrite> v1_writes(const Resources& r) {
  std::vector<CgroupWrite> out;
  // memory.limit_in_bytes must stay <= memsw: the backend retries a refused write after the
  // others, which covers both raising and lowering the pair.
  if (r.memory_limit)
    out.push_back({"memory", "memory.limit_in_bytes", v1_number(*r.memory_limit)});
  if (r.swap_limit)
    out.push_back({"memory", "memory.memsw.limit_in_bytes", v1_number(mem_plus_swap(r))});
  if (r.cpu_shares) out.push_back({"cpu", "cpu.shares", std::to_string(*r.cpu_shares)});
  if (r.cpu_quota_us) {
    out.push_back({"cpu", "cpu.cfs_period_us", std::to_string(r.cpu_period_us)});
    out.push_back({"cpu", "cpu.cfs_quota_us", v1_number(*r.cpu_quota_us)});
  }
  if (r.cpuset_cpus) out.push_back({"cpuset", "cpuset.cpus", *r.cpuset_cpus});
  if (r.cpuset_mems) out.push_back({"cpuset", "cpuset.mems", *r.cpuset_mems});
  if (r.pids_max)
    out.push_back({"pids", "pids.max", v2_number(*r.pids_max)});  // v1 pids also says "max"
  if (r.io_weight) {
    out.push_back({"blkio", "blkio.weight", std::to_string(*r.io_weight)});  // CFQ (old kernels)
    out.push_back({"blkio", "blkio.bfq.weight", std::to_string(*r.io_weight)});  // BFQ
  }
  if (r.tcp_mem_limit)
    out.push_back({"memory", "memory.kmem.tcp.limit_in_bytes", v1_number(*r.tcp_mem_limit)});
  if (!r.io_device.empty()) {
    // v1 throttling has one file per direction and unit; "M:m 0" deletes the device's rule.
    auto rule = [&](int64_t v) {
      return r.io_device + " " + std::to_string(v == kNoLimit ? 0 : v);
    };
    for (const char* dir : {"read", "write"}) {
      if (r.io_bps)
        out.push_back(
            {"blkio", std::string("blkio.throttle.") + dir + "_bps_device", rule(*r.io_bps)});
      if (r.io_iops)
        out.push_back(
            {"blkio", std::string("blkio.throttle.") + dir + "_iops_device", rule(*r.io_iops)});
    }
  }
  return out;
}

std::vector<CgroupWrite> v2_writes(const Resources& r) {
  std::vector<CgroupWrite> out;
  if (r.memory_limit) out.push_back({"memory", "memory.max", v2_number(*r.memory_limit)});
  if (r.swap_limit) out.push_back({"memory", "memory.swap.max", v2_number(*r.swap_limit)});
  if (r.cpu_shares)
    out.push_back({"cpu", "cpu.weight", std::to_string(shares_to_weight(*r.cpu_shares))});
  if (r.cpu_quota_us)
    out.push_back(
        {"cpu", "cpu.max", v2_number(*r.cpu_quota_us) + " " + std::to_string(r.cpu_period_us)});
  if (r.cpuset_cpus) out.push_back({"cpuset", "cpuset.cpus", *r.cpuset_cpus});
  if (r.cpuset_mems) out.push_back({"cpuset", "cpuset.mems", *r.cpuset_mems});
  if (r.pids_max) out.push_back({"pids", "pids.max", v2_number(*r.pids_max)});
  if (r.io_weight) {
    // The same 100..1000 scale on v2 (io.weight takes 1..10000, default 100): weights only
    // matter relative to the other CTs, which all get theirs from IOPRIO the same way.
    out.push_back({"io", "io.weight", std::to_string(*r.io_weight)});
    out.push_back({"io", "io.bfq.weight", std::to_string(*r.io_weight)});
  }
  if (!r.io_device.empty() && (r.io_bps || r.io_iops)) {
    // One line per device; keys not named keep their value, "max" removes a limit.
    std::string line = r.io_device;
    auto key = [&](const char* k, int64_t v) {
      line += std::string(" ") + k + "=" + v2_number(v <= 0 ? kNoLimit : v);
    };
    if (r.io_bps) key("rbps", *r.io_bps), key("wbps", *r.io_bps);
    if (r.io_iops) key("riops", *r.io_iops), key("wiops", *r.io_iops);
    out.push_back({"io", "io.max", line});
  }
  return out;
}

std::optional<int64_t> parse_limit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max" || text == "-1") return kNoLimit;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  // v1 reports "no limit" as the page counter's maximum (LONG_MAX rounded down to a page).
  if (v >= (1ULL << 62)) return kNoLimit;
  return static_cast<int64_t>(v);
}

std::optional<uint64_t> keyed_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
      continue;
    std::string_view num = line.substr(key.size() + 1);
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec != std::errc() || p != num.data() + num.size()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

namespace {

bool blank(const std::string& s) { return s.find_first_not_of(" \n") == std::string::npos; }

// The parent group's value of a cpuset file (v1: cpuset.cpus; v2: its .effective when unset).
std::string parent_cpuset(const std::string& dir, const std::string& file) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  auto v = sys::read_file(parent + "/" + file);
  if (v.ok() && !blank(*v)) return *v;
  auto eff = sys::read_file(parent + "/" + file + ".effective");
  return eff.ok() ? *eff : std::string();
}

}  // namespace

Status apply_writes(const std::vector<CgroupWrite>& plan,
                    const std::function<std::string(const std::string&)>& dir_of) {
  std::vector<std::pair<std::string, std::string>> retry;  // path, value
  for (const auto& w : plan) {
    std::string dir = dir_of(w.controller);
    if (dir.empty()) continue;
    std::string path = dir + "/" + w.file;
    if (!sys::path_exists(path)) continue;
    std::string value = w.value;
    if (value.empty() && w.file.rfind("cpuset.", 0) == 0) value = parent_cpuset(dir, w.file);
    if (blank(value)) value = "\n";  // an empty write(2) would not reach the kernel
    auto st = sys::write_file(path, value);
    if (st.ok()) continue;
    if (st.error().code() != EINVAL && st.error().code() != EBUSY) return st;
    retry.emplace_back(path, value);
  }
  for (const auto& [path, value] : retry) BERTH_RETURN_IF_ERROR(sys::write_file(path, value));
  return {};
}

uint64_t read_u64(const std::string& path) {
  auto text = sys::read_file(path);
  if (!text.ok()) return 0;
  auto v = parse_limit(*text);
  return v && *v > 0 ? static_cast<uint64_t>(*v) : 0;
}

int64_t read_limit(const std::string& path) {
  auto text = sys::read_file(path);
  if (!text.ok()) return kNoLimit;
  return parse_limit(*text).value_or(kNoLimit);
}

uint64_t read_keyed(const std::string& path, std::string_view key) {
  auto text = sys::read_file(path);
  return text.ok() ? keyed_value(*text, key).value_or(0) : 0;
}

}  // namespace berth::cgroups
