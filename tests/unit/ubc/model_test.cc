// Beancounter rows from raw counters, Version 2.5 text, maxheld carried across reads.
#include "ubc/model.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace berth::ubc {
namespace {

constexpr uint64_t kMax = units::kUnlimited;

std::array<units::BarrierLimit, kRowCount> conf_of(const std::map<std::string, std::string>& kv) {
  return config_limits([&](std::string_view k) -> std::optional<std::string> {
    auto it = kv.find(std::string(k));
    if (it == kv.end()) return std::nullopt;
    return it->second;
  });
}

TEST(UbcModel, TwentyFiveRowsInOpenVzOrder) {
  Block b = compute_block("101", Raw{}, conf_of({}));
  const char* names[] = {
      "kmemsize",     "lockedpages", "privvmpages",  "shmpages",     "dummy",
      "numproc",      "physpages",   "vmguarpages",  "oomguarpages", "numtcpsock",
      "numflock",     "numpty",      "numsiginfo",   "tcpsndbuf",    "tcprcvbuf",
      "othersockbuf", "dgramrcvbuf", "numothersock", "dcachesize",   "numfile",
      "dummy",        "dummy",       "dummy",        "numiptent",    "swappages"};
  ASSERT_EQ(b.rows.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(b.rows[i].name, names[i]) << i;
  EXPECT_EQ(resource_index("numiptent"), 23);
  EXPECT_EQ(resource_index("swappages"), 24);
  EXPECT_EQ(resource_index("dummy"), -1);
  EXPECT_EQ(resource_index("nosuch"), -1);
}

TEST(UbcModel, PagesAndBytesConversions) {
  Raw raw;
  raw.mem_usage = 10 * 4096 + 100;  // partial pages round down, as the kernel counts pages
  raw.mem_peak = 20 * 4096;
  raw.mem_limit = 64 << 20;
  raw.swap_usage = 3 * 4096;
  raw.swap_limit = 0;
  raw.shmem = 5 * 4096;
  raw.kmem_usage = 123456;
  raw.locked_bytes = 8192;
  Block b = compute_block("101", raw, conf_of({}));
  EXPECT_EQ(b.find("physpages")->held, 10u);
  EXPECT_EQ(b.find("physpages")->maxheld, 20u);
  EXPECT_EQ(b.find("physpages")->limit, 16384u);
  EXPECT_EQ(b.find("physpages")->barrier, 16384u);  // no PHYSPAGES in the config: barrier = limit
  EXPECT_EQ(b.find("swappages")->held, 3u);
  EXPECT_EQ(b.find("swappages")->limit, 0u);
  EXPECT_EQ(b.find("oomguarpages")->held, 13u);  // RAM + swap
  EXPECT_EQ(b.find("shmpages")->held, 5u);
  EXPECT_EQ(b.find("kmemsize")->held, 123456u);  // bytes stay bytes
  EXPECT_EQ(b.find("lockedpages")->held, 2u);
  EXPECT_EQ(pages_to_bytes(3), 12288u);
  EXPECT_EQ(pages_to_bytes(kMax), kMax);
  EXPECT_EQ(bytes_to_pages(8191), 1u);
}

TEST(UbcModel, LimitsFromKernelAndConfig) {
  Raw raw;
  raw.pids_limit = 32;
  raw.mem_limit = -1;
  Block b = compute_block("7", raw,
                          conf_of({{"NUMPROC", "30:32"},
                                   {"PHYSPAGES", "0:1000"},
                                   {"NUMFILE", "4096"},
                                   {"KMEMSIZE", "14M:16M"},
                                   {"DCACHE", "1000:2000"},
                                   {"NUMTCPSOCK", "bad"}}));
  EXPECT_EQ(b.find("numproc")->barrier, 30u);
  EXPECT_EQ(b.find("numproc")->limit, 32u);
  // The kernel enforces no memory limit: unlimited, whatever the config says; barrier from config.
  EXPECT_EQ(b.find("physpages")->limit, kMax);
  EXPECT_EQ(b.find("physpages")->barrier, 0u);
  EXPECT_EQ(b.find("numfile")->barrier, 4096u);
  EXPECT_EQ(b.find("numfile")->limit, 4096u);
  EXPECT_EQ(b.find("kmemsize")->barrier, 14u << 20);
  EXPECT_EQ(b.find("kmemsize")->limit, 16u << 20);
  EXPECT_EQ(b.find("dcachesize")->limit, 2000u);  // older key spelling
  EXPECT_EQ(b.find("numtcpsock")->limit, kMax);   // invalid value: unlimited
  EXPECT_EQ(b.find("swappages")->limit, kMax);
}

TEST(UbcModel, FailCounts) {
  Raw raw;
  raw.pids_failcnt = 7;
  raw.oom_kills = 2;
  Block b = compute_block("1", raw, conf_of({}));
  EXPECT_EQ(b.find("numproc")->failcnt, 7u);
  EXPECT_EQ(b.find("physpages")->failcnt, 2u);  // no failcnt from the kernel: OOM kills
  EXPECT_EQ(b.find("oomguarpages")->failcnt, 2u);
  raw.mem_failcnt = 5;
  b = compute_block("1", raw, conf_of({}));
  EXPECT_EQ(b.find("physpages")->failcnt, 5u);
}

TEST(UbcModel, MaxheldKeptAcrossReads) {
  Raw raw;
  raw.numfile = 50;
  Block b = compute_block("1", raw, conf_of({}));
  auto state = merge_maxheld(b, {});
  EXPECT_EQ(b.find("numfile")->maxheld, 50u);
  raw.numfile = 10;
  Block later = compute_block("1", raw, conf_of({}));
  EXPECT_EQ(later.find("numfile")->maxheld, 10u);
  merge_maxheld(later, state);
  EXPECT_EQ(later.find("numfile")->held, 10u);
  EXPECT_EQ(later.find("numfile")->maxheld, 50u);
  // The kernel's peak wins when higher.
  raw.mem_usage = 4096;
  raw.mem_peak = 4096 * 100;
  Block k = compute_block("1", raw, conf_of({}));
  merge_maxheld(k, state);
  EXPECT_EQ(k.find("physpages")->maxheld, 100u);
}

TEST(UbcModel, RendersVersion25WithVzctlWidths) {
  Raw raw;
  raw.pids_current = 23;
  raw.pids_limit = 100;
  std::string text = render_v25({compute_block("101", raw, conf_of({}))});
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "Version: 2.5");
  std::getline(in, line);
  EXPECT_EQ(line,
            "       uid  resource                     held              maxheld              "
            "barrier                limit              failcnt");
  std::getline(in, line);
  EXPECT_EQ(line.substr(0, 22), "      101:  kmemsize  ");
  EXPECT_EQ(line.size(), 10u + 2 + 12 + 5 * 21);
  EXPECT_NE(text.find("            numproc                        23                   23          "
                      "        100                  100                    0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" 9223372036854775807 "), std::string::npos);
}

TEST(UbcModel, TextLengthDoesNotDependOnTheValues) {
  // The FUSE server reports the size before it knows the values (procsrv/server.cc).
  Raw big;
  big.mem_usage = ~0ULL;
  big.pids_current = ~0ULL;
  big.numfile = 123456789;
  big.oom_kills = 99;
  EXPECT_EQ(render_v25({compute_block("101", Raw{}, conf_of({}))}).size(),
            render_v25({compute_block("101", big, conf_of({{"NUMPROC", "5:7"}}))}).size());
}

TEST(UbcModel, ParsesWhatItRenders) {
  Raw raw;
  raw.pids_current = 5;
  raw.pids_failcnt = 3;
  std::vector<Block> blocks = {compute_block("101", raw, conf_of({})),
                               compute_block("102", Raw{}, conf_of({}))};
  auto parsed = parse_v25(render_v25(blocks));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].uid, "101");
  EXPECT_EQ((*parsed)[0].rows, blocks[0].rows);
  EXPECT_EQ((*parsed)[1].uid, "102");
  EXPECT_EQ((*parsed)[0].find("numproc")->failcnt, 3u);
}

TEST(UbcModel, ParseRejectsOtherVersionsAndGarbage) {
  EXPECT_FALSE(parse_v25("Version: 2.4\n").ok());
  EXPECT_FALSE(parse_v25("").ok());
  EXPECT_FALSE(
      parse_v25(
          "Version: 2.5\n  uid resource held maxheld barrier limit failcnt\n  kmemsize 1 2 3 4 5\n")
          .ok());
  EXPECT_FALSE(parse_v25("Version: 2.5\n101: kmemsize 1 2 x 4 5\n").ok());
  auto ok = parse_v25(
      "Version: 2.5\n       uid  resource  held maxheld barrier limit failcnt\n 5: numproc 1 2 3 4 "
      "5\n    physpages 6 7 8 9 10\n");
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ((*ok)[0].rows.size(), 2u);
  EXPECT_EQ((*ok)[0].rows[1].failcnt, 10u);
}

}  // namespace
}  // namespace berth::ubc
