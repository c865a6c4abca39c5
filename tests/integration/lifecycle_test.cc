// The user story, command by command: create, start, exec/exec2/exec3, enter on a pty,
// status in every state, set --save, stop, mount/umount, destroy, and the vzctl name.
#include <crypt.h>
#include <pty.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class LifecycleTest : public BerthTest {};

// Runs `berth enter args` on a new pty of size rows x cols, types input, returns everything
// the terminal showed and the exit code.
std::pair<std::string, int> run_on_pty(const std::string& root,
                                       const std::vector<std::string>& args,
                                       const std::string& input, unsigned short rows,
                                       unsigned short cols) {
  struct winsize ws {
    rows, cols, 0, 0
  };
  int master = -1;
  std::vector<std::string> argv{BERTH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  std::string env_root = "BERTH_ROOT=" + root;
  std::string path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {env_root.data(), path.data(), const_cast<char*>("TERM=dumb"), nullptr};
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid == 0) {
    ::execve(a[0], a.data(), envp);
    ::_exit(127);
  }
  std::string seen;
  bool sent = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    struct pollfd p {
      master, POLLIN, 0
    };
    int rc = ::poll(&p, 1, 100);
    if (rc > 0) {
      char buf[4096];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the other side closed
      seen.append(buf, static_cast<size_t>(n));
    }
    // Type once the shell printed its prompt ("# ") or after a pause.
    if (!sent && (seen.find("# ") != std::string::npos ||
                  std::chrono::steady_clock::now() + std::chrono::seconds(18) > deadline)) {
      ssize_t w = ::write(master, input.data(), input.size());
      (void)w;
      sent = true;
    }
  }
  ::close(master);
  int status = 0;
  if (std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return {seen, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

TEST_F(LifecycleTest, UserStory) {
  std::string id = new_ctid();
  RunResult r = berth(
      {"create", id, "--ostemplate", "busybox", "--hostname", "ct" + id, "--name", "web" + id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
  std::string conf = read_text(conf_path(id));
  EXPECT_PRED2(contains, conf, "HOSTNAME=\"ct" + id + "\"");
  EXPECT_PRED2(contains, conf, "NAME=\"web" + id + "\"");
  EXPECT_PRED2(contains, conf, "OSTEMPLATE=\"busybox\"");

  r = berth({"start", "web" + id});  // by name
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");

  // ps ax: PID 1 is the CT's init, and every listed process belongs to the CT.
  r = berth({"exec", id, "ps", "ax"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_PRED2(contains, lines[0], "PID");
  std::istringstream first(lines[1]);
  std::string pid1, user1, cmd1;
  first >> pid1 >> user1 >> cmd1;
  EXPECT_EQ(pid1, "1");
  EXPECT_PRED2(contains, cmd1, "init");
  size_t ct_procs = ct_processes(id).size();
  // Listed: the CT's own processes plus the exec'ed shell and ps (which are in its cgroup too).
  EXPECT_LE(lines.size() - 1, ct_procs + 2) << r.out;
  for (const auto& l : lines)
    EXPECT_EQ(l.find("berth"), std::string::npos) << "host process visible: " << l;

  r = berth({"exec2", id, "false"});
  EXPECT_EQ(r.code, 1);
  r = berth({"exec", id, "false"});
  EXPECT_EQ(r.code, 8);
  r = berth({"exec2", id, "exit 42"});
  EXPECT_EQ(r.code, 42);
  r = berth({"exec", id, "true"});
  EXPECT_EQ(r.code, 0);
  r = berth({"exec", id, "echo", "a  b", ";", "hostname"});  // joined and run by the shell
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "a b\nct" + id + "\n");

  // exec3: argv as given, no shell.
  r = berth({"exec3", id, "/bin/echo", "a  b", ";"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "a  b ;\n");
  r = berth({"exec3", id, "/bin/sh", "-c", "exit 5"});
  EXPECT_EQ(r.code, 5);

  // exec with `-`: commands from stdin; stdin also reaches a plain command.
  RunOptions in;
  in.input = "echo from-stdin\nhostname\nexit 0\n";
  r = berth({"exec", id, "-"}, in);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "from-stdin\nct" + id + "\n");
  in.input = "false\n";
  r = berth({"exec2", id, "-"}, in);
  EXPECT_EQ(r.code, 1);
  in.input = "line1\nline2\n";
  r = berth({"exec", id, "wc", "-l"}, in);
  EXPECT_EQ(r.code, 0);
  EXPECT_PRED2(contains, r.out, "2");

  // Graceful stop, then destroy: the config is renamed, the private area and name are gone.
  r = berth({"stop", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
  EXPECT_TRUE(ct_processes(id).empty());
  r = berth({"destroy", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " deleted unmounted down");
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_TRUE(fs::exists(conf_path(id) + ".destroyed"));
  EXPECT_FALSE(fs::exists(ve_private(id)));
  EXPECT_FALSE(fs::exists(root() + "/etc/berth/names/web" + id));
  EXPECT_EQ(berth({"status", "web" + id}).code == 0, false) << "name still resolves after destroy";
}

TEST_F(LifecycleTest, EnterOnPty) {
  std::string id = create_running_ct();
  auto [seen, code] =
      run_on_pty(root(), {"enter", id},
                 "[ -t 0 ] && echo tty-$((40+2)); stty size; hostname; exit\n", 33, 111);
  EXPECT_EQ(code, 0) << seen;
  EXPECT_PRED2(contains, seen, "tty-42");
  EXPECT_PRED2(contains, seen, "33 111");
  EXPECT_PRED2(contains, seen, "ct" + id);
  EXPECT_PRED2(contains, seen, "entered into CT " + id);
  EXPECT_PRED2(contains, seen, "exited from CT " + id);
  // --exec runs a command on the pty instead of a login shell.
  auto [seen2, code2] = run_on_pty(root(), {"enter", id, "--exec", "tty"}, "", 24, 80);
  EXPECT_EQ(code2, 0) << seen2;
  EXPECT_PRED2(contains, seen2, "/dev/pts/");
  // The CT keeps running, with no shell left behind.
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  RunResult ps = berth({"exec", id, "ps"});
  EXPECT_EQ(ps.out.find("-sh"), std::string::npos) << ps.out;
}

TEST_F(LifecycleTest, StatusInEveryState) {
  std::string id = new_ctid();
  EXPECT_EQ(status_line(id), "CTID " + id + " deleted unmounted down");
  ASSERT_EQ(berth({"create", id, "--ostemplate", "busybox"}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
  RunResult r = berth({"mount", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted down");
  EXPECT_TRUE(fs::exists(ve_root(id) + "/sbin/init"));
  EXPECT_EQ(berth({"mount", id}).code, 41);
  r = berth({"umount", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
  EXPECT_FALSE(fs::exists(ve_root(id) + "/sbin/init"));
  EXPECT_EQ(berth({"umount", id}).code, 40);
  // Start a mounted CT; umount refuses while it runs.
  ASSERT_EQ(berth({"mount", id}).code, 0);
  ASSERT_EQ(berth({"start", id}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
  EXPECT_EQ(berth({"umount", id}).code, 32);
  // stop --skip-umount keeps it mounted.
  ASSERT_EQ(berth({"stop", id, "--fast", "--skip-umount"}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted down");
  ASSERT_EQ(berth({"restart", id}).code, 0);
  EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
}

// A stop right after a start: `start` returns once init is exec'd, and a PID namespace's init
// drops a signal from outside that it does not handle yet. The stop sends its halt signal once
// init takes it, and kills an init that never does, instead of waiting STOP_TIMEOUT for a signal
// that was lost (a busybox init's stop right after its start waited so in CI once).
TEST_F(LifecycleTest, AStopRightAfterTheStartWaitsForInitToTakeTheHaltSignal) {
  std::string id = create_ct();
  ASSERT_EQ(berth({"set", id, "--stop-timeout", "25", "--save"}).code, 0);
  auto with_init = [&](const std::string& script) {
    ASSERT_EQ(berth({"mount", id}).code, 0);
    std::string init = ve_root(id) + "/sbin/init";
    fs::remove(init);
    fs::remove(ve_root(id) + "/halted");
    {
      std::ofstream f(init);
      f << script;
    }
    fs::permissions(init, fs::perms(0755));
    ASSERT_EQ(berth({"umount", id}).code, 0);
  };
  auto timed_stop = [&] {
    auto t0 = std::chrono::steady_clock::now();
    RunResult r = berth({"stop", id});
    EXPECT_EQ(r.code, 0) << r.err;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  // The template's busybox init waits for its signals in sigtimedwait(2): it takes the halt signal
  // and shuts down (its messages in the console log), it is not killed for a lack of a handler.
  std::string console = root() + "/var/log/berth/" + id + ".console.log";
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  timed_stop();
  EXPECT_PRED2(contains, read_text(console), "Requesting system poweroff");
  // Its handler (busybox sh: the halt signal is SIGUSR2) 0.3 s after it starts, well after the
  // stop has come and well within the stop's 2 s of grace.
  with_init(
      "#!/bin/sh\nsleep 0.3\ntrap 'echo took > /halted; exit 0' USR2\n"
      "while :; do sleep 0.1; done\n");
  ASSERT_EQ(berth({"start", id}).code, 0);
  double took = timed_stop();
  EXPECT_LT(took, 10.0) << "the halt signal was lost: the stop waited STOP_TIMEOUT";
  ASSERT_EQ(berth({"mount", id}).code, 0);
  EXPECT_EQ(read_text(ve_root(id) + "/halted"), "took\n") << "init did not get the halt signal";
  ASSERT_EQ(berth({"umount", id}).code, 0);
  // An init that never handles it: killed after a short grace, not after STOP_TIMEOUT.
  with_init("#!/bin/sh\nwhile :; do sleep 0.1; done\n");
  ASSERT_EQ(berth({"start", id}).code, 0);
  took = timed_stop();
  EXPECT_LT(took, 10.0) << "an init without a handler was waited for";
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
}

TEST_F(LifecycleTest, SetSaveHostnameNameserverPassword) {
  std::string id = create_running_ct();
  RunResult r = berth({"set", id, "--hostname", "new" + id, "--nameserver", "198.18.0.1",
                       "--userpasswd", "root:secret", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string conf = read_text(conf_path(id));
  EXPECT_PRED2(contains, conf, "HOSTNAME=\"new" + id + "\"");
  EXPECT_PRED2(contains, conf, "NAMESERVER=\"198.18.0.1\"");
  EXPECT_EQ(conf.find("secret"), std::string::npos) << "password saved in the config";
  EXPECT_EQ(conf.find("ct" + id), std::string::npos) << "old hostname kept";
  // Inside the running CT.
  EXPECT_EQ(berth({"exec", id, "hostname"}).out, "new" + id + "\n");
  EXPECT_EQ(berth({"exec", id, "cat", "/etc/hostname"}).out, "new" + id + "\n");
  EXPECT_PRED2(contains, berth({"exec", id, "cat", "/etc/resolv.conf"}).out,
               "nameserver 198.18.0.1");
  // The shadow hash verifies against the password (read through the host's view of VE_ROOT).
  std::string hash;
  for (const auto& l : split_lines(read_text(ve_root(id) + "/etc/shadow")))
    if (l.rfind("root:", 0) == 0) hash = l.substr(5, l.find(':', 5) - 5);
  ASSERT_FALSE(hash.empty());
  struct crypt_data cd {};
  const char* good = ::crypt_r("secret", hash.c_str(), &cd);
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(std::string(good), hash);
  struct crypt_data cd2 {};
  const char* bad = ::crypt_r("wrong", hash.c_str(), &cd2);
  EXPECT_TRUE(bad == nullptr || std::string(bad) != hash);
  // Survives a restart: hostname comes from the saved config.
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  EXPECT_EQ(berth({"exec", id, "hostname"}).out, "new" + id + "\n");
  // Without --save the config stays as it was.
  ASSERT_EQ(berth({"set", id, "--hostname", "other" + id}).code, 0);
  EXPECT_PRED2(contains, read_text(conf_path(id)), "HOSTNAME=\"new" + id + "\"");
}

TEST_F(LifecycleTest, ListOutputs) {
  std::string a = create_running_ct({"--name", "alpha"});
  std::string b = create_ct();
  RunResult r = berth({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;  // header + the running CT only
  EXPECT_EQ(lines[0], "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME");
  EXPECT_PRED2(matches, lines[1], "^ +" + a + " +[0-9]+ running   -               ct" + a + "$");

  r = berth({"list", "-a"});
  lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[2], "      " + b + "          - stopped   -               ct" + b);

  r = berth({"list", "-a", "-H", "-o", "ctid,name,status"});
  lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_PRED2(matches, lines[0], "^ +" + a + " alpha +running$");
  EXPECT_PRED2(matches, lines[1], "^ +" + b + " - +stopped$");

  r = berth({"list", "-1", "-a"});
  EXPECT_EQ(r.out, "      " + a + "\n      " + b + "\n");
  r = berth({"list", "-a", "-H", "-o", "ctid", "-s", "-ctid"});
  EXPECT_EQ(r.out, "      " + b + "\n      " + a + "\n");
  r = berth({"list", "-S", "-1"});
  EXPECT_EQ(r.out, "      " + b + "\n");

  r = berth({"list", "-a", "-j"});
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["ctid"], std::stoi(a));
  EXPECT_EQ(j[0]["status"], "running");
  EXPECT_EQ(j[0]["name"], "alpha");
  EXPECT_EQ(j[0]["hostname"], "ct" + a);
  EXPECT_TRUE(j[0]["ip"].is_array());
  EXPECT_GE(j[0]["numproc"]["held"].get<int>(), 1);
  EXPECT_EQ(j[1]["status"], "stopped");
  EXPECT_TRUE(j[1]["name"].is_null());

  r = berth({"list", "-a", "-j", "-o", "ctid,hostname"});
  j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  EXPECT_EQ(j[1], nlohmann::json({{"ctid", std::stoi(b)}, {"hostname", "ct" + b}}));

  // vzlist is the same binary.
  RunResult v = berth_as("vzlist", {"-a"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, berth({"list", "-a"}).out);
}

TEST_F(LifecycleTest, VzctlNameBehavesTheSame) {
  std::string id = new_ctid();
  RunResult r =
      berth_as("vzctl", {"create", id, "--ostemplate", "busybox", "--hostname", "vz" + id});
  ASSERT_EQ(r.code, 0) << r.err;
  r = berth_as("vzctl", {"start", id});
  ASSERT_EQ(r.code, 0) << r.err;
  r = berth_as("vzctl", {"status", id});
  EXPECT_EQ(r.out, "CTID " + id + " exist mounted running\n");
  EXPECT_EQ(berth_as("vzctl", {"exec2", id, "false"}).code, 1);
  EXPECT_EQ(berth_as("vzctl", {"exec", id, "hostname"}).out, "vz" + id + "\n");
  EXPECT_EQ(berth_as("vzctl", {"start", id}).code, 32);
  ASSERT_EQ(berth_as("vzctl", {"stop", id, "--fast"}).code, 0);
  EXPECT_EQ(berth_as("vzctl", {"status", id}).out, "CTID " + id + " exist unmounted down\n");
  ASSERT_EQ(berth_as("vzctl", {"destroy", id}).code, 0);
  EXPECT_TRUE(fs::exists(conf_path(id) + ".destroyed"));
}

}  // namespace
}  // namespace berth::itest
