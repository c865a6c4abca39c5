#include "daemon/view.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "core/ct_config.h"
#include "net/counters.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "state/status.h"
#include "storage/disk.h"
#include "sys/fs.h"
#include "ubc/collect.h"

namespace berth::daemon {
namespace {

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

uint64_t to_u64(std::string_view s) { return std::strtoull(std::string(s).c_str(), nullptr, 10); }

// Cumulative CPU time of the CT's group, microseconds (v2 cpu.stat, v1 cpuacct.usage).
uint64_t cpu_usec(const cgroups::Backend& cg, const std::string& group) {
  if (std::string_view(cg.name()) == "v2") {
    auto dir = ubc::controller_group_dir(cg, group, "cpu");
    return dir ? cgroups::read_keyed(*dir + "/cpu.stat", "usage_usec") : 0;
  }
  auto dir = ubc::controller_group_dir(cg, group, "cpuacct");
  return dir ? cgroups::read_u64(*dir + "/cpuacct.usage") / 1000 : 0;
}

// Bytes read and written by the CT's group (v2 io.stat; v1 blkio service bytes).
std::pair<uint64_t, uint64_t> io_bytes(const cgroups::Backend& cg, const std::string& group) {
  uint64_t rd = 0, wr = 0;
  if (std::string_view(cg.name()) == "v2") {
    auto dir = ubc::controller_group_dir(cg, group, "io");
    auto text = dir ? sys::read_file(*dir + "/io.stat") : Result<std::string>(Error());
    if (!dir || !text.ok()) return {0, 0};
    size_t i = 0;
    while ((i = text->find("rbytes=", i)) != std::string::npos) rd += to_u64(text->substr(i += 7));
    i = 0;
    while ((i = text->find("wbytes=", i)) != std::string::npos) wr += to_u64(text->substr(i += 7));
    return {rd, wr};
  }
  auto dir = ubc::controller_group_dir(cg, group, "blkio");
  if (!dir) return {0, 0};
  auto text = sys::read_file(*dir + "/blkio.throttle.io_service_bytes");
  if (!text.ok()) return {0, 0};
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    std::string line = text->substr(pos, nl - pos);
    pos = nl + 1;
    size_t a = line.find(' '), b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (b == std::string::npos) continue;
    std::string op = line.substr(a + 1, b - a - 1);
    if (op == "Read") rd += to_u64(line.substr(b + 1));
    if (op == "Write") wr += to_u64(line.substr(b + 1));
  }
  return {rd, wr};
}

// Disk use and size: a CT's own disk (DISKSPACE set: the image its overlay's upper layer or its
// whole tree lives on), mounted (statfs) or not (the image's superblock). A CT without one has
// no limit and no figure (0 and null).
void read_disk(const CtConfig& ct, CtInfo& i) {
  if (!storage::has_disk(ct)) return;
  if (auto u = storage::disk_usage(ct); u.ok()) {
    i.disk_bytes = u->bytes_used;
    i.disk_limit = static_cast<int64_t>(u->bytes_total);
  }
}

}  // namespace

Json ct_json(const CtInfo& c, bool with_config) {
  auto limit = [](int64_t v) { return v < 0 ? Json(nullptr) : Json(v); };
  Json j{{"ctid", std::atoi(c.ctid.c_str())},
         {"name", c.name},
         {"hostname", c.hostname},
         {"state", c.state},
         {"ip", c.ip},
         {"ostemplate", c.ostemplate},
         {"usage",
          {{"cpu_pct", c.cpu_pct},
           {"mem_bytes", c.mem_bytes},
           {"mem_limit_bytes", limit(c.mem_limit)},
           {"disk_bytes", c.disk_bytes},
           {"disk_limit_bytes", limit(c.disk_limit)},
           {"procs", c.procs}}},
         {"ubc_failcnt", c.ubc_failcnt}};
  if (with_config) j["config"] = c.config;
  return j;
}

View::View(const HostConfig& host, History& history, OnEvent on_event)
    : host_(host),
      history_(history),
      on_event_(std::move(on_event)),
      snap_(std::make_shared<Snapshot>()) {}

View::~View() { stop(); }

std::shared_ptr<const Snapshot> View::snapshot() const {
  std::lock_guard<std::mutex> g(mu_);
  return snap_;
}

std::optional<CtInfo> View::read_ct(const std::string& ctid, const CtInfo* prev) {
  struct stat cs {};
  if (::stat(host_.ct_conf_path(ctid).c_str(), &cs) != 0) return std::nullopt;
  const std::array<int64_t, 3> conf_id = {
      static_cast<int64_t>(cs.st_ino), static_cast<int64_t>(cs.st_size),
      static_cast<int64_t>(cs.st_mtim.tv_sec) * 1000000000 + cs.st_mtim.tv_nsec};
  CtInfo i;
  i.ctid = ctid;
  if (prev && prev->cfg && prev->conf_id == conf_id) {
    // The same file as last time: its parsed config and what came of it.
    i.cfg = prev->cfg;
    i.name = prev->name;
    i.hostname = prev->hostname;
    i.ostemplate = prev->ostemplate;
    i.layout = prev->layout;
    i.ip = prev->ip;
    i.config = prev->config;
  } else {
    auto loaded = CtConfig::load(host_, ctid);
    if (!loaded.ok()) return std::nullopt;
    i.cfg = std::make_shared<const CtConfig>(std::move(loaded).value());
    const CtConfig& c = *i.cfg;
    i.name = c.name();
    i.hostname = c.hostname();
    i.ostemplate = c.ostemplate();
    i.layout = c.get_or("VE_LAYOUT", "");
    i.ip = c.list("IP_ADDRESS");
    for (const auto& key : c.conf().keys()) i.config[key] = c.get_or(key, "");
  }
  i.conf_id = conf_id;
  const CtConfig* ct = i.cfg.get();
  auto s = state::query_status(*ct);
  if (!s.ok()) {
    i.state = "stopped";
  } else {
    i.running = s->running;
    i.state = s->running     ? "running"
              : s->suspended ? "suspended"
              : s->mounted   ? "mounted"
                             : "stopped";
    if (s->running && s->numproc) i.procs = *s->numproc;
  }
  i.sampled = now_s();
  if (!i.running) {
    // A disk that stayed unmounted since the last pass has not changed: no superblock read.
    if (prev && prev->state == "stopped" && i.state == "stopped" && prev->conf_id == conf_id) {
      i.disk_bytes = prev->disk_bytes;
      i.disk_limit = prev->disk_limit;
    } else {
      read_disk(*ct, i);
    }
    return i;
  }
  auto block = ubc::read_block(*ct);
  if (block.ok()) {
    i.ubc = block->rows;
    for (const auto& r : i.ubc) i.ubc_failcnt += r.failcnt;
    if (const auto* r = block->find("physpages")) {
      i.mem_bytes = ubc::pages_to_bytes(r->held);
      if (r->limit != units::kUnlimited)
        i.mem_limit = static_cast<int64_t>(ubc::pages_to_bytes(r->limit));
    }
    if (const auto* r = block->find("swappages")) {
      i.swap_bytes = ubc::pages_to_bytes(r->held);
      if (r->limit != units::kUnlimited)
        i.swap_limit = static_cast<int64_t>(ubc::pages_to_bytes(r->limit));
    }
    if (const auto* r = block->find("numproc")) i.procs = r->held;
  }
  if (auto cg = state::cgroup_backend(); cg.ok()) {
    std::string group = state::ct_group_of(*ct);
    i.cpu_usec = cpu_usec(**cg, group);
    std::tie(i.io_read_bytes, i.io_write_bytes) = io_bytes(**cg, group);
  }
  if (prev && prev->running && prev->sampled < i.sampled && i.cpu_usec >= prev->cpu_usec)
    i.cpu_pct = static_cast<double>(i.cpu_usec - prev->cpu_usec) / 1e4 /
                static_cast<double>(i.sampled - prev->sampled);
  if (auto n = net::total_counters(*ct); n.ok()) {
    i.net_rx_bytes = n->bytes_in;
    i.net_tx_bytes = n->bytes_out;
  }
  read_disk(*ct, i);
  return i;
}

void View::publish_changes(const std::string& ctid, const CtInfo* prev, const CtInfo* info) {
  if (info) {
    if (!prev || prev->state != info->state) on_event_("ct", ctid, ct_json(*info, false).dump());
    if (prev)
      for (const auto& r : info->ubc)
        for (const auto& p : prev->ubc)
          if (p.name == r.name && r.failcnt > p.failcnt)
            on_event_(
                "ubc", ctid,
                Json{
                    {"ctid", std::atoi(ctid.c_str())}, {"resource", r.name}, {"failcnt", r.failcnt}}
                    .dump());
  } else if (prev) {
    Json gone{{"ctid", std::atoi(ctid.c_str())}, {"state", "deleted"}};
    on_event_("ct", ctid, gone.dump());
    history_.forget(ctid);
  }
}

void View::update(const std::string& ctid, std::optional<CtInfo> info) {
  std::shared_ptr<const Snapshot> old;
  {
    std::lock_guard<std::mutex> g(mu_);
    old = snap_;
  }
  auto it = old->find(ctid);
  publish_changes(ctid, it == old->end() ? nullptr : &it->second, info ? &*info : nullptr);
  auto next = std::make_shared<Snapshot>(*old);
  if (info)
    (*next)[ctid] = std::move(*info);
  else
    next->erase(ctid);
  std::lock_guard<std::mutex> g(mu_);
  snap_ = std::move(next);
}

void View::refresh(const std::string& ctid) {
  std::lock_guard<std::mutex> r(refresh_mu_);
  auto old = snapshot();
  auto it = old->find(ctid);
  update(ctid, read_ct(ctid, it == old->end() ? nullptr : &it->second));
}

void View::pass() {
  std::lock_guard<std::mutex> r(refresh_mu_);
  auto t0 = std::chrono::steady_clock::now();
  auto ids = state::list_ctids(host_);
  if (!ids.ok()) return;
  auto old = snapshot();
  auto next = std::make_shared<Snapshot>();
  for (const auto& id : *ids) {
    auto it = old->find(id);
    auto info = read_ct(id, it == old->end() ? nullptr : &it->second);
    if (info) (*next)[id] = std::move(*info);
  }
  // Events for what changed against the old snapshot, then the new one in one swap (a copy of
  // the whole map per CT made a pass quadratic in the number of CTs).
  for (const auto& [id, info] : *next) {
    auto it = old->find(id);
    publish_changes(id, it == old->end() ? nullptr : &it->second, &info);
  }
  for (const auto& [id, info] : *old)
    if (!next->count(id)) publish_changes(id, &info, nullptr);
  {
    std::lock_guard<std::mutex> g(mu_);
    snap_ = next;
  }
  int64_t now = now_s();
  if (now - last_history_ >= kHourStepS) {
    last_history_ = now;
    for (const auto& [id, c] : *next) {
      if (!c.running) continue;
      history_.add(id, Point{now, c.cpu_pct, c.mem_bytes, c.disk_bytes, c.net_rx_bytes,
                             c.net_tx_bytes, c.ubc_failcnt});
    }
  }
  last_pass_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void View::start(int interval_s) {
  pass();
  thread_ = std::thread([this, interval_s] {
    std::unique_lock<std::mutex> g(stop_mu_);
    while (!stop_cv_.wait_for(g, std::chrono::seconds(interval_s), [&] { return stopping_; })) {
      g.unlock();
      pass();
      g.lock();
    }
  });
}

void View::stop() {
  {
    std::lock_guard<std::mutex> g(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::daemon
