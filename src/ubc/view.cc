// vzubc options and table (see view.h).
#include "ubc/view.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "ubc/text.h"

namespace berth::ubc {
namespace {

constexpr const char* kRed = "\033[31m";
constexpr const char* kYellow = "\033[33m";
constexpr const char* kReset = "\033[0m";

Error usage_error(const std::string& msg) {
  return Error::with_status(exitcode::kVzubcFailed, msg);
}

std::optional<double> parse_double(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end || v < 0) return std::nullopt;
  return v;
}

bool unlimited(uint64_t v) { return v == units::kUnlimited; }

// held/limit ratio: nullopt when the limit is unlimited or 0.
std::optional<double> ratio(uint64_t v, uint64_t limit) {
  if (unlimited(limit) || limit == 0) return std::nullopt;
  return static_cast<double>(v) / static_cast<double>(limit);
}

}  // namespace

Result<VzubcOptions> parse_vzubc_options(const std::vector<std::string>& args) {
  VzubcOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* what) -> Result<std::string> {
      if (i + 1 >= args.size()) return usage_error("option " + a + " needs " + what);
      return args[++i];
    };
    auto number = [&]() -> Result<double> {
      BERTH_ASSIGN_OR_RETURN(std::string v, value("a number"));
      auto d = parse_double(v);
      if (!d) return usage_error("option " + a + ": bad number `" + v + "`");
      return *d;
    };
    if (a == "-q" || a == "--quiet")
      o.quiet = true;
    else if (a == "-qh" || a == "--quiet-held") {
      o.quiet = true;
      BERTH_ASSIGN_OR_RETURN(o.quiet_held, number());
    } else if (a == "-qm" || a == "--quiet-maxheld") {
      o.quiet = true;
      BERTH_ASSIGN_OR_RETURN(o.quiet_maxheld, number());
    } else if (a == "-v" || a == "--verbose")
      o.verbose = true;
    else if (a == "-r" || a == "--relative")
      o.relative = true;
    else if (a == "-rd" || a == "--relative-dir") {
      o.relative = true;
      BERTH_ASSIGN_OR_RETURN(o.relative_dir, value("a directory"));
    } else if (a == "-rc" || a == "--relative-clear")
      o.relative_clear = true;
    else if (a == "-i" || a == "--incremental")
      o.incremental = true;
    else if (a == "-id" || a == "--incremental-dir") {
      o.incremental = true;
      BERTH_ASSIGN_OR_RETURN(o.incremental_dir, value("a directory"));
    } else if (a == "-ic" || a == "--incremental-clear")
      o.incremental_clear = true;
    else if (a == "-wd") {
      o.watch = true;
      o.watch_diff = true;
    } else if (a == "-w" || a == "--watch")
      o.watch = true;
    else if (a == "-wn") {
      o.watch = true;
      BERTH_ASSIGN_OR_RETURN(o.watch_interval, number());
    } else if (a == "-wt") {
      o.watch = true;
      o.watch_no_title = true;
    } else if (a == "-c" || a == "--color")
      o.color = true;
    else if (a == "-f" || a == "--file") {
      BERTH_ASSIGN_OR_RETURN(std::string f, value("a file name"));
      o.file = f;
    } else if (a == "--raw")
      o.raw = true;
    else if (a == "--serve")
      o.serve = true;
    else if (a == "-h" || a == "--help")
      o.help = true;
    else if (a.size() > 1 && a[0] == '-')
      return usage_error("invalid option `" + a + "`");
    else
      o.ids.push_back(a);
  }
  if (o.watch && o.watch_interval < 0.1)
    return usage_error("option -wn: interval must be at least 0.1 s");
  if (o.file && !o.ids.empty()) return usage_error("-f takes no CT IDs");
  return o;
}

std::string vzubc_usage(const std::string& prog) {
  return "Usage: " + prog +
         " [option...] [CTID|name ...]\n"
         "  -q, --quiet        only rows with failures or near their limit\n"
         "  -qh N              held/limit ratio that counts as near (default 0.5)\n"
         "  -qm N              maxheld/limit ratio that counts as near (default 0.8)\n"
         "  -v, --verbose      also rows with unlimited barrier and limit\n"
         "  -r, --relative     failcnt since the last -r run; -rd DIR store, -rc clear it\n"
         "  -i, --incremental  a dHELD column: held since the last -i run; -id DIR store, -ic "
         "clear it\n"
         "  -w, --watch        repeat until interrupted; -wn SEC interval (2), -wt no title,\n"
         "                     -wd highlight what changed\n"
         "  -c, --color        highlight failures (red) and rows near their limit (yellow)\n"
         "  -f FILE|-          read a user_beancounters file instead of the running CTs\n"
         "  --raw              print the /proc/user_beancounters (Version 2.5) text\n"
         "Without CTIDs: every running CT.\n";
}

std::string format_fail_counts(const Block& b) {
  std::string out;
  for (const auto& r : b.rows)
    if (r.name != "dummy") out += r.name + " " + std::to_string(r.failcnt) + "\n";
  return out;
}

std::string format_held_counts(const Block& b) {
  std::string out;
  for (const auto& r : b.rows)
    if (r.name != "dummy") out += r.name + " " + std::to_string(r.held) + "\n";
  return out;
}

FailCounts parse_fail_counts(std::string_view text) {
  FailCounts out;
  for (std::string_view line : lines_of(text)) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    uint64_t v = 0;
    std::string_view num = line.substr(sp + 1);
    if (std::from_chars(num.data(), num.data() + num.size(), v).ec == std::errc())
      out[std::string(line.substr(0, sp))] = v;
  }
  return out;
}

std::string human_value(const std::string& row, uint64_t v) {
  if (v == 0 || unlimited(v)) return "-";
  int i = resource_index(row);
  units::Kind kind = i >= 0 ? resources()[i].kind : units::Kind::kItems;
  if (kind == units::Kind::kItems) {
    if (v < 100000) return std::to_string(v);
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 100000000 ? "%.0fK" : "%.0fM",
                  v < 100000000 ? v / 1e3 : v / 1e6);
    return buf;
  }
  return units::human_bytes(kind == units::Kind::kPages ? pages_to_bytes(v) : v);
}

std::string percent(uint64_t part, uint64_t base) {
  auto r = ratio(part, base);
  if (!r) return "-";
  double p = *r * 100;
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 10 ? "%.1f%%" : "%.0f%%", p);
  return buf;
}

std::string format_table(const Block& b, const VzubcOptions& opts,
                         const std::optional<FailCounts>& previous,
                         const std::optional<FailCounts>& previous_held) {
  char buf[256];
  const char* fmt = "%13s|%5s %5s %5s|%5s %5s %5s|%5s|%5s|%6s";
  bool inc = previous_held.has_value();
  std::string title = "CT " + b.uid;
  std::string out(inc ? 75 : 68, '-');
  out += "\n";
  std::snprintf(buf, sizeof buf, "%-13s|%5s %5s %5s|%5s %5s %5s|%5s|%5s|%6s", title.c_str(), "HELD",
                "Bar%", "Lim%", "MAXH", "Bar%", "Lim%", "BAR", "LIM", "FAIL");
  out += buf;
  out += inc ? "| dHELD\n" : "\n";
  out += inc ? "-------------+-----------------+-----------------+-----+-----+------+------\n"
             : "-------------+-----------------+-----------------+-----+-----+------\n";
  for (const auto& r : b.rows) {
    if (r.name == "dummy") continue;
    uint64_t fail = r.failcnt;
    if (previous) {
      auto it = previous->find(r.name);
      uint64_t before = it == previous->end() ? 0 : it->second;
      fail = r.failcnt >= before ? r.failcnt - before : r.failcnt;  // a restart resets the counter
    }
    auto near_held = ratio(r.held, r.limit), near_max = ratio(r.maxheld, r.limit);
    bool near = (near_held && *near_held >= opts.quiet_held) ||
                (near_max && *near_max >= opts.quiet_maxheld);
    bool limited = !unlimited(r.barrier) || !unlimited(r.limit);
    if (opts.quiet && fail == 0 && !near) continue;
    if (!opts.quiet && !opts.verbose && !limited && fail == 0) continue;
    std::string failtext = fail ? (previous ? "+" : "") + std::to_string(fail) : "-";
    std::snprintf(buf, sizeof buf, fmt, r.name.c_str(), human_value(r.name, r.held).c_str(),
                  percent(r.held, r.barrier).c_str(), percent(r.held, r.limit).c_str(),
                  human_value(r.name, r.maxheld).c_str(), percent(r.maxheld, r.barrier).c_str(),
                  percent(r.maxheld, r.limit).c_str(), human_value(r.name, r.barrier).c_str(),
                  human_value(r.name, r.limit).c_str(), failtext.c_str());
    std::string line = buf;
    if (inc) {
      auto it = previous_held->find(r.name);
      uint64_t before = it == previous_held->end() ? 0 : it->second;
      std::string d = r.held == before  ? "-"
                      : r.held > before ? "+" + human_value(r.name, r.held - before)
                                        : "-" + human_value(r.name, before - r.held);
      char col[32];
      std::snprintf(col, sizeof col, "|%6s", d.c_str());
      line += col;
    }
    const char* color = !opts.color ? nullptr : fail ? kRed : near ? kYellow : nullptr;
    out += color ? std::string(color) + line + kReset + "\n" : line + "\n";
  }
  return out;
}

std::string highlight_changes(std::string_view before, std::string_view now) {
  auto old_lines = lines_of(before);
  std::string out;
  size_t row = 0;
  for (std::string_view line : lines_of(now)) {
    std::string_view prev = row < old_lines.size() ? old_lines[row] : std::string_view();
    ++row;
    // Positions count visible characters: escape sequences (colors) are skipped in both lines.
    auto visible = [](std::string_view l) {
      std::string v;
      for (size_t i = 0; i < l.size(); ++i) {
        if (l[i] == '\033') {
          while (i < l.size() && l[i] != 'm') ++i;
          continue;
        }
        v += l[i];
      }
      return v;
    };
    std::string pv = visible(prev);
    size_t col = 0;
    bool on = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\033') {
        size_t end = line.find('m', i);
        if (end == std::string_view::npos) end = line.size() - 1;
        out += line.substr(i, end - i + 1);
        i = end;
        continue;
      }
      bool changed = col >= pv.size() || pv[col] != line[i];
      if (changed != on) {
        out += changed ? "\033[7m" : "\033[27m";
        on = changed;
      }
      out += line[i];
      ++col;
    }
    if (on) out += "\033[27m";
    out += '\n';
  }
  return out;
}

}  // namespace berth::ubc
