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

bool TreeRecord::unchanged(const storage::IndexEntry& e, storage::EntryType kind, uint64_t size,
                           uint64_t rdev, int64_t ctime_ns) {
  using storage::EntryType;
  if (since_ns_ == kNever || ctime_ns >= since_ns_) return false;
  auto it = entries_.find(e.path);
  if (it == entries_.end()) return false;
  Sent& s = it->second;
  bool same_kind = s.type == kind || (kind == EntryType::kFile && s.type == EntryType::kHardlink);
  if (!same_kind || s.mode != e.mode || s.uid != e.uid || s.gid != e.gid ||
      s.mtime_ns != e.mtime_ns)
    return false;
  if (s.type == EntryType::kFile && s.size != size) return false;
  if ((kind == EntryType::kChar || kind == EntryType::kBlock) && s.rdev != rdev) return false;
  s.seen = true;
  return true;
}

std::vector<std::string> TreeRecord::finish_pass() {
  std::vector<std::string> gone;
  // Copies, not views into `gone`: its strings move when it grows (short ones live inline).
  std::set<std::string, std::less<>> gone_set;
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
    if (!covered) {
      gone.push_back(it->first);
      gone_set.insert(it->first);
    }
    it = entries_.erase(it);
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
    if (!storage::is_tree_path(p)) {
      std::string shown(p.substr(0, 80));
      return Error::with_status(exitcode::kMigUsage, "bad stream: unsafe path `" + shown + "`");
    }
    out.emplace_back(p);
    if (nul == std::string_view::npos) break;
    payload.remove_prefix(nul + 1);
  }
  return out;
}

}  // namespace berth::runtime
