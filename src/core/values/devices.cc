// DEVNODES/DEVICES parsing (see devices.h).
#include "core/values/devices.h"

#include <cctype>

#include "core/exit_codes.h"
#include "core/values/text.h"

namespace berth::values {
namespace {

Error bad(std::string what) { return Error::invalid(std::move(what), exitcode::kDevices); }

}  // namespace

Result<DevAccess> parse_dev_access(std::string_view s) {
  DevAccess a;
  if (s == "none") return a;
  if (s.empty()) return bad("empty device access (want [r][w][q] or none)");
  for (char c : s) {
    bool* flag = c == 'r' ? &a.read : c == 'w' ? &a.write : c == 'q' ? &a.quota : nullptr;
    if (!flag || *flag)
      return bad("invalid device access `" + printable(s) + "` (want [r][w][q] or none)");
    *flag = true;
  }
  return a;
}

std::string format_dev_access(const DevAccess& a) {
  std::string s;
  if (a.read) s += 'r';
  if (a.write) s += 'w';
  if (a.quota) s += 'q';
  return s.empty() ? "none" : s;
}

bool is_valid_dev_name(std::string_view n) {
  if (n.empty() || n.size() > 255 || n.front() == '/' || n.back() == '/') return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
        c != '.' && c != '+')
      return false;
  for (const auto& comp : split_keep(n, '/'))
    if (comp.empty() || comp == "." || comp == "..") return false;
  return true;
}

Result<std::vector<DevNode>> parse_devnodes(std::string_view value) {
  std::vector<DevNode> out;
  for (const std::string& tok : split_any(value, " \t")) {
    auto colon = tok.rfind(':');
    if (colon == std::string::npos)
      return bad("invalid DEVNODES entry `" + printable(tok) + "` (want name:[r][w][q]|none)");
    std::string name = tok.substr(0, colon);
    if (!is_valid_dev_name(name)) return bad("invalid device name `" + printable(name) + "`");
    BERTH_ASSIGN_OR_RETURN(DevAccess access,
                           parse_dev_access(std::string_view(tok).substr(colon + 1)));
    DevNode n;
    n.path = name;
    n.access = access;
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<DevNode>> parse_devices(std::string_view value) {
  std::vector<DevNode> out;
  auto words = split_any(value, " \t");
  if (words.size() == 1 && words[0] == "none") return out;
  for (const std::string& tok : words) {
    auto f = split_keep(tok, ':');
    if (f.size() != 4)
      return bad("invalid DEVICES entry `" + printable(tok) +
                 "` (want b|c:major:minor|all:[r][w][q])");
    DevNode n;
    if (f[0] == "c")
      n.type = DevType::kChar;
    else if (f[0] == "b")
      n.type = DevType::kBlock;
    else
      return bad("invalid device type `" + printable(f[0]) + "` in `" + printable(tok) +
                 "` (want b or c)");
    auto major = parse_u64_max(f[1], kMaxDevMajor);
    if (!major) return bad("invalid major number in `" + printable(tok) + "`");
    n.major = static_cast<uint32_t>(*major);
    if (f[2] != "all") {
      auto minor = parse_u64_max(f[2], kMaxDevMinor);
      if (!minor) return bad("invalid minor number in `" + printable(tok) + "`");
      n.minor = static_cast<uint32_t>(*minor);
    }
    BERTH_ASSIGN_OR_RETURN(n.access, parse_dev_access(f[3]));
    out.push_back(std::move(n));
  }
  return out;
}

std::string format_devnode(const DevNode& n) { return n.path + ":" + format_dev_access(n.access); }

std::string format_device(const DevNode& n) {
  return std::string(n.type == DevType::kChar ? "c" : "b") + ":" + std::to_string(n.major) + ":" +
         (n.minor ? std::to_string(*n.minor) : "all") + ":" + format_dev_access(n.access);
}

}  // namespace berth::values
