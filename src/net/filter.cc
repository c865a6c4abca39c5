// Anti-spoofing tables: the script text and libnftables to run it.
#include "net/filter.h"

#include <nftables/libnftables.h>

#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>

#include "core/exit_codes.h"
#include "core/conf_file.h"
#include "core/host_config.h"
#include "net/netif.h"
#include "sys/fs.h"
#include "sys/lock.h"

namespace berth::net {
namespace {

std::string replace_prefix(const std::string& family, const std::string& table) {
  // "add" then "delete" never fails, whether or not the table was there; the new table (if any)
  // follows in the same transaction, so there is no moment without filter.
  return "add table " + family + " " + table + "\ndelete table " + family + " " + table + "\n";
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string sanitized(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return s;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// The chains the map elements of a shared-table listing jump to.
std::vector<std::string> jump_targets(const std::string& listing) {
  std::vector<std::string> out;
  const std::string key = ": jump ";
  for (size_t p = listing.find(key); p != std::string::npos; p = listing.find(key, p + 1)) {
    size_t b = p + key.size(), e = b;
    while (e < listing.size() && name_char(listing[e])) ++e;
    out.push_back(listing.substr(b, e - b));
  }
  return out;
}

// libnftables, opened on first use: only the paths that still run an nft script (the instance's
// tables, a bridge's MAC filter) need it, and linking it would load it and its five libraries
// into every command (CMakeLists.txt, BERTH_STATIC_LIBS).
struct Nft {
  decltype(&nft_ctx_new) ctx_new = nullptr;
  decltype(&nft_ctx_free) ctx_free = nullptr;
  decltype(&nft_ctx_buffer_output) buffer_output = nullptr;
  decltype(&nft_ctx_buffer_error) buffer_error = nullptr;
  decltype(&nft_run_cmd_from_buffer) run = nullptr;
  decltype(&nft_ctx_get_output_buffer) output = nullptr;
  decltype(&nft_ctx_get_error_buffer) error = nullptr;
  std::string failure;  // why it could not be opened
};

template <typename F>
bool sym(void* h, const char* name, F& f) {
  f = reinterpret_cast<F>(::dlsym(h, name));
  return f != nullptr;
}

const Nft& libnftables() {
  static const Nft lib = [] {
    Nft n;
    void* h = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      n.failure = std::string("cannot load libnftables (apt-get install libnftables1): ") +
                  (e ? e : "unknown error");
      return n;
    }
    if (!sym(h, "nft_ctx_new", n.ctx_new) || !sym(h, "nft_ctx_free", n.ctx_free) ||
        !sym(h, "nft_ctx_buffer_output", n.buffer_output) ||
        !sym(h, "nft_ctx_buffer_error", n.buffer_error) ||
        !sym(h, "nft_run_cmd_from_buffer", n.run) ||
        !sym(h, "nft_ctx_get_output_buffer", n.output) ||
        !sym(h, "nft_ctx_get_error_buffer", n.error)) {
      n = Nft{};
      n.failure = "libnftables.so.1 lacks a function Berth calls (a version before 0.9.3?)";
    }
    return n;  // the handle stays open for the process's life
  }();
  return lib;
}

struct CtxFree {
  void operator()(nft_ctx* c) const { libnftables().ctx_free(c); }
};

}  // namespace

std::string filter_table(std::string_view instance, std::string_view ctid) {
  return sanitized("berth-" + std::string(instance) + "-" + std::string(ctid));
}
std::string shared_table(std::string_view instance) {
  return sanitized("berth-" + std::string(instance));
}
std::string ct_chain(std::string_view ctid) { return sanitized("ct_" + std::string(ctid)); }

std::string antispoof_tables_script(const std::string& shared) {
  // Made once per instance (and again if someone removed them): "add" leaves what is there, the
  // base chains' rules are rewritten so that each is there once.
  std::string t = "inet " + shared, a = "arp " + shared;
  std::string s = "add table " + t + "\n";
  s += "add set " + t + " " + kPortsSet + " { type ifname; }\n";
  s += "add set " + t + " " + kAddr4Set + " { type ifname . ipv4_addr; }\n";
  s += "add set " + t + " " + kAddr6Set + " { type ifname . ipv6_addr; }\n";
  s += "add chain " + t + " " + kFilterChain +
       " { type filter hook prerouting priority -300; policy accept; }\n";
  s += "flush chain " + t + " " + kFilterChain + "\n";
  std::string rule = "add rule " + t + " " + kFilterChain + " ";
  s += rule + "iifname != @" + kPortsSet + " accept\n";
  s += rule + "meta nfproto ipv4 iifname . ip saddr != @" + kAddr4Set + " drop\n";
  // Neighbour discovery needs link-local and unspecified sources.
  s += rule + "ip6 saddr { fe80::/10, ::/128 } accept\n";
  s += rule + "meta nfproto ipv6 iifname . ip6 saddr != @" + kAddr6Set + " drop\n";
  // ARP from a CT must name one of its IPv4 addresses as sender, or it could claim another's.
  s += "add table " + a + "\n";
  s += "add set " + a + " " + kPortsSet + " { type ifname; }\n";
  s += "add set " + a + " " + kAddr4Set + " { type ifname . ipv4_addr; }\n";
  s += "add chain " + a + " " + kFilterChain +
       " { type filter hook input priority 0; policy accept; }\n";
  s += "flush chain " + a + " " + kFilterChain + "\n";
  s += "add rule " + a + " " + kFilterChain + " iifname @" + kPortsSet +
       " iifname . arp saddr ip != @" + kAddr4Set + " drop\n";
  return s;
}

std::string routed_state_text(const RoutedFilter& f) {
  std::string s = f.host_ifname + "\n";
  for (const auto& a : f.addrs) s += a.text + "\n";
  return s;
}

RoutedFilter parse_routed_state(std::string_view text) {
  RoutedFilter f;
  bool first = true;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (first) {
      f.host_ifname = std::string(line);
      first = false;
    } else if (auto a = parse_ip(line); a.ok()) {
      f.addrs.push_back(*a);
    }
  }
  return f;
}

namespace {

std::vector<uint8_t> addr_key(const std::string& host, const IpAddr& a) {
  std::vector<uint8_t> ip(a.bytes.begin(), a.bytes.begin() + (a.is_v6() ? 16 : 4));
  return nft::concat_key({nft::ifname_key(host), ip});
}

// The element changes of one set: every key of `gone` out (added first: never ENOENT), every
// key of `keep` in.
void set_changes(std::vector<nft::Change>& out, nft::Family family, const std::string& table,
                 const char* set, std::vector<std::vector<uint8_t>> gone,
                 std::vector<std::vector<uint8_t>> keep) {
  std::erase_if(
      gone, [&](const auto& k) { return std::find(keep.begin(), keep.end(), k) != keep.end(); });
  if (!gone.empty()) {
    out.push_back({nft::Change::kAddElements, family, table, set, gone});
    out.push_back({nft::Change::kDeleteElements, family, table, set, gone});
  }
  if (!keep.empty()) out.push_back({nft::Change::kAddElements, family, table, set, keep});
}

}  // namespace

std::vector<nft::Change> routed_changes(const std::string& shared, const RoutedFilter& had,
                                        const RoutedFilter& want) {
  auto keys = [](const RoutedFilter& f, int which) {  // 0 ports, 4 / 6 addresses of that family
    std::vector<std::vector<uint8_t>> out;
    if (f.host_ifname.empty()) return out;
    if (which == 0) out.push_back(nft::ifname_key(f.host_ifname));
    for (const auto& a : f.addrs)
      if (which != 0 && a.is_v6() == (which == 6)) out.push_back(addr_key(f.host_ifname, a));
    return out;
  };
  std::vector<nft::Change> out;
  for (auto family : {nft::Family::kInet, nft::Family::kArp}) {
    set_changes(out, family, shared, kPortsSet, keys(had, 0), keys(want, 0));
    set_changes(out, family, shared, kAddr4Set, keys(had, 4), keys(want, 4));
    if (family == nft::Family::kInet)
      set_changes(out, family, shared, kAddr6Set, keys(had, 6), keys(want, 6));
  }
  return out;
}

std::string unfilter_script(const std::string& shared, const std::string& table,
                            const std::string& chain, const std::string& host_ifname,
                            const std::string& shared_listing) {
  std::string s = replace_prefix("arp", table);
  if (shared_listing.empty()) return s;
  std::string t = "inet " + shared;
  bool others = false, mine = false;
  for (const auto& target : jump_targets(shared_listing)) {
    if (target == chain)
      mine = true;
    else
      others = true;
  }
  if (mine) s += "delete element " + t + " ports { " + quoted(host_ifname) + " }\n";
  if (shared_listing.find("chain " + chain + " {") != std::string::npos)
    s += "flush chain " + t + " " + chain + "\ndelete chain " + t + " " + chain + "\n";
  // The old layout's dispatch goes with its last CT; the table stays for the current layout's sets.
  if (!others && shared_listing.find("chain antispoof {") != std::string::npos)
    s += "flush chain " + t + " antispoof\ndelete chain " + t + " antispoof\n";
  if (!others && shared_listing.find("map ports {") != std::string::npos)
    s += "delete map " + t + " ports\n";
  return s;
}

std::string macfilter_script(const std::string& table,
                             const std::vector<std::pair<std::string, std::string>>& ports) {
  std::string s = replace_prefix("bridge", table);
  if (ports.empty()) return s;
  s += "table bridge " + table + " {\n";
  s += "  chain macfilter {\n    type filter hook prerouting priority -200; policy accept;\n";
  for (const auto& [ifname, mac] : ports)
    s += "    iifname " + quoted(ifname) + " ether saddr != " + mac + " drop\n";
  s += "  }\n}\n";
  return s;
}

Status run_nft(const std::string& script, std::string* output) {
  const Nft& lib = libnftables();
  if (!lib.ctx_new) return Error::invalid("apply nftables rules: " + lib.failure, exitcode::kVeth);
  std::unique_ptr<nft_ctx, CtxFree> ctx(lib.ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error::from_errno(ENOMEM, "create nftables context");
  lib.buffer_output(ctx.get());
  lib.buffer_error(ctx.get());
  if (lib.run(ctx.get(), script.c_str()) != 0) {
    std::string msg = lib.error(ctx.get());
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return Error::invalid("apply nftables rules: " + msg, exitcode::kVeth);
  }
  if (output) *output = lib.output(ctx.get());
  return {};
}

Status lock_netns_of(pid_t pid) {
  const std::string t = std::string("inet ") + kCheckpointLockTable;
  const std::string script = "add table " + t + "\n" + "add chain " + t +
                             " input { type filter hook input priority -400; policy drop; }\n" +
                             "add chain " + t +
                             " output { type filter hook output priority -400; policy drop; }\n";
  return nft::in_netns_of(pid, [&] { return run_nft(script); });
}

namespace {

struct Names {
  std::string table, shared, chain, host;
};

Names names_of(const CtConfig& ct) {
  const std::string& inst = ct.host().instance();
  return {filter_table(inst, ct.ctid()), shared_table(inst), ct_chain(ct.ctid()),
          host_ifname(inst, ct.ctid())};
}

// The instance's CTs change the shared tables one at a time.
Result<sys::FileLock> lock_filters(const HostConfig& host) {
  const std::string& dir = host.paths().lock_dir;
  BERTH_RETURN_IF_ERROR(make_dirs(dir, 0755));
  return sys::FileLock::acquire(dir + "/nft.lck", true, "network filters");
}

// <run>/nft/<CTID>: what the CT has in the shared sets (routed_state_text), so that it can be
// taken out again without reading the sets. A CT without a file has nothing there; the
// instance's tables go when the directory is empty.
std::string state_dir(const HostConfig& host) { return host.paths().run + "/nft"; }
std::string state_path(const CtConfig& ct) { return state_dir(ct.host()) + "/" + ct.ctid(); }

RoutedFilter read_state(const CtConfig& ct) {
  auto text = sys::read_file(state_path(ct));
  return text.ok() ? parse_routed_state(*text) : RoutedFilter{};
}

Status write_state(const CtConfig& ct, const RoutedFilter& f) {
  if (f.host_ifname.empty()) {
    if (::unlink(state_path(ct).c_str()) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "remove `" + state_path(ct) + "`");
    return {};
  }
  BERTH_RETURN_IF_ERROR(make_dirs(state_dir(ct.host()), 0700));
  return write_run_file(state_path(ct), routed_state_text(f), 0600);
}

bool dir_empty(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == ".." || n.ends_with(".tmp")) continue;
    empty = false;
    break;
  }
  ::closedir(d);
  return empty;
}

// A table removed whether or not it is there (added first in the same transaction).
void drop_table(std::vector<nft::Change>& out, nft::Family family, const std::string& table) {
  out.push_back({nft::Change::kAddTable, family, table, "", {}});
  out.push_back({nft::Change::kDeleteTable, family, table, "", {}});
}

// The routed filter of a CT (Berth before this layout: its own arp table and a chain in the shared
// inet table), removed through libnftables; only looked for by name (O(1)), only ever there
// after an upgrade with CTs running.
Status remove_legacy(const Names& n) {
  BERTH_ASSIGN_OR_RETURN(bool arp, nft::table_exists(nft::Family::kArp, n.table));
  BERTH_ASSIGN_OR_RETURN(bool chain, nft::chain_exists(nft::Family::kInet, n.shared, n.chain));
  BERTH_ASSIGN_OR_RETURN(bool inet_own,
                         nft::table_exists(nft::Family::kInet, n.table));  // before 3
  std::vector<nft::Change> drop;
  if (arp) drop_table(drop, nft::Family::kArp, n.table);
  if (inet_own) drop_table(drop, nft::Family::kInet, n.table);
  BERTH_RETURN_IF_ERROR(nft::apply(drop));
  if (!chain) return {};
  std::string listing;
  BERTH_RETURN_IF_ERROR(run_nft("list table inet " + n.shared, &listing));
  // Only the chain and map element of the old layout: the arp table is gone already.
  std::string script = unfilter_script(n.shared, n.table, n.chain, n.host, listing);
  return run_nft(script);
}

// Makes the CT's part of the shared sets what `want` says (empty host_ifname: nothing), in one
// transaction; the instance's tables are made when missing and removed with their last CT.
Status set_routed(const CtConfig& ct, const Names& n, const RoutedFilter& want) {
  RoutedFilter had = read_state(ct);
  // Recorded before the change: a command killed in between leaves a file that covers both.
  RoutedFilter both = want;
  if (both.host_ifname.empty()) both.host_ifname = had.host_ifname;
  if (!had.host_ifname.empty() && had.host_ifname == both.host_ifname)
    for (const auto& a : had.addrs)
      if (std::find(both.addrs.begin(), both.addrs.end(), a) == both.addrs.end())
        both.addrs.push_back(a);
  if (!both.host_ifname.empty()) {
    // The file is rewritten only when it would say something else (a stop's `both` is `had`).
    bool same = routed_state_text(both) == routed_state_text(had);
    if (!same) BERTH_RETURN_IF_ERROR(write_state(ct, both));
    auto changes = routed_changes(n.shared, had, want);
    auto st = nft::apply(changes);
    if (!st.ok() && st.error().code() == ENOENT && !want.host_ifname.empty()) {
      // The instance's tables (or their sets) are not there yet: made once, then the change again.
      BERTH_RETURN_IF_ERROR(run_nft(antispoof_tables_script(n.shared)));
      st = nft::apply(routed_changes(n.shared, RoutedFilter{}, want));
    } else if (!st.ok() && st.error().code() == ENOENT) {
      st = {};  // nothing to take out: the tables are gone
    }
    BERTH_RETURN_IF_ERROR(std::move(st));
    if (routed_state_text(want) != routed_state_text(both))
      BERTH_RETURN_IF_ERROR(write_state(ct, want));
  }
  return {};
}

// bridged: the CT's bridge table (mac_filter), looked up by name.
Status remove_bridged(const Names& n) {
  BERTH_ASSIGN_OR_RETURN(bool there, nft::table_exists(nft::Family::kBridge, n.table));
  if (!there) return {};
  std::vector<nft::Change> drop;
  drop_table(drop, nft::Family::kBridge, n.table);
  return nft::apply(drop);
}

}  // namespace

Status apply_filters(const CtConfig& ct) {
  Names n = names_of(ct);
  BERTH_ASSIGN_OR_RETURN(auto addrs, parse_ip_list(ct.get_or("IP_ADDRESS", "")));
  BERTH_ASSIGN_OR_RETURN(auto netifs, parse_netif(ct.get_or("NETIF", "")));
  std::vector<std::pair<std::string, std::string>> ports;
  for (auto& e : netifs) {
    if (e.host_ifname.empty()) {
      BERTH_ASSIGN_OR_RETURN(e.host_ifname, generate_host_ifname(netifs, ct.ctid(), e.ifname));
    }
    if (e.filters_mac() && !e.mac.empty()) ports.emplace_back(e.host_ifname, e.mac);
  }
  BERTH_ASSIGN_OR_RETURN(sys::FileLock lock, lock_filters(ct.host()));
  BERTH_RETURN_IF_ERROR(remove_legacy(n).context("set anti-spoofing filter"));
  RoutedFilter want;
  if (!addrs.empty()) want = {n.host, addrs};
  BERTH_RETURN_IF_ERROR(set_routed(ct, n, want).context("set anti-spoofing filter"));
  if (ports.empty()) return remove_bridged(n).context("set anti-spoofing filter");
  return run_nft(macfilter_script(n.table, ports)).context("set anti-spoofing filter");
}

Status remove_instance_filters(const HostConfig& host) {
  std::string shared = shared_table(host.instance());
  BERTH_ASSIGN_OR_RETURN(sys::FileLock lock, lock_filters(host));
  if (!dir_empty(state_dir(host))) return {};  // a CT still has elements in them
  // Only tables that are there: deleting one (even one made in the same transaction) makes the
  // close of this and every other nf_tables socket wait for an RCU grace period
  // (sys/close_behind.h), which an instance that never filtered would pay at its last destroy.
  std::vector<nft::Change> drop;
  for (nft::Family f : {nft::Family::kInet, nft::Family::kArp}) {
    BERTH_ASSIGN_OR_RETURN(bool there, nft::table_exists(f, shared));
    if (there) drop_table(drop, f, shared);
  }
  return nft::apply(drop).context("remove the instance's anti-spoofing tables");
}

Status remove_filters(const CtConfig& ct, bool keep_routed) {
  Names n = names_of(ct);
  BERTH_ASSIGN_OR_RETURN(sys::FileLock lock, lock_filters(ct.host()));
  BERTH_RETURN_IF_ERROR(remove_legacy(n).context("remove anti-spoofing filter"));
  if (!keep_routed)
    BERTH_RETURN_IF_ERROR(set_routed(ct, n, RoutedFilter{}).context("remove anti-spoofing filter"));
  return remove_bridged(n).context("remove anti-spoofing filter");
}

}  // namespace berth::net
