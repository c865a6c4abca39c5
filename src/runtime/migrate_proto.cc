#include "runtime/migrate_proto.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "core/ct_config.h"
#include "storage/snapshot.h"

namespace berth::runtime::mig {
namespace {

bool valid_type(char c) {
  for (char t : {'H', 'C', 'R', 'D', 'E', 'F', 'S', 'X', 'K', 'Q', 'T', 'L', 'M', 'N', 'P'})
    if (c == t) return true;
  return false;
}

bool plain_component(std::string_view s) {
  if (s.empty() || s.size() > 128 || s.front() == '.') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

Status write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Error::from_errno(errno, "send");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

// false: EOF at the start; true: read all; an error for EOF in the middle.
Result<bool> read_all(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno(errno, "receive");
    if (r == 0) {
      if (got == 0) return false;
      return Error::from_errno(ECONNRESET, "receive: connection closed in a frame");
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

std::string encode_frame(Frame type, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  out.push_back(static_cast<char>(type));
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(payload);
  return out;
}

std::string encode_hello(const Hello& h) {
  return "protocol=" + std::to_string(h.protocol) + "\nversion=" + h.version + "\nctid=" + h.ctid +
         "\nmode=" + h.mode + "\nkeep_dst=" + (h.keep_dst ? "1" : "0") + "\n";
}

Result<Hello> parse_hello(std::string_view text) {
  Hello h;
  bool have_proto = false, have_ctid = false, have_mode = false;
  auto bad = [](const std::string& what) {
    return Error::with_status(exitcode::kMigUsage, "bad hello: " + what);
  };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return bad("no newline at the end");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("line without `=`");
    std::string_view k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "protocol") {
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string_view::npos)
        return bad("protocol is not a number");
      h.protocol = std::stoi(std::string(v));
      have_proto = true;
    } else if (k == "version") {
      if (v.size() > 64) return bad("version too long");
      h.version = v;
    } else if (k == "ctid") {
      auto id = validate_ctid(v);
      if (!id.ok()) return bad("ctid: " + id.error().message());
      h.ctid = *id;
      have_ctid = true;
    } else if (k == "mode") {
      if (v != "check" && v != "offline" && v != "online") return bad("unknown mode");
      h.mode = v;
      have_mode = true;
    } else if (k == "keep_dst") {
      if (v != "0" && v != "1") return bad("keep_dst is 0 or 1");
      h.keep_dst = v == "1";
    }  // other keys: a later sender's additions, ignored (the protocol number says what matters)
  }
  if (!have_proto || !have_ctid || !have_mode) return bad("protocol, ctid and mode are needed");
  return h;
}

std::string encode_reply(int status, std::string_view message) {
  return std::to_string(status) + " " + std::string(message);
}

std::pair<int, std::string> parse_reply(std::string_view text) {
  size_t sp = text.find(' ');
  std::string_view num = text.substr(0, sp);
  if (num.empty() || num.size() > 3 ||
      num.find_first_not_of("0123456789") != std::string_view::npos)
    return {-1, std::string(text.substr(0, 200))};
  return {std::stoi(std::string(num)),
          sp == std::string_view::npos ? std::string() : std::string(text.substr(sp + 1))};
}

bool is_dump_file_name(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  return plain_component(s.substr(0, slash)) && plain_component(s.substr(slash + 1));
}

std::string encode_snapshot_header(const SnapshotHeader& h) {
  std::string first = h.uuid;
  if (h.image_bytes)
    first += ".img " + std::to_string(h.image_bytes) + " " + std::to_string(h.image_inodes);
  return h.has_config ? first + "\n" + h.conf : first;
}

namespace {

// A decimal number of at most 20 digits, at most max.
bool parse_bounded(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    if (v > (max - static_cast<uint64_t>(c - '0')) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<SnapshotHeader> parse_snapshot_header(std::string_view payload) {
  SnapshotHeader h;
  size_t nl = payload.find('\n');
  std::string_view first = payload.substr(0, nl);
  if (nl != std::string_view::npos) {
    h.has_config = true;
    h.conf = std::string(payload.substr(nl + 1));
  }
  auto bad = [&](const std::string& what) {
    std::string shown(first.substr(0, 80));
    return Error::with_status(exitcode::kMigUsage, "bad stream: snapshot `" + shown + "`: " + what);
  };
  size_t sp = first.find(' ');
  h.uuid = std::string(first.substr(0, sp));
  if (sp != std::string_view::npos) {
    std::string_view rest = first.substr(sp + 1);
    size_t sp2 = rest.find(' ');
    if (!h.uuid.ends_with(".img") || sp2 == std::string_view::npos ||
        !parse_bounded(rest.substr(0, sp2), uint64_t{64} << 40, &h.image_bytes) ||
        !parse_bounded(rest.substr(sp2 + 1), uint64_t{1} << 32, &h.image_inodes) ||
        h.image_bytes < (1u << 20))
      return bad("not `<uuid>.img <bytes> <inodes>`");
    h.uuid.resize(h.uuid.size() - 4);
  }
  bool lower = h.uuid.find_first_of("ABCDEF") == std::string::npos;
  if (!storage::valid_uuid(h.uuid) || !lower) return bad("not a uuid");
  if (h.conf.size() > (1u << 20)) return bad("config too large");
  return h;
}

Result<std::vector<std::string>> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote)
        quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size())
        cur += s[++i];
      else
        cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (have) out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (quote) return Error::with_status(exitcode::kMigUsage, "--ssh: unbalanced quote");
  if (have) out.push_back(cur);
  return out;
}

Status write_frame(int fd, Frame type, std::string_view payload) {
  if (payload.size() > kMaxFrame) return Error::invalid("frame too large");
  std::string head = encode_frame(type, {});
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) head[1 + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
  BERTH_RETURN_IF_ERROR(write_all(fd, head.data(), head.size()));
  return write_all(fd, payload.data(), payload.size());
}

Result<Received> read_frame(int fd) {
  char head[5];
  BERTH_ASSIGN_OR_RETURN(bool got, read_all(fd, head, sizeof head));
  if (!got) return Error::from_errno(ECONNRESET, "receive: connection closed");
  if (!valid_type(head[0]))
    return Error::with_status(exitcode::kMigUsage, "bad stream: unknown frame type");
  uint32_t n = 0;
  for (int i = 1; i < 5; ++i) n = (n << 8) | static_cast<unsigned char>(head[i]);
  if (n > kMaxFrame) return Error::with_status(exitcode::kMigUsage, "bad stream: frame too large");
  Received r{static_cast<Frame>(head[0]), std::string(n, '\0')};
  if (n > 0) {
    BERTH_ASSIGN_OR_RETURN(bool full, read_all(fd, r.payload.data(), n));
    if (!full) return Error::from_errno(ECONNRESET, "receive: connection closed in a frame");
  }
  return r;
}

}  // namespace berth::runtime::mig
