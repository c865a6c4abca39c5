#include "core/conf_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/unique_fd.h"

namespace berth {
namespace {

bool is_key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Fills key/value of a line; leaves key empty for comments and malformed lines.
void parse_line(ConfFile::Line& line) {
  line.key.clear();
  line.value.clear();
  std::string_view s = trim(line.raw);
  if (s.empty() || s.front() == '#') return;
  size_t eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) return;
  std::string_view key = trim(s.substr(0, eq));
  if (key.empty() || !std::all_of(key.begin(), key.end(), is_key_char)) return;
  std::string_view val = trim(s.substr(eq + 1));
  if (!val.empty() && val.front() == '"') {
    size_t last = val.rfind('"');
    if (last == 0) return;  // unterminated quote: malformed
    val = val.substr(1, last - 1);
  } else {
    // Unquoted: the value ends at the first blank, as the shell would read it (a `#` inside the
    // word, as in `A=a#b`, starts no comment).
    size_t end = val.find_first_of(" \t");
    if (end != std::string_view::npos) val = val.substr(0, end);
  }
  line.key = std::string(key);
  line.value = std::string(val);
}

bool is_blank_or_comment(const std::string& raw) {
  std::string_view s = trim(raw);
  return s.empty() || s.front() == '#';
}

}  // namespace

ConfFile ConfFile::parse(std::string_view text) {
  ConfFile f;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    Line line{std::string(raw), {}, {}};
    parse_line(line);
    f.lines_.push_back(std::move(line));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return f;
}

Result<ConfFile> ConfFile::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::from_errno(errno ? errno : ENOENT, "open `" + path + "`");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str());
}

std::optional<std::string> ConfFile::get(std::string_view key) const {
  for (const auto& l : lines_)
    if (l.key == key) return l.value;
  return std::nullopt;
}

std::string ConfFile::get_or(std::string_view key, std::string fallback) const {
  auto v = get(key);
  return v ? *v : std::move(fallback);
}

void ConfFile::set(std::string_view key, std::string_view value) {
  bool done = false;
  for (auto it = lines_.begin(); it != lines_.end();) {
    if (it->key == key) {
      if (done) {
        it = lines_.erase(it);
        continue;
      }
      it->raw = format_conf_line(key, value);
      it->value = std::string(value);
      done = true;
    }
    ++it;
  }
  if (!done)
    lines_.push_back(Line{format_conf_line(key, value), std::string(key), std::string(value)});
}

void ConfFile::erase(std::string_view key) {
  std::erase_if(lines_, [&](const Line& l) { return l.key == key; });
}

std::vector<std::string> ConfFile::keys() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& l : lines_)
    if (!l.key.empty() && seen.insert(l.key).second) out.push_back(l.key);
  return out;
}

std::vector<std::string> ConfFile::malformed_lines() const {
  std::vector<std::string> out;
  for (const auto& l : lines_)
    if (l.key.empty() && !is_blank_or_comment(l.raw)) out.push_back(l.raw);
  return out;
}

std::vector<std::string> ConfFile::duplicate_keys() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& l : lines_)
    if (!l.key.empty() && !seen.insert(l.key).second &&
        std::find(out.begin(), out.end(), l.key) == out.end())
      out.push_back(l.key);
  return out;
}

std::string ConfFile::text() const {
  std::string out;
  for (const auto& l : lines_) {
    out += l.raw;
    out += '\n';
  }
  return out;
}

Status ConfFile::save(const std::string& path, unsigned mode) const {
  std::string target = path;
  char resolved[PATH_MAX];
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && realpath(path.c_str(), resolved))
    target = resolved;
  return write_file_atomic(target, text(), mode);
}

std::string format_conf_line(std::string_view key, std::string_view value) {
  std::string s(key);
  s += "=\"";
  s += value;
  s += '"';
  return s;
}

std::string expand_veid(std::string_view value, std::string_view ctid) {
  std::string out;
  for (size_t i = 0; i < value.size();) {
    if (value.compare(i, 7, "${VEID}") == 0) {
      out += ctid;
      i += 7;
    } else if (value.compare(i, 5, "$VEID") == 0 &&
               (i + 5 == value.size() || !is_key_char(value[i + 5]))) {
      out += ctid;
      i += 5;
    } else {
      out += value[i++];
    }
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

namespace {

Status replace_file(const std::string& path, std::string_view data, unsigned mode, bool sync) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return Error::from_errno(errno, "create `" + tmp + "`");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return Error::from_errno(err, "write `" + tmp + "`");
    }
    off += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0 || (sync && ::fsync(fd.get()) != 0)) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno(err, "sync `" + tmp + "`");
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno(err, "rename `" + tmp + "` to `" + path + "`");
  }
  return {};
}

}  // namespace

Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  return replace_file(path, data, mode, true);
}

Status write_run_file(const std::string& path, std::string_view data, unsigned mode) {
  return replace_file(path, data, mode, false);
}

}  // namespace berth
