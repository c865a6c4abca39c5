// Anti-spoofing tables: the script text and libnftables to run it.
#include "net/filter.h"

#include <nftables/libnftables.h>

#include <cctype>
#include <memory>

#include "core/exit_codes.h"
#include "core/host_config.h"
#include "net/netif.h"
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

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

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

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

}  // namespace

std::string filter_table(std::string_view instance, std::string_view ctid) {
  return sanitized("berth-" + std::string(instance) + "-" + std::string(ctid));
}
std::string shared_table(std::string_view instance) { return sanitized("berth-" + std::string(instance)); }
std::string ct_chain(std::string_view ctid) { return sanitized("ct_" + std::string(ctid)); }

std::string antispoof_script(const std::string& shared, const std::string& table, const std::string& chain,
                             const std::string& host_ifname, const std::vector<IpAddr>& addrs) {
  std::string v4, v6 = "fe80::/10, ::/128";
  for (const auto& a : addrs) {
    if (a.is_v6()) {
      v6 += ", " + a.text;
    } else {
      v4 += (v4.empty() ? "" : ", ") + a.text;
    }
  }
  // The shared table: made if missing; its base chain's one rule rewritten (so it is there once).
  std::string t = "inet " + shared;
  std::string s = "add table " + t + "\n";
  s += "add map " + t + " ports { type ifname : verdict; }\n";
  s += "add chain " + t + " antispoof { type filter hook prerouting priority -300; policy accept; }\n";
  s += "flush chain " + t + " antispoof\n";
  s += "add rule " + t + " antispoof iifname vmap @ports\n";
  // The CT's chain, rewritten in the same transaction (anonymous sets go with their rules).
  s += "add chain " + t + " " + chain + "\n";
  s += "flush chain " + t + " " + chain + "\n";
  s += "add rule " + t + " " + chain + (v4.empty() ? " meta nfproto ipv4 drop\n" : " ip saddr != { " + v4 + " } drop\n");
  s += "add rule " + t + " " + chain + " ip6 saddr != { " + v6 + " } drop\n";
  s += "add element " + t + " ports { " + quoted(host_ifname) + " : jump " + chain + " }\n";
  // ARP from the CT must name one of its IPv4 addresses as sender, or it could claim another's.
  s += replace_prefix("arp", table);
  s += "table arp " + table + " {\n";
  s += "  set v4 { type ipv4_addr;" + (v4.empty() ? std::string() : " elements = { " + v4 + " };") + " }\n";
  s += "  chain antispoof {\n    type filter hook input priority 0; policy accept;\n";
  s += "    iifname " + quoted(host_ifname) + " arp saddr ip != @v4 drop\n";
  s += "  }\n}\n";
  return s;
}

std::string unfilter_script(const std::string& shared, const std::string& table, const std::string& chain,
                            const std::string& host_ifname, const std::string& shared_listing) {
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
  if (!others) return s + "delete table " + t + "\n";
  if (mine) s += "delete element " + t + " ports { " + quoted(host_ifname) + " }\n";
  if (shared_listing.find("chain " + chain + " {") != std::string::npos)
    s += "flush chain " + t + " " + chain + "\ndelete chain " + t + " " + chain + "\n";
  return s;
}

std::string macfilter_script(const std::string& table, const std::vector<std::pair<std::string, std::string>>& ports) {
  std::string s = replace_prefix("bridge", table);
  if (ports.empty()) return s;
  s += "table bridge " + table + " {\n";
  s += "  chain macfilter {\n    type filter hook prerouting priority -200; policy accept;\n";
  for (const auto& [ifname, mac] : ports) s += "    iifname " + quoted(ifname) + " ether saddr != " + mac + " drop\n";
  s += "  }\n}\n";
  return s;
}

Status run_nft(const std::string& script, std::string* output) {
  std::unique_ptr<nft_ctx, CtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error::from_errno(ENOMEM, "create nftables context");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), script.c_str()) != 0) {
    std::string msg = nft_ctx_get_error_buffer(ctx.get());
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return Error::invalid("apply nftables rules: " + msg, exitcode::kVeth);
  }
  if (output) *output = nft_ctx_get_output_buffer(ctx.get());
  return {};
}

namespace {

struct Names {
  std::string table, shared, chain, host;
};

Names names_of(const CtConfig& ct) {
  const std::string& inst = ct.host().instance();
  return {filter_table(inst, ct.ctid()), shared_table(inst), ct_chain(ct.ctid()), host_ifname(inst, ct.ctid())};
}

// The instance's CTs change the shared table one at a time.
Result<sys::FileLock> lock_filters(const CtConfig& ct) {
  const std::string& dir = ct.host().paths().lock_dir;
  BERTH_RETURN_IF_ERROR(make_dirs(dir, 0755));
  return sys::FileLock::acquire(dir + "/nft.lck", true, "network filters");
}

// Removing is a kernel transaction (a few ms); listing is cheap. A CT that never had a filter
// (no IP_ADDRESS, no mac_filter) pays only for the listing at start and stop. routed/bridged:
// which parts to remove.
Status remove_parts(const Names& n, bool routed, bool bridged) {
  std::string tables;
  BERTH_RETURN_IF_ERROR(run_nft("list tables", &tables));
  auto has = [&](const std::string& family, const std::string& name) {
    return tables.find("table " + family + " " + name + "\n") != std::string::npos;
  };
  std::string script;
  if (routed) {
    std::string listing;
    if (has("inet", n.shared)) BERTH_RETURN_IF_ERROR(run_nft("list table inet " + n.shared, &listing));
    if (has("arp", n.table) || !listing.empty()) script += unfilter_script(n.shared, n.table, n.chain, n.host, listing);
    if (has("inet", n.table)) script += replace_prefix("inet", n.table);  // a per-CT table of Berth before 3
  }
  if (bridged && has("bridge", n.table)) script += macfilter_script(n.table, {});
  if (script.empty()) return {};
  return run_nft(script);
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
  BERTH_ASSIGN_OR_RETURN(sys::FileLock lock, lock_filters(ct));
  BERTH_RETURN_IF_ERROR(remove_parts(n, addrs.empty(), ports.empty()).context("set anti-spoofing filter"));
  std::string script;
  if (!addrs.empty()) script += antispoof_script(n.shared, n.table, n.chain, n.host, addrs);
  if (!ports.empty()) script += macfilter_script(n.table, ports);
  if (script.empty()) return {};
  return run_nft(script).context("set anti-spoofing filter");
}

Status remove_filters(const CtConfig& ct) {
  BERTH_ASSIGN_OR_RETURN(sys::FileLock lock, lock_filters(ct));
  return remove_parts(names_of(ct), true, true).context("remove anti-spoofing filter");
}

}  // namespace berth::net
