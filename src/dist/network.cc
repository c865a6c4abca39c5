// ADD_IP/DEL_IP inside a CT: ifupdown stanzas and systemd-networkd .network files.
#include "dist/network.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/exit_codes.h"
#include "core/host_config.h"
#include "core/values/text.h"
#include "dist/files.h"

namespace berth::dist {
namespace {

constexpr std::string_view kIfupdownDir = "/etc/network/interfaces.d";
constexpr std::string_view kIfupdownPrefix = "berth-";
constexpr std::string_view kNetworkdDir = "/etc/systemd/network";
constexpr std::string_view kNetworkdPrefix = "10-berth-";
constexpr std::string_view kNetworkdSuffix = ".network";

Error bad(std::string what) { return Error::invalid(std::move(what), exitcode::kBadValue); }

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> words(std::string_view line) { return values::split_any(line, " \t"); }

bool is_v6(std::string_view addr) { return addr.find(':') != std::string_view::npos; }

// "addr/prefix" with the host prefix added to a bare address.
std::string with_prefix(const values::IpAddr& a) {
  return a.text + "/" + std::to_string(a.host_prefix());
}

std::string header(std::string_view ifname, std::string_view key) {
  return "# Written by Berth for " + std::string(ifname) + " from " + std::string(key) +
         " in the VPS's config; `berth set` rewrites it.\n";
}

// An interface name as a file name run-parts accepts (ifupdown's source-directory reads only
// [A-Za-z0-9_-] names): other characters, and '_' itself, become _<hex>, so names stay distinct.
std::string file_stem(std::string_view ifname) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : ifname) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-') {
      out += ch;
    } else {
      out += '_';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// The ifupdown commands that give ifname its addresses and default routes, and take them away.
struct Commands {
  std::vector<std::string> up, down;
};

void add_address(Commands& c, std::string_view ifname, const std::string& addr, bool nodad) {
  std::string dev = " dev " + std::string(ifname);
  c.up.push_back("ip addr replace " + addr + dev + (nodad && is_v6(addr) ? " nodad" : ""));
  c.down.push_back("ip addr del " + addr + dev + " 2>/dev/null || true");
}

void add_default(Commands& c, std::string_view ifname, const std::string& gw) {
  std::string fam = is_v6(gw) ? "-6" : "-4";
  std::string route = " default via " + gw + " dev " + std::string(ifname);
  c.up.push_back("ip " + fam + " route replace" + route + " proto static");
  // Default routes go first on the way down, so no route is left pointing at a removed address.
  c.down.insert(c.down.begin(), "ip " + fam + " route del" + route + " 2>/dev/null || true");
}

std::string stanza_lines(const Commands& c) {
  std::string out;
  for (const auto& u : c.up) out += "\tup " + u + "\n";
  for (const auto& d : c.down) out += "\tdown " + d + "\n";
  return out;
}

std::string networkd_match(std::string_view ifname) {
  return "[Match]\nName=" + std::string(ifname) + "\n";
}

bool is_alias_of(std::string_view name, std::string_view ifname) {
  return name == ifname || (name.size() > ifname.size() &&
                            name.substr(0, ifname.size()) == ifname && name[ifname.size()] == ':');
}

// Keywords that start a new stanza in interfaces(5); every other non-comment line is an option of
// the stanza above it.
bool starts_stanza(std::string_view kw) {
  return kw == "iface" || kw == "mapping" || kw == "auto" || kw == "source" ||
         kw == "source-directory" || kw == "rename" || kw == "no-auto-down" || kw == "no-scripts" ||
         kw.substr(0, 6) == "allow-";
}

// Lines of the form "<keyword> name name ...": the names that are interfaces.
bool lists_interfaces(std::string_view kw) {
  return kw == "auto" || kw == "no-auto-down" || kw == "no-scripts" || kw.substr(0, 6) == "allow-";
}

// Files of dir whose name starts with prefix and ends with suffix, and is not in keep.
Status remove_stale(const std::string& dir, std::string_view prefix, std::string_view suffix,
                    const std::vector<std::string>& keep) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return errno == ENOENT ? Status{} : Error::from_errno(errno, "open `" + dir + "`");
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.size() < prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
        name.substr(name.size() - suffix.size()) != suffix)
      continue;
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) stale.emplace_back(name);
  }
  for (const auto& name : stale)
    if (::unlink((dir + "/" + name).c_str()) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "remove `" + dir + "/" + name + "`");
  return {};
}

// Write each (file name, text) into dir (made if missing), then remove the other files of ours.
Status sync_dir(const std::string& dir, std::string_view prefix, std::string_view suffix,
                const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> keep;
  for (const auto& [name, text] : files) {
    if (keep.empty()) BERTH_RETURN_IF_ERROR(make_dirs(dir, 0755));
    BERTH_RETURN_IF_ERROR(replace_file(dir + "/" + name, text));
    keep.push_back(name);
  }
  return remove_stale(dir, prefix, suffix, keep);
}

Status set_ifupdown(const RoutedIf& routed, const std::vector<BridgedIf>& bridged,
                    const std::string& root) {
  std::vector<std::pair<std::string, std::string>> files;
  if (std::string t = ifupdown_routed(routed); !t.empty())
    files.emplace_back(std::string(kIfupdownPrefix) + file_stem(routed.ifname), t);
  for (const auto& b : bridged)
    if (std::string t = ifupdown_bridged(b); !t.empty())
      files.emplace_back(std::string(kIfupdownPrefix) + file_stem(b.ifname), t);
  BERTH_RETURN_IF_ERROR(sync_dir(root + std::string(kIfupdownDir), kIfupdownPrefix, "", files));

  // The main file: no venet0 stanza of vzctl's scripts left to clash with ours, and it must read
  // our files.
  std::string path = root + "/etc/network/interfaces";
  BERTH_ASSIGN_OR_RETURN(auto text, read_if_exists(path));
  std::string next = interfaces_without(text.value_or(""), routed.ifname);
  bool read = std::any_of(files.begin(), files.end(), [&](const auto& f) {
    return interfaces_reads(next, std::string(kIfupdownDir) + "/" + f.first);
  });
  if (!files.empty() && !read) {
    if (!next.empty() && next.back() != '\n') next += '\n';
    next += "source " + std::string(kIfupdownDir) + "/" + std::string(kIfupdownPrefix) + "*\n";
  }
  if (text && next != *text) BERTH_RETURN_IF_ERROR(replace_file(path, next));
  return {};
}

Status set_networkd(const RoutedIf& routed, const std::vector<BridgedIf>& bridged,
                    const std::string& root) {
  std::vector<std::pair<std::string, std::string>> files;
  auto name = [](const std::string& ifname) {
    return std::string(kNetworkdPrefix) + file_stem(ifname) + std::string(kNetworkdSuffix);
  };
  if (std::string t = networkd_routed(routed); !t.empty())
    files.emplace_back(name(routed.ifname), t);
  for (const auto& b : bridged)
    if (std::string t = networkd_bridged(b); !t.empty()) files.emplace_back(name(b.ifname), t);
  return sync_dir(root + std::string(kNetworkdDir), kNetworkdPrefix, kNetworkdSuffix, files);
}

}  // namespace

Result<BridgedIf> bridged_if_of(const values::Netif& n) {
  BridgedIf b;
  b.ifname = n.ifname;
  auto yes_no = [&](const std::string& k, const std::string& v) -> Result<bool> {
    if (v == "yes" || v == "on") return true;
    if (v == "no" || v == "off") return false;
    return bad("NETIF " + n.ifname + ": bad " + k + " `" + values::printable(v) +
               "` (yes or no expected)");
  };
  for (const auto& kv : n.extra) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "ip") {
      for (const auto& w : words(v)) {
        auto a = values::parse_ip(w);
        if (!a.ok() || a->is_any())
          return bad("NETIF " + n.ifname + ": bad address `" + values::printable(w) + "`");
        auto c = values::canonical_ip(w, true);
        std::string addr = w.find('/') == std::string::npos ? with_prefix(*a) : *c;
        if (std::find(b.addrs.begin(), b.addrs.end(), addr) == b.addrs.end())
          b.addrs.push_back(addr);
      }
    } else if (k == "gw" || k == "gw6") {
      auto c = values::canonical_ip(v, false);
      if (!c || is_v6(*c) != (k == "gw6"))
        return bad("NETIF " + n.ifname + ": bad " + k + " `" + values::printable(v) + "` (an " +
                   (k == "gw6" ? "IPv6" : "IPv4") + " address expected)");
      (k == "gw" ? b.gw4 : b.gw6) = *c;
    } else if (k == "dhcp") {
      BERTH_ASSIGN_OR_RETURN(b.dhcp4, yes_no(k, v));
    } else if (k == "dhcp6") {
      BERTH_ASSIGN_OR_RETURN(b.dhcp6, yes_no(k, v));
    }
  }
  return b;
}

NetStacks detect_net_stacks(const std::string& root) {
  NetStacks s;
  s.ifupdown = exists(root + "/etc/network/interfaces") &&
               (exists(root + "/sbin/ifup") || exists(root + "/usr/sbin/ifup"));
  for (const char* wants : {"multi-user.target.wants/systemd-networkd.service",
                            "network-online.target.wants/systemd-networkd.service",
                            "sockets.target.wants/systemd-networkd.socket",
                            "sysinit.target.wants/systemd-networkd.service"})
    if (exists(root + "/etc/systemd/system/" + wants)) s.networkd = true;
  return s;
}

std::string ifupdown_routed(const RoutedIf& r) {
  if (r.addrs.empty()) return "";
  Commands c;
  c.up.push_back("ip link set dev " + r.ifname + " up");
  bool v4 = false, v6 = false;
  for (const auto& a : r.addrs) {
    add_address(c, r.ifname, with_prefix(a), true);
    (a.is_v6() ? v6 : v4) = true;
  }
  if (v4 && !r.gw4.empty()) {
    // The next hop is a link-local /32 on the host end: reachable through a link route.
    c.up.push_back("ip -4 route replace " + r.gw4 + "/32 dev " + r.ifname +
                   " scope link proto static");
    c.down.push_back("ip -4 route del " + r.gw4 + "/32 dev " + r.ifname + " 2>/dev/null || true");
    add_default(c, r.ifname, r.gw4);
  }
  if (v6 && !r.gw6.empty()) add_default(c, r.ifname, r.gw6);
  return header(r.ifname, "IP_ADDRESS") +
         "# Berth sets these up before the VPS boots; ifup repeats them harmlessly.\n"
         "auto " +
         r.ifname + "\niface " + r.ifname + " inet manual\n" + stanza_lines(c);
}

std::string ifupdown_bridged(const BridgedIf& b) {
  if (!b.configured()) return "";
  Commands c;
  c.up.push_back("ip link set dev " + b.ifname + " up");
  for (const auto& a : b.addrs) add_address(c, b.ifname, a, false);
  if (!b.gw4.empty()) add_default(c, b.ifname, b.gw4);
  if (!b.gw6.empty()) add_default(c, b.ifname, b.gw6);
  std::string out = header(b.ifname, "NETIF") + "auto " + b.ifname + "\niface " + b.ifname +
                    (b.dhcp4 ? " inet dhcp\n" : " inet manual\n") + stanza_lines(c);
  if (b.dhcp6) out += "iface " + b.ifname + " inet6 dhcp\n";
  return out;
}

std::string interfaces_without(std::string_view text, std::string_view ifname) {
  std::string out;
  bool skipping = false;  // inside a stanza of ifname
  for (const auto& line : values::split_keep(text, '\n')) {
    auto w = words(line);
    std::string_view kw = w.empty() ? std::string_view() : std::string_view(w[0]);
    if (!kw.empty() && kw[0] != '#' && starts_stanza(kw)) {
      skipping = kw == "iface" && w.size() > 1 && is_alias_of(w[1], ifname);
      if (skipping) continue;
      if (lists_interfaces(kw)) {
        std::string kept(kw);
        size_t names = 0;
        for (size_t i = 1; i < w.size(); ++i) {
          if (is_alias_of(w[i], ifname)) continue;
          kept += " " + w[i];
          ++names;
        }
        if (names == 0) continue;
        if (names + 1 != w.size()) {
          out += kept + "\n";
          continue;
        }
      }
    } else if (skipping && !kw.empty() && kw[0] != '#') {
      continue;  // an option line of the removed stanza
    }
    out += line + "\n";
  }
  // split_keep gives an empty last piece for a text ending in '\n': drop the extra newline.
  if (!out.empty() && (text.empty() || text.back() == '\n')) out.pop_back();
  return out;
}

bool interfaces_reads(std::string_view text, std::string_view file) {
  std::string f(file);
  std::string dir = f.substr(0, f.rfind('/'));
  for (const auto& line : values::split_keep(text, '\n')) {
    auto w = words(line);
    if (w.size() < 2) continue;
    // Relative paths are relative to /etc/network, the directory of the main file.
    std::string arg = w[1][0] == '/' ? w[1] : "/etc/network/" + w[1];
    if (w[0] == "source" && ::fnmatch(arg.c_str(), f.c_str(), FNM_PATHNAME) == 0) return true;
    if (w[0] == "source-directory") {
      while (arg.size() > 1 && arg.back() == '/') arg.pop_back();
      // run-parts names only: letters, digits, '_' and '-'.
      std::string base = f.substr(dir.size() + 1);
      bool plain = std::all_of(base.begin(), base.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
      });
      if (arg == dir && plain) return true;
    }
  }
  return false;
}

std::string networkd_routed(const RoutedIf& r) {
  if (r.addrs.empty()) return "";
  std::string out = header(r.ifname, "IP_ADDRESS") + networkd_match(r.ifname) +
                    "\n[Network]\nDHCP=no\nIPv6AcceptRA=no\n";
  bool v4 = false, v6 = false;
  for (const auto& a : r.addrs) {
    out += "\n[Address]\nAddress=" + with_prefix(a) + "\n";
    if (a.is_v6()) out += "DuplicateAddressDetection=none\n";
    (a.is_v6() ? v6 : v4) = true;
  }
  // The same routes as Berth makes, so networkd takes them as its own rather than foreign.
  if (v4 && !r.gw4.empty())
    out += "\n[Route]\nDestination=" + r.gw4 + "/32\nScope=link\n\n[Route]\nGateway=" + r.gw4 +
           "\nGatewayOnLink=yes\n";
  if (v6 && !r.gw6.empty()) out += "\n[Route]\nGateway=" + r.gw6 + "\n";
  return out;
}

std::string networkd_bridged(const BridgedIf& b) {
  if (!b.configured()) return "";
  std::string dhcp = b.dhcp4 && b.dhcp6 ? "yes" : b.dhcp4 ? "ipv4" : b.dhcp6 ? "ipv6" : "no";
  std::string out =
      header(b.ifname, "NETIF") + networkd_match(b.ifname) + "\n[Network]\nDHCP=" + dhcp + "\n";
  for (const auto& a : b.addrs) out += "Address=" + a + "\n";
  if (!b.gw4.empty()) out += "Gateway=" + b.gw4 + "\n";
  if (!b.gw6.empty()) out += "Gateway=" + b.gw6 + "\n";
  return out;
}

Status set_network(Family family, const RoutedIf& routed, const std::vector<BridgedIf>& bridged,
                   const std::string& root) {
  if (family != Family::kDebian && family != Family::kDefault) return {};
  NetStacks stacks = detect_net_stacks(root);
  auto run = [&]() -> Status {
    if (stacks.ifupdown) BERTH_RETURN_IF_ERROR(set_ifupdown(routed, bridged, root));
    if (stacks.networkd) BERTH_RETURN_IF_ERROR(set_networkd(routed, bridged, root));
    return {};
  };
  return run().context("write the network configuration");
}

Result<std::pair<RoutedIf, std::vector<BridgedIf>>> interfaces_of(std::string_view ip_address,
                                                                  std::string_view netif,
                                                                  const RoutedNames& names) {
  RoutedIf routed{std::string(names.ifname), {}, std::string(names.gw4), std::string(names.gw6)};
  BERTH_ASSIGN_OR_RETURN(routed.addrs, values::parse_ip_list(ip_address));
  BERTH_ASSIGN_OR_RETURN(auto entries, values::parse_netif(netif));
  std::vector<BridgedIf> bridged;
  for (const auto& n : entries) {
    BERTH_ASSIGN_OR_RETURN(BridgedIf b, bridged_if_of(n));
    bridged.push_back(std::move(b));
  }
  return std::make_pair(std::move(routed), std::move(bridged));
}

Status set_ct_network(const CtConfig& ct, const RoutedNames& names, const std::string& root) {
  BERTH_ASSIGN_OR_RETURN(auto ifs,
                         interfaces_of(ct.get_or("IP_ADDRESS", ""), ct.get_or("NETIF", ""), names));
  return set_network(detect_family(ct.get_or("DISTRIBUTION", ct.ostemplate()), root), ifs.first,
                     ifs.second, root);
}

}  // namespace berth::dist
