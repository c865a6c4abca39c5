// Reading a CT's beancounter counters from the kernel (see collect.h).
#include "ubc/collect.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "cgroups/resources.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
#include "state/ct_cgroup.h"
#include "state/status.h"
#include "sys/fs.h"
#include "ubc/ct_access.h"
#include "ubc/text.h"

namespace berth::ubc {
namespace {

uint64_t to_u64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Entries of a directory, without "." and ".."; pred filters names.
template <typename P>
uint64_t count_entries(const std::string& dir, P pred) {
  uint64_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0 && pred(e->d_name))
        ++n;
    ::closedir(d);
  }
  return n;
}

std::optional<uint64_t> nonzero(uint64_t v) { return v ? std::optional(v) : std::nullopt; }

std::string read_or_empty(const std::string& path) {
  auto t = sys::read_file(path);
  return t.ok() ? *t : std::string();
}

// The counters Backend::stats() does not read: kernel memory, socket buffers, shmem, dentries.
void read_extra_counters(cgroups::Backend& cg, const std::string& group, Raw& raw) {
  bool v2 = std::string_view(cg.name()) == "v2";
  if (auto dir = memory_group_dir(cg, group)) {
    std::string d = *dir + "/memory.";
    std::string stat = read_or_empty(d + "stat");
    auto key = [&](std::string_view k) { return cgroups::keyed_value(stat, k); };
    if (v2) {
      raw.kmem_usage = key("kernel");
      if (!raw.kmem_usage)
        raw.kmem_usage = key("slab").value_or(0) + key("kernel_stack").value_or(0) +
                         key("pagetables").value_or(0);
      raw.sock_usage = key("sock");
      raw.shmem = key("shmem").value_or(0);
      raw.dcache = key("slab_reclaimable");
    } else {
      if (sys::path_exists(d + "kmem.usage_in_bytes")) {
        raw.kmem_usage = cgroups::read_u64(d + "kmem.usage_in_bytes");
        raw.kmem_peak = cgroups::read_u64(d + "kmem.max_usage_in_bytes");
        raw.kmem_failcnt = cgroups::read_u64(d + "kmem.failcnt");
      }
      if (sys::path_exists(d + "kmem.tcp.usage_in_bytes")) {
        raw.sock_usage = cgroups::read_u64(d + "kmem.tcp.usage_in_bytes");
        raw.sock_peak = cgroups::read_u64(d + "kmem.tcp.max_usage_in_bytes");
        raw.sock_failcnt = cgroups::read_u64(d + "kmem.tcp.failcnt");
      }
      raw.shmem = key("total_shmem").value_or(key("shmem").value_or(0));
    }
  }
}

// maxheld carried across reads: "<init pid> <init start time>" then one maximum per row.
std::vector<uint64_t> keep_maxheld(const CtConfig& ct, pid_t init, Block& b) {
  std::string dir = ct.host().paths().run + "/ubc";
  if (!make_dirs(dir, 0700).ok()) return {};
  std::string path = dir + "/" + ct.ctid() + ".maxheld";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd || ::flock(fd.get(), LOCK_EX) != 0) return merge_maxheld(b, {});
  std::string text(4096, '\0');
  ssize_t n = ::pread(fd.get(), text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  std::string owner =
      std::to_string(init) + " " + std::to_string(sys::proc_start_time(init).value_or(0));
  std::vector<uint64_t> prev;
  size_t nl = text.find('\n');
  if (nl != std::string::npos && text.substr(0, nl) == owner)
    for (const auto& w : split_words(std::string_view(text).substr(nl + 1)))
      prev.push_back(to_u64(w));
  auto now = merge_maxheld(b, prev);
  std::string out = owner + "\n";
  for (uint64_t v : now) out += std::to_string(v) + " ";
  out += "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)!::pwrite(fd.get(), out.data(), out.size(), 0);
  return now;
}

}  // namespace

uint64_t status_kb(std::string_view status, std::string_view key) {
  uint64_t v = 0;
  for (std::string_view line : lines_of(status)) {
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':')
      continue;
    std::string_view rest = line.substr(key.size() + 1);
    size_t i = rest.find_first_not_of(" \t");
    if (i != std::string_view::npos) v = to_u64(rest.substr(i)) * 1024;
  }
  return v;
}

uint64_t count_locks(std::string_view proc_locks, const std::vector<pid_t>& sorted_pids) {
  uint64_t n = 0;
  for (std::string_view line : lines_of(proc_locks)) {
    auto w = split_words(line);
    // "1: POSIX  ADVISORY  WRITE 1234 08:01:5 0 EOF"; waiters: "1: -> POSIX ..."
    if (w.size() < 5 || w[1] == "->") continue;
    long pid = 0;
    auto [p, ec] = std::from_chars(w[4].data(), w[4].data() + w[4].size(), pid);
    if (ec == std::errc() &&
        std::binary_search(sorted_pids.begin(), sorted_pids.end(), static_cast<pid_t>(pid)))
      ++n;
  }
  return n;
}

uint64_t sockstat_value(std::string_view sockstat, std::string_view proto, std::string_view field) {
  uint64_t v = 0;
  for (std::string_view line : lines_of(sockstat)) {
    auto w = split_words(line);
    if (w.empty() || w[0].size() != proto.size() + 1 || w[0].substr(0, proto.size()) != proto ||
        w[0].back() != ':')
      continue;
    for (size_t i = 1; i + 1 < w.size(); i += 2)
      if (w[i] == field) v = to_u64(w[i + 1]);
  }
  return v;
}

void count_processes(const std::vector<pid_t>& tgids, pid_t init, Raw& raw,
                     std::pair<uid_t, gid_t> ct_root) {
  for (pid_t p : tgids) {
    std::string proc = "/proc/" + std::to_string(p);
    std::string status = read_or_empty(proc + "/status");
    raw.locked_bytes += status_kb(status, "VmLck");
    raw.privvm_bytes += status_kb(status, "VmData") + status_kb(status, "VmStk");
    raw.numfile += count_entries(proc + "/fd", [](const char*) { return true; });
  }
  std::vector<pid_t> sorted = tgids;
  std::sort(sorted.begin(), sorted.end());
  raw.numflock = count_locks(read_or_empty("/proc/locks"), sorted);
  if (init <= 0) return;
  // The CT's /dev/pts is the one path read inside the CT: resolved beneath its root, as its root,
  // and only a devpts counts (ct_access.h). Its network namespace's counters come from the host's
  // procfs through the init's pid, which the CT cannot redirect.
  raw.numpty = count_ct_ptys(init, ct_root.first, ct_root.second).value_or(0);
  std::string proc = "/proc/" + std::to_string(init);
  std::string s4 = read_or_empty(proc + "/net/sockstat"),
              s6 = read_or_empty(proc + "/net/sockstat6");
  raw.numtcpsock = sockstat_value(s4, "TCP", "inuse") + sockstat_value(s6, "TCP6", "inuse");
  uint64_t other = 0;
  for (const char* p : {"UDP", "UDPLITE", "RAW"}) other += sockstat_value(s4, p, "inuse");
  for (const char* p : {"UDP6", "UDPLITE6", "RAW6"}) other += sockstat_value(s6, p, "inuse");
  std::string unix_socks = read_or_empty(proc + "/net/unix");
  uint64_t lines = static_cast<uint64_t>(std::count(unix_socks.begin(), unix_socks.end(), '\n'));
  raw.numothersock = other + (lines > 0 ? lines - 1 : 0);  // minus the header line
}

ProcessCounts count_ct_processes(const CtConfig& ct, pid_t init) {
  ProcessCounts c;
  auto cg = state::cgroup_backend();
  if (!cg.ok()) return c;
  Raw raw;
  count_processes((*cg)->pids(state::ct_group_of(ct)), init, raw, {ct.local_uid(), ct.local_gid()});
  c.locked_bytes = raw.locked_bytes;
  c.privvm_bytes = raw.privvm_bytes;
  c.numfile = raw.numfile;
  c.numflock = raw.numflock;
  c.numpty = raw.numpty;
  c.numtcpsock = raw.numtcpsock;
  c.numothersock = raw.numothersock;
  return c;
}

std::optional<std::string> controller_group_dir(const cgroups::Backend& cg,
                                                const std::string& group,
                                                const std::string& controller) {
  bool v2 = std::string_view(cg.name()) == "v2";
  for (const auto& h : cg.hierarchies()) {
    bool has = v2 ? h.options.empty()
                  : (("," + h.options + ",").find("," + controller + ",") != std::string::npos);
    if (has) return h.mount + "/" + group;
  }
  return std::nullopt;
}

std::optional<std::string> memory_group_dir(const cgroups::Backend& cg, const std::string& group) {
  return controller_group_dir(cg, group, "memory");
}

Result<Block> block_with(const CtConfig& ct, pid_t init, const ProcessCounts& counts) {
  BERTH_ASSIGN_OR_RETURN(cgroups::Backend * cg, state::cgroup_backend());
  std::string group = state::ct_group_of(ct);
  cgroups::Stats s = cg->stats(group);
  Raw raw;
  raw.mem_usage = s.memory.held;
  raw.mem_peak = nonzero(s.memory.maxheld);
  raw.mem_limit = s.memory.limit;
  raw.mem_failcnt = s.memory.failcnt;
  raw.oom_kills = s.oom_kills;
  raw.swap_usage = s.swap.held;
  raw.swap_peak = nonzero(s.swap.maxheld);
  raw.swap_limit = s.swap.limit;
  raw.swap_failcnt = s.swap.failcnt;
  raw.pids_current = s.pids.held;
  raw.pids_peak = nonzero(s.pids.maxheld);
  raw.pids_limit = s.pids.limit;
  raw.pids_failcnt = s.pids.failcnt;
  read_extra_counters(*cg, group, raw);
  raw.locked_bytes = counts.locked_bytes;
  raw.privvm_bytes = counts.privvm_bytes;
  raw.numfile = counts.numfile;
  raw.numflock = counts.numflock;
  raw.numpty = counts.numpty;
  raw.numtcpsock = counts.numtcpsock;
  raw.numothersock = counts.numothersock;
  Block b =
      compute_block(ct.ctid(), raw, config_limits([&](std::string_view k) { return ct.get(k); }));
  keep_maxheld(ct, init, b);
  return b;
}

Result<Block> read_block(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(state::CtStatus st, state::query_status(ct));
  if (!st.running) return Error::with_status(exitcode::kNotRunning, "CT is not running");
  return block_with(ct, st.init_pid, count_ct_processes(ct, st.init_pid));
}

}  // namespace berth::ubc
