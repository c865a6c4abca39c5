// SET_HOSTNAME and SET_DNS inside a CT (vzctl's set_hostname.sh and set_dns.sh).
#include "dist/net_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "core/values/ip.h"
#include "core/values/text.h"
#include "dist/files.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The first blank-separated word of a line ("" for blank lines; comments give "#...").
std::string_view first_field(std::string_view line) {
  line = trim(line);
  size_t end = 0;
  while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
  return line.substr(0, end);
}

using values::is_valid_hostname;

}  // namespace

Status validate_hostname(std::string_view hostname) {
  if (!is_valid_hostname(hostname))
    return Error::invalid("invalid hostname `" + std::string(hostname) + "`", exitcode::kBadValue);
  return {};
}

Status validate_nameserver(std::string_view address) {
  std::string a(address);
  if (!values::canonical_ip(a, false))
    return Error::invalid("invalid nameserver `" + a + "` (want an IP address)",
                          exitcode::kBadValue);
  return {};
}

Status validate_searchdomain(std::string_view domain) {
  if (!is_valid_hostname(domain))
    return Error::invalid("invalid search domain `" + std::string(domain) + "`",
                          exitcode::kBadValue);
  return {};
}

std::string hosts_with_hostname(std::string_view hosts, std::string_view hostname,
                                std::string_view ip) {
  std::string name(hostname);
  std::string short_name = name.substr(0, name.find('.'));
  std::string entry = (ip.empty() ? std::string("127.0.1.1") : std::string(ip)) + " " + name +
                      (short_name != name ? " " + short_name : "");

  auto lines = split_lines(hosts);
  std::vector<std::string> out;
  bool placed = false;
  auto place = [&] {
    if (placed) return;
    out.emplace_back(kHostsMarker);
    out.push_back(entry);
    placed = true;
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (trim(line) == kHostsMarker) {
      // vzctl wrote its line right below the marker, possibly as "127.0.0.1 localhost... <name>".
      if (i + 1 < lines.size() && !first_field(lines[i + 1]).empty() &&
          first_field(lines[i + 1])[0] != '#')
        ++i;
      place();
      continue;
    }
    if (first_field(line) == "127.0.1.1") {
      place();
      continue;
    }
    out.push_back(lines[i]);
  }
  place();
  bool has_loopback = std::any_of(
      out.begin(), out.end(), [](const std::string& l) { return first_field(l) == "127.0.0.1"; });
  if (!has_loopback) out.insert(out.begin(), "127.0.0.1 localhost");
  return join_lines(out);
}

std::string first_address(std::string_view ip_address) {
  std::string first(first_field(ip_address));
  return first.substr(0, first.find('/'));
}

std::vector<std::string> resolve_inherit(const std::vector<std::string>& list,
                                         std::string_view host_resolv, bool nameservers) {
  std::vector<std::string> host;
  for (const auto& line : split_lines(host_resolv)) {
    std::string_view kw = first_field(line);
    std::string_view rest = trim(trim(line).substr(kw.size()));
    if (nameservers && kw == "nameserver" && !rest.empty()) host.emplace_back(first_field(rest));
    if (!nameservers && (kw == "search" || kw == "domain")) {
      host.clear();  // the last search/domain line wins, as in the resolver
      while (!rest.empty()) {
        std::string_view w = first_field(rest);
        host.emplace_back(w);
        rest = trim(rest.substr(w.size()));
      }
    }
  }
  std::vector<std::string> out;
  auto add = [&](const std::string& v) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  for (const auto& v : list) {
    if (v != "inherit") {
      add(v);
      continue;
    }
    for (const auto& h : host) add(h);
  }
  return out;
}

std::string sysconfig_network_with_hostname(std::string_view text, std::string_view hostname) {
  ConfFile f = ConfFile::parse(text);
  f.set("HOSTNAME", hostname);
  return f.text();
}

std::string resolv_conf_with(std::string_view text, const std::vector<std::string>& nameservers,
                             const std::vector<std::string>& searchdomains) {
  std::vector<std::string> ns_lines;
  for (const auto& n : nameservers) ns_lines.push_back("nameserver " + n);
  std::string search_line = "search";
  for (const auto& d : searchdomains) search_line += " " + d;

  std::vector<std::string> out;
  bool ns_done = false, search_done = false;
  for (const auto& line : split_lines(text)) {
    std::string_view kw = first_field(line);
    if (!nameservers.empty() && kw == "nameserver") {
      if (!ns_done) out.insert(out.end(), ns_lines.begin(), ns_lines.end());
      ns_done = true;
      continue;
    }
    // "domain" and "search" override each other in resolv.conf; keep only the new search line.
    if (!searchdomains.empty() && (kw == "search" || kw == "domain")) {
      if (!search_done) out.push_back(search_line);
      search_done = true;
      continue;
    }
    out.push_back(line);
  }
  if (!searchdomains.empty() && !search_done) {
    auto first_ns = std::find_if(out.begin(), out.end(), [](const std::string& l) {
      return first_field(l) == "nameserver";
    });
    out.insert(first_ns, search_line);
  }
  if (!nameservers.empty() && !ns_done) out.insert(out.end(), ns_lines.begin(), ns_lines.end());
  return join_lines(out);
}

std::string resolved_conf_with(std::string_view old, const std::vector<std::string>& nameservers,
                               const std::vector<std::string>& searchdomains) {
  // The old values of the lines an empty list keeps.
  std::string dns_line, domains_line;
  for (const auto& line : split_lines(old)) {
    std::string_view t = trim(line);
    if (t.substr(0, 4) == "DNS=") dns_line = std::string(t);
    if (t.substr(0, 8) == "Domains=") domains_line = std::string(t);
  }
  auto line_of = [](std::string_view key, const std::vector<std::string>& list) {
    std::string l(key);
    for (size_t i = 0; i < list.size(); ++i) l += (i ? " " : "") + list[i];
    return l;
  };
  if (!nameservers.empty()) dns_line = line_of("DNS=", nameservers);
  if (!searchdomains.empty()) domains_line = line_of("Domains=", searchdomains);
  std::string out =
      "# Written by Berth from NAMESERVER and SEARCHDOMAIN in the VPS's config; `berth set`\n"
      "# rewrites it.\n[Resolve]\n";
  if (!dns_line.empty()) out += dns_line + "\n";
  if (!domains_line.empty()) out += domains_line + "\n";
  return out;
}

bool is_resolved_link(std::string_view target) {
  return target.find("run/systemd/resolve/") != std::string_view::npos;
}

bool uses_resolved(pid_t init) {
  auto fd = sys::open_in_root_of(init, "etc/resolv.conf", O_PATH | O_NOFOLLOW);
  if (!fd.ok()) return false;
  char target[4096];
  ssize_t n = ::readlinkat(fd->get(), "", target, sizeof(target) - 1);
  return n > 0 && is_resolved_link(std::string_view(target, static_cast<size_t>(n)));
}

Status set_hostname(const std::string& hostname, const std::string& root, const std::string& ip) {
  BERTH_RETURN_IF_ERROR(validate_hostname(hostname));
  auto run = [&]() -> Status {
    BERTH_RETURN_IF_ERROR(replace_file(root + "/etc/hostname", hostname + "\n"));
    BERTH_ASSIGN_OR_RETURN(auto hosts, read_if_exists(root + "/etc/hosts"));
    BERTH_RETURN_IF_ERROR(
        replace_file(root + "/etc/hosts", hosts_with_hostname(hosts.value_or(""), hostname, ip)));
    // Red Hat before 7 read the name from here at boot; newer ones only have /etc/hostname.
    BERTH_ASSIGN_OR_RETURN(auto network, read_if_exists(root + "/etc/sysconfig/network"));
    if (network)
      BERTH_RETURN_IF_ERROR(replace_file(root + "/etc/sysconfig/network",
                                         sysconfig_network_with_hostname(*network, hostname)));
    return {};
  };
  return run().context("set hostname `" + hostname + "`");
}

Status set_dns(const std::vector<std::string>& nameservers,
               const std::vector<std::string>& searchdomains, const std::string& root,
               bool* via_resolved) {
  if (via_resolved) *via_resolved = false;
  for (const auto& n : nameservers) BERTH_RETURN_IF_ERROR(validate_nameserver(n));
  for (const auto& d : searchdomains) BERTH_RETURN_IF_ERROR(validate_searchdomain(d));
  if (nameservers.empty() && searchdomains.empty()) return {};
  std::string path = root + "/etc/resolv.conf";
  auto run = [&]() -> Status {
    // systemd-resolved's stub: the link stays (resolved rewrites its target at will); the servers
    // go to its configuration. Only the link itself is read, never what it points to.
    char target[4096];
    ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
    if (n > 0 && is_resolved_link(std::string_view(target, static_cast<size_t>(n)))) {
      std::string conf = root + std::string(kResolvedDropIn);
      BERTH_RETURN_IF_ERROR(make_dirs(conf.substr(0, conf.rfind('/')), 0755));
      BERTH_ASSIGN_OR_RETURN(auto old, read_if_exists(conf));
      BERTH_RETURN_IF_ERROR(
          replace_file(conf, resolved_conf_with(old.value_or(""), nameservers, searchdomains)));
      if (via_resolved) *via_resolved = true;
      return {};
    }
    BERTH_ASSIGN_OR_RETURN(auto text, read_if_exists(path));
    return replace_file(path, resolv_conf_with(text.value_or(""), nameservers, searchdomains));
  };
  return run().context("set DNS");
}

}  // namespace berth::dist
