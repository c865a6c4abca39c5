// A Debian 12 VPS as a new user runs it (issue 10's story): systemd as PID 1, start --wait until
// systemd says the boot is done, no failed unit, ssh login with the --userpasswd password, the
// VPS's own figures in free/nproc/uptime/top, procps/apt/sshd happy with its /proc, two VPSs with
// routed addresses reaching each other and the host (with the host's ip_forward as it is: off on a
// fresh host), restart and a graceful stop, nothing left.
//
// The template comes from $BERTH_TEST_DEBIAN_TEMPLATE (tests/tools/debian-template builds and
// caches it; scripts/test.sh sets it): without it the tests are SKIPPED with the reason.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "harness.h"

namespace berth::itest {
namespace {

using std::chrono::seconds;

class DebianTest : public BerthTest {
 protected:
  void SetUp() override {
    BerthTest::SetUp();
    if (IsSkipped()) return;
    const char* t = std::getenv("BERTH_TEST_DEBIAN_TEMPLATE");
    if (!t || !*t || access(t, R_OK) != 0)
      GTEST_SKIP() << "SKIPPED: no Debian template (set BERTH_TEST_DEBIAN_TEMPLATE; "
                      "tests/tools/debian-template makes one)";
    RunResult r = berth({"template", "import", t, "--name", "debian-12-x86_64-minimal"},
                        {.timeout = seconds(120)});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // A Debian VPS with an address, booted; returns its CTID.
  std::string boot(const std::string& ip, const std::string& hostname) {
    std::string id = new_ctid();
    RunResult r = berth({"create", id, "--ostemplate", "debian-12-x86_64-minimal", "--ipadd", ip,
                         "--hostname", hostname, "--userpasswd", "root:s3cret"},
                        {.timeout = seconds(180)});
    EXPECT_EQ(r.code, 0) << r.err;
    r = berth({"start", id, "--wait"}, {.timeout = seconds(180)});
    EXPECT_EQ(r.code, 0) << r.err;
    return id;
  }
  RunResult in(const std::string& id, const std::string& cmd) {
    return berth({"exec", id, cmd}, {.timeout = seconds(60)});
  }
};

TEST_F(DebianTest, UserStoryOnTheHost) {
  std::string a = boot("198.18.46.1", "web1");
  ASSERT_EQ(status_line(a), "CTID " + a + " exist mounted running");

  // systemd is done, and nothing failed.
  RunResult r = in(a, "systemctl is-system-running");
  EXPECT_EQ(r.out, "running\n") << in(a, "systemctl --failed --no-pager").out;
  EXPECT_EQ(in(a, "systemctl --failed --plain --no-legend").out, "");
  EXPECT_EQ(in(a, "readlink /proc/1/exe").out, "/usr/lib/systemd/systemd\n");
  EXPECT_EQ(in(a, "hostname").out, "web1\n");
  // Per-machine files were made fresh on the first boot.
  EXPECT_TRUE(matches(in(a, "cat /etc/machine-id").out, "[0-9a-f]{32}\n"));
  EXPECT_EQ(in(a, "ls /etc/ssh/ssh_host_ed25519_key").code, 0);

  // /proc: procfs (systemd, procps and sshd check it), with the VPS's own figures.
  EXPECT_EQ(in(a, "stat -f -c %T /proc").out, "proc\n");
  r = in(a, "free -m");
  EXPECT_PRED2(matches, split_lines(r.out).at(1), "Mem: +256 .*") << r.out;
  std::string cpus = in(a, "nproc").out;
  EXPECT_FALSE(cpus.empty());
  r = in(a, "cut -d. -f1 /proc/uptime");
  EXPECT_LT(std::atoi(r.out.c_str()), 600) << r.out;  // the VPS's uptime, not the host's
  r = in(a, "top -bn1");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, r.out, "MiB Mem :    256.0 total");
  EXPECT_EQ(in(a, "ps -e -o comm=").code, 0);
  EXPECT_EQ(in(a, "apt-get check -q").code, 0);
  EXPECT_EQ(in(a, "sshd -t").code, 0);

  // ssh from the host with the password --userpasswd set.
  RunResult ssh = run_process(
      {"/usr/bin/sshpass", "-p", "s3cret", "/usr/bin/ssh", "-o", "StrictHostKeyChecking=no", "-o",
       "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
       "root@198.18.46.1", "hostname; id -u"},
      {"PATH=/usr/bin:/bin"}, {.timeout = seconds(30)});
  EXPECT_EQ(ssh.code, 0) << ssh.err;
  EXPECT_EQ(ssh.out, "web1\n0\n");

  // A second VPS reaches the first one (the host routes between them) and the host itself.
  std::string b = boot("198.18.46.2", "web2");
  r = in(b, "bash -c 'exec 3<>/dev/tcp/198.18.46.1/22; head -c 7 <&3'");
  EXPECT_EQ(r.out, "SSH-2.0") << r.err;
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  std::string port = std::to_string(ntohs(sa.sin_port));
  r = in(b, "bash -c 'echo hi > /dev/tcp/169.254.0.1/" + port + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  pollfd p{lfd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1) << "no connection from the VPS to the host";
  ::close(lfd);

  // restart and stop: systemd's own shutdown, well within STOP_TIMEOUT.
  r = berth({"restart", a, "--wait"}, {.timeout = seconds(180)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(in(a, "systemctl is-system-running").out, "running\n");
  auto t0 = std::chrono::steady_clock::now();
  r = berth({"stop", a}, {.timeout = seconds(120)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(30));
  EXPECT_EQ(status_line(a), "CTID " + a + " exist unmounted down");
  EXPECT_EQ(berth({"stop", b}, {.timeout = seconds(120)}).code, 0);
}

}  // namespace
}  // namespace berth::itest
