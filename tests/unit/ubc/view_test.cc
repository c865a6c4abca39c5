// vzubc's options and table; /proc parsers of the collector.
#include "ubc/view.h"

#include <gtest/gtest.h>

#include "ubc/collect.h"

namespace berth::ubc {
namespace {

Block sample() {
  Raw raw;
  raw.pids_current = 30;
  raw.pids_limit = 32;
  raw.pids_failcnt = 4;
  raw.mem_usage = 10 << 20;
  raw.mem_peak = 40 << 20;
  raw.mem_limit = 64 << 20;
  raw.numfile = 12;  // unlimited: hidden unless -v
  return compute_block("101", raw, config_limits([](std::string_view) { return std::nullopt; }));
}

std::vector<std::string> row_names(const std::string& table) {
  std::vector<std::string> out;
  size_t pos = 0;
  int n = 0;
  while (pos < table.size()) {
    size_t eol = table.find('\n', pos);
    std::string line = table.substr(pos, eol - pos);
    pos = eol + 1;
    if (++n <= 3) continue;  // rule, header, rule
    size_t bar = line.find('|');
    std::string name = line.substr(0, bar);
    out.push_back(name.substr(name.find_first_not_of(' ')));
  }
  return out;
}

TEST(Vzubc, Options) {
  auto o = parse_vzubc_options({"-q", "-qh", "0.3", "-rd", "/x", "-c", "101", "102", "-wn", "5"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_TRUE(o->quiet);
  EXPECT_DOUBLE_EQ(o->quiet_held, 0.3);
  EXPECT_DOUBLE_EQ(o->quiet_maxheld, 0.8);
  EXPECT_TRUE(o->relative);
  EXPECT_EQ(o->relative_dir, "/x");
  EXPECT_TRUE(o->color);
  EXPECT_TRUE(o->watch);
  EXPECT_DOUBLE_EQ(o->watch_interval, 5);
  EXPECT_EQ(o->ids, (std::vector<std::string>{"101", "102"}));
  EXPECT_FALSE(parse_vzubc_options({"-x"}).ok());
  EXPECT_EQ(parse_vzubc_options({"-x"}).error().exit_status(), 1);
  EXPECT_FALSE(parse_vzubc_options({"-qh"}).ok());
  EXPECT_FALSE(parse_vzubc_options({"-qh", "abc"}).ok());
  EXPECT_FALSE(parse_vzubc_options({"-f", "x", "101"}).ok());
  EXPECT_TRUE(parse_vzubc_options({"-f", "-"})->file == "-");
}

TEST(Vzubc, HumanValuesAndPercents) {
  EXPECT_EQ(human_value("physpages", 0), "-");
  EXPECT_EQ(human_value("physpages", units::kUnlimited), "-");
  EXPECT_EQ(human_value("physpages", 16384), "64M");  // pages shown as bytes
  EXPECT_EQ(human_value("kmemsize", 1536), "1.5K");
  EXPECT_EQ(human_value("numproc", 32), "32");
  EXPECT_EQ(percent(1, 2), "50%");
  EXPECT_EQ(percent(1, 200), "0.5%");
  EXPECT_EQ(percent(1, units::kUnlimited), "-");
  EXPECT_EQ(percent(1, 0), "-");
}

TEST(Vzubc, TableHidesUnlimitedRowsUnlessVerbose) {
  VzubcOptions o;
  std::string t = format_table(sample(), o, std::nullopt);
  EXPECT_EQ(t.substr(0, 69), std::string(68, '-') + "\n");
  EXPECT_NE(t.find("CT 101       | HELD  Bar%  Lim%| MAXH  Bar%  Lim%|  BAR|  LIM|  FAIL\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(row_names(t), (std::vector<std::string>{"numproc", "physpages"}));
  EXPECT_NE(t.find("      numproc|   30   94%   94%|   30   94%   94%|   32|   32|     4\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("    physpages|  10M   16%   16%|  40M   62%   62%|  64M|  64M|     -\n"),
            std::string::npos)
      << t;
  o.verbose = true;
  auto all = row_names(format_table(sample(), o, std::nullopt));
  EXPECT_EQ(all.size(), 21u);  // every row but the four dummies
}

TEST(Vzubc, QuietShowsFailuresAndNearLimits) {
  VzubcOptions o;
  o.quiet = true;
  // numproc failed; physpages: held 16% < 0.5, maxheld 62% < 0.8 of the limit.
  EXPECT_EQ(row_names(format_table(sample(), o, std::nullopt)),
            (std::vector<std::string>{"numproc"}));
  o.quiet_maxheld = 0.6;
  EXPECT_EQ(row_names(format_table(sample(), o, std::nullopt)),
            (std::vector<std::string>{"numproc", "physpages"}));
}

TEST(Vzubc, RelativeShowsTheChangeSinceTheLastRun) {
  VzubcOptions o;
  o.quiet = true;
  Block b = sample();
  FailCounts prev = parse_fail_counts(format_fail_counts(b));
  EXPECT_EQ(prev["numproc"], 4u);
  // No new failure: numproc stays (near its limit) with no failures; physpages does not show.
  std::string same = format_table(b, o, prev);
  EXPECT_EQ(row_names(same), (std::vector<std::string>{"numproc"}));
  EXPECT_NE(same.find("|     -\n"), std::string::npos) << same;
  b.rows[5].failcnt = 9;
  std::string t = format_table(b, o, prev);
  EXPECT_NE(t.find("|    +5\n"), std::string::npos) << t;
}

TEST(Vzubc, IncrementalAddsTheChangeOfHeld) {
  auto o = parse_vzubc_options({"-i", "-id", "/s", "-ic", "-wd", "101"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->incremental);
  EXPECT_EQ(o->incremental_dir, "/s");
  EXPECT_TRUE(o->incremental_clear);
  EXPECT_TRUE(o->watch && o->watch_diff);
  EXPECT_FALSE(parse_vzubc_options({"-id"}).ok());

  VzubcOptions v;
  Block b = sample();
  FailCounts before = parse_fail_counts(format_held_counts(b));
  EXPECT_EQ(before["numproc"], 30u);
  std::string same = format_table(b, v, std::nullopt, before);
  EXPECT_NE(same.find("| dHELD\n"), std::string::npos) << same;
  EXPECT_NE(same.find("|     -|     -\n"), std::string::npos)
      << same;            // physpages: no failure, no change
  b.rows[5].held = 25;    // numproc: 5 fewer
  b.rows[6].held += 256;  // physpages: 1M more
  std::string t = format_table(b, v, std::nullopt, before);
  EXPECT_NE(t.find("|    -5\n"), std::string::npos) << t;
  EXPECT_NE(t.find("|   +1M\n"), std::string::npos) << t;
  // Without -i: no column.
  EXPECT_EQ(format_table(b, v, std::nullopt).find("dHELD"), std::string::npos);
}

TEST(Vzubc, WatchDiffHighlightsChangedCharacters) {
  EXPECT_EQ(highlight_changes("held 30\nx\n", "held 31\nx\n"), "held 3\033[7m1\033[27m\nx\n");
  EXPECT_EQ(highlight_changes("", "ab\n"), "\033[7mab\033[27m\n");  // all new
  EXPECT_EQ(highlight_changes("ab\n", "ab\n"), "ab\n");
  // Colors are copied, and positions count only visible characters.
  EXPECT_EQ(highlight_changes("\033[31mab\033[0m\n", "\033[31mac\033[0m\n"),
            "\033[31ma\033[7mc\033[0m\033[27m\n");
}

TEST(Vzubc, ColorMarksFailures) {
  VzubcOptions o;
  o.color = true;
  std::string t = format_table(sample(), o, std::nullopt);
  EXPECT_NE(t.find("\033[31m      numproc|"), std::string::npos) << t;
  EXPECT_EQ(t.find("\033[31m    physpages|"), std::string::npos) << t;
}

TEST(UbcCollect, ProcParsers) {
  EXPECT_EQ(status_kb("Name:\tx\nVmLck:\t      12 kB\nVmData:\t  100 kB\n", "VmLck"), 12u * 1024);
  EXPECT_EQ(status_kb("VmData:\t  100 kB\n", "VmLck"), 0u);
  std::string locks =
      "1: POSIX  ADVISORY  WRITE 100 08:01:5 0 EOF\n"
      "1: -> POSIX  ADVISORY  WRITE 300 08:01:5 0 EOF\n"
      "2: FLOCK  ADVISORY  WRITE 200 08:01:6 0 EOF\n"
      "3: OFDLCK ADVISORY  READ  -1 08:01:7 0 EOF\n"
      "4: FLOCK  ADVISORY  WRITE 999 08:01:6 0 EOF\n";
  EXPECT_EQ(count_locks(locks, {100, 200, 300}), 2u);
  std::string ss =
      "sockets: used 13\nTCP: inuse 3 orphan 0 tw 0 alloc 5 mem 1\nUDP: inuse 2 mem 0\nUDPLITE: "
      "inuse 0\n";
  EXPECT_EQ(sockstat_value(ss, "TCP", "inuse"), 3u);
  EXPECT_EQ(sockstat_value(ss, "TCP", "alloc"), 5u);
  EXPECT_EQ(sockstat_value(ss, "UDP", "inuse"), 2u);
  EXPECT_EQ(sockstat_value(ss, "RAW", "inuse"), 0u);
}

}  // namespace
}  // namespace berth::ubc
