// The CT's own /proc/cpuinfo (see cpuinfo.h).
#include "ubc/cpuinfo.h"

#include <charconv>
#include <cstdio>
#include <vector>

#include "state/ct_cgroup.h"
#include "sys/fs.h"
#include "ubc/collect.h"

namespace berth::ubc {
namespace {

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "processor\t: 3" -> 3.
std::optional<int> processor_of(std::string_view line) {
  if (line.rfind("processor", 0) != 0) return std::nullopt;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return to_int(v);
}

}  // namespace

std::optional<std::set<int>> parse_cpu_list(std::string_view text) {
  std::set<int> out;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(pos, comma - pos);
    size_t dash = part.find('-');
    auto a = to_int(part.substr(0, dash));
    auto b = dash == std::string_view::npos ? a : to_int(part.substr(dash + 1));
    if (!a || !b || *b < *a || *b - *a > 65536) return std::nullopt;
    for (int c = *a; c <= *b; ++c) out.insert(c);
    pos = comma + 1;
  }
  return out;
}

std::optional<int> cpus_of_quota(std::string_view text) {
  auto words = std::string(text);
  long long quota = 0, period = 0;
  if (std::sscanf(words.c_str(), "%lld %lld", &quota, &period) != 2 || quota <= 0 || period <= 0)
    return std::nullopt;
  return static_cast<int>((quota + period - 1) / period);
}

std::string virtual_cpuinfo(std::string_view host, const std::set<int>& allowed,
                            std::optional<int> max_cpus) {
  // Split into blocks at empty lines; each block keeps its lines.
  std::vector<std::vector<std::string_view>> blocks(1);
  size_t pos = 0;
  while (pos < host.size()) {
    size_t eol = host.find('\n', pos);
    if (eol == std::string_view::npos) eol = host.size();
    std::string_view line = host.substr(pos, eol - pos);
    if (line.empty()) {
      if (!blocks.back().empty()) blocks.emplace_back();
    } else {
      blocks.back().push_back(line);
    }
    pos = eol + 1;
  }
  if (blocks.back().empty()) blocks.pop_back();
  bool per_cpu = false;
  for (const auto& b : blocks)
    if (!b.empty() && processor_of(b.front())) per_cpu = true;
  if (!per_cpu) return std::string(host);
  std::string out;
  int shown = 0;
  for (const auto& b : blocks) {
    auto cpu = processor_of(b.front());
    if (!cpu) continue;
    if (!allowed.empty() && !allowed.count(*cpu)) continue;
    if (max_cpus && shown >= *max_cpus) break;
    size_t colon = b.front().find(':');
    out += std::string(b.front().substr(0, colon + 1)) + " " + std::to_string(shown) + "\n";
    for (size_t i = 1; i < b.size(); ++i) {
      out += b[i];
      out += '\n';
    }
    out += '\n';
    ++shown;
  }
  return out;
}

std::string ct_cpuinfo(const CtConfig& ct) {
  auto host = sys::read_file("/proc/cpuinfo");
  if (!host.ok()) return std::string();
  std::set<int> allowed;
  std::optional<int> max_cpus;
  if (auto cg = state::cgroup_backend(); cg.ok()) {
    bool v2 = std::string_view((*cg)->name()) == "v2";
    std::string group = state::ct_group_of(ct);
    if (auto dir = controller_group_dir(**cg, group, "cpuset")) {
      auto text = sys::read_file(*dir + (v2 ? "/cpuset.cpus.effective" : "/cpuset.effective_cpus"));
      if (text.ok())
        if (auto l = parse_cpu_list(*text)) allowed = *l;
    }
    // The CPU quota as it is now (CPUS and CPULIMIT both end there, live `set`s included).
    if (auto dir = controller_group_dir(**cg, group, "cpu")) {
      auto read = [&](const char* f) {
        auto t = sys::read_file(*dir + f);
        return t.ok() ? *t : std::string();
      };
      max_cpus = cpus_of_quota(v2 ? read("/cpu.max")
                                  : read("/cpu.cfs_quota_us") + " " + read("/cpu.cfs_period_us"));
    }
  }
  return virtual_cpuinfo(*host, allowed, max_cpus);
}

}  // namespace berth::ubc
