// vzlist formatting and the vzctl status line: columns, trimming, sorting, filters, JSON, options.
#include "cli/list.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "state/inventory.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;

class ListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-list-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto h = HostConfig::load_at(root_);
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::make_unique<HostConfig>(std::move(h).value());
  }
  void TearDown() override { fs::remove_all(root_); }

  ListRow row(const std::string& ctid, const std::string& conf, state::CtStatus st = {}) {
    st.exists = true;
    return ListRow{CtConfig(*host_, ctid, ConfFile::parse(conf)), st};
  }
  static state::CtStatus running(uint64_t nproc, double uptime = 0) {
    state::CtStatus st;
    st.exists = st.mounted = st.running = true;
    st.numproc = nproc;
    st.uptime = uptime;
    return st;
  }
  static ListOptions opts(const std::vector<std::string>& args) {
    auto o = parse_list_options(args);
    EXPECT_TRUE(o.ok()) << o.error().message();
    return o.ok() ? *o : ListOptions{};
  }
  std::string render(std::vector<ListRow> rows, const std::vector<std::string>& args) {
    auto out = render_list(std::move(rows), opts(args));
    EXPECT_TRUE(out.ok()) << out.error().message();
    return out.ok() ? *out : "";
  }
  // The two CTs of the reference example (section 3).
  std::vector<ListRow> example() {
    std::vector<ListRow> rows;
    rows.push_back(row("102", "IP_ADDRESS=\"192.0.2.11\"\nHOSTNAME=\"ct102.example.org\"\n"));
    rows.push_back(row("101",
                       "IP_ADDRESS=\"192.0.2.10 10.0.0.1\"\nHOSTNAME=\"ct101.example.org\"\n"
                       "NAME=\"web\"\nNUMPROC=\"240:260\"\nDESCRIPTION=\"front end\"\n",
                       running(23, 86400 + 2 * 3600 + 3 * 60 + 4.5)));
    return rows;
  }

  std::string root_;
  std::unique_ptr<HostConfig> host_;
};

TEST_F(ListTest, StatusLineVariants) {
  state::CtStatus st;
  EXPECT_EQ(format_status_line("101", st), "CTID 101 deleted unmounted down");
  st.exists = true;
  EXPECT_EQ(format_status_line("101", st), "CTID 101 exist unmounted down");
  st.mounted = st.running = true;
  EXPECT_EQ(format_status_line("101", st), "CTID 101 exist mounted running");
  st.suspended = true;  // a dump next to a running CT is not reported
  EXPECT_EQ(format_status_line("101", st), "CTID 101 exist mounted running");
  st.running = st.mounted = false;
  EXPECT_EQ(format_status_line("101", st), "CTID 101 exist unmounted down suspended");
}

TEST_F(ListTest, DefaultColumnsMatchReferenceExample) {
  EXPECT_EQ(render(example(), {"-a"}),
            "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n"
            "       101         23 running   192.0.2.10      ct101.example.org\n"
            "       102          - stopped   192.0.2.11      ct102.example.org\n");
}

TEST_F(ListTest, StateSelection) {
  auto rows = example();
  EXPECT_TRUE(selected_by_state(rows[1], opts({})));
  EXPECT_FALSE(selected_by_state(rows[0], opts({})));
  EXPECT_TRUE(selected_by_state(rows[0], opts({"-a"})));
  EXPECT_TRUE(selected_by_state(rows[0], opts({"102"})));  // named CTs are listed in any state
  EXPECT_TRUE(selected_by_state(rows[0], opts({"-S"})));
  EXPECT_FALSE(selected_by_state(rows[1], opts({"-a", "-S"})));
}

TEST_F(ListTest, StatusWords) {
  state::CtStatus mounted, suspended, both;
  mounted.mounted = true;
  suspended.suspended = true;
  both.mounted = both.suspended = true;
  std::vector<ListRow> rows{row("101", "", mounted), row("102", "", suspended),
                            row("103", "", both)};
  EXPECT_EQ(render(rows, {"-H", "-octid,status"}),
            "       101 mounted\n       102 suspended\n       103 mounted\n");
}

TEST_F(ListTest, OutputFieldsAndNoHeader) {
  EXPECT_EQ(render(example(), {"-H", "-o", "hostname,ctid"}),
            "ct101.example.org                       101\n"
            "ct102.example.org                       102\n");
  EXPECT_EQ(render(example(), {"-1"}), "       101\n       102\n");
  EXPECT_EQ(render(example(), {"--output=name,numproc.b,numproc.l,numproc.m,numproc.f"}),
            "NAME" + std::string(28 + 1 + 3, ' ') + "NPROC.B    NPROC.L    NPROC.M    NPROC.F\n" +
                "web" + std::string(29 + 1 + 7, ' ') + "240        260          -          -\n" +
                "-" + std::string(31 + 1 + 9, ' ') + "-          -          -          -\n");
}

TEST_F(ListTest, MultiValueShowsFirstUnlessLastOrNoTrim) {
  auto rows = example();
  EXPECT_EQ(render(rows, {"-H", "-oip,ctid"}),
            "192.0.2.10             101\n192.0.2.11             102\n");
  EXPECT_EQ(render(rows, {"-H", "-octid,ip"}),
            "       101 192.0.2.10 10.0.0.1\n       102 192.0.2.11\n");
  EXPECT_EQ(render(rows, {"-H", "-t", "-oip,ctid"}),
            "192.0.2.10 10.0.0.1        101\n192.0.2.11             102\n");
}

TEST_F(ListTest, LongStringsAreCutUnlessLastOrNoTrim) {
  std::string host(40, 'h');
  std::vector<ListRow> rows{row("101", "HOSTNAME=\"" + host + "\"\nNAME=\"a-very-long-name\"\n")};
  EXPECT_EQ(render(rows, {"-H", "-ohostname,ctid"}), std::string(32, 'h') + "        101\n");
  EXPECT_EQ(render(rows, {"-H", "-octid,hostname"}), "       101 " + host + "\n");
  EXPECT_EQ(render(rows, {"-H", "-t", "-ohostname,ctid"}), host + "        101\n");
  // smart_name is right-aligned in 10 columns, as vzlist's %10s.
  EXPECT_EQ(render(rows, {"-n", "-H", "-osmart_name,ctid"}), "a-very-lon        101\n");
  std::vector<ListRow> unnamed{row("102", "")};
  EXPECT_EQ(render(unnamed, {"-n", "-H"}), "       102          - stopped   -               -\n");
}

TEST_F(ListTest, NameOptionUsesSmartName) {
  EXPECT_EQ(render(example(), {"-n"}),
            " SMARTNAME      NPROC STATUS    IP_ADDR         HOSTNAME\n"
            "       web         23 running   192.0.2.10      ct101.example.org\n"
            "       102          - stopped   192.0.2.11      ct102.example.org\n");
}

TEST_F(ListTest, SortAndReverse) {
  std::vector<ListRow> rows{row("101", "HOSTNAME=\"b\"\n"), row("1000", "HOSTNAME=\"a\"\n"),
                            row("102", "")};
  EXPECT_EQ(render(rows, {"-1"}), "       101\n       102\n      1000\n");  // numeric, not text
  EXPECT_EQ(render(rows, {"-H", "-octid", "-s", "hostname"}),
            "       102\n      1000\n       101\n");
  EXPECT_EQ(render(rows, {"-H", "-octid", "-s", "-hostname"}),
            "       101\n      1000\n       102\n");
  EXPECT_EQ(render(rows, {"-1", "-s-ctid"}), "      1000\n       102\n       101\n");
  EXPECT_EQ(render(example(), {"-1", "-s", "status"}), "       101\n       102\n");
  EXPECT_EQ(render(example(), {"-1", "--sort", "-numproc"}), "       101\n       102\n");
}

TEST_F(ListTest, GlobFilters) {
  EXPECT_EQ(render(example(), {"-1", "-h", "ct10[2-9].*"}), "       102\n");
  EXPECT_EQ(render(example(), {"-1", "-N", "w*"}), "       101\n");
  EXPECT_EQ(render(example(), {"-1", "-d", "*front*"}), "       101\n");
  EXPECT_EQ(render(example(), {"-1", "-N", "*"}), "       101\n");  // no name: no match
  EXPECT_EQ(render(example(), {"-h", "nothing"}),
            "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n");
}

TEST_F(ListTest, UptimeAndOtherColumns) {
  auto rows = example();
  rows[1].status.laverage = std::array<double, 3>{0.0, 0.01, 0.05};
  rows[0].config.conf().set("ONBOOT", "yes");
  rows[0].config.conf().set("DISKSPACE", "1G:2097152");
  rows[0].config.conf().set("PHYSPAGES", "0:262144");
  rows[0].config.conf().set("FEATURES", "nfs:on ppp:off");
  EXPECT_EQ(
      render(rows, {"-H", "-octid,uptime,laverage,onboot,vswap,diskspace.s,diskspace.h,features"}),
      "       101 001d02h:03m:04s 0.00/0.01/0.05     no    no          -          - -\n"
      "       102               -              -    yes   yes    1048576    2097152 "
      "nfs:on,ppp:off\n");
}

TEST_F(ListTest, UnknownFieldsAreErrors) {
  auto bad = render_list(example(), opts({"-o", "ctid,bogus"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().exit_status(), kListUsageExit);
  EXPECT_NE(bad.error().message().find("bogus"), std::string::npos);
  EXPECT_FALSE(validate_list_options(opts({"-o", "ctid,"})).ok());
  EXPECT_FALSE(validate_list_options(opts({"-s", "-bogus"})).ok());
  EXPECT_FALSE(validate_list_options(opts({"-j", "-o", "numproc.b"})).ok());
  EXPECT_TRUE(validate_list_options(opts({"-o", "numproc.b,veid,vpsid,local_uid"})).ok());
}

TEST_F(ListTest, OptionParsing) {
  auto o = opts({"-aHtn", "-s", "-numproc", "-h", "web*", "101", "web"});
  EXPECT_TRUE(o.all && o.no_header && o.no_trim);
  EXPECT_EQ(o.fields, "smart_name,numproc,status,ip,hostname");
  EXPECT_EQ(o.sort_field, "numproc");
  EXPECT_TRUE(o.sort_reverse);
  EXPECT_EQ(o.hostname_glob, "web*");
  EXPECT_EQ(o.ids, (std::vector<std::string>{"101", "web"}));
  EXPECT_EQ(opts({"-n", "-octid"}).fields, "ctid");  // last of -o/-1/-n wins
  EXPECT_EQ(opts({"-octid", "-1"}).fields, "ctid");
  EXPECT_TRUE(opts({"-1"}).no_header);
  EXPECT_TRUE(opts({"--list"}).list_fields);
  auto bad = parse_list_options({"-x"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().exit_status(), kListUsageExit);
  EXPECT_FALSE(parse_list_options({"-o"}).ok());
}

TEST_F(ListTest, JsonShape) {
  auto rows = example();
  rows[1].config.conf().set("ONBOOT", "yes");
  rows[1].config.conf().set("NAMESERVER", "192.0.2.1 192.0.2.2");
  auto out = render(rows, {"-j"});
  auto j = nlohmann::json::parse(out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  const auto& a = j[0];
  EXPECT_EQ(a["ctid"], 101);
  EXPECT_FALSE(a.contains("veid"));
  EXPECT_FALSE(a.contains("numproc.b"));
  EXPECT_EQ(a["hostname"], "ct101.example.org");
  EXPECT_EQ(a["ip"], nlohmann::json({"192.0.2.10", "10.0.0.1"}));
  EXPECT_EQ(a["nameserver"], nlohmann::json({"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(a["searchdomain"], nlohmann::json::array());
  EXPECT_EQ(a["status"], "running");
  EXPECT_EQ(a["numproc"]["held"], 23);
  EXPECT_TRUE(a["numproc"]["maxheld"].is_null());
  EXPECT_EQ(a["numproc"]["barrier"], 240);
  EXPECT_EQ(a["numproc"]["limit"], 260);
  EXPECT_TRUE(a["numproc"]["failcnt"].is_null());
  EXPECT_TRUE(a["kmemsize"]["barrier"].is_null());
  EXPECT_TRUE(a["ostemplate"].is_null());
  EXPECT_TRUE(a["diskspace"].is_null());
  EXPECT_TRUE(a["laverage"].is_null());
  EXPECT_EQ(a["onboot"], true);
  EXPECT_EQ(a["disabled"], false);
  EXPECT_DOUBLE_EQ(a["uptime"].get<double>(), 93784.5);
  EXPECT_EQ(a["smart_name"], "web");
  EXPECT_EQ(a["local_uid"], 100000);
  EXPECT_EQ(j[1]["smart_name"], 102);
  EXPECT_EQ(j[1]["status"], "stopped");
  EXPECT_TRUE(j[1]["numproc"]["held"].is_null());
  EXPECT_EQ(j[1]["uptime"], 0.0);
  // Field order follows the table: ctid first.
  EXPECT_EQ(out.substr(0, 20), "[\n  {\n    \"ctid\": 10");
}

TEST_F(ListTest, JsonWithOutputFields) {
  auto j = nlohmann::json::parse(render(example(), {"-j", "-o", "ctid,ip,status"}));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1],
            nlohmann::json::parse(R"({"ctid": 102, "ip": ["192.0.2.11"], "status": "stopped"})"));
  auto unlimited = nlohmann::json::parse(
      render({row("101", "PRIVVMPAGES=\"unlimited\"\nDISKSPACE=\"1000:2000\"\n")},
             {"-j", "-oprivvmpages,diskspace"}));
  EXPECT_EQ(unlimited[0]["privvmpages"]["limit"], 9223372036854775807ULL);
  EXPECT_EQ(unlimited[0]["diskspace"],
            nlohmann::json::parse(R"({"usage": null, "softlimit": 1000, "hardlimit": 2000})"));
  EXPECT_EQ(render({}, {"-j"}), "[]\n");
}

TEST_F(ListTest, FieldNamesListEveryField) {
  std::string names = format_field_names();
  EXPECT_EQ(names.substr(0, 32), "ctid            CTID           \n");
  for (const char* f :
       {"veid ", "numproc.f ", "swappages.l ", "diskinodes.h ", "laverage ", "uptime ",
        "iopslimit ", "vm_overcommit ", "capability ", "local_uid ", "netin ", "netout "})
    EXPECT_NE(names.find(std::string("\n") + f), std::string::npos) << f;
}

TEST_F(ListTest, InventoryListsOnlyCtConfigs) {
  const std::string dir = host_->paths().conf_dir;
  auto empty = state::list_ctids(*host_);  // no conf dir yet
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  fs::create_directories(dir + "/1000.conf");  // a directory is not a config
  for (const char* f :
       {"101.conf", "1001.conf", "102.conf", "100.conf", "0101.conf", "103.conf.destroyed",
        "104.conf.tmp", "ve-basic.conf-sample", "abc.conf", "105.conf~"})
    std::ofstream(dir + "/" + f) << "HOSTNAME=\"x\"\n";
  auto ids = state::list_ctids(*host_);
  ASSERT_TRUE(ids.ok()) << ids.error().message();
  EXPECT_EQ(*ids, (std::vector<std::string>{"101", "102", "1001"}));
  EXPECT_EQ(state::ctid_from_conf_name("2147483644.conf"), "2147483644");
  EXPECT_EQ(state::ctid_from_conf_name("2147483645.conf"), "");
}

TEST_F(ListTest, PrivateAreaExists) {
  auto r = row("101", "VE_PRIVATE=\"" + root_ + "/private/$VEID\"\n");
  EXPECT_FALSE(state::private_area_exists(r.config));
  fs::create_directories(root_ + "/private/101");
  EXPECT_TRUE(state::private_area_exists(r.config));
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

// A running CT's UBC fields come from its beancounter block (held, maxheld, failcnt and the
// kernel's limits); a stopped CT has `-` for usage and its config's barrier/limit.
class ListUbcTest : public ListTest {
 protected:
  ListRow with_block(const std::string& ctid, uint64_t nproc, uint64_t fails, uint64_t phys_pages) {
    ubc::Raw raw;
    raw.pids_current = nproc;
    raw.pids_peak = nproc + 5;
    raw.pids_limit = 64;
    raw.pids_failcnt = fails;
    raw.mem_usage = phys_pages * 4096;
    raw.mem_limit = 256 << 20;
    ListRow r = row(ctid, "NUMPROC=\"60:64\"\n", running(nproc));
    r.ubc = ubc::compute_block(
        ctid, raw, ubc::config_limits([&](std::string_view k) { return r.config.get(k); }));
    return r;
  }
};

TEST_F(ListUbcTest, RunningCtsShowTheirBlockStoppedOnesTheirConfig) {
  std::vector<ListRow> rows;
  rows.push_back(with_block("101", 10, 3, 1000));
  rows.push_back(with_block("102", 20, 7, 500));
  rows.push_back(row("103", "NUMPROC=\"60:64\"\nPHYSPAGES=\"0:65536\"\n"));
  EXPECT_EQ(
      render(rows, {"-a", "-o",
                    "ctid,numproc,numproc.m,numproc.b,numproc.l,numproc.f,physpages,physpages.l"}),
      "      CTID      NPROC    NPROC.M    NPROC.B    NPROC.L    NPROC.F      PHYSP    PHYSP.L\n"
      "       101         10         15         60         64          3       1000      65536\n"
      "       102         20         25         60         64          7        500      65536\n"
      "       103          -          -         60         64          -          -      65536\n");
  // Sorted by a UBC field, reversed.
  EXPECT_EQ(render(rows, {"-a", "-H", "-o", "ctid", "-s", "-numproc.f"}),
            "       102\n       101\n       103\n");
  EXPECT_EQ(render(rows, {"-a", "-H", "-o", "ctid", "-s", "physpages"}),
            "       103\n       102\n       101\n");
  auto j = nlohmann::json::parse(render(rows, {"-a", "-j", "-o", "ctid,numproc"}));
  EXPECT_EQ(j[1]["numproc"]["failcnt"], 7);
  EXPECT_EQ(j[1]["numproc"]["maxheld"], 25);
  EXPECT_EQ(j[2]["numproc"]["held"], nullptr);
  EXPECT_EQ(j[2]["numproc"]["limit"], 64);
}

}  // namespace
}  // namespace berth::cli
