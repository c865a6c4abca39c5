#include "daemon/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/units.h"
#include "sys/fs.h"

namespace berth::daemon {
namespace {

struct Out {
  std::string text;
  void help(const char* name, const char* type, const char* help) {
    text += "# HELP ";
    text += name;
    text += ' ';
    text += help;
    text += "\n# TYPE ";
    text += name;
    text += ' ';
    text += type;
    text += '\n';
  }
  void line(const char* name, const std::string& labels, double v) {
    char num[64];
    std::snprintf(num, sizeof num, "%.17g", v);
    text += name;
    text += '{';
    text += labels;
    text += "} ";
    text += num;
    text += '\n';
  }
  void plain(const char* name, double v) {
    char num[64];
    std::snprintf(num, sizeof num, "%.17g", v);
    text += name;
    text += ' ';
    text += num;
    text += '\n';
  }
};

std::string ct_label(const std::string& ctid) { return "ctid=\"" + ctid + "\""; }

}  // namespace

std::pair<uint64_t, uint64_t> host_memory() {
  auto mi = sys::read_file("/proc/meminfo");
  if (!mi.ok()) return {0, 0};
  auto field = [&](const char* k) -> uint64_t {
    size_t i = mi->find(k);
    return i == std::string::npos
               ? 0
               : std::strtoull(mi->c_str() + i + std::strlen(k), nullptr, 10) * 1024;
  };
  return {field("MemTotal:"), field("MemAvailable:")};
}

std::string render_metrics(const Snapshot& snap, const MetricsHost& host) {
  Out o;
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    double (*get)(const CtInfo&);
  };
  static const Gauge kGauges[] = {
      {"berth_ct_running", "gauge", "1 when the CT runs",
       [](const CtInfo& c) { return c.running ? 1.0 : 0.0; }},
      {"berth_ct_cpu_seconds_total", "counter", "CPU time used by the CT",
       [](const CtInfo& c) { return static_cast<double>(c.cpu_usec) / 1e6; }},
      {"berth_ct_cpu_percent", "gauge", "CPU use over the last poll, percent of one CPU",
       [](const CtInfo& c) { return c.cpu_pct; }},
      {"berth_ct_memory_bytes", "gauge", "memory used",
       [](const CtInfo& c) { return static_cast<double>(c.mem_bytes); }},
      {"berth_ct_memory_limit_bytes", "gauge", "memory limit (-1: none)",
       [](const CtInfo& c) { return static_cast<double>(c.mem_limit); }},
      {"berth_ct_swap_bytes", "gauge", "swap used",
       [](const CtInfo& c) { return static_cast<double>(c.swap_bytes); }},
      {"berth_ct_swap_limit_bytes", "gauge", "swap limit (-1: none)",
       [](const CtInfo& c) { return static_cast<double>(c.swap_limit); }},
      {"berth_ct_disk_bytes", "gauge", "disk used (image layout)",
       [](const CtInfo& c) { return static_cast<double>(c.disk_bytes); }},
      {"berth_ct_disk_limit_bytes", "gauge", "disk size (-1: none)",
       [](const CtInfo& c) { return static_cast<double>(c.disk_limit); }},
      {"berth_ct_io_read_bytes_total", "counter", "bytes read from block devices",
       [](const CtInfo& c) { return static_cast<double>(c.io_read_bytes); }},
      {"berth_ct_io_write_bytes_total", "counter", "bytes written to block devices",
       [](const CtInfo& c) { return static_cast<double>(c.io_write_bytes); }},
      {"berth_ct_network_receive_bytes_total", "counter", "bytes received by the CT",
       [](const CtInfo& c) { return static_cast<double>(c.net_rx_bytes); }},
      {"berth_ct_network_transmit_bytes_total", "counter", "bytes sent by the CT",
       [](const CtInfo& c) { return static_cast<double>(c.net_tx_bytes); }},
      {"berth_ct_processes", "gauge", "processes in the CT",
       [](const CtInfo& c) { return static_cast<double>(c.procs); }},
  };
  for (const auto& g : kGauges) {
    o.help(g.name, g.type, g.help);
    for (const auto& [id, c] : snap) o.line(g.name, ct_label(id), g.get(c));
  }
  struct Ubc {
    const char* name;
    const char* type;
    const char* help;
    uint64_t ubc::Row::*field;
  };
  static const Ubc kUbc[] = {
      {"berth_ct_ubc_held", "gauge", "beancounter held", &ubc::Row::held},
      {"berth_ct_ubc_maxheld", "gauge", "beancounter maxheld", &ubc::Row::maxheld},
      {"berth_ct_ubc_barrier", "gauge", "beancounter barrier", &ubc::Row::barrier},
      {"berth_ct_ubc_limit", "gauge", "beancounter limit", &ubc::Row::limit},
      {"berth_ct_ubc_failcnt", "counter", "beancounter failures", &ubc::Row::failcnt},
  };
  for (const auto& u : kUbc) {
    o.help(u.name, u.type, u.help);
    for (const auto& [id, c] : snap)
      for (const auto& r : c.ubc) {
        if (r.name == "dummy") continue;
        double v = static_cast<double>(r.*(u.field));
        if (r.*(u.field) == units::kUnlimited) v = -1;
        o.line(u.name, ct_label(id) + ",resource=\"" + r.name + "\"", v);
      }
  }
  size_t running = 0;
  for (const auto& [id, c] : snap) running += c.running;
  o.help("berth_host_cts", "gauge", "CTs of the instance");
  o.plain("berth_host_cts", static_cast<double>(snap.size()));
  o.help("berth_host_cts_running", "gauge", "running CTs");
  o.plain("berth_host_cts_running", static_cast<double>(running));
  o.help("berth_host_cpus", "gauge", "online CPUs");
  o.plain("berth_host_cpus", static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN)));
  auto [mem_total, mem_avail] = host_memory();
  o.help("berth_host_memory_bytes", "gauge", "host memory");
  o.plain("berth_host_memory_bytes", static_cast<double>(mem_total));
  o.help("berth_host_memory_available_bytes", "gauge", "host memory available");
  o.plain("berth_host_memory_available_bytes", static_cast<double>(mem_avail));
  o.help("berthd_event_subscribers", "gauge", "open event streams");
  o.plain("berthd_event_subscribers", static_cast<double>(host.subscribers));
  o.help("berthd_requests_total", "counter", "API requests served");
  o.plain("berthd_requests_total", static_cast<double>(host.requests));
  o.help("berthd_poll_milliseconds", "gauge", "time of the last pass over every CT");
  o.plain("berthd_poll_milliseconds", host.poll_ms);
  return o.text;
}

}  // namespace berth::daemon
