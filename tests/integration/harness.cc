// Integration test harness: process runner, per-test BERTH_ROOT, leak check (see harness.h).
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace berth::itest {
namespace fs = std::filesystem;

namespace {

std::string g_template_root;  // BERTH_ROOT where the busybox cache was built (once per program)
std::string g_template_tar;   // the cache file, copied into every test's root

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

}  // namespace

std::vector<std::string> root_env(const std::string& root) {
  std::vector<std::string> env;
  // The test's own variables only: a BERTH_FAIL_STEP or BERTH_TRACE of the caller would change
  // what every command does (runtime/pipeline.h); a test passes them in RunOptions::env.
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "BERTH_ROOT=", 11) != 0 && std::strncmp(*e, "BERTH_FAIL_STEP=", 16) != 0 &&
        std::strncmp(*e, "BERTH_TRACE=", 12) != 0)
      env.emplace_back(*e);
  env.push_back("BERTH_ROOT=" + root);
  return env;
}

namespace {

std::vector<char*> cstrs(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Builds the busybox template cache once for the whole test program.
class TemplateEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (::geteuid() != 0) return;
    g_template_root = "/tmp/berth-it-tmpl-" + std::to_string(::getpid());
    fs::create_directories(g_template_root + "/etc/berth");
    ::chmod(g_template_root.c_str(), 0755);
    // An instance of its own: the default one may be a real installation's, which has VPSs
    // (state/instance_owner.h: every command of another root is refused there).
    write_text(g_template_root + "/etc/berth/berth.conf",
               "CGROUP_PARENT=\"berth-it-tmpl-" + std::to_string(::getpid()) + "\"\n");
    RunResult r =
        run_process({BERTH_BINARY, "template", "create", "busybox"}, root_env(g_template_root), {});
    if (r.code != 0) {
      std::fprintf(stderr, "itest: `berth template create busybox` failed (%d): %s\n", r.code,
                   r.err.c_str());
      return;
    }
    std::string cache = g_template_root + "/var/lib/berth/template/cache";
    for (const auto& e : fs::directory_iterator(cache))
      if (e.path().filename().string().rfind("busybox.tar", 0) == 0) g_template_tar = e.path();
  }
  void TearDown() override {
    if (!g_template_root.empty()) {
      std::error_code ec;
      fs::remove_all(g_template_root, ec);
    }
  }
};

[[maybe_unused]] ::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new TemplateEnvironment);

std::string readlink_str(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
        out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    ::closedir(d);
  }
  return out;
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

// Mount points (from our own mountinfo) at or below dir, deepest last.
std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& line : split_lines(read_text("/proc/self/mountinfo"))) {
    std::istringstream in(line);
    std::string id, parent, dev, root, point;
    in >> id >> parent >> dev >> root >> point;
    if (under(point, dir)) out.push_back(point);
  }
  return out;
}

// True if /proc/<pid>/cgroup puts pid in a group whose path has a component named instance.
bool in_instance_cgroup(pid_t pid, const std::string& instance) {
  for (const auto& line : split_lines(read_text("/proc/" + std::to_string(pid) + "/cgroup"))) {
    size_t c = line.find(':', line.find(':') + 1);
    if (c == std::string::npos) continue;
    // A dying CT init (exited, waiting for the host's init to reap it) still names its removed
    // group: "0::/<instance>/<ctid> (deleted)". It holds nothing of the instance.
    if (line.size() > 10 && line.compare(line.size() - 10, 10, " (deleted)") == 0) continue;
    std::string path = line.substr(c + 1) + "/";
    if (path.find("/" + instance + "/") != std::string::npos) return true;
  }
  return false;
}

std::string env_of(pid_t pid) {
  std::string e = read_text("/proc/" + std::to_string(pid) + "/environ");
  for (char& c : e)
    if (c == '\0') c = '\n';
  return e;
}

void kill_pids(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) ::kill(p, SIGKILL);
}

}  // namespace

std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> out;
  for (const auto& line : split_lines(read_text("/proc/self/mountinfo"))) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype;
    rest >> fstype;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::istringstream in(line);
    std::string id, parent, dev, root, point;
    in >> id >> parent >> dev >> root >> point;
    out.push_back(point);
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string args_of(pid_t pid) {
  std::string s = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool matches(const std::string& text, const std::string& ecma_regex) {
  return std::regex_match(text, std::regex(ecma_regex));
}

void sleep_ms(long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

RunResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      const RunOptions& opts) {
  RunResult r;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    r.err = "pipe failed";
    return r;
  }
  auto args = cstrs(argv);
  auto envp = cstrs(env);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // the harness kills the whole group on timeout
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  int in_fd = in[1];
  if (opts.input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  int out_fd = out[0], err_fd = err[0];
  while (out_fd >= 0 || err_fd >= 0) {
    struct pollfd p[3];
    int n = 0;
    if (out_fd >= 0) p[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) p[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) p[n++] = {in_fd, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      break;
    }
    int rc = ::poll(p, static_cast<nfds_t>(n), static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < n && rc > 0; ++i) {
      if (!p[i].revents) continue;
      if (p[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, opts.input.data() + written, opts.input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == opts.input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buf[8192];
      ssize_t got = ::read(p[i].fd, buf, sizeof buf);
      std::string& dst = p[i].fd == out_fd ? r.out : r.err;
      if (got > 0) {
        dst.append(buf, static_cast<size_t>(got));
      } else {
        ::close(p[i].fd);
        (p[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd})
    if (fd >= 0) ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// ---- fixture ----

void BerthTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "integration tests need root";
  ASSERT_FALSE(g_template_tar.empty()) << "the busybox template could not be built";
  instance_ = "berth-test-" + std::to_string(::getpid());
  static std::atomic<int> seq{0};
  root_ = "/tmp/berth-it-" + std::to_string(::getpid()) + "-" + std::to_string(seq++);
  std::error_code ec;
  fs::remove_all(root_, ec);
  std::string cache = root_ + "/var/lib/berth/template/cache";
  fs::create_directories(cache);
  fs::create_directories(root_ + "/etc/berth");
  // The CT's root user is an unprivileged host uid; it must be able to traverse the path.
  for (std::string p = cache; p.size() > 4; p = fs::path(p).parent_path()) ::chmod(p.c_str(), 0755);
  write_text(root_ + "/etc/berth/berth.conf",
             "# integration test instance\nCGROUP_PARENT=\"" + instance_ + "\"\n");
  fs::copy_file(g_template_tar, cache + "/" + fs::path(g_template_tar).filename().string());
}

void BerthTest::TearDown() {
  if (root_.empty()) return;
  for (pid_t p : spawned_) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  }
  for (const auto& id : ctids_) {
    if (!fs::exists(conf_path(id))) continue;
    RunResult s = berth({"stop", id, "--fast"});
    // A CT that stopped itself (poweroff, a reboot loop) is "down" before its watcher has let go
    // of the CT's lock and exited: wait for it rather than call that a failure.
    for (int i = 0; i < 150 && s.code == 9; ++i) {
      sleep_ms(100);
      s = berth({"stop", id, "--fast"});
    }
    EXPECT_TRUE(s.code == 0 || s.code == 31)
        << "teardown: stop " << id << ": " << s.code << " " << s.err;
    RunResult d = berth({"destroy", id});
    EXPECT_EQ(d.code, 0) << "teardown: destroy " << id << ": " << d.err;
  }
  auto found = leaks();
  // A process of the instance that is exiting (a watcher after its CT's teardown) gets a few
  // seconds; anything still there then is a leak.
  for (int i = 0; i < 50 && !found.empty(); ++i) {
    sleep_ms(100);
    found = leaks();
  }
  EXPECT_TRUE(found.empty()) << "leak check: " << ::testing::PrintToString(found);
  if (!found.empty()) force_cleanup();
  std::error_code ec;
  if (mounts_under(root_).empty()) fs::remove_all(root_, ec);
  EXPECT_FALSE(fs::exists(root_)) << "could not remove " << root_;
}

// Loop devices whose backing file is under dir (a CT's disk image): "/dev/loopN".
static std::vector<std::string> loops_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& dev : fs::directory_iterator("/sys/block", ec)) {
    std::string name = dev.path().filename().string();
    if (name.rfind("loop", 0) != 0) continue;
    std::string file = read_text(dev.path().string() + "/loop/backing_file");
    if (!file.empty() && file.back() == '\n') file.pop_back();
    if (under(file, dir)) out.push_back("/dev/" + name);
  }
  return out;
}

std::vector<std::string> BerthTest::leaks() const {
  std::vector<std::string> out;
  for (const auto& m : mounts_under(root_)) out.push_back("mount " + m);
  for (const auto& l : loops_under(root_)) out.push_back("loop " + l);
  for (const auto& cg : cgroup_mounts()) {
    std::string dir = cg + "/" + instance_;
    if (fs::exists(dir)) out.push_back("cgroup " + dir);
  }
  // Host ends of the CTs' veths carry the alias "berth:<instance>:<CTID>".
  std::error_code ec;
  for (const auto& link : fs::directory_iterator("/sys/class/net", ec)) {
    std::string alias = read_text(link.path().string() + "/ifalias");
    if (alias.rfind("berth:" + instance_ + ":", 0) == 0)
      out.push_back("link " + link.path().filename().string());
  }
  // Id ranges the instance registered for other tools (runtime/id_ranges.h) of CTs that are gone.
  for (const char* f : {"/etc/subuid", "/etc/subgid"})
    for (const auto& line : split_lines(read_text(f))) {
      if (line.rfind(instance_ + ".", 0) != 0) continue;
      std::string ctid = line.substr(instance_.size() + 1, line.find(':') - instance_.size() - 1);
      if (!fs::exists(conf_path(ctid)))
        out.push_back(std::string("id range in ") + f + ": " + line);
    }
  std::string bin = fs::canonical(BERTH_BINARY).string();
  // berthd, and the watcher and workers it starts (the same binary).
  std::string daemon_bin = fs::canonical(BERTHD_BINARY).string();
  for (pid_t p : all_pids()) {
    if (p == ::getpid()) continue;
    std::string proc = "/proc/" + std::to_string(p);
    if (in_instance_cgroup(p, instance_))
      out.push_back("process " + std::to_string(p) + " in cgroup " + instance_);
    std::string exe = readlink_str(proc + "/exe");
    if ((exe == bin || exe == daemon_bin) &&
        env_of(p).find("BERTH_ROOT=" + root_ + "\n") != std::string::npos)
      out.push_back("berth process " + std::to_string(p));
    // A process whose root or cwd is in our tree: an orphaned CT process outside the cgroup.
    std::string proot = readlink_str(proc + "/root"), cwd = readlink_str(proc + "/cwd");
    if (under(proot, root_) || under(cwd, root_))
      out.push_back("process " + std::to_string(p) + " rooted in " + proot);
  }
  return out;
}

void BerthTest::force_cleanup() {
  std::string bin = fs::canonical(BERTH_BINARY).string();
  std::string daemon_bin = fs::canonical(BERTHD_BINARY).string();
  for (int round = 0; round < 3; ++round) {
    for (pid_t p : all_pids()) {
      std::string proc = "/proc/" + std::to_string(p);
      std::string proot = readlink_str(proc + "/root");
      bool ours =
          in_instance_cgroup(p, instance_) || under(proot, root_) ||
          ((readlink_str(proc + "/exe") == bin || readlink_str(proc + "/exe") == daemon_bin) &&
           env_of(p).find("BERTH_ROOT=" + root_ + "\n") != std::string::npos);
      if (ours && p != ::getpid()) kill_pids({p});
    }
    sleep_ms(50);
  }
  auto mounts = mounts_under(root_);
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  for (const auto& l : loops_under(root_)) {
    int fd = ::open(l.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::ioctl(fd, LOOP_CLR_FD), ::close(fd);
  }
  for (const auto& cg : cgroup_mounts()) {
    std::string dir = cg + "/" + instance_;
    if (!fs::exists(dir)) continue;
    std::vector<std::string> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); ++it)
      if (it->is_directory()) dirs.push_back(it->path());
    for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) ::rmdir(d->c_str());
    ::rmdir(dir.c_str());
  }
  for (const char* f : {"/etc/subuid", "/etc/subgid"}) {
    std::string kept;
    bool dropped = false;
    for (const auto& line : split_lines(read_text(f))) {
      if (line.rfind(instance_ + ".", 0) == 0)
        dropped = true;
      else
        kept += line + "\n";
    }
    if (dropped) write_text(f, kept);
  }
}

std::vector<std::string> BerthTest::env() const { return root_env(root_); }

RunResult BerthTest::berth(const std::vector<std::string>& args, RunOptions opts) {
  std::vector<std::string> argv{opts.argv0.empty() ? std::string(BERTH_BINARY) : opts.argv0};
  argv.insert(argv.end(), args.begin(), args.end());
  auto e = env();
  e.insert(e.end(), opts.env.begin(), opts.env.end());
  return run_process(argv, e, opts);
}

RunResult BerthTest::berth_as(const std::string& name, const std::vector<std::string>& args,
                              RunOptions opts) {
  opts.argv0 = (fs::path(BERTH_BINARY).parent_path() / name).string();
  return berth(args, opts);
}

pid_t BerthTest::spawn_berth(const std::vector<std::string>& args) {
  std::vector<std::string> argv{BERTH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto a = cstrs(argv);
  auto envs = env();
  auto e = cstrs(envs);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);  // its dup2 copies stay open
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execve(a[0], a.data(), e.data());
    ::_exit(127);
  }
  spawned_.push_back(pid);
  return pid;
}

int BerthTest::wait_berth(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  std::erase(spawned_, pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string BerthTest::new_ctid() {
  static std::atomic<int> next{1001};
  std::string id = std::to_string(next++);
  ctids_.push_back(id);
  return id;
}

std::string BerthTest::create_ct(const std::vector<std::string>& extra) {
  std::string id = new_ctid();
  std::vector<std::string> args{"create", id, "--ostemplate", "busybox", "--hostname", "ct" + id};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = berth(args);
  EXPECT_EQ(r.code, 0) << "create " << id << ": " << r.err;
  return id;
}

std::string BerthTest::create_running_ct(const std::vector<std::string>& extra) {
  std::string id = create_ct(extra);
  RunResult r = berth({"start", id, "--wait"});
  EXPECT_EQ(r.code, 0) << "start " << id << ": " << r.err;
  return id;
}

std::string BerthTest::ve_root(const std::string& ctid) const {
  return root_ + "/var/lib/berth/root/" + ctid;
}
std::string BerthTest::ve_private(const std::string& ctid) const {
  return root_ + "/var/lib/berth/private/" + ctid;
}
std::string BerthTest::conf_path(const std::string& ctid) const {
  return root_ + "/etc/berth/conf/" + ctid + ".conf";
}

std::string BerthTest::status_line(const std::string& ctid) {
  RunResult r = berth({"status", ctid});
  EXPECT_EQ(r.code, 0) << r.err;
  std::string s = r.out;
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::string BerthTest::install_probe(const std::string& ctid) {
  // Copied through the host's view of the mounted VE_ROOT (same superblock as the CT's root).
  std::string dst = ve_root(ctid) + "/sbin/berth_probe";
  std::error_code ec;
  fs::copy_file(BERTH_PROBE, dst, fs::copy_options::overwrite_existing, ec);
  EXPECT_FALSE(ec) << "copy probe to " << dst << ": " << ec.message();
  ::chmod(dst.c_str(), 0755);
  return "/sbin/berth_probe";
}

nlohmann::json BerthTest::probe(const std::string& ctid, const std::vector<std::string>& args) {
  std::vector<std::string> a{"exec3", ctid, install_probe(ctid)};
  a.insert(a.end(), args.begin(), args.end());
  RunResult r = berth(a);
  EXPECT_EQ(r.code, 0) << "probe: " << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "probe output is not JSON: " << r.out;
  return j.is_discarded() ? nlohmann::json::object() : j;
}

std::vector<pid_t> BerthTest::ct_processes(const std::string& ctid) const {
  std::vector<pid_t> out;
  for (const auto& cg : cgroup_mounts()) {
    std::string procs = cg + "/" + instance_ + "/" + ctid + "/cgroup.procs";
    if (!fs::exists(procs)) continue;
    std::istringstream in(read_text(procs));
    pid_t p;
    while (in >> p) out.push_back(p);
    std::sort(out.begin(), out.end());  // lowest first: the CT's init, barring PID wrap-around
    break;
  }
  return out;
}

std::vector<pid_t> BerthTest::settled_ct_processes(const std::string& ctid) const {
  std::vector<pid_t> last = ct_processes(ctid);
  int same = 0;
  for (int i = 0; i < 100 && same < 6; ++i) {
    sleep_ms(50);
    std::vector<pid_t> now = ct_processes(ctid);
    same = now == last ? same + 1 : 0;
    last = std::move(now);
  }
  return last;
}

std::vector<pid_t> BerthTest::berth_processes() const {
  std::vector<pid_t> out;
  std::string bin = fs::canonical(BERTH_BINARY).string();
  for (pid_t p : all_pids())
    if (readlink_str("/proc/" + std::to_string(p) + "/exe") == bin &&
        env_of(p).find("BERTH_ROOT=" + root_ + "\n") != std::string::npos)
      out.push_back(p);
  return out;
}

}  // namespace berth::itest
