// berthd's REST API against a real daemon and real busybox CTs (docs/api.md): every endpoint,
// the error paths, the authorisation matrix (customer A against customer B's CT on every
// endpoint), sessions with CSRF and the Origin check, the login rate limit, events, metrics,
// history, audit, the console websocket, jobs with cancel, snapshots, backups (only of the
// caller's own CTs), migration's error paths, and the panel's files. Every answer is checked
// against the OpenAPI document berthd serves (BerthdTest::call).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "berthd_fixture.h"

namespace berth::itest {
namespace {

using nlohmann::json;

class ApiTest : public BerthdTest {
 protected:
  void SetUp() override {
    BerthdTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    a_ = create_running_ct();
    b_ = create_ct();
    alice_ = make_token("alice", {"--ct", a_}, "alice-password");
    bob_ = make_token("bob", {"--ct", b_});
    start_berthd();
  }
  // The audit log's actions on ctid, newest first.
  std::vector<std::string> audit_actions(const std::string& ctid) {
    std::vector<std::string> out;
    for (const auto& e : call(admin_, "GET", "/v1/audit?limit=200").json())
      if (e["ctid"] == std::stoi(ctid)) out.push_back(e["action"]);
    return out;
  }
  std::string a_, b_;
};

// Every CT endpoint, as (method, path suffix, body).
struct Endpoint3 {
  const char* method;
  const char* suffix;
  const char* body;
};
constexpr Endpoint3 kCtEndpoints[] = {
    {"GET", "", ""},
    {"PATCH", "", R"({"limits":{"numproc":300}})"},
    {"DELETE", "", ""},
    {"POST", "/start", ""},
    {"POST", "/stop", ""},
    {"POST", "/restart", ""},
    {"POST", "/reinstall", R"({"confirm":true})"},
    {"POST", "/password", R"({"user":"root","password":"password123"})"},
    {"GET", "/stats", ""},
    {"GET", "/stats?range=day", ""},
    {"GET", "/snapshots", ""},
    {"POST", "/snapshots", R"({"name":"x"})"},
    {"POST", "/snapshots/00000000-0000-0000-0000-000000000001/switch", R"({"confirm":true})"},
    {"DELETE", "/snapshots/00000000-0000-0000-0000-000000000001", ""},
    {"GET", "/backups", ""},
    {"POST", "/backups", "{}"},
    {"POST", "/backups/101-20261206T000000Z/restore", R"({"confirm":true})"},
    {"DELETE", "/backups/101-20261206T000000Z", ""},
    {"POST", "/migrate", R"({"destination":"root@berth-test.invalid"})"},
};

TEST_F(ApiTest, AuthenticationAndTheAuthorisationMatrix) {
  // No credentials, a wrong token, a malformed header: 401, on the CT list and on a CT.
  for (const char* path : {"/v1/cts", "/v1/whoami", "/v1/jobs", "/v1/host"}) {
    EXPECT_EQ(call("", "GET", path).status, 401) << path;
    EXPECT_EQ(call("bt_" + std::string(64, '0'), "GET", path).status, 401) << path;
  }
  EXPECT_EQ(call("", "GET", "/v1/cts", "", {{"Authorization", "Basic YWxpY2U6eA=="}}).status, 401);
  EXPECT_EQ(call("", "POST", "/v1/cts/" + a_ + "/stop").status, 401);

  // Who is who.
  json me = call(alice_, "GET", "/v1/whoami").json();
  EXPECT_EQ(me["user"], "alice");
  EXPECT_EQ(me["admin"], false);
  EXPECT_EQ(me["cts"], json::array({std::stoi(a_)}));
  EXPECT_EQ(call(admin_, "GET", "/v1/whoami").json()["admin"], true);
  EXPECT_EQ(call_unix("GET", "/v1/whoami").json()["user"], "root");

  // The list: each customer sees exactly its CT; the operator and root see both.
  auto ids = [](const json& list) {
    std::vector<int> v;
    for (const auto& c : list) v.push_back(c["ctid"]);
    return v;
  };
  EXPECT_EQ(ids(call(alice_, "GET", "/v1/cts").json()), std::vector<int>{std::stoi(a_)});
  EXPECT_EQ(ids(call(bob_, "GET", "/v1/cts").json()), std::vector<int>{std::stoi(b_)});
  EXPECT_EQ(call(admin_, "GET", "/v1/cts").json().size(), 2U);
  EXPECT_EQ(call_unix("GET", "/v1/cts").json().size(), 2U);

  // Customer A on customer B's CT (and B on A's): 404 on every endpoint, the same answer as for
  // a CT that does not exist, and nothing changes.
  for (const auto& [who, other] : {std::pair{alice_, b_}, std::pair{bob_, a_}}) {
    for (const auto& e : kCtEndpoints) {
      std::string path = "/v1/cts/" + other + e.suffix;
      HttpResult r = call(who, e.method, path, e.body);
      EXPECT_EQ(r.status, 404) << e.method << " " << path << ": " << r.body;
      EXPECT_EQ(r.json()["error"]["code"], 14) << r.body;
      HttpResult none = call(who, e.method, "/v1/cts/99999" + std::string(e.suffix), e.body);
      EXPECT_EQ(none.status, 404);
      EXPECT_EQ(none.json()["error"]["message"].get<std::string>().find(other), std::string::npos);
    }
    WsClient ws(tls(), "/v1/cts/" + other + "/console?kind=shell",
                {{"Authorization", "Bearer " + who}});
    EXPECT_FALSE(ws.ok());
    EXPECT_EQ(ws.status(), 404);
    WsClient ws2(tls(), "/v1/cts/" + other + "/console?kind=console",
                 {{"Authorization", "Bearer " + who}});
    EXPECT_EQ(ws2.status(), 404);
  }
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  EXPECT_EQ(status_line(b_), "CTID " + b_ + " exist unmounted down");

  // A customer on its own CT: the operator's endpoints are 403, and so are the host's.
  EXPECT_EQ(call(alice_, "PATCH", "/v1/cts/" + a_, R"({"limits":{"numproc":300}})").status, 403);
  EXPECT_EQ(call(alice_, "DELETE", "/v1/cts/" + a_).status, 403);
  EXPECT_EQ(call(alice_, "POST", "/v1/cts", R"({"ctid":4242,"ostemplate":"busybox"})").status, 403);
  for (const char* path : {"/v1/host", "/v1/audit", "/metrics"})
    EXPECT_EQ(call(alice_, "GET", path).status, 403) << path;
  // The customer's own view has no config (the operator's has).
  EXPECT_FALSE(call(alice_, "GET", "/v1/cts/" + a_).json().contains("config"));
  EXPECT_TRUE(call(admin_, "GET", "/v1/cts/" + a_).json().contains("config"));

  // Jobs: the operator's job on B's CT is invisible to A.
  HttpResult job = call(admin_, "POST", "/v1/cts/" + b_ + "/reinstall", R"({"confirm":true})");
  ASSERT_EQ(job.status, 202) << job.body;
  std::string id = job.json()["id"];
  EXPECT_EQ(call(alice_, "GET", "/v1/jobs/" + id).status, 404);
  EXPECT_EQ(call(alice_, "DELETE", "/v1/jobs/" + id).status, 404);
  for (const auto& j : call(alice_, "GET", "/v1/jobs").json()) EXPECT_NE(j["id"], id);
  EXPECT_EQ(call(bob_, "GET", "/v1/jobs/" + id).status, 200);
  EXPECT_EQ(wait_job(id)["state"], "done");

  // A deleted token stops working at once.
  EXPECT_EQ(berth({"token", "delete", "bob"}).code, 0);
  int gone = call(bob_, "GET", "/v1/cts").status;
  EXPECT_TRUE(gone == 401 || gone == 429)
      << gone << " (429: the address made too many failures above)";
}

TEST_F(ApiTest, ErrorsAreJsonWithTheCliExitStatus) {
  auto err = [](const HttpResult& r) { return r.json()["error"]; };
  // Routing.
  EXPECT_EQ(call(admin_, "GET", "/v1/nope").status, 404) << "unknown endpoint";
  HttpResult put =
      http_request(tls(), "PUT", "/v1/cts", "", {{"Authorization", "Bearer " + admin_}});
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.headers["allow"], "GET, POST");
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/abc").status, 404);
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/-1").status, 404);
  // Bodies: not JSON, not an object, unknown fields, wrong types, too large.
  HttpResult r = call(admin_, "POST", "/v1/cts/" + a_ + "/stop", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(err(r)["code"], 20);
  EXPECT_EQ(call(admin_, "POST", "/v1/cts/" + a_ + "/stop", "[1]").status, 400);
  EXPECT_EQ(call(admin_, "POST", "/v1/cts/" + a_ + "/stop", R"({"fast":"yes"})").status, 400);
  EXPECT_EQ(call(admin_, "POST", "/v1/cts/" + a_ + "/stop", R"({"kill":true})").status, 400);
  HttpResult big = http_request(tls(), "POST", "/v1/cts/" + a_ + "/stop",
                                "{\"x\":\"" + std::string(100000, 'a') + "\"}",
                                {{"Authorization", "Bearer " + admin_}});
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.json()["error"]["name"], "too_large");
  // Values go through the CLI's parsers: the same exit statuses.
  r = call(admin_, "PATCH", "/v1/cts/" + a_, R"({"limits":{"ram":"lots"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(err(r)["code"], 21);
  r = call(admin_, "PATCH", "/v1/cts/" + a_, R"({"ipadd":["300.1.1.1"]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(err(r)["code"], 71);
  r = call(admin_, "PATCH", "/v1/cts/" + a_, R"({"hostname":"a;rm -rf /"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(call(admin_, "PATCH", "/v1/cts/" + a_, R"({})").status, 400);
  r = call(admin_, "POST", "/v1/cts", R"({"ctid":7,"ostemplate":"busybox"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(err(r)["code"], 20);
  r = call(admin_, "POST", "/v1/cts", R"({"ctid":4242,"ostemplate":"../../etc"})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = call(admin_, "POST", "/v1/cts", "{\"ctid\":" + a_ + ",\"ostemplate\":\"busybox\"}");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(err(r)["code"], 44);
  r = call(admin_, "POST", "/v1/cts/" + a_ + "/reinstall", R"({})");
  EXPECT_EQ(r.status, 400) << "reinstall without confirm";
  r = call(admin_, "POST", "/v1/cts/" + a_ + "/reinstall",
           R"({"confirm":true,"ostemplate":"a/b"})");
  EXPECT_EQ(r.status, 400);
  r = call(alice_, "POST", "/v1/cts/" + a_ + "/password", R"({"user":"root","password":"short"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(err(r)["code"], 21);
  r = call(alice_, "POST", "/v1/cts/" + a_ + "/password",
           R"({"user":"root:0:0","password":"longenough"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(call(alice_, "GET", "/v1/cts/" + a_ + "/stats?range=year").status, 400);
  EXPECT_EQ(call(admin_, "GET", "/v1/audit?limit=0").status, 400);
  EXPECT_EQ(call(admin_, "GET", "/v1/audit?limit=abc").status, 400);
  // State: start of a running CT (32), stop of a stopped one (31).
  r = call(admin_, "POST", "/v1/cts/" + a_ + "/start");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(err(r)["code"], 32);
  r = call(admin_, "POST", "/v1/cts/" + b_ + "/stop");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(err(r)["code"], 31);
  // Locked by a CLI command (the same lock file): 409 with exit status 9, nothing done.
  int fd = ::open((root() + "/run/berth/lock/" + a_ + ".lck").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                  0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  r = call(alice_, "POST", "/v1/cts/" + a_ + "/stop");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(err(r)["code"], 9);
  ::close(fd);
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  // A request line or header the server cannot take.
  HttpResult raw = raw_request(tls(), "GET /v1/cts%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(raw.status, 400);
  raw = raw_request(
      tls(), "GET /v1/cts HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(raw.status, 400);
}

TEST_F(ApiTest, PowerPasswordLimitsAndStatic) {
  HttpResult r = call(alice_, "POST", "/v1/cts/" + a_ + "/stop", R"({"fast":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "stopped");
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist unmounted down");
  r = call(alice_, "POST", "/v1/cts/" + a_ + "/start");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "running");
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  pid_t before = ct_processes(a_).empty() ? 0 : ct_processes(a_)[0];
  r = call(alice_, "POST", "/v1/cts/" + a_ + "/restart");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "running");
  EXPECT_NE(ct_processes(a_).empty() ? 0 : ct_processes(a_)[0], before) << "a new init";

  // The password: set inside (the distribution's hash), never in the audit log or the config.
  std::string old_shadow = berth({"exec", a_, "grep ^root: /etc/shadow"}).out;
  r = call(alice_, "POST", "/v1/cts/" + a_ + "/password",
           R"({"user":"root","password":"n3w-Secret!"})");
  ASSERT_EQ(r.status, 204) << r.body;
  std::string shadow = berth({"exec", a_, "grep ^root: /etc/shadow"}).out;
  EXPECT_NE(shadow, old_shadow);
  EXPECT_PRED2(contains, shadow, "root:$");
  EXPECT_FALSE(contains(read_text(root() + "/var/log/berth/berthd-audit.log"), "n3w-Secret"));
  EXPECT_FALSE(contains(read_text(conf_path(a_)), "n3w-Secret"));

  // Limits, live and saved, by the operator.
  r = call(admin_, "PATCH", "/v1/cts/" + a_, R"({"limits":{"numproc":321,"ram":"300M"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["config"]["NUMPROC"], "321");
  EXPECT_PRED2(contains, read_text(conf_path(a_)), "NUMPROC=\"321\"");
  EXPECT_EQ(r.json()["usage"]["mem_limit_bytes"], 300 * 1024 * 1024);

  // Host, templates.
  json host = call(admin_, "GET", "/v1/host").json();
  EXPECT_EQ(host["cts_total"], 2);
  EXPECT_EQ(host["cts_running"], 1);
  json tmpls = call(alice_, "GET", "/v1/templates").json();
  ASSERT_FALSE(tmpls.empty());
  EXPECT_EQ(tmpls[0]["name"], "busybox");

  // The panel's files, and nothing outside them.
  HttpResult page = http_request(tls(), "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_PRED2(contains, page.body, "berth panel");
  EXPECT_PRED2(contains, page.headers["content-security-policy"], "default-src 'self'");
  EXPECT_EQ(http_request(tls(), "GET", "/panel/index.html").status, 200);
  for (const char* bad : {"/panel/../outside.txt", "/panel/%2e%2e/outside.txt", "/panel/.secret",
                          "/panel/nope.js", "/panel//etc/passwd", "/panel/%2fetc/passwd"})
    EXPECT_EQ(http_request(tls(), "GET", bad).status, 404) << bad;
}

TEST_F(ApiTest, SessionsCsrfAndTheLoginLimit) {
  HttpResult r = call("", "POST", "/v1/login", R"({"token":")" + alice_ + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string set_cookie = r.headers["set-cookie"];
  for (const char* attr : {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"})
    EXPECT_PRED2(contains, set_cookie, attr);
  std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  std::string csrf = r.json()["csrf"];
  EXPECT_EQ(r.json()["cts"], json::array({std::stoi(a_)}));
  Headers h{{"Cookie", cookie}};
  EXPECT_EQ(call("", "GET", "/v1/whoami", "", h).json()["user"], "alice");
  // A change without the CSRF header, or with a wrong one: 403, nothing done.
  EXPECT_EQ(call("", "POST", "/v1/cts/" + a_ + "/stop", "", h).status, 403);
  h["X-CSRF-Token"] = std::string(64, 'a');
  EXPECT_EQ(call("", "POST", "/v1/cts/" + a_ + "/stop", "", h).status, 403);
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  // The session reaches only the customer's CTs.
  h["X-CSRF-Token"] = csrf;
  EXPECT_EQ(call("", "POST", "/v1/cts/" + b_ + "/start", "", h).status, 404);
  // Logout ends it.
  EXPECT_EQ(call("", "POST", "/v1/logout", "", h).status, 204);
  EXPECT_EQ(call("", "GET", "/v1/whoami", "", {{"Cookie", cookie}}).status, 401);

  // User and password (the token's name and the password given at `token create`).
  r = call("", "POST", "/v1/login", R"({"user":"alice","password":"alice-password"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("", "POST", "/v1/login", R"({"user":"alice"})").status, 400);
  EXPECT_EQ(call("", "POST", "/v1/login", R"({"token":")" + alice_ + R"(","x":1})").status, 400);
  // Five failures from one address, then 429 even for the right password, with Retry-After.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(call("", "POST", "/v1/login", R"({"user":"alice","password":"wrong-one"})").status,
              401);
  r = call("", "POST", "/v1/login", R"({"user":"alice","password":"alice-password"})");
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(r.headers["retry-after"].empty());
  EXPECT_EQ(call("bt_" + std::string(64, '1'), "GET", "/v1/cts").status, 429)
      << "bearer guesses count too";
  // The unix socket (root) is not limited.
  EXPECT_EQ(call_unix("GET", "/v1/cts").status, 200);
}

TEST_F(ApiTest, EventsMetricsHistoryAudit) {
  // Events: the operator sees B's start; alice's stream (opened at the same time) does not.
  std::string alice_text;
  std::thread alice_stream([&] {
    alice_text =
        read_events(tls(), "/v1/events", {{"Authorization", "Bearer " + alice_}}, {}, 6000);
  });
  sleep_ms(300);
  std::string admin_text = read_events(
      tls(), "/v1/events", {{"Authorization", "Bearer " + admin_}},
      [&] { EXPECT_EQ(call(bob_, "POST", "/v1/cts/" + b_ + "/start").status, 200); }, 8000,
      [&](const std::string& t) {
        return contains(t, "\"state\":\"running\"") && contains(t, b_);
      });
  alice_stream.join();
  EXPECT_PRED2(contains, admin_text, "text/event-stream");
  EXPECT_PRED2(contains, admin_text, "event: ct");
  EXPECT_PRED2(contains, admin_text, "\"ctid\":" + b_);
  EXPECT_PRED2(contains, alice_text, "text/event-stream");
  EXPECT_FALSE(contains(alice_text, "\"ctid\":" + b_)) << alice_text;
  EXPECT_EQ(call("", "GET", "/v1/events").status, 401);

  // Beancounter failures: a fork bomb against numproc makes failcnt go up, as an event.
  EXPECT_EQ(call(admin_, "PATCH", "/v1/cts/" + a_, R"({"limits":{"numproc":20}})").status, 200);
  std::string ubc_text = read_events(
      tls(), "/v1/events", {{"Authorization", "Bearer " + alice_}},
      [&] {
        berth({"exec", a_, "for i in $(seq 40); do sleep 3 & done; wait"});
      },
      10000, [](const std::string& t) { return contains(t, "event: ubc"); });
  EXPECT_PRED2(contains, ubc_text, "event: ubc");
  EXPECT_PRED2(contains, ubc_text, "\"resource\":\"numproc\"");

  // Metrics: per CT and per host.
  HttpResult m = call(admin_, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  for (const std::string& line :
       {"berth_ct_running{ctid=\"" + a_ + "\"} 1",
        "berth_ct_ubc_failcnt{ctid=\"" + a_ + "\",resource=\"numproc\"}",
        "berth_ct_ubc_held{ctid=\"" + a_ + "\",resource=\"physpages\"}",
        "berth_ct_memory_bytes{ctid=\"" + a_ + "\"}",
        "berth_ct_network_receive_bytes_total{ctid=\"" + a_ + "\"}",
        std::string("berth_host_cts 2"), std::string("berth_host_cts_running 2")})
    EXPECT_PRED2(contains, m.body, line);
  EXPECT_EQ(call_unix("GET", "/metrics").status, 200);

  // History: points for the running CT, hour and day.
  json hour = call(alice_, "GET", "/v1/cts/" + a_ + "/stats?range=hour").json();
  EXPECT_EQ(hour["step_s"], 10);
  EXPECT_FALSE(hour["points"].empty()) << hour.dump();
  json day = call(alice_, "GET", "/v1/cts/" + a_ + "/stats?range=day").json();
  EXPECT_EQ(day["step_s"], 300);
  EXPECT_FALSE(day["points"].empty());

  // The audit log: who, what, from where, in the file and over the API (newest first).
  json audit = call(admin_, "GET", "/v1/audit?limit=5").json();
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit[0]["action"], "set");
  EXPECT_EQ(audit[0]["who"], "ops");
  EXPECT_PRED2(contains, audit[0]["from"].get<std::string>(), "127.0.0.1:");
  bool bob_start = false;
  for (const auto& e : call(admin_, "GET", "/v1/audit?limit=100").json())
    bob_start |= e["who"] == "bob" && e["action"] == "start" && e["ctid"] == std::stoi(b_);
  EXPECT_TRUE(bob_start);
  EXPECT_EQ(call(admin_, "POST", "/v1/cts/" + b_ + "/stop", R"({"fast":true})").status, 200);
}

TEST_F(ApiTest, ConsoleAndShellOverWebsocket) {
  // The CT's console (started through the API, so the watcher holds it).
  ASSERT_EQ(call(alice_, "POST", "/v1/cts/" + a_ + "/restart").status, 200);
  {
    WsClient ws(tls(), "/v1/cts/" + a_ + "/console?kind=console",
                {{"Authorization", "Bearer " + alice_}});
    ASSERT_TRUE(ws.ok()) << ws.status();
    berth({"exec", a_, "echo out-one > /dev/console"});
    EXPECT_PRED2(contains, ws.read_until("out-one", 5000), "out-one");
    pid_t reader = spawn_berth({"exec", a_, "read x < /dev/console; echo got-$x > /dev/console"});
    sleep_ms(500);
    ws.send_binary("hello\n");
    EXPECT_PRED2(contains, ws.read_until("got-hello", 5000), "got-hello");
    wait_berth(reader);
  }
  // A root shell on a pty, with a resize.
  {
    WsClient ws(tls(), "/v1/cts/" + a_ + "/console?kind=shell",
                {{"Authorization", "Bearer " + alice_}});
    ASSERT_TRUE(ws.ok()) << ws.status();
    // Malformed control frames are ignored, never fatal.
    ws.send_text(R"({"type":5,"cols":"x"})");
    ws.send_text(R"({"type":"resize","cols":"wide","rows":[1]})");
    ws.send_text("not json");
    ws.send_text(R"({"type":"resize","cols":123,"rows":45})");
    ws.send_binary("echo M$((6*7)); stty size; id -u\n");
    std::string out = ws.read_until("45 123", 8000);
    EXPECT_PRED2(contains, out, "M42");
    EXPECT_PRED2(contains, out, "45 123");
    ws.send_binary("exit\n");
    ws.read_until("never", 1500);
  }
  EXPECT_EQ(WsClient(tls(), "/v1/cts/" + a_ + "/console?kind=bogus",
                     {{"Authorization", "Bearer " + alice_}})
                .status(),
            400);
  EXPECT_EQ(WsClient(tls(), "/v1/cts/" + a_ + "/console?kind=shell").status(), 401);
  // The stopped CT has no console.
  EXPECT_EQ(WsClient(tls(), "/v1/cts/" + b_ + "/console?kind=shell",
                     {{"Authorization", "Bearer " + admin_}})
                .status(),
            409);
  // Without the upgrade: a JSON 400.
  EXPECT_EQ(call(alice_, "GET", "/v1/cts/" + a_ + "/console").status, 400);
}

TEST_F(ApiTest, JobsCreateReinstallDestroy) {
  std::string c = new_ctid();
  HttpResult r = call(admin_, "POST", "/v1/cts",
                      "{\"ctid\":" + c +
                          ",\"ostemplate\":\"busybox\",\"hostname\":\"made-by-api\","
                          "\"ipadd\":[\"198.18.13.7\"],\"limits\":{\"ram\":\"256M\",\"numproc\":"
                          "150},\"start\":true}");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["kind"], "create");
  json job = wait_job(r.json()["id"]);
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["progress"], 100);
  EXPECT_EQ(status_line(c), "CTID " + c + " exist mounted running");
  EXPECT_EQ(berth({"exec", c, "hostname"}).out, "made-by-api\n");
  // A second job on the CT while one runs: 409 (one job per CT); then reinstall.
  berth({"exec", c, "touch /root/old-file"});
  r = call(admin_, "POST", "/v1/cts/" + c + "/reinstall", R"({"confirm":true})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(call(admin_, "DELETE", "/v1/cts/" + c).status, 409) << "one job per CT";
  job = wait_job(r.json()["id"]);
  EXPECT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(status_line(c), "CTID " + c + " exist mounted running");
  EXPECT_NE(berth({"exec", c, "ls /root/old-file"}).code, 0) << "the files are new";
  r = call(admin_, "DELETE", "/v1/cts/" + c);
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(wait_job(r.json()["id"])["state"], "done");
  EXPECT_EQ(status_line(c), "CTID " + c + " deleted unmounted down");
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/" + c).status, 404);
  // A job that fails ends failed with the error: a template that is not there.
  std::string d = new_ctid();
  r = call(admin_, "POST", "/v1/cts", "{\"ctid\":" + d + ",\"ostemplate\":\"nosuch-template\"}");
  ASSERT_EQ(r.status, 202) << r.body;
  job = wait_job(r.json()["id"]);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_NE(job["error"]["code"], 0);
  EXPECT_EQ(call(admin_, "DELETE", "/v1/jobs/" + r.json()["id"].get<std::string>()).status, 409)
      << "an ended job cannot be cancelled";
  EXPECT_EQ(call(admin_, "GET", "/v1/jobs/j-0000000000000000").status, 404);
  EXPECT_EQ(call(admin_, "GET", "/v1/jobs/../../etc").status, 404);
}

TEST_F(ApiTest, SnapshotsTakeListSwitchDelete) {
  const std::string base = "/v1/cts/" + a_ + "/snapshots";
  // Bad bodies: 400 before any job.
  EXPECT_EQ(call(alice_, "POST", base, R"({"name":"x","size":1})").status, 400);
  EXPECT_EQ(call(alice_, "POST", base, "{\"name\":\"" + std::string(65, 'n') + "\"}").status, 400);
  EXPECT_EQ(call(alice_, "POST", base, R"({"name":"a\u0007b"})").status, 400);
  HttpResult r = call(alice_, "POST", base, R"({"name":"before","description":"first"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["kind"], "snapshot");
  json job = wait_job(r.json()["id"]);
  ASSERT_EQ(job["state"], "done") << job.dump();
  std::string id = job["result"]["id"];
  EXPECT_TRUE(job["result"]["pause_ms"].is_number());
  json list = call(alice_, "GET", base).json();
  EXPECT_EQ(list["current"], id);
  ASSERT_EQ(list["snapshots"].size(), 1U) << list.dump();
  EXPECT_EQ(list["snapshots"][0]["name"], "before");
  EXPECT_EQ(list["snapshots"][0]["description"], "first");
  EXPECT_EQ(list["snapshots"][0]["current"], true);

  // Customer B on A's snapshots (and A on B's): 404, nothing done.
  for (const auto& [who, ct] : {std::pair{bob_, a_}, std::pair{alice_, b_}}) {
    std::string other = "/v1/cts/" + ct + "/snapshots";
    EXPECT_EQ(call(who, "GET", other).status, 404);
    EXPECT_EQ(call(who, "POST", other, "{}").status, 404);
    EXPECT_EQ(call(who, "POST", other + "/" + id + "/switch", R"({"confirm":true})").status, 404);
    EXPECT_EQ(call(who, "DELETE", other + "/" + id).status, 404);
  }

  // A file written after the snapshot is gone after the switch; the CT runs again.
  ASSERT_EQ(berth({"exec", a_, "echo later > /root/after-snapshot"}).code, 0);
  EXPECT_EQ(call(alice_, "POST", base + "/" + id + "/switch", "{}").status, 400) << "confirm";
  EXPECT_EQ(call(alice_, "POST", base + "/" + id + "/switch", R"({"confirm":false})").status, 400);
  EXPECT_EQ(call(alice_, "POST", base + "/00000000-0000-0000-0000-000000000000/switch",
                 R"({"confirm":true})")
                .status,
            404);
  EXPECT_EQ(call(alice_, "DELETE", base + "/not-a-uuid").status, 404);
  r = call(alice_, "POST", base + "/" + id + "/switch", R"({"confirm":true})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["kind"], "snapshot-switch");
  EXPECT_EQ(call(alice_, "POST", base, "{}").status, 409) << "one job per CT";
  job = wait_job(r.json()["id"]);
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  EXPECT_NE(berth({"exec", a_, "ls /root/after-snapshot"}).code, 0) << "the switch went back";

  r = call(alice_, "DELETE", base + "/" + id);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(wait_job(r.json()["id"])["state"], "done");
  list = call(alice_, "GET", base).json();
  EXPECT_EQ(list["snapshots"].size(), 0U) << list.dump();
  EXPECT_EQ(list["current"], nullptr);
  auto actions = audit_actions(a_);
  for (const std::string& a :
       {std::string("snapshot"), "snapshot-switch " + id, "snapshot-delete " + id})
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
}

TEST_F(ApiTest, BackupsTakeListRestoreDeleteOnlyOfTheirOwnCt) {
  // A backup of each customer's CT (A's runs, B's is stopped).
  std::string ids[2];
  for (int i = 0; i < 2; ++i) {
    const std::string& tok = i == 0 ? alice_ : bob_;
    const std::string& ct = i == 0 ? a_ : b_;
    EXPECT_EQ(call(tok, "POST", "/v1/cts/" + ct + "/backups", R"({"full":true})").status, 400);
    HttpResult r = call(tok, "POST", "/v1/cts/" + ct + "/backups", "{}");
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.json()["kind"], "backup");
    json job = wait_job(r.json()["id"]);
    ASSERT_EQ(job["state"], "done") << job.dump();
    ids[i] = job["result"]["id"];
    EXPECT_GT(job["result"]["files"].get<int64_t>(), 0);
  }
  const std::string& mine = ids[0];
  const std::string& bobs = ids[1];
  json list = call(alice_, "GET", "/v1/cts/" + a_ + "/backups").json();
  ASSERT_EQ(list.size(), 1U) << "only the backups of A's CT: " << list.dump();
  EXPECT_EQ(list[0]["id"], mine);
  EXPECT_TRUE(list[0]["consistent"].is_boolean());  // true when the layout can be snapshotted
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/" + b_ + "/backups").json().size(), 1U);

  // A against B's CT and B's backup ids, through either URL: 404, nothing done.
  const std::string abase = "/v1/cts/" + a_ + "/backups/", bbase = "/v1/cts/" + b_ + "/backups/";
  EXPECT_EQ(call(alice_, "GET", "/v1/cts/" + b_ + "/backups").status, 404);
  EXPECT_EQ(call(alice_, "POST", "/v1/cts/" + b_ + "/backups", "{}").status, 404);
  for (const std::string& path : {abase + bobs, bbase + bobs, bbase + mine}) {
    EXPECT_EQ(call(alice_, "POST", path + "/restore", R"({"confirm":true})").status, 404) << path;
    EXPECT_EQ(call(alice_, "DELETE", path).status, 404) << path;
  }
  // Not even the operator restores B's backup onto A (a backup is reachable through its CT).
  EXPECT_EQ(call(admin_, "POST", abase + bobs + "/restore", R"({"confirm":true})").status, 404);
  // Ids that are no store ids, or try to leave the store: 404.
  for (const std::string& bad : {std::string(".."), std::string("..%2F..%2Fetc"), a_ + "-..",
                                 std::string(".hidden"), a_ + "-x%00"}) {
    HttpResult r = call(alice_, "POST", abase + bad + "/restore", R"({"confirm":true})");
    EXPECT_TRUE(r.status == 404 || r.status == 400) << bad << ": " << r.status;
  }
  EXPECT_EQ(call(bob_, "GET", "/v1/cts/" + b_ + "/backups").json().size(), 1U) << "untouched";

  // Restore: the files written since are gone, the CT runs again, its config is kept.
  ASSERT_EQ(berth({"exec", a_, "echo later > /root/after-backup"}).code, 0);
  EXPECT_EQ(call(alice_, "POST", abase + mine + "/restore", "{}").status, 400) << "confirm";
  HttpResult r = call(alice_, "POST", abase + mine + "/restore", R"({"confirm":true})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["kind"], "backup-restore");
  json job = wait_job(r.json()["id"]);
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  EXPECT_NE(berth({"exec", a_, "ls /root/after-backup"}).code, 0) << "the backup's files";

  // Delete: each its own.
  for (int i = 0; i < 2; ++i) {
    const std::string& ct = i == 0 ? a_ : b_;
    r = call(i == 0 ? alice_ : bob_, "DELETE", "/v1/cts/" + ct + "/backups/" + ids[i]);
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(wait_job(r.json()["id"])["state"], "done");
  }
  EXPECT_EQ(call(alice_, "GET", "/v1/cts/" + a_ + "/backups").json().size(), 0U);
  auto actions = audit_actions(a_);
  for (const std::string& a :
       {std::string("backup"), "backup-restore " + mine, "backup-delete " + mine})
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
}

TEST_F(ApiTest, MigrateErrorPathsOriginAndSessionCsrf) {
  const std::string path = "/v1/cts/" + a_ + "/migrate";
  const std::string body = R"({"destination":"root@berth-test.invalid"})";
  // The operator's: a customer gets 403 on its own CT, 404 on another's.
  EXPECT_EQ(call(alice_, "POST", path, body).status, 403);
  EXPECT_EQ(call(bob_, "POST", path, body).status, 404);
  for (const char* bad :
       {"{}", R"({"destination":"-oProxyCommand=id"})", R"({"destination":"root@h;id"})",
        R"({"destination":"h","online":1})", R"({"destination":"h","ssh":"-v"})"})
    EXPECT_EQ(call(admin_, "POST", path, bad).status, 400) << bad;
  // A destination that does not resolve: the job fails with ssh's reason; the CT stays here.
  HttpResult r = call(admin_, "POST", path, body);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["kind"], "migrate");
  json job = wait_job(r.json()["id"]);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_PRED2(contains, job["error"]["message"].get<std::string>(), "berth-test.invalid");
  EXPECT_EQ(status_line(a_), "CTID " + a_ + " exist mounted running");
  auto actions = audit_actions(a_);
  EXPECT_NE(std::find(actions.begin(), actions.end(), "migrate to root@berth-test.invalid"),
            actions.end());

  // The console from another site's page: 403 before the upgrade; from berthd's own: opens.
  for (const char* kind : {"console", "shell"}) {
    WsClient ws(tls(), "/v1/cts/" + a_ + "/console?kind=" + std::string(kind),
                {{"Authorization", "Bearer " + alice_}, {"Origin", "https://evil.example"}});
    EXPECT_EQ(ws.status(), 403) << kind;
  }
  {
    WsClient ws(tls(), "/v1/cts/" + a_ + "/console?kind=shell",
                {{"Authorization", "Bearer " + alice_}, {"Origin", "https://berthd"}});
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws.send_binary("exit\n");
    ws.read_until("never", 500);
  }

  // A session: whoami gives its CSRF token; a change with a foreign Origin is refused even
  // with the token; with none or its own it passes (here to the body's check).
  r = call("", "POST", "/v1/login", R"({"token":")" + alice_ + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = r.headers["set-cookie"].substr(0, r.headers["set-cookie"].find(';'));
  std::string csrf = r.json()["csrf"];
  EXPECT_EQ(call("", "GET", "/v1/whoami", "", {{"Cookie", cookie}}).json()["csrf"], csrf);
  EXPECT_FALSE(call(alice_, "GET", "/v1/whoami").json().contains("csrf")) << "a bearer token";
  EXPECT_FALSE(call_unix("GET", "/v1/whoami").json().contains("csrf"));
  const std::string snaps = "/v1/cts/" + a_ + "/snapshots";
  Headers h{{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", "https://evil.example"}};
  r = call("", "POST", snaps, R"({"bogus":1})", h);
  EXPECT_EQ(r.status, 403) << r.body;
  h["Origin"] = "null";
  EXPECT_EQ(call("", "POST", snaps, R"({"bogus":1})", h).status, 403);
  h["Origin"] = "https://berthd";
  EXPECT_EQ(call("", "POST", snaps, R"({"bogus":1})", h).status, 400);
  h.erase("Origin");
  EXPECT_EQ(call("", "POST", snaps, R"({"bogus":1})", h).status, 400);
  // A GET with a foreign Origin is a read: allowed (SameSite=Strict keeps the cookie home).
  EXPECT_EQ(
      call("", "GET", snaps, "", {{"Cookie", cookie}, {"Origin", "https://evil.example"}}).status,
      200);
}

}  // namespace
}  // namespace berth::itest
