// The CT's own /proc/meminfo (see meminfo.h).
#include "ubc/meminfo.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "cgroups/resources.h"
#include "state/ct_cgroup.h"
#include "state/status.h"
#include "sys/fs.h"
#include "ubc/collect.h"
#include "ubc/text.h"

namespace berth::ubc {
namespace {

// "MemTotal:       24683656 kB" -> 24683656 (kB); nullopt for a line without a number.
std::optional<uint64_t> line_kb(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(colon + 1);
  size_t a = rest.find_first_not_of(' ');
  if (a == std::string_view::npos) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(rest.data() + a, rest.data() + rest.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

// The line with its number replaced, right-aligned in the same field (wider only if it must be).
std::string with_kb(std::string_view line, uint64_t kb) {
  size_t colon = line.find(':');
  std::string_view rest = line.substr(colon + 1);
  size_t a = rest.find_first_not_of(' ');
  size_t b = rest.find_first_not_of("0123456789", a);
  if (b == std::string_view::npos) b = rest.size();
  std::string num = std::to_string(kb);
  size_t width = b;  // spaces + digits of the host's field
  std::string field = num.size() >= width ? num : std::string(width - num.size(), ' ') + num;
  return std::string(line.substr(0, colon + 1)) + field + std::string(rest.substr(b));
}

}  // namespace

std::string virtual_meminfo(std::string_view host_meminfo, const MemCounters& c) {
  auto lines = lines_of(host_meminfo);
  std::map<std::string_view, uint64_t> host;
  for (auto l : lines)
    if (auto v = line_kb(l)) host[l.substr(0, l.find(':'))] = *v;
  const uint64_t kb = 1024;
  uint64_t host_total = host.count("MemTotal") ? host["MemTotal"] : 0;
  uint64_t total = c.limit ? std::min(*c.limit / kb, host_total) : host_total;
  uint64_t used = std::min(c.usage / kb, total);
  uint64_t free = total - used;
  uint64_t cache = std::min(c.file / kb, used);
  uint64_t reclaimable = c.file > c.shmem ? (c.file - c.shmem) / kb : 0;
  uint64_t available = std::min(total, free + reclaimable);
  uint64_t swap_total =
      c.swap_limit ? *c.swap_limit / kb : (host.count("SwapTotal") ? host["SwapTotal"] : 0);
  uint64_t swap_free = swap_total - std::min(c.swap_usage / kb, swap_total);
  std::map<std::string_view, uint64_t> ours = {
      {"MemTotal", total},
      {"MemFree", free},
      {"MemAvailable", available},
      {"Buffers", 0},
      {"Cached", cache},
      {"SwapCached", 0},
      {"Active", (c.active_anon + c.active_file) / kb},
      {"Inactive", (c.inactive_anon + c.inactive_file) / kb},
      {"Active(anon)", c.active_anon / kb},
      {"Inactive(anon)", c.inactive_anon / kb},
      {"Active(file)", c.active_file / kb},
      {"Inactive(file)", c.inactive_file / kb},
      {"SwapTotal", swap_total},
      {"SwapFree", swap_free},
      {"AnonPages", c.anon / kb},
      {"Shmem", c.shmem / kb},
      {"Slab", (c.slab_reclaimable + c.slab_unreclaimable) / kb},
      {"SReclaimable", c.slab_reclaimable / kb},
      {"SUnreclaim", c.slab_unreclaimable / kb},
      {"KReclaimable", c.slab_reclaimable / kb},
      {"Mapped", c.mapped / kb},
      {"Dirty", c.dirty / kb},
      {"Writeback", c.writeback / kb},
      {"Unevictable", c.unevictable / kb},
      {"Mlocked", c.mlocked / kb},
      {"KernelStack", c.kernel_stack / kb},
      {"PageTables", c.pagetables / kb},
  };
  std::string out;
  out.reserve(host_meminfo.size());
  for (auto l : lines) {
    auto it = ours.find(l.substr(0, l.find(':')));
    if (it != ours.end() && line_kb(l))
      out += with_kb(l, it->second);
    else
      out += l;
    out += '\n';
  }
  return out;
}

Result<MemCounters> read_mem_counters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string group = state::ct_group_of(ct);
  auto dir = memory_group_dir(*cg, group);
  if (!dir) return Error::from_errno(ENOENT, "find the CT's memory cgroup");
  cgroups::Stats s = cg->stats(group);
  MemCounters c;
  if (s.memory.limit != cgroups::kNoLimit) c.limit = static_cast<uint64_t>(s.memory.limit);
  if (s.swap.limit != cgroups::kNoLimit) c.swap_limit = static_cast<uint64_t>(s.swap.limit);
  c.usage = s.memory.held;
  c.swap_usage = s.swap.held;
  auto stat = sys::read_file(*dir + "/memory.stat");
  std::string text = stat.ok() ? *stat : std::string();
  bool v2 = std::string_view(cg->name()) == "v2";
  // v1 counts the group's subtree in total_*; v2's keys are hierarchical already.
  auto key = [&](std::string_view v2key, std::string_view v1key) {
    return cgroups::keyed_value(text, v2 ? v2key : v1key).value_or(0);
  };
  c.file = key("file", "total_cache");
  c.shmem = key("shmem", "total_shmem");
  c.anon = key("anon", "total_rss");
  c.active_anon = key("active_anon", "total_active_anon");
  c.inactive_anon = key("inactive_anon", "total_inactive_anon");
  c.active_file = key("active_file", "total_active_file");
  c.inactive_file = key("inactive_file", "total_inactive_file");
  c.mapped = key("file_mapped", "total_mapped_file");
  c.dirty = key("file_dirty", "total_dirty");
  c.writeback = key("file_writeback", "total_writeback");
  c.unevictable = key("unevictable", "total_unevictable");
  if (v2) {
    c.slab_reclaimable = key("slab_reclaimable", "");
    c.slab_unreclaimable = key("slab_unreclaimable", "");
    c.kernel_stack = key("kernel_stack", "");
    c.pagetables = key("pagetables", "");
  }
  return c;
}

}  // namespace berth::ubc
