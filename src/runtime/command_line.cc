// See command_line.h.
#include "runtime/command_line.h"

#include <array>
#include <cctype>
#include <string_view>

namespace berth::runtime {
namespace {

bool plain_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case ' ':
    case '_':
    case '-':
    case '.':
    case '/':
    case ':':
    case '=':
    case '+':
    case ',':
    case '@':
    case '%': return true;
    default: return false;
  }
}

// Keywords, and builtins whose effect is on the shell itself or that have no program of the
// same name in a usual PATH. (Builtins with a program of the same name and the same result,
// such as echo, printf, test, true, false, kill, pwd, run as the program.)
constexpr std::array<std::string_view, 44> kShellOnly = {
    "!",       "{",        "}",       "case",     "coproc", "do",   "done",   "elif",    "else",
    "esac",    "fi",       "for",     "function", "if",     "in",   "select", "then",    "time",
    "until",   "while",    ".",       ":",        "alias",  "bg",   "break",  "builtin", "cd",
    "command", "continue", "declare", "eval",     "exec",   "exit", "export", "fg",      "hash",
    "jobs",    "local",    "read",    "readonly", "return", "set",  "source", "unset"};
constexpr std::array<std::string_view, 10> kShellOnlyMore = {
    "shift", "trap", "type", "typeset", "ulimit", "umask", "wait", "let", "shopt", "unalias"};

bool shell_only(std::string_view w) {
  for (auto k : kShellOnly)
    if (w == k) return true;
  for (auto k : kShellOnlyMore)
    if (w == k) return true;
  return false;
}

}  // namespace

std::optional<std::vector<std::string>> simple_command(const std::string& cmd) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : cmd) {
    if (!plain_char(c)) return std::nullopt;
    if (c == ' ') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  if (words.empty()) return std::nullopt;
  const std::string& first = words[0];
  // NAME=value is an assignment (then a command, or none); a word of dashes or dots only is not
  // a program name anyone means.
  if (first.find('=') != std::string::npos || shell_only(first)) return std::nullopt;
  if (first.find_first_not_of("-.") == std::string::npos) return std::nullopt;
  return words;
}

}  // namespace berth::runtime
