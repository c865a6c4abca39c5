// netstat (like Virtuozzo's vznetstat): per-CT traffic counters, bytes and packets in and out,
// saved totals of earlier runs plus the live counts of a running CT (runtime/traffic.h).
//
//   berth netstat [-j] [-a] [-v CTID]... [-c CLASS]... [CTID|name...]
//
// Without CTIDs: every running CT (-a: every CT). Berth counts one class, 1 (all traffic); -c
// with another class prints nothing for it. -j prints a JSON array.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "core/values/rate.h"
#include "state/inventory.h"
#include "state/status.h"
#include "runtime/traffic.h"

namespace berth::cli {
namespace {

struct NetstatOptions {
  bool json = false;
  bool all = false;
  std::vector<std::string> ids;
  std::vector<uint32_t> classes;
};

Result<NetstatOptions> parse_netstat_args(const std::vector<std::string>& args) {
  NetstatOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-j" || a == "--json") {
      o.json = true;
    } else if (a == "-a" || a == "--all") {
      o.all = true;
    } else if (a == "-v" || a == "-c") {
      if (i + 1 >= args.size())
        return Error::with_status(exitcode::kBadArgument, "netstat: " + a + " needs a value");
      const std::string& v = args[++i];
      if (a == "-v") {
        o.ids.push_back(v);
        continue;
      }
      auto cls = values::parse_rate_entry("*:" + v + ":0");
      if (!cls.ok())
        return Error::with_status(exitcode::kBadArgument, "netstat: bad class `" + v + "`");
      o.classes.push_back(cls->cls);
    } else if (!a.empty() && a[0] == '-') {
      return Error::with_status(exitcode::kBadArgument, "netstat: invalid option `" + a + "`");
    } else {
      o.ids.push_back(a);
    }
  }
  return o;
}

struct Row {
  std::string ctid;
  bool running = false;
  runtime::TrafficCounters c;
};

Result<std::vector<Row>> collect(const HostConfig& host, const NetstatOptions& o) {
  std::vector<std::string> ids;
  bool named = !o.ids.empty();
  if (named) {
    for (const auto& id : o.ids) {
      BERTH_ASSIGN_OR_RETURN(std::string ctid, resolve_ctid(host, id));
      ids.push_back(ctid);
    }
  } else {
    BERTH_ASSIGN_OR_RETURN(ids, state::list_ctids(host));
  }
  std::vector<Row> rows;
  for (const auto& id : ids) {
    auto ct = CtConfig::load(host, id);
    if (!ct.ok())
      return Error::with_status(exitcode::kNoConfig, "netstat CT " + id + ": CT does not exist");
    BERTH_ASSIGN_OR_RETURN(state::CtStatus st, state::query_status(*ct));
    if (!named && !o.all && !st.running) continue;
    BERTH_ASSIGN_OR_RETURN(runtime::TrafficCounters c, runtime::traffic_counters(*ct));
    rows.push_back({id, st.running, c});
  }
  return rows;
}

}  // namespace

int cmd_netstat(const Invocation& inv, const HostConfig& host) {
  auto opts = parse_netstat_args(inv.args);
  if (!opts.ok()) return report(inv, opts.error());
  bool class1 = opts->classes.empty();
  for (uint32_t c : opts->classes) class1 = class1 || c == values::kAllTrafficClass;
  auto rows = collect(host, *opts);
  if (!rows.ok()) return report(inv, rows.error());
  if (!class1) rows->clear();
  if (opts->json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : *rows)
      out.push_back({{"ctid", std::stoull(r.ctid)},
                     {"class", values::kAllTrafficClass},
                     {"running", r.running},
                     {"in_bytes", r.c.bytes_in},
                     {"in_packets", r.c.packets_in},
                     {"out_bytes", r.c.bytes_out},
                     {"out_packets", r.c.packets_out}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-10s %9s %15s %12s %15s %12s\n", "CTID", "Net.Class", "Input(bytes)", "Input(pkts)",
              "Output(bytes)", "Output(pkts)");
  for (const auto& r : *rows)
    std::printf("%-10s %9u %15llu %12llu %15llu %12llu\n", r.ctid.c_str(), values::kAllTrafficClass,
                static_cast<unsigned long long>(r.c.bytes_in),
                static_cast<unsigned long long>(r.c.packets_in),
                static_cast<unsigned long long>(r.c.bytes_out),
                static_cast<unsigned long long>(r.c.packets_out));
  return 0;
}

}  // namespace berth::cli
