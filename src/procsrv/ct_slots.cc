// Per-CT state and bounds of the beancounter server (see ct_slots.h).
#include "procsrv/ct_slots.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "state/status.h"
#include "sys/fs.h"
#include "sys/pidfd.h"
#include "ubc/ct_access.h"

namespace berth::procsrv {
namespace {

// A text counted in `held` for as long as anything holds it.
Text counted_text(std::string s, const std::shared_ptr<std::atomic<size_t>>& held) {
  size_t n = s.size();
  held->fetch_add(n);
  return Text(new std::string(std::move(s)), [held, n](const std::string* p) {
    held->fetch_sub(n);
    delete p;
  });
}

}  // namespace

std::shared_ptr<CtSlots::Slot> CtSlots::slot(const std::string& ctid) {
  std::lock_guard<std::mutex> hold(mutex_);
  auto& s = slots_[ctid];
  if (!s) s = std::make_shared<Slot>();
  return s;
}

Text CtSlots::text(const std::string& ctid, Served what,
                   const std::function<std::string()>& compute, std::string_view limits) {
  auto s = slot(ctid);
  std::unique_lock<std::mutex> lk(s->mutex);
  Kind& k = s->kinds[static_cast<size_t>(what)];
  for (;;) {
    auto age = Clock::now() - k.at;
    bool same = k.text && k.limits == limits;  // no live change of the limits since
    if (same && (age < kFresh || s->held->load() >= kBudget)) return k.text;
    if (!k.computing) break;
    if (same && age < kStale) return k.text;  // being computed: the last one will do
    s->cv.wait(lk);
  }
  k.computing = true;
  lk.unlock();
  Text out = counted_text(compute(), s->held);
  lk.lock();
  k.computing = false;
  k.text = out;
  k.limits = std::string(limits);
  k.at = Clock::now();
  s->cv.notify_all();
  return out;
}

std::optional<pid_t> CtSlots::init(const CtConfig& ct) {
  auto s = slot(ct.ctid());
  {
    std::lock_guard<std::mutex> hold(s->mutex);
    if (s->init > 0 && sys::proc_start_time(s->init) == s->start) return s->init;
  }
  auto st = state::query_status(ct);
  if (!st.ok() || !st->running || st->init_pid <= 0) return std::nullopt;
  auto start = sys::proc_start_time(st->init_pid);
  if (!start) return std::nullopt;
  std::lock_guard<std::mutex> hold(s->mutex);
  if (s->init != st->init_pid || s->start != *start) {
    s->init = st->init_pid;
    s->start = *start;
    s->procfs.reset();
    s->counts.reset();
  }
  return s->init;
}

ubc::ProcessCounts CtSlots::counts(const CtConfig& ct, pid_t init) {
  auto s = slot(ct.ctid());
  {
    std::lock_guard<std::mutex> hold(s->mutex);
    if (s->counts && s->init == init && Clock::now() - s->counted_at < kCountsFor)
      return *s->counts;
  }
  ubc::ProcessCounts c = ubc::count_ct_processes(ct, init);
  std::lock_guard<std::mutex> hold(s->mutex);
  if (s->init == init) {
    s->counts = c;
    s->counted_at = Clock::now();
  }
  return c;
}

UniqueFd CtSlots::procfs(const CtConfig& ct) {
  auto pid = init(ct);
  if (!pid) return UniqueFd();
  auto s = slot(ct.ctid());
  std::lock_guard<std::mutex> hold(s->mutex);
  if (s->init != *pid) return UniqueFd();
  if (!s->procfs) {
    auto pidfd = sys::pidfd_open(*pid);
    // The pid still names the same init once the pidfd holds it: then the pidfd is that init.
    if (!pidfd.ok() || sys::proc_start_time(*pid) != s->start) return UniqueFd();
    auto fd = ubc::open_pidns_procfs(pidfd->get());
    if (!fd.ok()) return UniqueFd();
    s->procfs = std::move(*fd);
  }
  return UniqueFd(::openat(s->procfs.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

void CtSlots::pace(const std::string& ctid) {
  constexpr auto kTurn =
      std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / kOpsPerSecond;
  auto s = slot(ctid);
  Clock::time_point mine;
  {
    std::lock_guard<std::mutex> hold(s->mutex);
    auto now = Clock::now();
    // Turns not taken in the past count up to kBurst.
    mine = std::max(s->next_turn, now - kTurn * kBurst);
    s->next_turn = mine + kTurn;
  }
  if (mine > Clock::now()) std::this_thread::sleep_until(mine);
}

size_t CtSlots::held(const std::string& ctid) { return slot(ctid)->held->load(); }

void CtSlots::forget_dead() {
  std::lock_guard<std::mutex> hold(mutex_);
  for (auto it = slots_.begin(); it != slots_.end();) {
    Slot& s = *it->second;
    bool keep = true;  // a slot in use right now stays
    if (std::unique_lock<std::mutex> lk(s.mutex, std::try_to_lock); lk.owns_lock()) {
      keep = s.init > 0 && sys::proc_start_time(s.init) == s.start;
      for (const auto& k : s.kinds) keep = keep || k.computing;
    }
    it = keep ? std::next(it) : slots_.erase(it);
  }
}

}  // namespace berth::procsrv
