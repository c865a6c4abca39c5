// Line splitting for the /proc and beancounter texts the ubc module reads.
#pragma once

#include <string_view>
#include <vector>

namespace berth::ubc {

// The lines of text without their newlines (a last line without one counts).
inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    out.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return out;
}

}  // namespace berth::ubc
