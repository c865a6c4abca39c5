#include "storage/backup_index.h"

#include <cstring>

namespace berth::storage {
namespace {

constexpr std::string_view kMagic = "BERTHIDX";
constexpr uint32_t kIdRange = 65536;
constexpr uint32_t kOverflowId = 65534;

void put32(std::string& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(static_cast<char>(v >> (8 * i)));
}
void put64(std::string& o, uint64_t v) {
  for (int i = 0; i < 8; ++i) o.push_back(static_cast<char>(v >> (8 * i)));
}
void put_str(std::string& o, std::string_view s) {
  put32(o, static_cast<uint32_t>(s.size()));
  o.append(s);
}

struct Reader {
  std::string_view d;
  size_t pos = 0;
  bool ok = true;
  bool need(size_t n) {
    if (!ok || d.size() - pos < n) ok = false;
    return ok;
  }
  uint64_t get(int bytes) {
    if (!need(static_cast<size_t>(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(d[pos + i])) << (8 * i);
    pos += static_cast<size_t>(bytes);
    return v;
  }
  std::string str() {
    uint64_t n = get(4);
    if (!need(n)) return {};
    std::string s(d.substr(pos, n));
    pos += n;
    return s;
  }
};

}  // namespace

bool is_tree_path(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.back() == '/') return false;
  if (p.find('\0') != std::string_view::npos) return false;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    std::string_view c = p.substr(pos, next - pos);
    if (c.empty() || c == "." || c == "..") return false;
    pos = next + 1;
  }
  return true;
}

std::string encode_index(const std::vector<IndexEntry>& entries) {
  std::string o(kMagic);
  put32(o, kIndexVersion);
  put64(o, entries.size());
  for (const auto& e : entries) {
    o.push_back(static_cast<char>(e.type));
    put_str(o, e.path);
    put32(o, e.mode);
    put32(o, e.uid);
    put32(o, e.gid);
    put64(o, static_cast<uint64_t>(e.mtime_ns));
    put64(o, e.size);
    put64(o, e.rdev);
    put_str(o, e.target);
    put32(o, static_cast<uint32_t>(e.xattrs.size()));
    for (const auto& [k, v] : e.xattrs) {
      put_str(o, k);
      put_str(o, v);
    }
    put32(o, static_cast<uint32_t>(e.chunks.size()));
    for (const auto& c : e.chunks) {
      o.append(reinterpret_cast<const char*>(c.id.data()), c.id.size());
      put32(o, c.size);
    }
  }
  return o;
}

Result<std::vector<IndexEntry>> decode_index(std::string_view data) {
  if (!data.starts_with(kMagic)) return Error::invalid("index: not a Berth backup index");
  Reader r{data, kMagic.size()};
  uint32_t version = static_cast<uint32_t>(r.get(4));
  if (r.ok && version != kIndexVersion)
    return Error::invalid("index: version " + std::to_string(version) + " (this Berth reads " +
                          std::to_string(kIndexVersion) + ")");
  uint64_t count = r.get(8);
  std::vector<IndexEntry> out;
  // Each entry takes at least 50 bytes: a forged count cannot make us reserve much.
  if (r.ok && count <= data.size() / 50) out.reserve(count);
  for (uint64_t i = 0; r.ok && i < count; ++i) {
    IndexEntry e;
    uint8_t t = static_cast<uint8_t>(r.get(1));
    if (t < 1 || t > 7) return Error::invalid("index: entry " + std::to_string(i) + ": bad type");
    e.type = static_cast<EntryType>(t);
    e.path = r.str();
    e.mode = static_cast<uint32_t>(r.get(4));
    e.uid = static_cast<uint32_t>(r.get(4));
    e.gid = static_cast<uint32_t>(r.get(4));
    e.mtime_ns = static_cast<int64_t>(r.get(8));
    e.size = r.get(8);
    e.rdev = r.get(8);
    e.target = r.str();
    uint64_t nx = r.get(4);
    for (uint64_t k = 0; r.ok && k < nx; ++k) {
      std::string name = r.str();
      std::string value = r.str();
      e.xattrs.emplace_back(std::move(name), std::move(value));
    }
    uint64_t nc = r.get(4);
    for (uint64_t k = 0; r.ok && k < nc; ++k) {
      ChunkRef c;
      if (!r.need(c.id.size())) break;
      std::memcpy(c.id.data(), data.data() + r.pos, c.id.size());
      r.pos += c.id.size();
      c.size = static_cast<uint32_t>(r.get(4));
      e.chunks.push_back(c);
    }
    if (!r.ok) break;
    if (!is_tree_path(e.path))
      return Error::invalid("index: entry " + std::to_string(i) + ": unsafe path");
    if (e.type == EntryType::kHardlink && !is_tree_path(e.target))
      return Error::invalid("index: entry " + std::to_string(i) + ": unsafe hardlink target");
    e.mode &= 07777;
    out.push_back(std::move(e));
  }
  if (!r.ok) return Error::invalid("index: truncated");
  if (r.pos != data.size()) return Error::invalid("index: trailing bytes");
  return out;
}

std::string chunk_hex(const ChunkId& id) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (uint8_t b : id) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

bool parse_chunk_hex(std::string_view hex, ChunkId* out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool unshift_id(uint32_t host, uint32_t base, uint32_t* out) {
  if (host < base || host - base >= kIdRange) return false;
  *out = host - base;
  return true;
}

uint32_t shift_id(uint32_t id, uint32_t base) { return base + (id < kIdRange ? id : kOverflowId); }

}  // namespace berth::storage
