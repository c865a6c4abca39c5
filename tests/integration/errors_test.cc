// Error cases and their vzctl exit codes (reference section 7.3): unknown CT, create twice, start
// running, stop stopped, destroy running, bad CTIDs, bad option values, unknown options. Each
// failing command must print one error line and leave no trace.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class ErrorsTest : public BerthTest {
 protected:
  // Runs berth, expects the exit code and a one-line message on stderr starting "berth: ".
  void expect_fails(const std::vector<std::string>& args, int code) {
    RunResult r = berth(args);
    EXPECT_EQ(r.code, code) << ::testing::PrintToString(args) << " stderr: " << r.err;
    auto lines = split_lines(r.err);
    EXPECT_EQ(lines.size(), 1u) << ::testing::PrintToString(args) << " stderr: " << r.err;
    if (!lines.empty()) {
      EXPECT_EQ(lines[0].rfind("berth: ", 0), 0u) << r.err;
    }
  }
};

TEST_F(ErrorsTest, UnknownCt) {
  std::string id = new_ctid();
  for (const char* cmd : {"start", "stop", "destroy", "mount", "umount", "restart"})
    expect_fails({cmd, id}, 14);
  expect_fails({"set", id, "--hostname", "x", "--save"}, 14);
  EXPECT_FALSE(fs::exists(conf_path(id))) << "set created a config for an unknown CT";
  RunResult r = berth({"exec", id, "true"});
  EXPECT_TRUE(r.code == 14 || r.code == 31) << r.code;
  EXPECT_TRUE(berth({"enter", id}).code == 14 || berth({"enter", id}).code == 31);
  expect_fails({"start", "no-such-name"}, 14);
  EXPECT_EQ(status_line(id), "CTID " + id + " deleted unmounted down");
}

TEST_F(ErrorsTest, StateConflicts) {
  std::string id = create_ct();
  expect_fails({"create", id, "--ostemplate", "busybox"}, 44);
  expect_fails({"stop", id}, 31);
  expect_fails({"exec", id, "true"}, 31);
  expect_fails({"exec3", id, "/bin/true"}, 31);
  ASSERT_EQ(berth({"start", id}).code, 0);
  expect_fails({"start", id}, 32);
  expect_fails({"destroy", id}, 32);
  expect_fails({"umount", id}, 32);
  expect_fails({"create", id, "--ostemplate", "busybox"}, 44);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  // A name already taken by another CT.
  std::string other = new_ctid();
  ASSERT_EQ(berth({"set", id, "--name", "taken", "--save"}).code, 0);
  expect_fails({"create", other, "--ostemplate", "busybox", "--name", "taken"}, 131);
  EXPECT_FALSE(fs::exists(conf_path(other)));
  EXPECT_FALSE(fs::exists(ve_private(other)));
}

TEST_F(ErrorsTest, BadCtid) {
  for (const char* bad : {"50", "0", "-5", "99999999999", "101x", "2147483645"}) {
    RunResult r = berth({"create", bad, "--ostemplate", "busybox"});
    EXPECT_TRUE(r.code == 20 || r.code == 21) << bad << ": " << r.code << " " << r.err;
    r = berth({"start", bad});
    EXPECT_TRUE(r.code == 20 || r.code == 21) << bad << ": " << r.code << " " << r.err;
  }
  // Not a number: looked up as a name, which does not exist.
  RunResult r = berth({"create", "abc-", "--ostemplate", "busybox"});
  EXPECT_TRUE(r.code == 20 || r.code == 21 || r.code == 14) << r.code << " " << r.err;
  EXPECT_FALSE(fs::exists(root() + "/etc/berth/conf/abc-.conf"));
  // Nothing was created by any of them.
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(root() + "/etc/berth/conf", ec);
       !ec && it != fs::directory_iterator(); ++it)
    if (it->path().extension() == ".conf") ++n;
  EXPECT_EQ(n, 0u);
}

TEST_F(ErrorsTest, BadOptionValues) {
  std::string id = new_ctid();
  expect_fails({"create", id, "--ostemplate", "busybox", "--hostname", "bad name"}, 21);
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_FALSE(fs::exists(ve_private(id)));
  expect_fails({"create", id, "--ostemplate", "no-such-template"}, 91);
  EXPECT_FALSE(fs::exists(ve_private(id)));
  expect_fails({"create", id, "--ostemplate", "busybox", "--layout", "ploop:bogus"}, 21);
  expect_fails({"create", id, "--ostemplate", "busybox", "--bogus-option"}, 20);
  EXPECT_FALSE(fs::exists(conf_path(id)));

  std::string ct = create_ct();
  std::string before = read_text(conf_path(ct));
  expect_fails({"set", ct, "--onboot", "maybe", "--save"}, 21);
  expect_fails({"set", ct, "--hostname", "bad name", "--save"}, 21);
  expect_fails({"set", ct, "--nameserver", "not-an-ip", "--save"}, 21);
  expect_fails({"set", ct, "--userpasswd", "nocolon", "--save"}, 21);
  expect_fails({"set", ct, "--bogus", "1"}, 20);
  expect_fails({"set", ct, "--onboot"}, 20);  // missing value
  EXPECT_EQ(read_text(conf_path(ct)), before) << "a failed set changed the config";
  expect_fails({"frobnicate", ct}, 20);
  expect_fails({"start", ct, "--bogus"}, 20);
  expect_fails({"stop", ct, "--bogus"}, 20);
  EXPECT_EQ(status_line(ct), "CTID " + ct + " exist unmounted down");
  // A valid set still works after all that.
  EXPECT_EQ(berth({"set", ct, "--onboot", "yes", "--save"}).code, 0);
  EXPECT_PRED2(contains, read_text(conf_path(ct)), "ONBOOT=\"yes\"");
}

TEST_F(ErrorsTest, LockedCt) {
  std::string id = create_ct();
  // Hold the CT's lock the way another berth command would (flock on run/berth/lock/<id>.lck).
  std::string lock = root() + "/run/berth/lock/" + id + ".lck";
  fs::create_directories(fs::path(lock).parent_path());
  // -o: only flock itself holds the lock (not the sleep it runs); its own process group so
  // both go at once.
  pid_t holder = ::fork();
  if (holder == 0) {
    ::setpgid(0, 0);
    ::execl("/usr/bin/flock", "flock", "-o", "-x", lock.c_str(), "/bin/sleep", "5",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  sleep_ms(300);
  RunResult r = berth({"start", id});
  EXPECT_EQ(r.code, 9) << r.err;
  r = berth({"--skiplock", "status", id});
  EXPECT_EQ(r.code, 0);
  ::kill(-holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_EQ(berth({"start", id}).code, 0);
}

}  // namespace
}  // namespace berth::itest
