// The `create` / `set` option language: parsing (argv order, aliases, contexts, syntax errors) and
// applying to a ConfFile (saved forms, merges, NETIF generation, exit codes, no partial writes).
#include "cli/ct_options.h"
#include "core/safe_defaults.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

namespace berth::cli {
namespace {

using Args = std::vector<std::string>;

CtOptions parse_ok(OptionContext ctx, const Args& args) {
  auto r = parse_ct_options(ctx, args);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : CtOptions{};
}

CtOptions set_ok(const Args& args) { return parse_ok(OptionContext::kSet, args); }

// Parse in `set` context (with --save) and apply to conf; returns the edit.
ConfigEdit apply_ok(ConfFile& conf, Args args, std::string_view ctid = "101") {
  args.push_back("--save");
  auto o = parse_ct_options(OptionContext::kSet, args);
  EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().message());
  if (!o.ok()) return {};
  auto r = apply_ct_options(*o, ctid, conf);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : ConfigEdit{};
}

// The saved value of key after applying args to an empty config.
std::string saved(Args args, std::string_view key) {
  ConfFile conf;
  apply_ok(conf, std::move(args));
  return conf.get_or(key, "<unset>");
}

// Parse succeeds, apply fails with status; conf must be byte-for-byte unchanged.
Error bad_apply(Args args, int status, const std::string& base = "# header\nONBOOT=\"yes\"\n") {
  ConfFile conf = ConfFile::parse(base);
  args.push_back("--save");
  auto o = parse_ct_options(OptionContext::kSet, args);
  EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().message());
  if (!o.ok()) return o.error();
  auto r = apply_ct_options(*o, "101", conf);
  EXPECT_FALSE(r.ok()) << "applied: " << conf.text();
  EXPECT_EQ(conf.text(), base);
  if (r.ok()) return Error();
  EXPECT_EQ(r.error().exit_status(), status) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  return r.error();
}

Error bad_parse(OptionContext ctx, const Args& args, int status) {
  auto r = parse_ct_options(ctx, args);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return Error();
  EXPECT_EQ(r.error().exit_status(), status) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  return r.error();
}

// The same checks where the test has nothing more to ask of the error.
void apply_bad(const Args& args, int status,
               const std::string& base = "# header\nONBOOT=\"yes\"\n") {
  (void)bad_apply(args, status, base);
}
void parse_bad(OptionContext ctx, const Args& args, int status) {
  (void)bad_parse(ctx, args, status);
}

bool mentions(const Error& e, const std::string& s) {
  return e.message().find(s) != std::string::npos;
}

// ---------------------------------------------------------------- parsing

TEST(CtOptionsParse, KeepsArgvOrderAcrossOptions) {
  auto o =
      set_ok({"--ipadd", "10.0.0.1", "--ipdel", "10.0.0.2", "--ip=10.0.0.3", "--hostname", "h"});
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(
      o.items,
      (std::vector<P>{
          {"ipadd", "10.0.0.1"}, {"ipdel", "10.0.0.2"}, {"ipadd", "10.0.0.3"}, {"hostname", "h"}}));
  EXPECT_EQ(o.all("ipadd"), (std::vector<std::string>{"10.0.0.1", "10.0.0.3"}));
  EXPECT_EQ(o.last("ipadd"), "10.0.0.3");
  EXPECT_TRUE(o.has("hostname"));
  EXPECT_FALSE(o.has("ram"));
  EXPECT_EQ(o.last("ram"), std::nullopt);
}

TEST(CtOptionsParse, EqualsAndSpaceForms) {
  auto a = set_ok({"--ram=512M", "--swap", "1G"});
  EXPECT_EQ(a.last("ram"), "512M");
  EXPECT_EQ(a.last("swap"), "1G");
  auto b = set_ok({"--description=a=b c"});
  EXPECT_EQ(b.last("description"), "a=b c");
}

TEST(CtOptionsParse, ShortAliases) {
  auto o = set_ok({"-p", "100", "-k", "1M", "-l", "10", "-n", "20", "-f", "30",
                   "-t", "40",  "-i", "50", "-x", "60", "-e", "70", "-b", "80"});
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(o.items, (std::vector<P>{{"numproc", "100"},
                                     {"kmemsize", "1M"},
                                     {"lockedpages", "10"},
                                     {"numfile", "20"},
                                     {"numflock", "30"},
                                     {"numpty", "40"},
                                     {"numsiginfo", "50"},
                                     {"dcachesize", "60"},
                                     {"numiptent", "70"},
                                     {"tcprcvbuf", "80"}}));
  EXPECT_EQ(set_ok({"-p5"}).last("numproc"), "5");
}

TEST(CtOptionsParse, LongAliasesMapToCanonicalNames) {
  EXPECT_TRUE(set_ok({"--ip", "10.0.0.1"}).has("ipadd"));
  EXPECT_TRUE(set_ok({"--save", "--diskspace", "1G", "--offline"}).has("offline-resize"));
  for (const char* alias : {"--layout", "--ve_layout", "--velayout"})
    EXPECT_EQ(parse_ok(OptionContext::kCreate, {alias, "simfs"}).last("layout"), "simfs") << alias;
}

TEST(CtOptionsParse, FlagsAndModes) {
  auto o = set_ok({"--save", "--force", "--setmode", "restart", "--cpuunits", "100"});
  EXPECT_TRUE(o.save);
  EXPECT_TRUE(o.force);
  EXPECT_EQ(o.setmode, "restart");
  EXPECT_EQ(o.items.size(), 1u);  // flags are fields, not items
  auto r = set_ok({"--reset_ub"});
  EXPECT_TRUE(r.reset_ub);
  auto s = set_ok({"--skip_arpdetect", "--ipadd", "10.0.0.1"});
  EXPECT_EQ(s.items.front(), (std::pair<std::string, std::string>{"skip_arpdetect", ""}));
}

TEST(CtOptionsParse, ValueMayLookLikeAnOption) {
  // As getopt_long: a required argument takes the next word whatever it is.
  auto o = set_ok({"--description", "--save"});
  EXPECT_EQ(o.last("description"), "--save");
  EXPECT_FALSE(o.save);
}

TEST(CtOptionsParse, EmptyArgs) {
  auto o = set_ok({});
  EXPECT_TRUE(o.items.empty());
  EXPECT_FALSE(o.save);
}

TEST(CtOptionsParse, UnknownOptionIsExit20NamingIt) {
  auto e = bad_parse(OptionContext::kSet, {"--cpuunits", "100", "--bogus", "1"}, 20);
  EXPECT_TRUE(mentions(e, "--bogus")) << e.message();
  auto f = bad_parse(OptionContext::kSet, {"--bogus=1"}, 20);
  EXPECT_TRUE(mentions(f, "`--bogus`")) << f.message();
  EXPECT_FALSE(mentions(f, "=1")) << f.message();
  auto g = bad_parse(OptionContext::kSet, {"-z", "1"}, 20);
  EXPECT_TRUE(mentions(g, "-z")) << g.message();
  parse_bad(OptionContext::kSet, {"-h"}, 20);
  parse_bad(OptionContext::kSet, {"--help"}, 20);
  parse_bad(OptionContext::kSet, {"--IPADD", "10.0.0.1"}, 20);  // case matters
  parse_bad(OptionContext::kSet, {"--ipa", "10.0.0.1"}, 20);    // no abbreviations
}

TEST(CtOptionsParse, MissingValueIsExit20) {
  auto e = bad_parse(OptionContext::kSet, {"--hostname"}, 20);
  EXPECT_TRUE(mentions(e, "--hostname")) << e.message();
  parse_bad(OptionContext::kSet, {"--cpuunits", "10", "-p"}, 20);
}

TEST(CtOptionsParse, ExtraPositionalIsExit20) {
  auto e = bad_parse(OptionContext::kSet, {"--cpuunits", "100", "stray"}, 20);
  EXPECT_TRUE(mentions(e, "stray")) << e.message();
  auto f = bad_parse(OptionContext::kSet, {"--", "x"}, 20);
  EXPECT_TRUE(mentions(f, "`x`")) << f.message();
}

TEST(CtOptionsParse, FlagWithValueIsExit20) {
  auto e = bad_parse(OptionContext::kSet, {"--save=yes"}, 20);
  EXPECT_TRUE(mentions(e, "--save")) << e.message();
}

TEST(CtOptionsParse, BadSetmodeIsExit21) {
  auto e = bad_parse(OptionContext::kSet, {"--setmode", "later"}, 21);
  EXPECT_TRUE(mentions(e, "--setmode")) << e.message();
  EXPECT_TRUE(mentions(e, "later")) << e.message();
  EXPECT_EQ(set_ok({"--setmode", "ignore"}).setmode, "ignore");
}

TEST(CtOptionsParse, CreateOnlyOptionsRefusedBySet) {
  for (std::string opt : {"--config", "--layout", "--ve_layout", "--local_uid", "--local_gid"}) {
    auto e = bad_parse(OptionContext::kSet, {opt, "1"}, 20);
    EXPECT_TRUE(mentions(e, "create")) << e.message();
  }
}

// The admin's word for a privileged CT: a flag for create and set, saved as PRIVILEGED_TRUSTED.
TEST(CtOptionsApply, TrustFlagRecordsTheAdminsWord) {
  EXPECT_EQ(saved({"--i-trust-this-vps"}, "PRIVILEGED_TRUSTED"), "yes");
  auto o = parse_ct_options(OptionContext::kCreate, {"--local_uid", "0", "--i-trust-this-vps"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  ConfFile conf;
  ASSERT_TRUE(apply_ct_options(*o, "101", conf).ok());
  EXPECT_EQ(conf.get_or("LOCAL_UID", ""), "0");
  EXPECT_EQ(conf.get_or("PRIVILEGED_TRUSTED", ""), "yes");
}

TEST(CtOptionsParse, SetOnlyOptionsRefusedByCreate) {
  for (Args a : std::vector<Args>{{"--save"},
                                  {"--force"},
                                  {"--reset_ub"},
                                  {"--setmode", "ignore"},
                                  {"--applyconfig", "basic"},
                                  {"--applyconfig_map", "name"},
                                  {"--skip_arpdetect"},
                                  {"--offline-resize"}}) {
    auto e = bad_parse(OptionContext::kCreate, a, 20);
    EXPECT_TRUE(mentions(e, a.front())) << e.message();
  }
}

TEST(CtOptionsParse, CreateAcceptsItsOptionsAndConfigOptions) {
  auto o = parse_ok(OptionContext::kCreate, {"--ostemplate", "debian-12-x86_64-minimal",
                                             "--config",     "vswap-1g",
                                             "--layout",     "overlay",
                                             "--local_uid",  "200000",
                                             "--local_gid",  "200000",
                                             "--hostname",   "a.example",
                                             "--name",       "web",
                                             "--ipadd",      "10.0.0.2",
                                             "--diskspace",  "10G",
                                             "--ram",        "1G",
                                             "--userpasswd", "root:pw"});
  EXPECT_EQ(o.items.size(), 11u);
  EXPECT_EQ(o.last("config"), "vswap-1g");
}

TEST(CtOptionsParse, SetRulesOfVzctl) {
  auto n = bad_parse(OptionContext::kSet, {"--name", "web"}, 131);
  EXPECT_TRUE(mentions(n, "--save")) << n.message();
  parse_bad(OptionContext::kSet, {"--ostemplate", "centos"}, 20);
  parse_bad(OptionContext::kSet, {"--stop-timeout", "5"}, 20);
  parse_bad(OptionContext::kSet, {"--force", "--cpuunits", "100"}, 20);
  parse_bad(OptionContext::kSet, {"--setmode", "restart", "--cpuunits", "100"}, 20);
  parse_bad(OptionContext::kSet, {"--reset_ub", "--cpuunits", "100"}, 20);
  parse_bad(OptionContext::kSet, {"--reset_ub", "--save"}, 20);
  parse_bad(OptionContext::kSet, {"--save", "--offline-resize"}, 20);
  parse_bad(OptionContext::kSet, {"--nodemask", "0"}, 20);
  parse_bad(OptionContext::kSet, {"--cpumask", "auto"}, 20);
  set_ok({"--cpumask", "auto", "--nodemask", "0"});
  set_ok({"--name", "web", "--save"});
  set_ok({"--ostemplate", "centos", "--save"});
  set_ok({"--stop-timeout", "5", "--save"});
  set_ok({"--setmode", "restart", "--save", "--features", "nfs:on"});
  // `create` has no --save: these need none there.
  parse_ok(OptionContext::kCreate, {"--name", "web", "--ostemplate", "x", "--stop-timeout", "5"});
}

TEST(CtOptionsParse, IfnameRules) {
  parse_bad(OptionContext::kSet, {"--mac", "00:18:51:00:00:01"}, 20);
  parse_bad(OptionContext::kSet, {"--bridge", "br0"}, 20);
  parse_bad(OptionContext::kSet, {"--ifname", "eth0", "--ifname", "eth1", "--bridge", "br0"}, 21);
  parse_bad(OptionContext::kSet, {"--ifname", "eth0", "--bridge", "br0", "--bridge", "br1"}, 21);
  set_ok({"--bridge", "br0", "--ifname", "eth0"});  // order does not matter
}

// ---------------------------------------------------------------- saved forms

TEST(CtOptionsApply, VswapMemoryInPages) {
  EXPECT_EQ(saved({"--ram", "512M"}, "PHYSPAGES"), "0:131072");
  EXPECT_EQ(saved({"--ram", "1G"}, "PHYSPAGES"), "0:262144");
  EXPECT_EQ(saved({"--ram", "1.5G"}, "PHYSPAGES"), "0:393216");
  EXPECT_EQ(saved({"--ram", "4097"}, "PHYSPAGES"), "0:2");  // bare bytes, rounded up to pages
  EXPECT_EQ(saved({"--ram", "100P"}, "PHYSPAGES"), "0:100");
  EXPECT_EQ(saved({"--ram", "unlimited"}, "PHYSPAGES"), "0:unlimited");
  EXPECT_EQ(saved({"--swap", "1G"}, "SWAPPAGES"), "0:262144");
  EXPECT_EQ(saved({"--swap", "0"}, "SWAPPAGES"), "0:0");
  EXPECT_EQ(saved({"--physpages", "0:256M"}, "PHYSPAGES"), "0:65536");
  EXPECT_EQ(saved({"--swappages", "1000"}, "SWAPPAGES"), "1000");
  EXPECT_EQ(saved({"--vm_overcommit", "1.5"}, "VM_OVERCOMMIT"), "1.5");
  EXPECT_EQ(saved({"--vm_overcommit", "2"}, "VM_OVERCOMMIT"), "2");
}

TEST(CtOptionsApply, UbcNativeUnits) {
  EXPECT_EQ(saved({"--numproc", "240"}, "NUMPROC"), "240");
  EXPECT_EQ(saved({"--numproc", "240:300"}, "NUMPROC"), "240:300");
  EXPECT_EQ(saved({"--numproc", "unlimited"}, "NUMPROC"), "unlimited");
  EXPECT_EQ(saved({"--numproc", "100:unlimited"}, "NUMPROC"), "100:unlimited");
  EXPECT_EQ(saved({"--kmemsize", "14M:16M"}, "KMEMSIZE"), "14680064:16777216");
  EXPECT_EQ(saved({"--kmemsize", "1.5M"}, "KMEMSIZE"), "1572864");
  EXPECT_EQ(saved({"--privvmpages", "1G:1.1G"}, "PRIVVMPAGES"), "262144:288359");
  EXPECT_EQ(saved({"--vmguarpages", "33792:unlimited"}, "VMGUARPAGES"), "33792:unlimited");
  EXPECT_EQ(saved({"--shmpages", "84M"}, "SHMPAGES"), "21504");
  EXPECT_EQ(saved({"--tcpsndbuf", "1720320:2703360"}, "TCPSNDBUF"), "1720320:2703360");
  EXPECT_EQ(saved({"-x", "3409920:3624960"}, "DCACHESIZE"), "3409920:3624960");
  EXPECT_EQ(saved({"--avnumproc", "180"}, "AVNUMPROC"), "180");
}

TEST(CtOptionsApply, EveryUbcOptionWritesItsKey) {
  const std::vector<std::pair<std::string, std::string>> opts = {
      {"--numproc", "NUMPROC"},           {"--numtcpsock", "NUMTCPSOCK"},
      {"--numothersock", "NUMOTHERSOCK"}, {"--vmguarpages", "VMGUARPAGES"},
      {"--kmemsize", "KMEMSIZE"},         {"--tcpsndbuf", "TCPSNDBUF"},
      {"--tcprcvbuf", "TCPRCVBUF"},       {"--othersockbuf", "OTHERSOCKBUF"},
      {"--dgramrcvbuf", "DGRAMRCVBUF"},   {"--oomguarpages", "OOMGUARPAGES"},
      {"--lockedpages", "LOCKEDPAGES"},   {"--privvmpages", "PRIVVMPAGES"},
      {"--shmpages", "SHMPAGES"},         {"--numfile", "NUMFILE"},
      {"--numflock", "NUMFLOCK"},         {"--numpty", "NUMPTY"},
      {"--numsiginfo", "NUMSIGINFO"},     {"--dcachesize", "DCACHESIZE"},
      {"--numiptent", "NUMIPTENT"},       {"--physpages", "PHYSPAGES"},
      {"--swappages", "SWAPPAGES"},       {"--avnumproc", "AVNUMPROC"}};
  for (const auto& [opt, key] : opts) {
    ConfFile conf;
    auto ed = apply_ok(conf, {opt, "10:20"});
    EXPECT_EQ(conf.get(key), "10:20") << opt;
    EXPECT_EQ(ed.changed_keys, std::vector<std::string>{key}) << opt;
  }
}

TEST(CtOptionsApply, UbcItemsRefuseSuffixes) {
  auto e = bad_apply({"--numproc", "1K"}, 21);
  EXPECT_TRUE(mentions(e, "--numproc")) << e.message();
  EXPECT_TRUE(mentions(e, "1K")) << e.message();
  apply_bad({"--numfile", "10M"}, 21);
}

TEST(CtOptionsApply, UbcBadValues) {
  apply_bad({"--numproc", "300:200"}, 21);
  apply_bad({"--kmemsize", "lots"}, 21);
  apply_bad({"--privvmpages", "-1"}, 21);
  apply_bad({"--kmemsize", "1:2:3"}, 21);
  apply_bad({"--ram", "12Q"}, 21);
  apply_bad({"--ram", ""}, 21);
  apply_bad({"--swap", "1G:2G"}, 21);
  apply_bad({"--vm_overcommit", "-1"}, 21);
  apply_bad({"--vm_overcommit", "x"}, 21);
  apply_bad({"--vm_overcommit", "nan"}, 21);
}

TEST(CtOptionsApply, UbcAliasKeyIsReplaced) {
  ConfFile conf = ConfFile::parse("DCACHE=\"1:2\"\nIPTENTRIES=\"5\"\n");
  auto ed = apply_ok(conf, {"--dcachesize", "3:4", "--numiptent", "6"});
  EXPECT_EQ(conf.text(), "DCACHESIZE=\"3:4\"\nNUMIPTENT=\"6\"\n");
  EXPECT_NE(std::find(ed.changed_keys.begin(), ed.changed_keys.end(), "DCACHE"),
            ed.changed_keys.end());
}

TEST(CtOptionsApply, DiskQuotaInKilobytes) {
  EXPECT_EQ(saved({"--diskspace", "2G:2.2G"}, "DISKSPACE"), "2097152:2306867");
  EXPECT_EQ(saved({"--diskspace", "10G"}, "DISKSPACE"), "10485760:10485760");
  EXPECT_EQ(saved({"--diskspace", "1000"}, "DISKSPACE"), "1000:1000");  // bare = KB
  EXPECT_EQ(saved({"--diskspace", "1M:2048"}, "DISKSPACE"), "1024:2048");
  EXPECT_EQ(saved({"--diskinodes", "131072:144179"}, "DISKINODES"), "131072:144179");
  EXPECT_EQ(saved({"--diskinodes", "200000"}, "DISKINODES"), "200000:200000");
  EXPECT_EQ(saved({"--quotatime", "600"}, "QUOTATIME"), "600");
  EXPECT_EQ(saved({"--quotaugidlimit", "100"}, "QUOTAUGIDLIMIT"), "100");
  EXPECT_EQ(saved({"--diskquota", "no"}, "DISK_QUOTA"), "no");
  apply_bad({"--diskspace", "2G:1G"}, 21);
  EXPECT_EQ(saved({"--diskspace", "unlimited"}, "DISKSPACE"), "unlimited:unlimited");
  EXPECT_EQ(saved({"--diskinodes", "unlimited"}, "DISKINODES"), "unlimited:unlimited");
  EXPECT_EQ(saved({"--diskspace", "1G:unlimited"}, "DISKSPACE"), "1048576:unlimited");
  apply_bad({"--diskspace", "unlimited:1G"}, 21);
  apply_bad({"--diskspace", "1G:"}, 21);
  apply_bad({"--diskspace", ":1G"}, 21);
  apply_bad({"--diskspace", "1:2:3"}, 21);
  apply_bad({"--diskinodes", "x"}, 21);
  apply_bad({"--quotatime", "-1"}, 21);
  apply_bad({"--diskquota", "maybe"}, 21);
}

TEST(CtOptionsApply, Cpu) {
  EXPECT_EQ(saved({"--cpuunits", "1000"}, "CPUUNITS"), "1000");
  EXPECT_EQ(saved({"--cpuunits", "8"}, "CPUUNITS"), "8");
  EXPECT_EQ(saved({"--cpuunits", "500000"}, "CPUUNITS"), "500000");
  apply_bad({"--cpuunits", "7"}, 21);
  apply_bad({"--cpuunits", "500001"}, 21);
  apply_bad({"--cpuunits", "1e3"}, 21);
  EXPECT_EQ(saved({"--cpulimit", "200"}, "CPULIMIT"), "200");
  EXPECT_EQ(saved({"--cpulimit", "0"}, "CPULIMIT"), "0");
  // N% is percent of one CPU too: 25% caps at a quarter of one CPU, 200% at two.
  EXPECT_EQ(saved({"--cpulimit", "25%"}, "CPULIMIT"), "25");
  EXPECT_EQ(saved({"--cpulimit", "200%"}, "CPULIMIT"), "200");
  apply_bad({"--cpulimit", "%"}, 21);
  apply_bad({"--cpulimit", "-5"}, 21);
  EXPECT_EQ(saved({"--cpus", "2"}, "CPUS"), "2");
  apply_bad({"--cpus", "two"}, 21);
  EXPECT_EQ(saved({"--cpuweight", "5"}, "CPUWEIGHT"), "5");
}

TEST(CtOptionsApply, CpuAndNodeMasks) {
  EXPECT_EQ(saved({"--cpumask", "0-2,7"}, "CPUMASK"), "0-2,7");
  EXPECT_EQ(saved({"--cpumask", "7,0,1,2,3"}, "CPUMASK"), "0-3,7");
  EXPECT_EQ(saved({"--cpumask", "0-1,1-3"}, "CPUMASK"), "0-3");
  EXPECT_EQ(saved({"--cpumask", "all"}, "CPUMASK"), "all");
  EXPECT_EQ(saved({"--cpumask", "0-4095"}, "CPUMASK"), "all");
  EXPECT_EQ(saved({"--cpumask", "auto", "--nodemask", "0-1"}, "CPUMASK"), "auto");
  EXPECT_EQ(saved({"--cpumask", "0", "--nodemask", "1,0"}, "NODEMASK"), "0-1");
  for (const char* bad :
       {"", "3-1", "1,,2", ",1", "1,", "a", "-1", "4096", "0-99999999999999999999"})
    apply_bad({"--cpumask", bad}, 21);
}

TEST(CtOptionsApply, Io) {
  EXPECT_EQ(saved({"--ioprio", "0"}, "IOPRIO"), "0");
  EXPECT_EQ(saved({"--ioprio", "7"}, "IOPRIO"), "7");
  apply_bad({"--ioprio", "8"}, 21);
  EXPECT_EQ(saved({"--iolimit", "10"}, "IOLIMIT"), "10485760");  // legacy default unit MB/s
  EXPECT_EQ(saved({"--iolimit", "10M"}, "IOLIMIT"), "10485760");
  EXPECT_EQ(saved({"--iolimit", "512K"}, "IOLIMIT"), "524288");
  EXPECT_EQ(saved({"--iolimit", "100B"}, "IOLIMIT"), "100");
  EXPECT_EQ(saved({"--iolimit", "0"}, "IOLIMIT"), "0");
  EXPECT_EQ(saved({"--iolimit", "unlimited"}, "IOLIMIT"), "0");
  EXPECT_EQ(saved({"--iolimit", "2047"}, "IOLIMIT"), "2146435072");
  apply_bad({"--iolimit", "2G"}, 21);  // more than INT_MAX bytes/s
  apply_bad({"--iolimit", "1.5M"}, 21);
  apply_bad({"--iolimit", "fast"}, 21);
  EXPECT_EQ(saved({"--iopslimit", "300"}, "IOPSLIMIT"), "300");
  apply_bad({"--iopslimit", "-3"}, 21);
}

TEST(CtOptionsApply, MiscScalars) {
  EXPECT_EQ(saved({"--onboot", "yes"}, "ONBOOT"), "yes");
  EXPECT_EQ(saved({"--disabled", "no"}, "DISABLED"), "no");
  apply_bad({"--onboot", "true"}, 21);
  apply_bad({"--disabled", "YES"}, 21);
  EXPECT_EQ(saved({"--bootorder", "10"}, "BOOTORDER"), "10");
  apply_bad({"--bootorder", "high"}, 21);
  EXPECT_EQ(saved({"--stop-timeout", "0"}, "STOP_TIMEOUT"), "0");
  EXPECT_EQ(saved({"--stop-timeout", "300"}, "STOP_TIMEOUT"), "300");
  apply_bad({"--stop-timeout", "-1"}, 21);
  apply_bad({"--stop-timeout", "99999999999"}, 21);
  EXPECT_EQ(saved({"--description", "my web box, #1"}, "DESCRIPTION"), "my web box, #1");
  EXPECT_EQ(saved({"--name", "web-1"}, "NAME"), "web-1");
  EXPECT_EQ(saved({"--ostemplate", "debian-12-x86_64-minimal"}, "OSTEMPLATE"),
            "debian-12-x86_64-minimal");
  apply_bad({"--ostemplate", "../etc/passwd"}, 21);
  apply_bad({"--ostemplate", "a/b"}, 21);
  EXPECT_EQ(saved({"--mount_opts", "noatime,nodev"}, "MOUNT_OPTS"), "noatime,nodev");
  apply_bad({"--mount_opts", "a b"}, 21);
}

TEST(CtOptionsApply, NameErrorIs131) {
  auto e = bad_apply({"--name", "12:3"}, 131);
  EXPECT_TRUE(mentions(e, "12:3")) << e.message();
  apply_bad({"--name", "a/b"}, 131);
  // Digits only is a name, as in vzctl (issue 10).
  EXPECT_EQ(saved({"--name", "123"}, "NAME"), "123");
}

TEST(CtOptionsApply, PathsKeepLiteralVeid) {
  EXPECT_EQ(saved({"--root", "/vz/root/$VEID"}, "VE_ROOT"), "/vz/root/$VEID");
  EXPECT_EQ(saved({"--private", "/data/${VEID}/private"}, "VE_PRIVATE"), "/data/${VEID}/private");
  EXPECT_EQ(saved({"--root", "/srv/ct101"}, "VE_ROOT"), "/srv/ct101");
  apply_bad({"--root", "relative/$VEID"}, 21);
  apply_bad({"--root", "/vz/$HOME"}, 21);
  apply_bad({"--root", "/vz/$VEIDX"}, 21);
  EXPECT_EQ(saved({"--root", "/vz/$VEID.d"}, "VE_ROOT"), "/vz/$VEID.d");
  apply_bad({"--root", "/vz/$(id)"}, 21);
  apply_bad({"--private", "/vz/../etc"}, 21);
  apply_bad({"--private", "/vz/a b"}, 21);
}

TEST(CtOptionsApply, ShellUnsafeValuesAreRefused) {
  for (const char* v : {"a\"b", "$(reboot)", "`reboot`", "a\\b", "line\nbreak", "tab\there"}) {
    auto e = bad_apply({"--description", v}, 21);
    EXPECT_TRUE(mentions(e, "--description")) << e.message();
  }
}

TEST(CtOptionsApply, CreateOnlyKeys) {
  auto o =
      parse_ct_options(OptionContext::kCreate, {"--layout", "simfs", "--local_uid", "200000",
                                                "--local_gid", "300000", "--config", "vswap-1g"});
  ASSERT_TRUE(o.ok());
  ConfFile conf;
  auto r = apply_ct_options(*o, "101", conf);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(conf.text(), "VE_LAYOUT=\"simfs\"\nLOCAL_UID=\"200000\"\nLOCAL_GID=\"300000\"\n");
  for (Args a : std::vector<Args>{
           {"--layout", "ploop"}, {"--local_uid", "4294967295"}, {"--local_uid", "-1"}}) {
    auto p = parse_ct_options(OptionContext::kCreate, a);
    ASSERT_TRUE(p.ok());
    ConfFile c;
    auto ar = apply_ct_options(*p, "101", c);
    ASSERT_FALSE(ar.ok()) << a[0] << " " << a[1];
    EXPECT_EQ(ar.error().exit_status(), 21);
    EXPECT_EQ(c.text(), "");
  }
}

TEST(CtOptionsApply, UserpasswdIsNeverSaved) {
  ConfFile conf;
  auto ed = apply_ok(conf, {"--userpasswd", "root:s3cr:et", "--userpasswd", "bob:x"});
  EXPECT_EQ(conf.text(), "");
  EXPECT_TRUE(ed.changed_keys.empty());
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(ed.userpasswd, (std::vector<P>{{"root", "s3cr:et"}, {"bob", "x"}}));
  for (const char* bad : {"root", "root:", ":pw", "-x:pw", "a b:pw"})
    apply_bad({"--userpasswd", bad}, 21);
  auto e = bad_apply({"--userpasswd", "root:pw\nx"}, 21);
  EXPECT_FALSE(mentions(e, "pw")) << "password leaked: " << e.message();
  auto f = bad_apply({"--userpasswd", "forgotcolon"}, 21);
  EXPECT_FALSE(mentions(f, "forgotcolon")) << "password leaked: " << f.message();
  EXPECT_TRUE(mentions(f, "--userpasswd")) << f.message();
}

TEST(CtOptionsApply, CapabilitiesMergeWithOld) {
  ConfFile conf = ConfFile::parse("CAPABILITY=\"NET_ADMIN:on SYS_TIME:off\"\n");
  auto ed = apply_ok(conf, {"--capability", "sys_time:on,chown:off"});
  EXPECT_EQ(conf.get("CAPABILITY"), "CHOWN:off NET_ADMIN:on SYS_TIME:on");
  EXPECT_EQ(ed.need_restart, std::vector<std::string>{"CAPABILITY"});
  apply_bad({"--capability", "net_admin"}, 21);
  apply_bad({"--capability", "net_admin:maybe"}, 21);
  auto e = bad_apply({"--capability", "fly:on"}, 21);
  EXPECT_TRUE(mentions(e, "fly")) << e.message();
  EXPECT_EQ(saved({"--capability", "setveid:on bpf:on"}, "CAPABILITY"), "SETVEID:on BPF:on");
}

TEST(CtOptionsApply, UnchangedCapabilityNeedsNoRestart) {
  ConfFile conf = ConfFile::parse("CAPABILITY=\"NET_ADMIN:on\"\n");
  auto ed = apply_ok(conf, {"--capability", "net_admin:on"});
  EXPECT_TRUE(ed.need_restart.empty());
  EXPECT_EQ(ed.changed_keys, std::vector<std::string>{"CAPABILITY"});
}

TEST(CtOptionsApply, FeaturesNetfilterIptables) {
  ConfFile conf = ConfFile::parse("FEATURES=\"ppp:on\"\n");
  auto ed = apply_ok(conf, {"--features", "nfs:on,ppp:off", "--netfilter", "full", "--iptables",
                            "iptable_nat ip_tables ipt_REJECT"});
  EXPECT_EQ(conf.get("FEATURES"), "nfs:on ppp:off");
  EXPECT_EQ(conf.get("NETFILTER"), "full");
  EXPECT_EQ(conf.get("IPTABLES"), "ip_tables ipt_REJECT iptable_nat");
  EXPECT_EQ(ed.need_restart, (std::vector<std::string>{"FEATURES", "NETFILTER", "IPTABLES"}));
  EXPECT_EQ(ed.not_enforced, std::vector<std::string>{"IPTABLES"});
  apply_bad({"--features", "warp:on"}, 21);
  apply_bad({"--netfilter", "some"}, 21);
  apply_bad({"--iptables", "ipt_bogus"}, 21);
}

TEST(CtOptionsApply, QuotaugidlimitNeedsRestartOnlyWhenToggled) {
  ConfFile conf = ConfFile::parse("QUOTAUGIDLIMIT=\"100\"\n");
  EXPECT_TRUE(apply_ok(conf, {"--quotaugidlimit", "200"}).need_restart.empty());
  EXPECT_EQ(apply_ok(conf, {"--quotaugidlimit", "0"}).need_restart,
            std::vector<std::string>{"QUOTAUGIDLIMIT"});
  ConfFile fresh;
  EXPECT_EQ(apply_ok(fresh, {"--quotaugidlimit", "5"}).need_restart,
            std::vector<std::string>{"QUOTAUGIDLIMIT"});
}

TEST(CtOptionsApply, DevnodesAndDevices) {
  ConfFile conf = ConfFile::parse("DEVNODES=\"net/tun:rw fuse:r \"\n");
  apply_ok(conf, {"--devnodes", "fuse:rw", "--devnodes", "net/tun:none", "--devnodes", "sdb:wrq"});
  EXPECT_EQ(conf.get("DEVNODES"), "fuse:rw sdb:rwq ");
  EXPECT_EQ(saved({"--devices", "c:10:200:rw"}, "DEVICES"), "c:10:200:rw ");
  EXPECT_EQ(saved({"--devices", "b:8:all:r c:1:3:rw"}, "DEVICES"), "b:8:all:r c:1:3:rw ");
  ConfFile dev = ConfFile::parse("DEVICES=\"c:10:200:rw \"\n");
  apply_ok(dev, {"--devices", "c:10:200:none"});
  EXPECT_EQ(dev.get("DEVICES"), "");
  for (const char* bad : {"tun", "tun:x", "/dev/tun:rw", "../tun:rw", "tun:", ":rw"})
    apply_bad({"--devnodes", bad}, 21);
  for (const char* bad : {"c:10:rw", "x:1:2:rw", "b:7:0:rw", "c:a:1:rw", "c:1:2:rwx", "c:1:2:3:rw"})
    apply_bad({"--devices", bad}, 21);
}

TEST(CtOptionsApply, MeminfoAndPci) {
  EXPECT_EQ(saved({"--meminfo", "none"}, "MEMINFO"), "none");
  EXPECT_EQ(saved({"--meminfo", "pages:1000"}, "MEMINFO"), "pages:1000");
  EXPECT_EQ(saved({"--meminfo", "privvmpages:2"}, "MEMINFO"), "privvmpages:2");
  for (const char* bad : {"pages", "pages:0", "pages:x", "none:1", "bytes:5"})
    apply_bad({"--meminfo", bad}, 21);
  ConfFile conf;
  apply_ok(conf, {"--pci_add", "1:0.0", "--pci_add", "0001:02:03.1", "--pci_del", "0000:01:00.0"});
  EXPECT_EQ(conf.get("PCI"), "0001:02:03.1");
  apply_bad({"--pci_add", "zz"}, 21);
}

TEST(CtOptionsApply, NotEnforcedKeysAreSavedAndListed) {
  ConfFile conf;
  auto ed = apply_ok(conf, {"--kmemsize", "10M", "--tcpsndbuf", "1M", "--meminfo", "none", "--ram",
                            "1G", "--numproc", "100", "--cpuunits", "100"});
  EXPECT_EQ(ed.not_enforced, (std::vector<std::string>{"KMEMSIZE", "TCPSNDBUF", "MEMINFO"}));
  EXPECT_EQ(not_enforced_warning(ed),
            "Warning: KMEMSIZE, TCPSNDBUF, MEMINFO: saved but not enforced on this kernel");
  EXPECT_EQ(not_enforced_warning(ConfigEdit{}), "");
  EXPECT_TRUE(conf.has("KMEMSIZE"));
  EXPECT_TRUE(is_not_enforced_key("DCACHESIZE"));
  EXPECT_TRUE(is_not_enforced_key("DISKSPACE"));  // no disk quota yet
  EXPECT_FALSE(is_not_enforced_key("PHYSPAGES"));
  EXPECT_FALSE(is_not_enforced_key("NUMPROC"));
  // rlimits and IPC sysctls enforce these (runtime/ct_limits.h)
  for (const char* k : {"NUMFILE", "LOCKEDPAGES", "SHMPAGES", "NUMPTY", "IOLIMIT", "IOPSLIMIT"})
    EXPECT_FALSE(is_not_enforced_key(k)) << k;
}

TEST(CtOptionsApply, ChangedKeysInFirstTouchOrder) {
  ConfFile conf;
  auto ed =
      apply_ok(conf, {"--hostname", "a", "--ram", "1G", "--hostname", "b", "--cpuunits", "100"});
  EXPECT_EQ(ed.changed_keys, (std::vector<std::string>{"HOSTNAME", "PHYSPAGES", "CPUUNITS"}));
  EXPECT_EQ(conf.get("HOSTNAME"), "b");  // the last one wins
}

TEST(CtOptionsApply, CommentsAndOtherKeysKeptInPlace) {
  ConfFile conf =
      ConfFile::parse("# header\nONBOOT=\"no\"\n# RAM\nPHYSPAGES=\"0:1\"\nUNKNOWN_KEY=\"x\"\n");
  apply_ok(conf, {"--ram", "256M", "--onboot", "yes", "--hostname", "h.example"});
  EXPECT_EQ(conf.text(),
            "# header\nONBOOT=\"yes\"\n# "
            "RAM\nPHYSPAGES=\"0:65536\"\nUNKNOWN_KEY=\"x\"\nHOSTNAME=\"h.example\"\n");
}

TEST(CtOptionsApply, ConfUntouchedWhenALaterOptionFails) {
  const std::string base = "# header\nHOSTNAME=\"old\"\nIP_ADDRESS=\"10.0.0.1\"\n";
  auto e = bad_apply({"--hostname", "new", "--ipadd", "10.0.0.2", "--cpuunits", "1"}, 21, base);
  EXPECT_TRUE(mentions(e, "--cpuunits")) << e.message();
  apply_bad({"--hostname", "new", "--ipadd", "10.0.0.300"}, 71, base);
  apply_bad({"--hostname", "new", "--ifname", "eth9", "--bridge", "br0"}, 20, base);
}

// ---------------------------------------------------------------- network

TEST(CtOptionsNet, IpaddIpdelInArgvOrder) {
  ConfFile conf = ConfFile::parse("IP_ADDRESS=\"10.0.0.1 10.0.0.2\"\n");
  apply_ok(conf, {"--ipadd", "10.0.0.3", "--ipdel", "10.0.0.1", "--ipadd", "10.0.0.1", "--ipdel",
                  "10.0.0.3"});
  EXPECT_EQ(conf.get("IP_ADDRESS"), "10.0.0.2 10.0.0.1");
}

TEST(CtOptionsNet, IpdelAllThenAdd) {
  ConfFile conf = ConfFile::parse("IP_ADDRESS=\"10.0.0.1 10.0.0.2\"\n");
  apply_ok(conf, {"--ipdel", "all", "--ipadd", "192.0.2.5"});
  EXPECT_EQ(conf.get("IP_ADDRESS"), "192.0.2.5");
  apply_ok(conf, {"--ipdel", "all"});
  EXPECT_EQ(conf.get("IP_ADDRESS"), "");
  EXPECT_TRUE(conf.has("IP_ADDRESS"));
}

TEST(CtOptionsNet, IpCanonicalFormsAndPrefixes) {
  EXPECT_EQ(saved({"--ipadd", "2001:DB8:0:0::1"}, "IP_ADDRESS"), "2001:db8::1");
  EXPECT_EQ(saved({"--ipadd", "10.0.0.2/24"}, "IP_ADDRESS"), "10.0.0.2/24");
  EXPECT_EQ(saved({"--ipadd", "2001:db8::5/64"}, "IP_ADDRESS"), "2001:db8::5/64");
  EXPECT_EQ(saved({"--ipadd", "10.0.0.1 10.0.0.2"}, "IP_ADDRESS"), "10.0.0.1 10.0.0.2");
  EXPECT_EQ(saved({"--ipadd", "10.0.0.1", "--ipadd", "10.0.0.1"}, "IP_ADDRESS"), "10.0.0.1");
  EXPECT_EQ(saved({"--ipadd", "10.0.0.1", "--ipadd", "10.0.0.1/16"}, "IP_ADDRESS"), "10.0.0.1/16");
  EXPECT_EQ(saved({"--ipadd", "10.0.0.1/16", "--ipdel", "10.0.0.1"}, "IP_ADDRESS"), "");
  EXPECT_EQ(saved({"--ipadd", "10.0.0.1", "--ipdel", "0.0.0.0"}, "IP_ADDRESS"),
            "10.0.0.1");  // skipped as vzctl does
}

// Addresses a VPS can never hold are refused at once (71), naming the class; --ipadd_force
// accepts only the reserved blocks 0.0.0.0/8 and 240.0.0.0/4. vzctl skipped 0.0.0.0 silently.
TEST(CtOptionsNet, NonUnicastAddressesAreExit71) {
  for (const char* bad :
       {"0.0.0.0", "::", "127.0.0.5", "::1", "224.0.0.1", "ff02::1", "255.255.255.255",
        "169.254.1.1", "fe80::1", "::ffff:10.0.0.1", "0.1.2.3/8", "240.0.0.1"}) {
    auto e = bad_apply({"--ipadd", bad}, 71);
    EXPECT_TRUE(mentions(e, "--ipadd")) << e.message();
    EXPECT_TRUE(mentions(e, " is ")) << e.message();
    apply_bad({"--ipadd", std::string("10.0.0.1 ") + bad}, 71);  // all or nothing
  }
  for (const char* bad :
       {"127.0.0.5", "224.0.0.1", "169.254.1.1", "fe80::1", "::1", "0.0.0.0", "255.255.255.255"})
    apply_bad({"--ipadd_force", bad}, 71);
  EXPECT_TRUE(mentions(bad_apply({"--ipadd", "240.0.0.1"}, 71), "--ipadd_force"));
  EXPECT_FALSE(mentions(bad_apply({"--ipadd", "127.0.0.5"}, 71), "--ipadd_force"));
}

TEST(CtOptionsNet, IpaddForceIsSavedPerAddressAndFollowsIpdel) {
  ConfFile conf = ConfFile::parse("IP_ADDRESS=\"10.0.0.1\"\n");
  apply_ok(conf, {"--ipadd_force", "10.0.0.2 240.0.0.7/24", "--ipadd", "10.0.0.3"});
  EXPECT_EQ(conf.get("IP_ADDRESS"), "10.0.0.1 10.0.0.2 240.0.0.7/24 10.0.0.3");
  EXPECT_EQ(conf.get("IP_ADDRESS_FORCED"), "10.0.0.2 240.0.0.7");
  apply_ok(conf, {"--ipadd-force", "10.0.0.2"});  // the other spelling; no duplicate
  EXPECT_EQ(conf.get("IP_ADDRESS_FORCED"), "10.0.0.2 240.0.0.7");
  apply_ok(conf, {"--ipdel", "10.0.0.2"});
  EXPECT_EQ(conf.get("IP_ADDRESS"), "10.0.0.1 240.0.0.7/24 10.0.0.3");
  EXPECT_EQ(conf.get("IP_ADDRESS_FORCED"), "240.0.0.7");
  apply_ok(conf, {"--ipdel", "all"});
  EXPECT_FALSE(conf.has("IP_ADDRESS_FORCED"));
  // A plain --ipadd never writes the key.
  ConfFile plain;
  apply_ok(plain, {"--ipadd", "10.0.0.1"});
  EXPECT_FALSE(plain.has("IP_ADDRESS_FORCED"));
  // create accepts it too.
  auto o = parse_ct_options(OptionContext::kCreate, {"--ipadd_force", "10.0.0.9"});
  ASSERT_TRUE(o.ok()) << o.error().message();
}

TEST(CtOptionsNet, BadIpIsExit71) {
  for (const char* bad :
       {"10.0.0.256", "10.0.0", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "2001:db8::1/129",
        "host.example", "010.0.0.1", "1.2.3.4 5.6.7", "::g", "/24", ""}) {
    auto e = bad_apply({"--ipadd", bad}, 71);
    EXPECT_TRUE(mentions(e, "--ipadd")) << e.message();
  }
  apply_bad({"--ipdel", "10.0.0.999"}, 71);
}

TEST(CtOptionsNet, Hostname) {
  EXPECT_EQ(saved({"--hostname", "ct101.example.org"}, "HOSTNAME"), "ct101.example.org");
  EXPECT_EQ(saved({"--hostname", "a"}, "HOSTNAME"), "a");
  EXPECT_EQ(saved({"--hostname", "1host-2"}, "HOSTNAME"), "1host-2");
  std::string label63(63, 'a');
  EXPECT_EQ(saved({"--hostname", label63 + ".b"}, "HOSTNAME"), label63 + ".b");
  for (std::string bad : std::vector<std::string>{"", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b",
                                                  "a/b", std::string(64, 'a'), "ü.example"})
    apply_bad({"--hostname", bad}, 21);
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "x";
  apply_bad({"--hostname", long_name}, 21);
}

TEST(CtOptionsNet, NameserverReplacesListRepeatAccumulates) {
  ConfFile conf = ConfFile::parse("NAMESERVER=\"192.0.2.1 192.0.2.2\"\n");
  apply_ok(conf, {"--nameserver", "8.8.8.8", "--nameserver", "2001:4860:4860::8888"});
  EXPECT_EQ(conf.get("NAMESERVER"), "8.8.8.8 2001:4860:4860::8888");
  apply_ok(conf, {"--nameserver", "inherit"});
  EXPECT_EQ(conf.get("NAMESERVER"), "inherit");
  apply_bad({"--nameserver", "dns.example"}, 21);
  apply_bad({"--nameserver", "8.8.8.8/32"}, 21);
}

TEST(CtOptionsNet, Searchdomain) {
  ConfFile conf = ConfFile::parse("SEARCHDOMAIN=\"old.example\"\n");
  apply_ok(conf, {"--searchdomain", "a.example b.example", "--searchdomain", "c.example"});
  EXPECT_EQ(conf.get("SEARCHDOMAIN"), "a.example b.example c.example");
  EXPECT_EQ(saved({"--searchdomain", "inherit"}, "SEARCHDOMAIN"), "inherit");
  apply_bad({"--searchdomain", "bad_domain"}, 21);
}

const std::regex kMacRe("00:18:51:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}");

std::map<std::string, std::string> netif_fields(const std::string& entry) {
  std::map<std::string, std::string> m;
  std::stringstream ss(entry);
  std::string kv;
  while (std::getline(ss, kv, ',')) {
    auto eq = kv.find('=');
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

std::vector<std::string> netif_entries(const ConfFile& conf) {
  std::vector<std::string> out;
  std::stringstream ss(conf.get_or("NETIF", ""));
  std::string e;
  while (std::getline(ss, e, ';')) out.push_back(e);
  return out;
}

TEST(CtOptionsNet, NetifAddGeneratesNamesAndMacs) {
  ConfFile conf;
  apply_ok(conf, {"--netif_add", "eth0"});
  auto entries = netif_entries(conf);
  ASSERT_EQ(entries.size(), 1u);
  auto f = netif_fields(entries[0]);
  EXPECT_EQ(f["ifname"], "eth0");
  EXPECT_EQ(f["host_ifname"], "veth101.0");
  EXPECT_TRUE(std::regex_match(f["mac"], kMacRe)) << f["mac"];
  EXPECT_TRUE(std::regex_match(f["host_mac"], kMacRe)) << f["host_mac"];
  EXPECT_EQ(f.count("bridge"), 0u);
  // Field order as vzctl's store_netif(): ifname, bridge, mac, host_ifname, host_mac.
  EXPECT_TRUE(std::regex_match(
      entries[0], std::regex("ifname=eth0,mac=[^,]+,host_ifname=veth101.0,host_mac=[^,]+")))
      << entries[0];
}

TEST(CtOptionsNet, NetifAddAllFieldsAndSecondDevice) {
  ConfFile conf;
  apply_ok(conf, {"--netif_add", "eth0,00:18:51:aa:bb:cc,veth101.0,00:18:51:dd:ee:ff,vmbr0",
                  "--netif_add", "eth1,,,,br1"});
  auto entries = netif_entries(conf);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0],
            "ifname=eth0,bridge=vmbr0,mac=00:18:51:AA:BB:CC,host_ifname=veth101.0,host_mac=00:18:"
            "51:DD:EE:FF");
  auto f = netif_fields(entries[1]);
  EXPECT_EQ(f["ifname"], "eth1");
  EXPECT_EQ(f["bridge"], "br1");
  EXPECT_EQ(f["host_ifname"], "veth101.1");
  EXPECT_TRUE(std::regex_match(f["mac"], kMacRe));
}

TEST(CtOptionsNet, NetifHostNameCollisionIsAvoided) {
  ConfFile conf;
  apply_ok(conf, {"--netif_add", "eth0", "--netif_add", "wan"}, "202");
  auto entries = netif_entries(conf);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(netif_fields(entries[0])["host_ifname"], "veth202.0");
  EXPECT_EQ(netif_fields(entries[1])["host_ifname"], "veth202.1");
}

TEST(CtOptionsNet, NetifLongCtidStillFitsIfnamsiz) {
  ConfFile conf;
  apply_ok(conf, {"--netif_add", "eth0"}, "2147483644");
  auto f = netif_fields(netif_entries(conf).at(0));
  EXPECT_LE(f["host_ifname"].size(), 15u);
  EXPECT_EQ(f["host_ifname"], "v2147483644.0");
}

TEST(CtOptionsNet, NetifMacsAreRandom) {
  ConfFile a, b;
  apply_ok(a, {"--netif_add", "eth0"});
  apply_ok(b, {"--netif_add", "eth0"});
  EXPECT_NE(netif_fields(netif_entries(a)[0])["mac"], netif_fields(netif_entries(b)[0])["mac"]);
}

TEST(CtOptionsNet, NetifBadValues) {
  const std::string base =
      "NETIF=\"ifname=eth0,mac=00:18:51:00:00:01,host_ifname=veth101.0,host_mac=00:18:51:00:00:"
      "02\"\n";
  apply_bad({"--netif_add", "eth0"}, 21, base);                    // exists
  apply_bad({"--netif_add", "eth1,zz:18:51:00:00:01"}, 21, base);  // bad MAC
  apply_bad({"--netif_add", "eth1,01:18:51:00:00:01"}, 21, base);  // multicast MAC
  apply_bad({"--netif_add", "eth1,00:18:51:00:00"}, 21, base);     // short MAC
  apply_bad({"--netif_add", "eth1,,veth101.0"}, 21, base);         // host name taken
  apply_bad({"--netif_add", "averyveryverylongname"}, 21, base);
  apply_bad({"--netif_add", "eth1,,,,,extra"}, 21, base);
  apply_bad({"--netif_add", "eth1,,,,bad/bridge"}, 21, base);
  apply_bad({"--netif_add", ""}, 21, base);
}

TEST(CtOptionsNet, NetifDel) {
  ConfFile conf;
  apply_ok(conf, {"--netif_add", "eth0", "--netif_add", "eth1"});
  apply_ok(conf, {"--netif_del", "eth0"});
  auto entries = netif_entries(conf);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(netif_fields(entries[0])["ifname"], "eth1");
  apply_ok(conf, {"--netif_del", "eth7"});  // not there: nothing to do
  EXPECT_EQ(netif_entries(conf).size(), 1u);
  apply_ok(conf, {"--netif_del", "all"});
  EXPECT_EQ(conf.get("NETIF"), "");
}

TEST(CtOptionsNet, IfnameEditsExistingVeth) {
  ConfFile conf = ConfFile::parse(
      "NETIF=\"ifname=eth0,mac=00:18:51:00:00:01,host_ifname=veth101.0,host_mac=00:18:51:00:00:"
      "02\"\n");
  apply_ok(conf, {"--ifname", "eth0", "--bridge", "vmbr1", "--mac", "00:18:51:ab:cd:ef",
                  "--host_ifname", "vx0", "--host_mac", "00:18:51:12:34:56", "--mac_filter", "on"});
  EXPECT_EQ(conf.get("NETIF"),
            "ifname=eth0,bridge=vmbr1,mac=00:18:51:AB:CD:EF,host_ifname=vx0,host_mac=00:18:51:12:"
            "34:56,mac_"
            "filter=on");
}

TEST(CtOptionsNet, IfnameAppliesToADeviceAddedInTheSameCall) {
  ConfFile conf;
  apply_ok(conf, {"--bridge", "br9", "--netif_add", "eth0", "--ifname", "eth0"});
  EXPECT_EQ(netif_fields(netif_entries(conf).at(0))["bridge"], "br9");
}

TEST(CtOptionsNet, IfnameErrors) {
  const std::string base =
      "NETIF=\"ifname=eth0,host_ifname=veth101.0;ifname=eth1,host_ifname=veth101.1\"\n";
  auto e = bad_apply({"--ifname", "eth5", "--bridge", "br0"}, 20, base);
  EXPECT_TRUE(mentions(e, "eth5")) << e.message();
  apply_bad({"--ifname", "eth0", "--mac", "nope"}, 21, base);
  apply_bad({"--ifname", "eth0", "--host_mac", "nope"}, 21, base);
  apply_bad({"--ifname", "eth0", "--mac_filter", "yes"}, 21, base);
  apply_bad({"--ifname", "eth0", "--host_ifname", "veth101.1"}, 21, base);  // taken by eth1
  apply_bad({"--ifname", "eth0", "--bridge", "a b"}, 21, base);
  apply_bad({"--netif_add", "eth2"}, 21, "NETIF=\"bridge=br0\"\n");  // config entry without ifname
}

TEST(CtOptionsNet, NetifKeepsUnknownFields) {
  ConfFile conf = ConfFile::parse("NETIF=\"ifname=eth0,host_ifname=veth101.0,future=1\"\n");
  apply_ok(conf, {"--ifname", "eth0", "--bridge", "br0"});
  EXPECT_EQ(conf.get("NETIF"), "ifname=eth0,bridge=br0,host_ifname=veth101.0,future=1");
}

TEST(CtOptionsNet, NetdevAndRate) {
  ConfFile conf;
  apply_ok(conf, {"--netdev_add", "eth3", "--netdev_add", "eth4", "--netdev_del", "eth3"});
  EXPECT_EQ(conf.get("NETDEV"), "eth4");
  for (const char* bad : {"venet0", "lo", "tun0", "tap1", "a/b"})
    apply_bad({"--netdev_add", bad}, 21);
  ConfFile r;
  apply_ok(r, {"--rate", "eth0:1:8000", "--rate", "*:2:100", "--rate", "eth0:1:9000"});
  EXPECT_EQ(r.get("RATE"), "*:2:100 eth0:1:9000");
  for (const char* bad :
       {"eth0:1", "eth0:x:1", "eth0:1:-5", "a b:1:2", "eth0:1:2:3", "*:1:17179870", ""})
    apply_bad({"--rate", bad}, 21);
  ConfFile b;
  apply_ok(b, {"--ratebound", "yes"});
  EXPECT_EQ(b.get("RATEBOUND"), "yes");
  apply_ok(b, {"--ratebound", "no"});
  EXPECT_EQ(b.get("RATEBOUND"), "no");
  apply_bad({"--ratebound", "maybe"}, 21);
}

TEST(CtOptionsNet, RateOfOtherClassesIsSavedButNotEnforced) {
  ConfFile r;
  auto ed = apply_ok(r, {"--rate", "*:1:1000", "--rate", "*:2:500"});
  EXPECT_EQ(r.get("RATE"), "*:1:1000 *:2:500");
  ASSERT_EQ(ed.not_enforced.size(), 1u);
  EXPECT_NE(ed.not_enforced[0].find("*:2:500"), std::string::npos);
}

// ---------------------------------------------------------------- whole commands

TEST(CtOptionsApply, TypicalSetCommandSavedAsVzctlWould) {
  ConfFile conf = ConfFile::parse("# sample\nPHYSPAGES=\"0:65536\"\nSWAPPAGES=\"0:131072\"\n");
  auto ed = apply_ok(conf, {"--ram",        "1G",
                            "--swap",       "2G",
                            "--diskspace",  "10G:11G",
                            "--cpuunits",   "1000",
                            "--ipadd",      "192.0.2.10",
                            "--nameserver", "192.0.2.1",
                            "--hostname",   "ct101.example.org",
                            "--onboot",     "yes",
                            "--devnodes",   "net/tun:rw",
                            "--capability", "net_admin:on"});
  EXPECT_EQ(conf.text(),
            "# sample\n"
            "PHYSPAGES=\"0:262144\"\n"
            "SWAPPAGES=\"0:524288\"\n"
            "DISKSPACE=\"10485760:11534336\"\n"
            "CPUUNITS=\"1000\"\n"
            "IP_ADDRESS=\"192.0.2.10\"\n"
            "NAMESERVER=\"192.0.2.1\"\n"
            "HOSTNAME=\"ct101.example.org\"\n"
            "ONBOOT=\"yes\"\n"
            "DEVNODES=\"net/tun:rw \"\n"
            "CAPABILITY=\"NET_ADMIN:on\"\n");
  EXPECT_EQ(ed.need_restart, std::vector<std::string>{"CAPABILITY"});
  EXPECT_EQ(ed.not_enforced, std::vector<std::string>{"DISKSPACE"});  // no disk quota yet
}

TEST(CtOptionsApply, NoItemsChangesNothing) {
  ConfFile conf = ConfFile::parse("A=\"1\"\n");
  auto ed = apply_ok(conf, {});
  EXPECT_EQ(conf.text(), "A=\"1\"\n");
  EXPECT_TRUE(ed.changed_keys.empty());
}

TEST(CtOptionsApply, NonConfigItemsAreValidatedOnly) {
  ConfFile conf;
  auto o = set_ok(
      {"--applyconfig", "vswap-1g", "--applyconfig_map", "name", "--skip_arpdetect", "--save"});
  auto r = apply_ct_options(o, "101", conf);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(conf.text(), "");
  parse_bad(OptionContext::kSet, {"--applyconfig", "../../etc/shadow"}, 21);
  parse_bad(OptionContext::kCreate, {"--config", "../x"}, 21);
  apply_bad({"--applyconfig_map", "ip"}, 21);
}

// ---------------------------------------------------------------- etc/samples

// Each shipped sample must equal what `set --save` writes for OpenVZ's own sample values
// (kolyshkin/vzctl etc/conf/, human units), key for key, with nothing extra.
void expect_sample_matches(const std::string& name, Args human) {
  auto sample =
      ConfFile::load(std::string(BERTH_SOURCE_DIR) + "/etc/samples/ve-" + name + ".conf-sample");
  ASSERT_TRUE(sample.ok()) << name << ": " << sample.error().message();
  EXPECT_TRUE(sample->malformed_lines().empty()) << name;
  EXPECT_TRUE(sample->duplicate_keys().empty()) << name;
  EXPECT_FALSE(sample->has("VE_LAYOUT")) << name;
  ASSERT_FALSE(sample->lines().empty());
  EXPECT_EQ(sample->lines().front().raw.rfind("#", 0), 0u) << name << ": no comment header";
  ConfFile want;
  apply_ok(want, std::move(human));
  auto keys = want.keys(), got = sample->keys();
  std::sort(keys.begin(), keys.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, keys) << name;
  for (const auto& k : want.keys()) EXPECT_EQ(sample->get(k), want.get(k)) << name << " " << k;
}

// OpenVZ's vswap samples plus Berth's NUMPROC and NUMPTY (docs/security/limits.md: no CT made
// from a shipped sample is without a process or pty bound).
Args vswap_args(const std::string& ram, const std::string& swap, const std::string& numproc) {
  return {"--physpages",  "0:" + ram,      "--swappages", "0:" + swap, "--diskspace", "2G:2.2G",
          "--diskinodes", "131072:144179", "--quotatime", "0",         "--cpuunits",  "1000",
          "--netfilter",  "stateless",     "--numproc",   numproc,     "--numpty",    "64"};
}

TEST(CtOptionsSamples, VswapSamples) {
  expect_sample_matches("vswap-256m", vswap_args("256M", "512M", "512"));
  expect_sample_matches("vswap-512m", vswap_args("512M", "1G", "1024"));
  expect_sample_matches("vswap-1024m", vswap_args("1G", "2G", "2048"));
  expect_sample_matches("vswap-1g", vswap_args("1G", "2G", "2048"));
  expect_sample_matches("vswap-2g", vswap_args("2G", "4G", "4096"));
  expect_sample_matches("vswap-4g", vswap_args("4G", "8G", "8192"));
}

// The built-in defaults a CT gets at start for keys its config lacks are the default sample's.
TEST(CtOptionsSamples, SafeDefaultsAreTheDefaultSample) {
  auto sample = ConfFile::load(std::string(BERTH_SOURCE_DIR) + "/etc/samples/ve-" +
                               std::string(kDefaultConfigSample) + ".conf-sample");
  ASSERT_TRUE(sample.ok());
  for (const char* k : {"PHYSPAGES", "SWAPPAGES", "NUMPROC", "NUMPTY"})
    EXPECT_EQ(sample->get(k), safe_default(k)) << k;
  EXPECT_EQ(safe_default("INOTIFY_INSTANCES"), "128");
  EXPECT_EQ(safe_default("CPULIMIT"), std::nullopt);
}

TEST(CtOptionsSamples, RamOptionGivesTheSameAsTheSample) {
  EXPECT_EQ(saved({"--ram", "256M"}, "PHYSPAGES"), "0:65536");
  EXPECT_EQ(saved({"--swap", "8G"}, "SWAPPAGES"), "0:2097152");
}

TEST(CtOptionsSamples, Basic) {
  expect_sample_matches("basic", {"--kmemsize",     "14372700:14790164",
                                  "--lockedpages",  "2048:2048",
                                  "--privvmpages",  "65536:69632",
                                  "--shmpages",     "21504:21504",
                                  "--numproc",      "240:240",
                                  "--physpages",    "0:unlimited",
                                  "--vmguarpages",  "33792:unlimited",
                                  "--oomguarpages", "26112:unlimited",
                                  "--numtcpsock",   "360:360",
                                  "--numflock",     "188:206",
                                  "--numpty",       "16:16",
                                  "--numsiginfo",   "256:256",
                                  "--tcpsndbuf",    "1720320:2703360",
                                  "--tcprcvbuf",    "1720320:2703360",
                                  "--othersockbuf", "1126080:2097152",
                                  "--dgramrcvbuf",  "262144:262144",
                                  "--numothersock", "360:360",
                                  "--dcachesize",   "3409920:3624960",
                                  "--numfile",      "9312:9312",
                                  "--avnumproc",    "180:180",
                                  "--numiptent",    "128:128",
                                  "--diskspace",    "2G:2.2G",
                                  "--diskinodes",   "131072:144179",
                                  "--quotatime",    "0",
                                  "--cpuunits",     "1000",
                                  "--netfilter",    "stateless"});
}

TEST(CtOptionsSamples, Light) {
  expect_sample_matches("light", {"--avnumproc",    "15:15",
                                  "--numproc",      "40:40",
                                  "--numtcpsock",   "40:40",
                                  "--numothersock", "40:40",
                                  "--vmguarpages",  "1725:unlimited",
                                  "--kmemsize",     "1740800:1847296",
                                  "--tcpsndbuf",    "159744:262144",
                                  "--tcprcvbuf",    "159744:262144",
                                  "--othersockbuf", "135168:237568",
                                  "--dgramrcvbuf",  "135168:196608",
                                  "--oomguarpages", "1725:unlimited",
                                  "--lockedpages",  "4:4",
                                  "--shmpages",     "1152:1152",
                                  "--privvmpages",  "7680:8448",
                                  "--numfile",      "512:512",
                                  "--numflock",     "50:60",
                                  "--numpty",       "4:4",
                                  "--numsiginfo",   "256:256",
                                  "--dcachesize",   "196608:202752",
                                  "--physpages",    "0:unlimited",
                                  "--numiptent",    "16:16",
                                  "--diskspace",    "1G:1.1G",
                                  "--diskinodes",   "65536:72090",
                                  "--quotatime",    "0",
                                  "--cpuunits",     "250",
                                  "--netfilter",    "stateless"});
}

}  // namespace
}  // namespace berth::cli
