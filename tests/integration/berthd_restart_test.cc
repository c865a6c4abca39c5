// berthd restarts at any time without touching running CTs, and a job running across a restart
// ends in a defined state: the worker goes on and records its end (berthd killed), or the job is
// marked failed when its worker is gone too (jobs.h). Cancel stops a job at its safe point.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "berthd_fixture.h"

namespace berth::itest {
namespace {

std::string readlink_exe(pid_t pid) {
  char buf[4096];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

using nlohmann::json;

class BerthdRestartTest : public BerthdTest {};

TEST_F(BerthdRestartTest, RestartKeepsCtsRunningAndRebuildsItsView) {
  std::string a = create_running_ct();
  std::string b = create_ct();
  start_berthd();
  ASSERT_EQ(call(admin_, "POST", "/v1/cts/" + b + "/start").status, 200);
  auto inits_before = std::vector<pid_t>{ct_processes(a).at(0), ct_processes(b).at(0)};
  stop_berthd();  // SIGTERM
  EXPECT_EQ(status_line(a), "CTID " + a + " exist mounted running");
  EXPECT_EQ(status_line(b), "CTID " + b + " exist mounted running");
  // While berthd is down, the CLI changes things; the new berthd sees them.
  EXPECT_EQ(berth({"stop", a, "--fast"}).code, 0);
  start_berthd();
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/" + a).json()["state"], "stopped");
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/" + b).json()["state"], "running");
  EXPECT_EQ(ct_processes(b).at(0), inits_before[1]) << "the CT's init is the same process";
  // Killed outright (SIGKILL) and started again: the same.
  stop_berthd(true);
  EXPECT_EQ(status_line(b), "CTID " + b + " exist mounted running");
  start_berthd();
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/" + b).json()["state"], "running");
  EXPECT_EQ(call(admin_, "POST", "/v1/cts/" + b + "/stop", R"({"fast":true})").status, 200);
}

TEST_F(BerthdRestartTest, AJobRunningAcrossARestartEndsDefined) {
  // Workers wait 3 s at their first safe point (BERTH_TEST_JOB_DELAY_MS).
  start_berthd({"BERTH_TEST_JOB_DELAY_MS=3000"});
  std::string c = new_ctid();
  HttpResult r = call(admin_, "POST", "/v1/cts", "{\"ctid\":" + c + ",\"ostemplate\":\"busybox\"}");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json()["id"];
  sleep_ms(500);
  EXPECT_EQ(call(admin_, "GET", "/v1/jobs/" + id).json()["state"], "running");
  // berthd dies while the job runs; the worker goes on; the next berthd reports its end.
  stop_berthd(true);
  start_berthd();
  json job = wait_job(id);
  EXPECT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(status_line(c), "CTID " + c + " exist unmounted down");
  EXPECT_EQ(call(admin_, "GET", "/v1/cts/" + c).status, 200);

  // The worker dies too (the host went down): the job is marked failed, never left running.
  stop_berthd();
  start_berthd({"BERTH_TEST_JOB_DELAY_MS=20000"});
  std::string d = new_ctid();
  r = call(admin_, "POST", "/v1/cts", "{\"ctid\":" + d + ",\"ostemplate\":\"busybox\"}");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id2 = r.json()["id"];
  sleep_ms(500);
  stop_berthd(true);
  std::string file = root() + "/run/berth/berthd/jobs/" + id2 + ".json";
  json f = json::parse(read_text(file), nullptr, false);
  ASSERT_TRUE(f.is_object());
  pid_t worker = f.value("pid", 0);
  ASSERT_GT(worker, 0);
  ::kill(worker, SIGKILL);
  sleep_ms(200);
  start_berthd();
  job = wait_job(id2);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_PRED2(contains, job["error"]["message"].get<std::string>(), "interrupted");
  EXPECT_EQ(status_line(d), "CTID " + d + " deleted unmounted down") << "nothing was created";

  // Cancel at the safe point: nothing is created.
  stop_berthd();
  start_berthd({"BERTH_TEST_JOB_DELAY_MS=20000"});
  std::string e = new_ctid();
  r = call(admin_, "POST", "/v1/cts", "{\"ctid\":" + e + ",\"ostemplate\":\"busybox\"}");
  ASSERT_EQ(r.status, 202);
  HttpResult cancel = call(admin_, "DELETE", "/v1/jobs/" + r.json()["id"].get<std::string>());
  EXPECT_EQ(cancel.status, 202) << cancel.body;
  job = wait_job(r.json()["id"]);
  EXPECT_EQ(job["state"], "cancelled");
  EXPECT_EQ(status_line(e), "CTID " + e + " deleted unmounted down");
}

// A watcher that berthd started (no CT ran before, so the API's start spawns it: `berthd
// _monitor`) serves reboots and poweroffs inside as `berth`'s does (its teardown worker is
// `berthd _teardown`), and outlives a restart of berthd.
TEST_F(BerthdRestartTest, TheWatcherBerthdStartsServesRebootAndPoweroff) {
  std::string id = create_ct();
  start_berthd();
  ASSERT_EQ(call(admin_, "POST", "/v1/cts/" + id + "/start").status, 200);
  auto init_of = [&]() -> pid_t {
    auto p = ct_processes(id);
    return p.empty() ? 0 : p[0];
  };
  pid_t first = init_of();
  ASSERT_GT(first, 0);
  std::string stat = read_text("/proc/" + std::to_string(first) + "/stat");
  pid_t parent = std::atoi(stat.substr(stat.rfind(')') + 4).c_str());
  std::string cmd = read_text("/proc/" + std::to_string(parent) + "/cmdline");
  EXPECT_PRED2(contains, cmd, std::string("_monitor")) << "the init's parent is the watcher";
  EXPECT_EQ(readlink_exe(parent), std::string(BERTHD_BINARY)) << "spawned by berthd";
  stop_berthd();  // the watcher stays
  berth({"exec", id, "reboot"});
  pid_t second = 0;
  for (int i = 0; i < 300 && (second == 0 || second == first); ++i) {
    sleep_ms(100);
    second = init_of();
  }
  EXPECT_NE(second, first) << "rebooted: a new init";
  EXPECT_GT(second, 0);
  for (int i = 0; i < 50 && !contains(status_line(id), "running"); ++i) sleep_ms(100);
  EXPECT_PRED2(contains, status_line(id), "running");
  berth({"exec", id, "poweroff"});
  for (int i = 0; i < 300 && !contains(status_line(id), "down"); ++i) sleep_ms(100);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down") << "torn down";
  // The teardown worker says "down" before it has released the CT's lock and exited: the
  // fixture's own stop and leak check come after it.
  for (int i = 0; i < 200 && berth({"umount", id}).code == 9; ++i) sleep_ms(100);
  // ... and the watcher itself exits a moment after it let go of the lock: wait for it by its
  // pid (a loaded CI host showed it still there 300 ms later).
  for (int i = 0; i < 300 && readlink_exe(parent) == std::string(BERTHD_BINARY); ++i) sleep_ms(100);
  EXPECT_NE(readlink_exe(parent), std::string(BERTHD_BINARY)) << "the watcher exited";
}

// A client that connects and sends half a request (slowloris), or nothing, holds no thread past
// the I/O deadline: the watchdog shuts its connection down, and berthd still answers others.
TEST_F(BerthdRestartTest, SlowClientsAreCutOffAtTheDeadline) {
  start_berthd({}, {"--io-timeout", "2"});
  int slow = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(slow, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const char part[] = "\x16\x03\x01";  // the start of a TLS hello, never finished
  ASSERT_EQ(::write(slow, part, 3), 3);
  struct timeval tv {
    6, 0
  };
  ::setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  char buf[64];
  ssize_t n = ::read(slow, buf, sizeof buf);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LE(n, 0) << "berthd closed the connection";
  EXPECT_LT(waited, 5.0) << "within the 2 s deadline (and the watchdog's half second)";
  ::close(slow);
  EXPECT_EQ(call(admin_, "GET", "/v1/whoami").status, 200);
}

}  // namespace
}  // namespace berth::itest
