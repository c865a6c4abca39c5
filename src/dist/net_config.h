// Hostname and DNS inside a CT: vzctl's SET_HOSTNAME and SET_DNS dist actions.
//
// Pure text transforms (unit-tested) plus the functions that read and rewrite the CT's files.
// The functions run INSIDE the CT (see files.h) and only write files: setting the live hostname
// with sethostname(2) in the CT's UTS namespace is the runtime's step.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::dist {

// The comment vzctl's set_hostname.sh put above its /etc/hosts line. Berth writes the same one so
// that CTs imported from OpenVZ get their old line replaced, not duplicated.
inline constexpr std::string_view kHostsMarker =
    "# Auto-generated hostname. Please do not remove this comment.";

// RFC 1123 host name: dot-separated labels of letters, digits and '-', 1..63 chars each, not
// starting or ending with '-', 253 chars in all. Error exit 21. Pure.
Status validate_hostname(std::string_view hostname);
// An IPv4 or IPv6 address. Error exit 21. Pure.
Status validate_nameserver(std::string_view address);
// A DNS domain (same rules as a host name). Error exit 21. Pure.
Status validate_searchdomain(std::string_view domain);

// /etc/hosts with `<ip> <fqdn> <short>` under kHostsMarker, ip being the CT's first address
// (vzctl's set_hostname.sh), or 127.0.1.1 when it has none. Replaces the line after an existing
// marker and any 127.0.1.1 line (Debian's installer puts the host name there); adds
// `127.0.0.1 localhost` if no 127.0.0.1 line is left. Keeps every other line. Idempotent. Pure.
std::string hosts_with_hostname(std::string_view hosts, std::string_view hostname,
                                std::string_view ip = {});

// The first address of IP_ADDRESS ("198.18.0.1/24 fd00::1" -> "198.18.0.1"); "" if none. Pure.
std::string first_address(std::string_view ip_address);

// NAMESERVER / SEARCHDOMAIN lists with each `inherit` replaced by the host's values from
// host_resolv (the text of the host's /etc/resolv.conf): its nameserver lines, or the words of
// its search (or domain) line. Duplicates dropped, order kept. Pure.
std::vector<std::string> resolve_inherit(const std::vector<std::string>& list,
                                         std::string_view host_resolv, bool nameservers);

// /etc/sysconfig/network (old Red Hat) with HOSTNAME set; other lines kept. Pure.
std::string sysconfig_network_with_hostname(std::string_view text, std::string_view hostname);

// /etc/resolv.conf with the nameserver lines replaced by nameservers (if not empty) and the
// search/domain lines replaced by one `search` line (if searchdomains is not empty). New lines go
// where the first old one was; other lines (options, comments) are kept. Pure.
std::string resolv_conf_with(std::string_view text, const std::vector<std::string>& nameservers,
                             const std::vector<std::string>& searchdomains);

// The file systemd-resolved reads Berth's servers from, and the text for it: a [Resolve] section
// with DNS= and Domains= from the lists, an empty list keeping that line of old (Berth's earlier
// file). Pure.
inline constexpr std::string_view kResolvedDropIn = "/etc/systemd/resolved.conf.d/berth.conf";
std::string resolved_conf_with(std::string_view old, const std::vector<std::string>& nameservers,
                               const std::vector<std::string>& searchdomains);
// A symlink target of /etc/resolv.conf that systemd-resolved manages (its stub or its
// resolv.conf under /run/systemd/resolve/, absolute or relative). Pure.
bool is_resolved_link(std::string_view target);

// Host side, for a running CT: whether its /etc/resolv.conf is systemd-resolved's link (read
// beneath its root, following none of its symlinks; false when unreadable).
bool uses_resolved(pid_t init);

// Inside the CT: /etc/hostname, /etc/hosts (with ip, see hosts_with_hostname), and HOSTNAME= in
// /etc/sysconfig/network if that file exists. Error exit 21 for a bad name.
Status set_hostname(const std::string& hostname, const std::string& root = "",
                    const std::string& ip = "");

// Inside the CT: /etc/resolv.conf, or, when it is systemd-resolved's link (is_resolved_link),
// kResolvedDropIn (the link is left as it is; resolved reads the file when it starts). Empty
// lists leave their lines alone (both empty: no change); `inherit` must already have been
// replaced by the host's values. Error exit 21 for a bad value. Sets *via_resolved (if given) to
// whether resolved's file was written.
Status set_dns(const std::vector<std::string>& nameservers,
               const std::vector<std::string>& searchdomains, const std::string& root = "",
               bool* via_resolved = nullptr);

}  // namespace berth::dist
