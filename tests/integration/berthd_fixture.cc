#include "berthd_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "openapi_check.h"

extern char** environ;

namespace berth::itest {
namespace {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

}  // namespace

void BerthdTest::SetUp() {
  BerthTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  panel_dir_ = root() + "/panel";
  ::mkdir(panel_dir_.c_str(), 0755);
  std::ofstream(panel_dir_ + "/index.html") << "<!doctype html><title>berth panel</title>\n";
  std::ofstream(panel_dir_ + "/.secret") << "hidden\n";
  std::ofstream(root() + "/outside.txt") << "outside\n";
  admin_ = make_token("ops", {"--admin"});
}

void BerthdTest::TearDown() {
  stop_berthd();
  BerthTest::TearDown();
}

std::string BerthdTest::make_token(const std::string& name, const std::vector<std::string>& args,
                                   const std::string& password) {
  std::vector<std::string> a{"token", "create", name};
  a.insert(a.end(), args.begin(), args.end());
  RunOptions o;
  if (!password.empty()) {
    a.emplace_back("--password");
    o.input = password + "\n";
  }
  RunResult r = berth(a, o);
  EXPECT_EQ(r.code, 0) << r.err;
  std::string t = r.out;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t;
}

void BerthdTest::start_berthd(const std::vector<std::string>& extra_env,
                              const std::vector<std::string>& extra_args) {
  port_ = free_port();
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "BERTH_", 6) != 0) env.emplace_back(*e);
  env.push_back("BERTH_ROOT=" + root());
  env.push_back("BERTH_PANEL_DIR=" + panel_dir_);
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<std::string> argv{BERTHD_BINARY, "--foreground",
                                "--listen",    "127.0.0.1:" + std::to_string(port_),
                                "--poll",      "1"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::string log = root() + "/berthd.log";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> av, ev;
    for (auto& s : argv) av.push_back(s.data());
    av.push_back(nullptr);
    for (auto& s : env) ev.push_back(s.data());
    ev.push_back(nullptr);
    ::execve(av[0], av.data(), ev.data());
    ::_exit(127);
  }
  berthd_ = pid;
  for (int i = 0; i < 100; ++i) {
    auto r = http_request(tls(), "GET", "/v1/openapi.json");
    if (r.status == 200) {
      openapi_ = r.json();
      ASSERT_TRUE(openapi_.is_object()) << "the OpenAPI document is no JSON object";
      return;
    }
    sleep_ms(100);
  }
  FAIL() << "berthd did not answer; its log: " << read_text(log);
}

void BerthdTest::stop_berthd(bool kill) {
  if (berthd_ <= 0) return;
  ::kill(berthd_, kill ? SIGKILL : SIGTERM);
  int st = 0;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(berthd_, &st, WNOHANG) == berthd_) {
      berthd_ = -1;
      if (!kill) {
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "berthd status " << st;
      }
      return;
    }
    sleep_ms(100);
  }
  ADD_FAILURE() << "berthd did not end on SIGTERM within 10 s";
  ::kill(berthd_, SIGKILL);
  ::waitpid(berthd_, &st, 0);
  berthd_ = -1;
}

void BerthdTest::check(const std::string& method, const std::string& path, const HttpResult& r) {
  if (!openapi_.is_object()) return;
  std::string ct = r.headers.count("content-type") ? r.headers.at("content-type") : "";
  std::string e = check_response(openapi_, method, path, r.status, ct, r.body);
  EXPECT_EQ(e, "") << "OpenAPI check: " << r.body.substr(0, 300);
}

HttpResult BerthdTest::call(const std::string& token, const std::string& method,
                            const std::string& path, const std::string& body, Headers headers) {
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  HttpResult r = http_request(tls(), method, path, body, headers);
  check(method, path, r);
  return r;
}

HttpResult BerthdTest::call_unix(const std::string& method, const std::string& path,
                                 const std::string& body) {
  HttpResult r = http_request(unix_socket(), method, path, body);
  check(method, path, r);
  return r;
}

nlohmann::json BerthdTest::wait_job(const std::string& id, int seconds) {
  nlohmann::json j;
  for (int i = 0; i < seconds * 5; ++i) {
    j = call(admin_, "GET", "/v1/jobs/" + id).json();
    std::string s = j.value("state", "");
    if (s == "done" || s == "failed" || s == "cancelled") return j;
    sleep_ms(200);
  }
  ADD_FAILURE() << "job " << id << " did not end: " << j.dump();
  return j;
}

}  // namespace berth::itest
