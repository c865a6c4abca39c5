// Anti-spoofing tables: the script text and libnftables to run it.
#include "net/filter.h"

#include <nftables/libnftables.h>

#include <cctype>
#include <memory>

#include "core/exit_codes.h"
#include "net/netif.h"

namespace berth::net {
namespace {

std::string replace_prefix(const std::string& family, const std::string& table) {
  // "add" then "delete" never fails, whether or not the table was there; the new table (if any)
  // follows in the same transaction, so there is no moment without filter.
  return "add table " + family + " " + table + "\ndelete table " + family + " " + table + "\n";
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

}  // namespace

std::string filter_table(std::string_view instance, std::string_view ctid) {
  std::string out = "berth-" + std::string(instance) + "-" + std::string(ctid);
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return out;
}

std::string antispoof_script(const std::string& table, const std::string& host_ifname, const std::vector<IpAddr>& addrs) {
  std::string s = replace_prefix("inet", table) + replace_prefix("arp", table);
  if (host_ifname.empty()) return s;
  std::string v4, v6 = "fe80::/10, ::/128";
  for (const auto& a : addrs) {
    if (a.is_v6()) {
      v6 += ", " + a.text;
    } else {
      v4 += (v4.empty() ? "" : ", ") + a.text;
    }
  }
  s += "table inet " + table + " {\n";
  s += "  set v4 { type ipv4_addr;" + (v4.empty() ? std::string() : " elements = { " + v4 + " };") + " }\n";
  s += "  set v6 { type ipv6_addr; flags interval; elements = { " + v6 + " }; }\n";
  s += "  chain antispoof {\n    type filter hook prerouting priority -300; policy accept;\n";
  s += "    iifname " + quoted(host_ifname) + " ip saddr != @v4 drop\n";
  s += "    iifname " + quoted(host_ifname) + " ip6 saddr != @v6 drop\n";
  s += "  }\n}\n";
  // ARP from the CT must name one of its IPv4 addresses as sender, or it could claim another's.
  s += "table arp " + table + " {\n";
  s += "  set v4 { type ipv4_addr;" + (v4.empty() ? std::string() : " elements = { " + v4 + " };") + " }\n";
  s += "  chain antispoof {\n    type filter hook input priority 0; policy accept;\n";
  s += "    iifname " + quoted(host_ifname) + " arp saddr ip != @v4 drop\n";
  s += "  }\n}\n";
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

// Removing tables is a kernel transaction (a few ms); listing is cheap. A CT that never had a
// filter (no IP_ADDRESS, no mac_filter) pays only for the listing at start and stop.
Status remove_tables(const std::string& table) {
  std::string listing;
  BERTH_RETURN_IF_ERROR(run_nft("list tables", &listing));
  std::string script;
  if (listing.find("table inet " + table + "\n") != std::string::npos ||
      listing.find("table arp " + table + "\n") != std::string::npos)
    script += antispoof_script(table, "", {});
  if (listing.find("table bridge " + table + "\n") != std::string::npos) script += macfilter_script(table, {});
  if (script.empty()) return {};
  return run_nft(script);
}

}  // namespace

Status apply_filters(const CtConfig& ct) {
  std::string table = filter_table(ct.host().instance(), ct.ctid());
  BERTH_ASSIGN_OR_RETURN(auto addrs, parse_ip_list(ct.get_or("IP_ADDRESS", "")));
  BERTH_ASSIGN_OR_RETURN(auto netifs, parse_netif(ct.get_or("NETIF", "")));
  std::vector<std::pair<std::string, std::string>> ports;
  for (auto& n : netifs) {
    if (n.host_ifname.empty()) {
      BERTH_ASSIGN_OR_RETURN(n.host_ifname, generate_host_ifname(netifs, ct.ctid(), n.ifname));
    }
    if (n.filters_mac() && !n.mac.empty()) ports.emplace_back(n.host_ifname, n.mac);
  }
  if (addrs.empty() && ports.empty()) return remove_tables(table).context("set anti-spoofing filter");
  std::string host = addrs.empty() ? std::string() : host_ifname(ct.host().instance(), ct.ctid());
  return run_nft(antispoof_script(table, host, addrs) + macfilter_script(table, ports)).context("set anti-spoofing filter");
}

Status remove_filters(const CtConfig& ct) {
  std::string table = filter_table(ct.host().instance(), ct.ctid());
  return remove_tables(table).context("remove anti-spoofing filter");
}

}  // namespace berth::net
