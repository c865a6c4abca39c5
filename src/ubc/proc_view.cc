// Path parsing of the beancounter server's filesystem (see proc_view.h). Pure.
#include "ubc/proc_view.h"

#include <vector>

namespace berth::ubc {
namespace {

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

bool ctid_like(std::string_view s) { return !s.empty() && s.front() != '.'; }

}  // namespace

bool is_pid_name(std::string_view name) {
  if (name.empty() || name.size() > 10 || name.front() == '0') return false;
  for (char c : name)
    if (c < '0' || c > '9') return false;
  return true;
}

Node parse_node(std::string_view path) {
  Node n;
  if (path.empty() || path.front() != '/') return n;
  if (path == "/") {
    n.kind = Node::kRoot;
    return n;
  }
  auto parts = components(path);
  for (auto p : parts)
    if (p.empty()) return n;  // "//", a trailing slash
  if (parts.size() == 1) {
    if (parts[0] == kProcDir) {
      n.kind = Node::kProcTop;
    } else if (ctid_like(parts[0])) {
      n.kind = Node::kCtFile;
      n.ctid = parts[0];
    }
    return n;
  }
  if (parts[0] != kProcDir || !ctid_like(parts[1]) || parts.size() > 3) return n;
  n.ctid = parts[1];
  if (parts.size() == 2) {
    n.kind = Node::kProcRoot;
  } else if (parts[2] == kUbcName) {
    n.kind = Node::kProcUbc;
  } else if (parts[2] == kRealDir) {
    n.kind = Node::kProcReal;
  } else if (parts[2] == kMeminfoName) {
    n.kind = Node::kProcMeminfo;
  } else if (parts[2] == kLoadavgName) {
    n.kind = Node::kProcLoadavg;
  } else if (parts[2] == kCpuinfoName) {
    n.kind = Node::kProcCpuinfo;
  } else if (parts[2] != "." && parts[2] != "..") {
    n.kind = Node::kProcLink;
    n.name = parts[2];
  }
  if (n.kind == Node::kNone) n.ctid.clear();
  return n;
}

std::string proc_view_dir(const std::string& mount_dir, const std::string& ctid) {
  return mount_dir + "/" + kProcDir + "/" + ctid;
}

}  // namespace berth::ubc
