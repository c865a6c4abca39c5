#include "daemon/history.h"

#include <sqlite3.h>

#include <ctime>

namespace berth::daemon {

std::vector<Point> downsample(const std::vector<Point>& in, int64_t step) {
  std::vector<Point> out;
  size_t n = 0;
  for (const auto& p : in) {
    int64_t bucket = p.t - (p.t % step);
    if (out.empty() || out.back().t != bucket) {
      out.push_back(p);
      out.back().t = bucket;
      n = 1;
      continue;
    }
    Point& b = out.back();
    ++n;
    auto avg = [&](double old, double x) { return old + (x - old) / static_cast<double>(n); };
    b.cpu_pct = avg(b.cpu_pct, p.cpu_pct);
    b.mem_bytes = static_cast<uint64_t>(
        avg(static_cast<double>(b.mem_bytes), static_cast<double>(p.mem_bytes)));
    b.disk_bytes = static_cast<uint64_t>(
        avg(static_cast<double>(b.disk_bytes), static_cast<double>(p.disk_bytes)));
    b.net_rx_bytes = p.net_rx_bytes;
    b.net_tx_bytes = p.net_tx_bytes;
    b.ubc_failcnt = p.ubc_failcnt;
  }
  return out;
}

History::~History() {
  if (db_) sqlite3_close(db_);
}

void History::exec(const char* sql) { sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

Status History::open(const std::string& path) {
  std::lock_guard<std::mutex> g(mu_);
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return Error::from_errno(EIO, "open the history `" + path + "`");
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(
      "CREATE TABLE IF NOT EXISTS points (ctid TEXT NOT NULL, step INTEGER NOT NULL, t INTEGER "
      "NOT NULL, cpu REAL, mem INTEGER, disk INTEGER, rx INTEGER, tx INTEGER, failcnt INTEGER, "
      "PRIMARY KEY (ctid, step, t)) WITHOUT ROWID");
  return {};
}

namespace {

void insert(sqlite3* db, const std::string& ctid, int64_t step, const Point& p) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(
          db, "INSERT OR REPLACE INTO points VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1, &st,
          nullptr) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, ctid.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, step);
  sqlite3_bind_int64(st, 3, p.t);
  sqlite3_bind_double(st, 4, p.cpu_pct);
  sqlite3_bind_int64(st, 5, static_cast<int64_t>(p.mem_bytes));
  sqlite3_bind_int64(st, 6, static_cast<int64_t>(p.disk_bytes));
  sqlite3_bind_int64(st, 7, static_cast<int64_t>(p.net_rx_bytes));
  sqlite3_bind_int64(st, 8, static_cast<int64_t>(p.net_tx_bytes));
  sqlite3_bind_int64(st, 9, static_cast<int64_t>(p.ubc_failcnt));
  sqlite3_step(st);
  sqlite3_finalize(st);
}

std::vector<Point> select(sqlite3* db, const std::string& ctid, int64_t step, int64_t since) {
  std::vector<Point> out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT t, cpu, mem, disk, rx, tx, failcnt FROM points WHERE ctid = ?1 "
                         "AND step = ?2 AND t >= ?3 ORDER BY t",
                         -1, &st, nullptr) != SQLITE_OK)
    return out;
  sqlite3_bind_text(st, 1, ctid.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, step);
  sqlite3_bind_int64(st, 3, since);
  while (sqlite3_step(st) == SQLITE_ROW) {
    Point p;
    p.t = sqlite3_column_int64(st, 0);
    p.cpu_pct = sqlite3_column_double(st, 1);
    p.mem_bytes = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
    p.disk_bytes = static_cast<uint64_t>(sqlite3_column_int64(st, 3));
    p.net_rx_bytes = static_cast<uint64_t>(sqlite3_column_int64(st, 4));
    p.net_tx_bytes = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
    p.ubc_failcnt = static_cast<uint64_t>(sqlite3_column_int64(st, 6));
    out.push_back(p);
  }
  sqlite3_finalize(st);
  return out;
}

void delete_before(sqlite3* db, const std::string& ctid, int64_t step, int64_t before) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "DELETE FROM points WHERE ctid = ?1 AND step = ?2 AND t < ?3", -1, &st,
                         nullptr) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, ctid.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, step);
  sqlite3_bind_int64(st, 3, before);
  sqlite3_step(st);
  sqlite3_finalize(st);
}

}  // namespace

void History::add(const std::string& ctid, const Point& p) {
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) return;
  Point q = p;
  q.t = p.t - p.t % kHourStepS;
  insert(db_, ctid, kHourStepS, q);
  // The day bucket this point falls in, from the hour's points of that bucket.
  int64_t bucket = q.t - q.t % kDayStepS;
  auto pts = downsample(select(db_, ctid, kHourStepS, bucket), kDayStepS);
  if (!pts.empty()) insert(db_, ctid, kDayStepS, pts.back());
  delete_before(db_, ctid, kHourStepS, q.t - 3600);
  delete_before(db_, ctid, kDayStepS, q.t - 86400);
}

std::vector<Point> History::query(const std::string& ctid, const std::string& range) {
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) return {};
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (range == "day") return select(db_, ctid, kDayStepS, now - 86400);
  return select(db_, ctid, kHourStepS, now - 3600);
}

void History::forget(const std::string& ctid) {
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) return;
  delete_before(db_, ctid, kHourStepS, INT64_MAX);
  delete_before(db_, ctid, kDayStepS, INT64_MAX);
}

}  // namespace berth::daemon
