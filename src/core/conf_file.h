// ConfFile: a vzctl-style shell-sourceable config file (CTID.conf, berth.conf, samples).
//
// Owns the exact text of the file: every line is kept, comments and unknown keys included, so that
// `set --save` changes only the lines of the keys it sets (reference section 2.1). Parsing follows
// legacy vzctl's parse_line(): `KEY="value"` or `KEY=value`, the value runs to the last `"` on the
// line, `#` lines and blank lines are comments, the first of duplicated keys wins. Writing is
// atomic: `<file>.tmp` then rename(2).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth {

class ConfFile {
 public:
  struct Line {
    std::string raw;  // the line as read or as last written, without '\n'
    std::string key;  // empty for comments, blank and malformed lines
    std::string value;
  };

  ConfFile() = default;
  static ConfFile parse(std::string_view text);
  // A missing file is an error with code ENOENT.
  static Result<ConfFile> load(const std::string& path);

  // The first value of key, unquoted, or nullopt.
  std::optional<std::string> get(std::string_view key) const;
  std::string get_or(std::string_view key, std::string fallback) const;
  bool has(std::string_view key) const { return get(key).has_value(); }
  // Replace the first line of key in place (removing later duplicates) or append a new line.
  void set(std::string_view key, std::string_view value);
  void erase(std::string_view key);
  // Keys in file order, first occurrence only.
  std::vector<std::string> keys() const;
  // Lines that are neither comments, blank, nor KEY=value (for warnings).
  std::vector<std::string> malformed_lines() const;
  // Keys that appear more than once (first wins, as vzctl).
  std::vector<std::string> duplicate_keys() const;

  std::string text() const;
  // Write to path atomically (tmp + fsync + rename). Follows a symlink at path, as vzctl does.
  Status save(const std::string& path, unsigned mode = 0644) const;

  const std::vector<Line>& lines() const { return lines_; }

 private:
  std::vector<Line> lines_;
};

// The quoted form vzctl writes: KEY="value".
std::string format_conf_line(std::string_view key, std::string_view value);
// Substitute $VEID and ${VEID} with ctid and strip a trailing '/' (vzctl's subst_VEID()).
std::string expand_veid(std::string_view value, std::string_view ctid);
// Write data to path atomically (tmp in the same directory, fsync, rename).
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);
// The same without the fsync, for files of the run directory (HostConfig paths().run): a tmpfs on a
// normal install, and what they describe (kernel objects, mounts, processes) is gone after a
// crash of the host anyway. A killed command still leaves the old file or the new one.
Status write_run_file(const std::string& path, std::string_view data, unsigned mode = 0644);

}  // namespace berth
