#include "runtime/tree_delta.h"

#include <set>

#include "core/exit_codes.h"

namespace berth::runtime {

TreeRecord::Sent TreeRecord::sig(const storage::IndexEntry& e) {
  return Sent{e.type, e.mode, e.uid, e.gid, e.mtime_ns, e.size, e.rdev, e.target, true};
}

void TreeRecord::start_pass(int64_t now_ns) {
  pending_ns_ = now_ns - kDeltaMarginNs;
  for (auto& [path, s] : entries_) s.seen = false;
}

bool TreeRecord::visit(const storage::IndexEntry& e, int64_t ctime_ns) {
  Sent now = sig(e);
  auto it = entries_.find(e.path);
  if (it == entries_.end()) {
    entries_.emplace(e.path, std::move(now));
    return true;
  }
  bool send = since_ns_ == kNever || ctime_ns >= since_ns_ || !it->second.same_as(now);
  if (send) it->second = std::move(now);
  it->second.seen = true;
  return send;
}

std::vector<std::string> TreeRecord::finish_pass() {
  std::vector<std::string> gone;
  std::set<std::string_view> gone_set;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.seen) {
      ++it;
      continue;
    }
    // Below a directory that goes too: its removal takes it along.
    bool covered = false;
    std::string_view p = it->first;
    for (size_t slash = p.rfind('/'); slash != std::string_view::npos && !covered;
         slash = p.rfind('/', slash - 1)) {
      if (gone_set.count(p.substr(0, slash))) covered = true;
      if (slash == 0) break;
    }
    if (!covered) gone.push_back(it->first);
    it = entries_.erase(it);
    if (!covered) gone_set.insert(gone.back());
  }
  since_ns_ = pending_ns_;
  return gone;
}

std::vector<std::string> encode_removals(const std::vector<std::string>& paths, size_t max_bytes) {
  std::vector<std::string> out;
  std::string cur;
  for (const auto& p : paths) {
    if (!cur.empty() && cur.size() + 1 + p.size() > max_bytes) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    if (!cur.empty()) cur.push_back('\0');
    cur += p;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

Result<std::vector<std::string>> parse_removals(std::string_view payload) {
  std::vector<std::string> out;
  if (payload.empty()) return out;
  for (;;) {
    size_t nul = payload.find('\0');
    std::string_view p = payload.substr(0, nul);
    if (!storage::is_tree_path(p))
      return Error::with_status(exitcode::kMigUsage, "bad stream: removal of an unsafe path `" +
                                                         std::string(p.substr(0, 80)) + "`");
    out.emplace_back(p);
    if (nul == std::string_view::npos) break;
    payload.remove_prefix(nul + 1);
  }
  return out;
}

}  // namespace berth::runtime
