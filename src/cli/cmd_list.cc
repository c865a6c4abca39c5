// `berth list` / `vzlist`: collect the CTs, hand them to list.cc, print the result.
//
// Exit status follows legacy vzlist, not vzctl: 0 on success, also when no CT is running and
// none was asked for ("container(s) not found" on stderr); 1 for a usage error or when none of
// the CTs named on the command line exists.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/cli.h"
#include "cli/list.h"
#include "ubc/collect.h"
#include "ubc/loadavg.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "state/status.h"
#include "storage/disk.h"

namespace berth::cli {
namespace {

// The CTIDs asked for on the command line (names resolved); empty when none were given.
Result<std::vector<std::string>> wanted_ctids(const HostConfig& host, const ListOptions& opts) {
  std::vector<std::string> out;
  for (const auto& id : opts.ids) {
    auto ctid = resolve_ctid(host, id);
    if (!ctid.ok()) return Error::invalid("CT ID `" + id + "` is invalid", kListUsageExit);
    out.push_back(*ctid);
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// One CT's row (nullopt: not listed), and a warning to print.
struct Gathered {
  std::optional<ListRow> row;
  std::string warning;
};

Gathered gather(const HostConfig& host, const std::string& ctid, const ListOptions& opts,
                const ListNeeds& needs) {
  Gathered g;
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok()) return g;  // destroyed since the directory was read
  state::CtStatus status;
  if (auto st = state::query_status(*ct); st.ok()) {
    status = *st;
  } else {
    // One unreadable CT must not hide the others: warn and show it as stopped.
    g.warning = st.error().message();
    status.exists = true;
  }
  // vzlist hides a CT that is not running and has no private area (half created/destroyed).
  if (!status.running && !state::private_area_exists(*ct)) return g;
  ListRow row{std::move(ct).value(), status};
  if (!selected_by_state(row, opts)) return g;
  if (needs.disk && storage::has_disk(row.config))
    if (auto u = storage::disk_usage(row.config); u.ok()) row.disk = *u;
  if (status.running && needs.ubc)
    if (auto b = ubc::read_block(row.config); b.ok()) row.ubc = std::move(*b);
  if (status.running && needs.laverage)
    row.status.laverage = ubc::saved_load(host, ctid);  // sampled by the beancounter server
  g.row = std::move(row);
  return g;
}

// Every CT's row, in ctids' order. Each is a handful of small independent file reads (config,
// cgroup, /proc), so a host with many CTs spreads them over its cores.
std::vector<Gathered> gather_all(const HostConfig& host, const std::vector<std::string>& ctids,
                                 const ListOptions& opts, const ListNeeds& needs) {
  std::vector<Gathered> out(ctids.size());
  constexpr size_t kPerThread = 64;  // below this a thread costs more than it saves
  size_t threads = std::min<size_t>({std::max(1U, std::thread::hardware_concurrency()), 8,
                                     (ctids.size() + kPerThread - 1) / kPerThread});
  (void)state::cgroup_backend();  // its one-time detection, before any thread asks for it
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < ctids.size();)
      out[i] = gather(host, ctids[i], opts, needs);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace

int cmd_list(const Invocation& inv, const HostConfig& host) {
  auto parsed = parse_list_options(inv.args);
  if (!parsed.ok()) {
    report(inv, parsed.error());
    std::fputs(list_usage().c_str(), stderr);
    return parsed.error().exit_status();
  }
  const ListOptions& opts = *parsed;
  if (opts.help) {
    std::fputs(list_usage().c_str(), stdout);
    return 0;
  }
  if (opts.list_fields) {
    std::fputs(format_field_names().c_str(), stdout);
    return 0;
  }
  if (auto st = validate_list_options(opts); !st.ok()) return report(inv, st.error());

  auto wanted = wanted_ctids(host, opts);
  if (!wanted.ok()) return report(inv, wanted.error());
  auto ctids = state::list_ctids(host);
  if (!ctids.ok()) return report(inv, ctids.error());

  const ListNeeds needs = list_needs(opts);
  std::vector<std::string> todo;
  for (const auto& ctid : *ctids)
    if (wanted->empty() || contains(*wanted, ctid)) todo.push_back(ctid);
  std::vector<ListRow> rows;
  for (auto& g : gather_all(host, todo, opts, needs)) {
    if (!g.warning.empty())
      std::fprintf(stderr, "%s: warning: %s\n", inv.prog.c_str(), g.warning.c_str());
    if (g.row) rows.push_back(std::move(*g.row));
  }

  if (rows.empty()) {
    // vzlist: not an error unless CTs were named (its bug #2149). JSON readers get an array.
    if (opts.json && wanted->empty()) {
      std::fputs("[]\n", stdout);
      return 0;
    }
    std::fprintf(stderr, "%s: container(s) not found\n", inv.prog.c_str());
    return wanted->empty() ? 0 : kListUsageExit;
  }
  auto out = render_list(std::move(rows), opts);
  if (!out.ok()) return report(inv, out.error());
  std::fputs(out->c_str(), stdout);
  return 0;
}

}  // namespace berth::cli
