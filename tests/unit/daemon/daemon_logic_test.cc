// berthd's pure logic: routing, targets, error mapping, request validation (limits_map), the
// login limiter, sessions and cookies, the event hub's filter, history downsampling, metrics.
#include <gtest/gtest.h>

#include "daemon/events.h"
#include "daemon/guard.h"
#include "daemon/history.h"
#include "daemon/http.h"
#include "daemon/limits_map.h"
#include "daemon/metrics.h"
#include "daemon/router.h"

namespace berth::daemon {
namespace {

TEST(Router, MatchesRoutesAndParams) {
  auto r = route("POST", "/v1/cts/101/start");
  ASSERT_TRUE(r.match);
  EXPECT_EQ(r.match->id, RouteId::kCtStart);
  EXPECT_EQ(r.match->params.at("ctid"), "101");
  r = route("GET", "/v1/cts/101");
  ASSERT_TRUE(r.match);
  EXPECT_EQ(r.match->id, RouteId::kCtGet);
  r = route("DELETE", "/v1/jobs/j-1");
  ASSERT_TRUE(r.match);
  EXPECT_EQ(r.match->id, RouteId::kJobCancel);
  EXPECT_EQ(r.match->params.at("id"), "j-1");
  EXPECT_EQ(route("GET", "/metrics").match->id, RouteId::kMetrics);
  EXPECT_EQ(route("HEAD", "/v1/cts").match->id, RouteId::kCtList);
}

TEST(Router, WrongMethodIs405AndUnknownIs404) {
  auto r = route("PUT", "/v1/cts");
  EXPECT_FALSE(r.match);
  EXPECT_TRUE(r.path_exists);
  EXPECT_EQ(r.allow, (std::vector<std::string>{"GET", "POST"}));
  for (const char* p : {"/v1/cts/", "/v1/cts//start", "/v1/cts/101/start/x", "/v1", "", "v1/cts",
                        "/v1/cts/101/../102", "/V1/cts"}) {
    auto x = route("GET", p);
    if (std::string(p) == "/v1/cts/101/../102") {
      EXPECT_FALSE(x.match && x.match->id != RouteId::kCtGet) << p;
      continue;
    }
    EXPECT_FALSE(x.match) << p;
  }
  EXPECT_FALSE(route("GET", "/v1/cts//start").match) << "an empty parameter";
}

TEST(Http, SplitTargetDecodes) {
  std::string path;
  std::map<std::string, std::string> q;
  ASSERT_TRUE(split_target("/v1/cts/101/stats?range=day&x=a%20b+c", path, q));
  EXPECT_EQ(path, "/v1/cts/101/stats");
  EXPECT_EQ(q.at("range"), "day");
  EXPECT_EQ(q.at("x"), "a b c");
  ASSERT_TRUE(split_target("/panel/%2e%2e/x", path, q));
  EXPECT_EQ(path, "/panel/../x") << "decoded, so the static handler sees the dots";
  EXPECT_FALSE(split_target("/a%zz", path, q));
  EXPECT_FALSE(split_target("/a%2", path, q));
  EXPECT_FALSE(split_target("/a%00b", path, q)) << "no NUL";
  EXPECT_FALSE(split_target("a", path, q));
  EXPECT_FALSE(split_target("", path, q));
}

TEST(Http, ErrorsCarryTheExitStatus) {
  EXPECT_EQ(http_status_of(9), 409);
  EXPECT_EQ(http_status_of(14), 404);
  EXPECT_EQ(http_status_of(20), 400);
  EXPECT_EQ(http_status_of(21), 400);
  EXPECT_EQ(http_status_of(31), 409);
  EXPECT_EQ(http_status_of(32), 409);
  EXPECT_EQ(http_status_of(71), 400);
  EXPECT_EQ(http_status_of(3), 500);
  Response r = error_response(Error::with_status(9, "CT 101 is locked"));
  EXPECT_EQ(r.status, 409);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], 9);
  EXPECT_EQ(j["error"]["name"], "locked");
  EXPECT_EQ(j["error"]["message"], "CT 101 is locked");
  // Invalid UTF-8 in a message does not break the JSON.
  r = error_response(400, 20, std::string("bad \xff byte"));
  EXPECT_FALSE(Json::parse(r.body, nullptr, false).is_discarded());
}

TEST(LimitsMap, CreateMapsToCliOptions) {
  auto c = create_changes(Json::parse(
      R"({"ctid":105,"ostemplate":"busybox","hostname":"h","ipadd":["198.18.5.1","198.18.5.2"],
          "limits":{"cpus":1,"ram":"512M","numproc":200},"start":true})"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  Changes want{{"ostemplate", "busybox"}, {"hostname", "h"}, {"ipadd", "198.18.5.1"},
               {"ipadd", "198.18.5.2"},   {"cpus", "1"},     {"ram", "512M"},
               {"numproc", "200"}};
  EXPECT_EQ(*c, want);
}

TEST(LimitsMap, RejectsWhatIsNotAllowed) {
  auto bad = [](const char* json) { return create_changes(Json::parse(json)); };
  EXPECT_EQ(bad(R"({"ctid":105})").error().exit_status(), 20) << "ostemplate required";
  EXPECT_EQ(bad(R"({"ctid":105,"ostemplate":"b","root":"/"})").error().exit_status(), 20)
      << "unknown field";
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","limits":{"devices":"c:1:3:rw"}})").ok())
      << "only the listed limits";
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","limits":{"ram":-1}})").ok());
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","limits":{"ram":[1]}})").ok());
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","hostname":"a\nb"})").ok()) << "control char";
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","hostname":""})").ok());
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","ipadd":"198.18.0.1"})").ok()) << "array";
  EXPECT_FALSE(bad(R"({"ctid":105,"ostemplate":"b","start":"yes"})").ok());
  EXPECT_FALSE(create_changes(Json::parse("[]")).ok());
  Json many = Json::parse(R"({"ctid":105,"ostemplate":"b"})");
  many["ipadd"] = Json::array();
  for (int i = 0; i < 65; ++i) many["ipadd"].push_back("198.18.0.1");
  EXPECT_FALSE(create_changes(many).ok());
}

TEST(LimitsMap, PatchAndPassword) {
  auto p = patch_changes(Json::parse(R"({"ipadd":["198.18.0.9"],"limits":{"swap":"0"}})"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (Changes{{"ipdel", "all"}, {"ipadd", "198.18.0.9"}, {"swap", "0"}}));
  EXPECT_FALSE(patch_changes(Json::object()).ok());
  EXPECT_FALSE(patch_changes(Json::parse(R"({"ostemplate":"x"})")).ok());
  auto pw = password_changes(Json::parse(R"({"password":"longenough"})"));
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, (Changes{{"userpasswd", "root:longenough"}}));
  EXPECT_FALSE(password_changes(Json::parse(R"({"password":"short"})")).ok());
  EXPECT_FALSE(password_changes(Json::parse(R"({"password":"with:colon!"})")).ok());
  EXPECT_FALSE(password_changes(Json::parse(R"({"user":"root:x","password":"longenough"})")).ok());
  EXPECT_FALSE(password_changes(Json::parse(R"({"user":"-r","password":"longenough"})")).ok());
  EXPECT_FALSE(password_changes(Json::parse(R"({"user":"root"})")).ok());
  EXPECT_FALSE(
      password_changes(Json::parse("{\"password\":\"" + std::string(257, 'a') + "\"}")).ok());
}

TEST(Router, SnapshotBackupMigrateRoutes) {
  auto r = route("POST", "/v1/cts/101/snapshots/0f0e/switch");
  ASSERT_TRUE(r.match);
  EXPECT_EQ(r.match->id, RouteId::kSnapshotSwitch);
  EXPECT_EQ(r.match->params.at("id"), "0f0e");
  EXPECT_EQ(route("GET", "/v1/cts/101/snapshots").match->id, RouteId::kSnapshotList);
  EXPECT_EQ(route("POST", "/v1/cts/101/snapshots").match->id, RouteId::kSnapshotTake);
  EXPECT_EQ(route("DELETE", "/v1/cts/101/snapshots/x").match->id, RouteId::kSnapshotDelete);
  EXPECT_EQ(route("GET", "/v1/cts/101/backups").match->id, RouteId::kBackupList);
  EXPECT_EQ(route("POST", "/v1/cts/101/backups").match->id, RouteId::kBackupTake);
  EXPECT_EQ(route("POST", "/v1/cts/101/backups/101-x/restore").match->id, RouteId::kBackupRestore);
  EXPECT_EQ(route("DELETE", "/v1/cts/101/backups/101-x").match->id, RouteId::kBackupDelete);
  EXPECT_EQ(route("POST", "/v1/cts/101/migrate").match->id, RouteId::kCtMigrate);
  EXPECT_FALSE(route("GET", "/v1/cts/101/backups/101-x").match) << "405: no GET of one";
  EXPECT_FALSE(route("POST", "/v1/cts/101/backups//restore").match) << "an empty id";
}

TEST(LimitsMap, SnapshotConfirmMigrateBodies) {
  auto snap = snapshot_params(Json::parse(R"({"name":"before upgrade"})"));
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)["name"], "before upgrade");
  EXPECT_EQ((*snap)["description"], "");
  EXPECT_TRUE(snapshot_params(Json::object()).ok());
  EXPECT_FALSE(snapshot_params(Json::parse("{\"name\":\"" + std::string(65, 'n') + "\"}")).ok());
  EXPECT_FALSE(snapshot_params(Json::parse(R"({"name":"a\nb"})")).ok()) << "control char";
  EXPECT_FALSE(snapshot_params(Json::parse(R"({"name":1})")).ok());
  EXPECT_EQ(snapshot_params(Json::parse(R"({"id":"x"})")).error().exit_status(), 20);

  EXPECT_TRUE(confirmed(Json::parse(R"({"confirm":true})"), "restore").ok());
  EXPECT_FALSE(confirmed(Json::object(), "restore").ok());
  EXPECT_FALSE(confirmed(Json::parse(R"({"confirm":"true"})"), "restore").ok());
  EXPECT_FALSE(confirmed(Json::parse(R"({"confirm":true,"force":true})"), "restore").ok());

  auto mig = migrate_params(Json::parse(R"({"destination":"root@host-2.example","online":true})"));
  ASSERT_TRUE(mig.ok());
  EXPECT_EQ(*mig, Json::parse(R"({"destination":"root@host-2.example","online":true,
                                  "keep_dst":false,"remove_area":true})"));
  EXPECT_TRUE(migrate_params(Json::parse(R"({"destination":"[2001:db8::1]"})")).ok());
  for (const char* d : {"-oProxyCommand=sh", "root@-x", "a b", "root@", "@host", "root@h;id",
                        "root@h$(id)", "ro/ot@h", "root@h/x", ""})
    EXPECT_FALSE(migrate_params(Json{{"destination", d}}).ok()) << d;
  EXPECT_FALSE(migrate_params(Json::object()).ok()) << "destination is required";
  EXPECT_FALSE(migrate_params(Json::parse(R"({"destination":"h","online":"yes"})")).ok());
  EXPECT_FALSE(migrate_params(Json::parse(R"({"destination":"h","ssh":"-v"})")).ok());
}

TEST(Guard, SameOrigin) {
  EXPECT_TRUE(same_origin("", "berthd")) << "no Origin: not a browser";
  EXPECT_TRUE(same_origin("https://host.example:8443", "host.example:8443"));
  EXPECT_TRUE(same_origin("HTTPS://Host.Example:8443", "host.example:8443"));
  EXPECT_FALSE(same_origin("http://host.example:8443", "host.example:8443")) << "scheme";
  EXPECT_FALSE(same_origin("https://host.example", "host.example:8443")) << "port";
  EXPECT_FALSE(same_origin("https://evil.example", "host.example"));
  EXPECT_FALSE(same_origin("https://host.example.evil.example", "host.example"));
  EXPECT_FALSE(same_origin("null", "host.example"));
  EXPECT_FALSE(same_origin("https://", "")) << "no Host";
}

TEST(LoginLimiter, FiveFailuresPerMinutePerAddress) {
  LoginLimiter l;
  for (int i = 0; i < LoginLimiter::kMaxFailures; ++i) {
    EXPECT_EQ(l.retry_after("a", 1000 + i), 0);
    l.record_failure("a", 1000 + i);
  }
  EXPECT_EQ(l.retry_after("a", 1005), 55) << "until the first failure leaves the window";
  EXPECT_EQ(l.retry_after("b", 1005), 0) << "per address";
  EXPECT_EQ(l.retry_after("a", 1060), 0);
  EXPECT_EQ(l.retry_after("a", 1061), 0);
}

TEST(LoginLimiter, BoundedMemory) {
  LoginLimiter l;
  for (size_t i = 0; i < LoginLimiter::kMaxAddresses + 10; ++i)
    l.record_failure("addr" + std::to_string(i), static_cast<int64_t>(i));
  // The newest are still tracked; the map did not grow past its bound (no crash, no blowup).
  for (int i = 0; i < 4; ++i) l.record_failure("last", 100000);
  l.record_failure("last", 100000);
  EXPECT_GT(l.retry_after("last", 100000), 0);
}

TEST(Sessions, CreateFindExpireRemove) {
  SessionStore s;
  auto c = s.create("alice", 1000);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cookie.size(), 64U);
  EXPECT_NE(c->cookie, c->csrf);
  auto f = s.find(c->cookie, 1001);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->user, "alice");
  EXPECT_EQ(f->csrf, c->csrf);
  EXPECT_FALSE(s.find(c->csrf, 1001)) << "the CSRF token is no cookie";
  EXPECT_FALSE(s.find("x", 1001));
  EXPECT_TRUE(s.find(c->cookie, 1001 + SessionStore::kIdleS)) << "used: the idle clock restarts";
  EXPECT_FALSE(s.find(c->cookie, 1001 + 2 * SessionStore::kIdleS + 1)) << "idle too long";
  auto d = s.create("bob", 5000);
  s.remove_user("bob");
  EXPECT_FALSE(s.find(d->cookie, 5001));
  auto e = s.create("carol", 0);
  for (int64_t t = 1800; t < SessionStore::kMaxAgeS; t += 1800) ASSERT_TRUE(s.find(e->cookie, t));
  EXPECT_FALSE(s.find(e->cookie, SessionStore::kMaxAgeS + 1)) << "max age";
}

TEST(Sessions, CookieHeader) {
  EXPECT_EQ(cookie_value("a=1; berth_session=abc; b=2", "berth_session"), "abc");
  EXPECT_EQ(cookie_value("berth_session=abc", "berth_session"), "abc");
  EXPECT_EQ(cookie_value("xberth_session=abc", "berth_session"), "");
  EXPECT_EQ(cookie_value("", "berth_session"), "");
}

TEST(Events, FilteredPerPrincipalAndBounded) {
  EventHub hub;
  auto alice = hub.subscribe({"alice", false, {"101"}});
  auto ops = hub.subscribe({"ops", true, {}});
  hub.publish("ct", "102", R"({"ctid":102})");
  hub.publish("ct", "101", R"({"ctid":101})");
  Event e;
  ASSERT_TRUE(alice->next(e, 10));
  EXPECT_EQ(e.ctid, "101");
  EXPECT_FALSE(alice->next(e, 10)) << "102 is not alice's";
  ASSERT_TRUE(ops->next(e, 10));
  EXPECT_EQ(e.ctid, "102");
  ASSERT_TRUE(ops->next(e, 10));
  for (size_t i = 0; i <= EventHub::kMaxQueue; ++i) hub.publish("ct", "101", "{}");
  EXPECT_TRUE(alice->dropped()) << "a reader that does not keep up is dropped";
  hub.unsubscribe(alice);
  hub.unsubscribe(ops);
  EXPECT_EQ(hub.subscribers(), 0U);
}

TEST(History, DownsampleAveragesGaugesAndKeepsLastCounters) {
  std::vector<Point> in;
  for (int i = 0; i < 60; ++i) {
    Point p;
    p.t = 600 + i * 10;
    p.cpu_pct = i < 30 ? 10 : 30;
    p.mem_bytes = 1000;
    p.net_rx_bytes = static_cast<uint64_t>(i);
    p.ubc_failcnt = static_cast<uint64_t>(i / 10);
    in.push_back(p);
  }
  auto out = downsample(in, 300);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].t, 600);
  EXPECT_EQ(out[1].t, 900);
  EXPECT_DOUBLE_EQ(out[0].cpu_pct, 10);
  EXPECT_DOUBLE_EQ(out[1].cpu_pct, 30);
  EXPECT_EQ(out[0].mem_bytes, 1000U);
  EXPECT_EQ(out[0].net_rx_bytes, 29U);
  EXPECT_EQ(out[1].net_rx_bytes, 59U);
  EXPECT_EQ(out[1].ubc_failcnt, 5U);
  EXPECT_TRUE(downsample({}, 300).empty());
  Point odd;
  odd.t = 905;
  EXPECT_EQ(downsample({odd}, 300)[0].t, 900);
}

TEST(Metrics, PerCtAndHostLines) {
  Snapshot snap;
  CtInfo c;
  c.ctid = "101";
  c.running = true;
  c.mem_bytes = 4096;
  c.ubc.push_back({"numproc", 3, 5, 100, 100, 7});
  c.ubc.push_back({"kmemsize", 1, 1, units::kUnlimited, units::kUnlimited, 0});
  snap["101"] = c;
  std::string m = render_metrics(snap, {2, 10, 1.5});
  for (const char* line :
       {"berth_ct_running{ctid=\"101\"} 1\n", "berth_ct_memory_bytes{ctid=\"101\"} 4096\n",
        "berth_ct_ubc_failcnt{ctid=\"101\",resource=\"numproc\"} 7\n",
        "berth_ct_ubc_limit{ctid=\"101\",resource=\"kmemsize\"} -1\n", "berth_host_cts 1\n",
        "berthd_event_subscribers 2\n", "# TYPE berth_ct_ubc_failcnt counter\n"})
    EXPECT_NE(m.find(line), std::string::npos) << line;
}

}  // namespace
}  // namespace berth::daemon
