// The /proc server (the beancounter FUSE server, src/ubc/) against a hostile CT: its root changes
// what the paths inside the CT lead to, and loads the one server the instance's CTs share.
//   - the server must never follow a path the CT controls out of the CT (a CT that points
//     /proc/.real at the host's /proc must not get the host's process list through its own view;
//     a CT that points /dev/pts at a host directory must not learn how many pid-like names it
//     holds through numpty);
//   - a CT that reads its beancounters in a loop while holding thousands of fds must not slow a
//     neighbour's /proc (measured, interleaved with idle rounds, medians printed), and holding
//     thousands of open beancounter files must not grow the server's memory without bound.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

// held of one row of a Version 2.5 block; -1 when the row is missing.
long long held_of(const std::string& text, const std::string& row) {
  for (const auto& line : split_lines(text)) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    if (!w.empty() && w[0].back() == ':') w.erase(w.begin());
    if (w.size() == 6 && w[0] == row) return std::stoll(w[1]);
  }
  return -1;
}

size_t count_pid_names(const std::vector<std::string>& names) {
  return static_cast<size_t>(std::count_if(names.begin(), names.end(), [](const std::string& n) {
    return !n.empty() &&
           std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
  }));
}

long rss_kb(pid_t pid) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 13 && in >> f; ++i) {}
  in >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class ProcSrvTest : public BerthTest {
 protected:
  std::vector<pid_t> servers() const {
    std::vector<pid_t> out;
    for (pid_t p : berth_processes()) {
      std::string cmd = read_text("/proc/" + std::to_string(p) + "/cmdline");
      if (cmd == std::string("berth\0ubc\0--serve\0", 18)) out.push_back(p);
    }
    return out;
  }
  // numfile held of the CT, as the host reads it.
  long long numfile(const std::string& id) {
    RunResult r = berth({"ubc", "--raw", id});
    return r.code == 0 ? held_of(r.out, "numfile") : -1;
  }
};

// Attack: the CT's root points /dev/pts at a host directory and /proc/.real at the host's /proc
// (a bind of a directory holding a symlink `.real -> /proc` over /proc, after keeping a bind of
// its view elsewhere), then reads its beancounters and lists its view. The server must not
// count the host directory's names as ptys, must not list the host's pids, and the neighbour's
// view stays its own.
TEST_F(ProcSrvTest, TenantCannotPointTheServerAtHostPaths) {
  // What an oracle would count: seven pid-like names in a host directory no CT can see.
  std::string secret = root() + "/host-secret-dir";
  fs::create_directories(secret);
  for (int i = 11; i <= 17; ++i) std::ofstream(secret + "/" + std::to_string(i)) << "host only\n";

  std::string a = create_running_ct({"--ram", "128M"});
  std::string b = create_running_ct();
  auto srv = servers();
  ASSERT_EQ(srv.size(), 1u);
  // The server reads on behalf of CTs without what it does not need: no DAC override, no fowner,
  // no kill, no net admin, no module loading (its effective and bounding sets).
  std::istringstream status(read_text("/proc/" + std::to_string(srv[0]) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("CapEff:", 0) != 0 && line.rfind("CapBnd:", 0) != 0) continue;
    unsigned long long caps =
        std::stoull(line.substr(line.find_first_not_of(" \t", 7)), nullptr, 16);
    std::printf("server %s %016llx\n", line.substr(0, 7).c_str(), caps);
    for (int cap : {1 /* dac_override */, 3 /* fowner */, 5 /* kill */, 12 /* net_admin */,
                    16 /* sys_module */})
      EXPECT_FALSE((caps >> cap) & 1) << line << ": capability " << cap;
  }

  // 1. /dev/pts -> the host directory (the CT's /dev is its own tmpfs).
  RunResult r = berth(
      {"exec", a,
       "umount -l /dev/pts && rmdir /dev/pts && ln -s " + secret + " /dev/pts && echo swapped"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out, "swapped\n");
  r = berth({"exec", a, "cat /proc/user_beancounters"});
  ASSERT_EQ(r.code, 0) << r.err;
  long long numpty = held_of(r.out, "numpty");
  std::printf("numpty inside CT %s with /dev/pts -> %s: %lld (the host directory holds 7)\n",
              a.c_str(), secret.c_str(), numpty);
  EXPECT_NE(numpty, 7) << "the server counted a host directory for the CT:\n" << r.out;
  EXPECT_EQ(numpty, 0) << r.out;
  r = berth({"ubc", "--raw", a});
  EXPECT_NE(held_of(r.out, "numpty"), 7) << "berth ubc counted the host directory:\n" << r.out;

  // 2. /proc/.real -> the host's /proc, the view kept at /mnt/view.
  r = berth({"exec", a,
             "mkdir -p /mnt/view /tmp/fake && mount -o bind /proc /mnt/view && ln -s /proc "
             "/tmp/fake/.real && "
             "mount -o bind /tmp/fake /proc && readlink /proc/.real"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out, "/proc\n");
  r = berth({"exec", a, "ls /mnt/view; cat /mnt/view/loadavg"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto names = split_lines(r.out);
  size_t host_procs = 0;
  for (const auto& e : fs::directory_iterator("/proc"))
    if (count_pid_names({e.path().filename().string()})) ++host_procs;
  size_t pids = count_pid_names(names);
  std::printf(
      "pids listed by CT %s's view after the swap: %zu (its processes: %zu, the host's: %zu)\n",
      a.c_str(), pids, ct_processes(a).size(), host_procs);
  EXPECT_LE(pids, ct_processes(a).size() + 3) << "the host's process list leaked into the CT:\n"
                                              << r.out;
  EXPECT_TRUE(std::find(names.begin(), names.end(), std::to_string(::getpid())) == names.end() ||
              std::to_string(::getpid()).size() < 3)
      << "the test's own host pid is listed";
  // The last field of loadavg is the highest pid of the CT's procfs, not of the host's.
  ASSERT_FALSE(names.empty());
  long last_pid = std::atol(names.back().substr(names.back().rfind(' ') + 1).c_str());
  EXPECT_LE(last_pid, 1000) << names.back();
  // Its own memory still: MemTotal is its 128M.
  r = berth({"exec", a, "grep MemTotal /mnt/view/meminfo"});
  EXPECT_PRED2(matches, r.out, "MemTotal: +131072 kB\n") << r.err;

  // The neighbour's view is its own.
  r = berth({"exec", b, "ls /proc"});
  ASSERT_EQ(r.code, 0) << r.err;
  names = split_lines(r.out);
  EXPECT_TRUE(std::find(names.begin(), names.end(), "1") != names.end()) << r.out;
  EXPECT_LE(count_pid_names(names), ct_processes(b).size() + 3) << r.out;
  // Its real ptys still count: one opened in its devpts (from the host, through its init).
  int ptmx =
      ::open(("/proc/" + std::to_string(ct_processes(b).front()) + "/root/dev/pts/ptmx").c_str(),
             O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(ptmx, 0) << "open the neighbour's ptmx: " << std::strerror(errno);
  r = berth({"exec", b, "cat /proc/user_beancounters"});
  EXPECT_EQ(held_of(r.out, "numpty"), 1) << r.out;
  ::close(ptmx);
}

// Attack: one CT holds 15000 open files (three processes, 5000 each, the most this host's
// nofile hard limit of 20000 allows) and reads its /proc/user_beancounters in a loop from 16
// processes (more than libfuse's default pool of 10 threads). A neighbour's open+read of its own
// /proc/user_beancounters, /proc/meminfo and /proc/self/stat must stay within 2x of idle (+2 ms
// floor), measured inside the neighbour, idle and hammered rounds interleaved; and the server must
// spend at most half a core on the hammering CT (its CPU time over each hammered round).
TEST_F(ProcSrvTest, NeighbourLatencyHoldsWhileACtHammersTheServer) {
  std::string a = create_running_ct({"--numfile", "6000", "--numproc", "200"});
  std::string b = create_running_ct();
  std::string probe_a = install_probe(a), probe_b = install_probe(b);
  for (int i = 0; i < 3; ++i) {
    RunResult r = berth({"exec", a,
                         probe_a + " --proc-hold 5000 /dev/null /tmp/hold" + std::to_string(i) +
                             " >/dev/null 2>&1 </dev/null &"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  long long nf = 0;
  for (int i = 0; i < 100 && (nf = numfile(a)) < 15000; ++i) sleep_ms(100);
  ASSERT_GE(nf, 15000) << "the CT did not get its 15000 open files";

  const char* paths = "/proc/user_beancounters /proc/meminfo /proc/self/stat";
  std::map<std::string, std::vector<double>> idle, busy;
  auto measure = [&](std::map<std::string, std::vector<double>>& into) {
    RunResult r = berth({"exec", b, probe_b + " --proc-lat 100 " + paths});
    ASSERT_EQ(r.code, 0) << r.err;
    for (const auto& line : split_lines(r.out)) {
      std::istringstream in(line);
      std::string path;
      double p50 = 0, p90 = 0, mx = 0;
      long failures = 0;
      in >> path >> p50 >> p90 >> mx >> failures;
      EXPECT_EQ(failures, 0) << line;
      into[path].push_back(p50);
    }
  };
  auto srv = servers();
  ASSERT_EQ(srv.size(), 1u);
  std::vector<double> server_cpu;  // the server's CPU (in cores) during each hammered round
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    measure(idle);
    double cpu0 = cpu_seconds(srv[0]);
    // 16 readers in the CT for 6 s; the neighbour measures after 0.5 s of it.
    auto t0 = std::chrono::steady_clock::now();
    RunResult r = berth(
        {"exec", a,
         "rm -f /tmp/loop*; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do " + probe_a +
             " --proc-loop 6000 /proc/user_beancounters >/tmp/loop$i 2>&1 </dev/null & done"});
    ASSERT_EQ(r.code, 0) << r.err;
    sleep_ms(500);
    measure(busy);
    // Let the loops end before the next idle round.
    auto spent =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (spent > 6000)
      std::printf("round %d: the hammered measure outlasted the hammer (%lld ms)\n", round,
                  static_cast<long long>(spent));
    sleep_ms(std::max<long>(0, 6300 - static_cast<long>(spent)));
    double wall = static_cast<double>(std::max<long>(6300, static_cast<long>(spent))) / 1000;
    server_cpu.push_back((cpu_seconds(srv[0]) - cpu0) / wall);
    // Each reader writes its count when its 6 s are over (they started a little after t0).
    long reads = 0;
    for (int t = 0; t < 30; ++t) {
      r = berth({"exec", a, "cat /tmp/loop* 2>/dev/null"});
      auto counts = split_lines(r.out);
      if (counts.size() >= 16 || t == 29) {
        for (const auto& l : counts) reads += std::atol(l.c_str());
        break;
      }
      sleep_ms(100);
    }
    std::printf("round %d: CT %s read its beancounters %ld times in 6 s (16 readers)\n", round,
                a.c_str(), reads);
    EXPECT_GT(reads, 8) << "the hammer did not run: " << r.out << r.err;
  }
  // What the hammer costs the shared server is bounded per CT, not whatever the CT asks for.
  std::printf("server CPU while CT %s hammers: median %.2f of a core (rounds %s)\n", a.c_str(),
              median(server_cpu), ::testing::PrintToString(server_cpu).c_str());
  EXPECT_LE(median(server_cpu), 0.5) << "one CT kept the shared server busy";
  for (const auto& [path, v] : idle) {
    double i = median(v), h = median(busy[path]);
    std::printf(
        "neighbour %-26s idle median %8.1f us, while CT %s hammers: %8.1f us (x%.2f); limit %.1f "
        "us\n",
        path.c_str(), i, a.c_str(), h, i > 0 ? h / i : 0.0, 2 * i + 2000);
    EXPECT_LE(h, 2 * i + 2000) << path << ": idle rounds " << ::testing::PrintToString(v)
                               << ", hammered rounds " << ::testing::PrintToString(busy[path]);
  }
}

// Attack: one CT opens its /proc/user_beancounters 6000 times (three processes) and keeps every
// descriptor. The server's memory (its RSS) must not grow by more than 8 MiB: what an open holds
// is bounded. (6000, not more: the old server took 10 ms per open here.)
TEST_F(ProcSrvTest, OpenBeancounterFilesDoNotGrowTheServer) {
  std::string a = create_running_ct({"--numfile", "6000"});
  std::string probe_a = install_probe(a);
  auto srv = servers();
  ASSERT_EQ(srv.size(), 1u);
  // Warm the server up (threads, caches) so that the measure is of the held files.
  ASSERT_EQ(berth({"exec", a, "cat /proc/user_beancounters /proc/meminfo >/dev/null"}).code, 0);
  long before = rss_kb(srv[0]);
  for (int i = 0; i < 3; ++i) {
    RunResult r = berth({"exec", a,
                         probe_a + " --proc-hold 2000 /proc/user_beancounters /tmp/hold" +
                             std::to_string(i) + " >/dev/null 2>&1 </dev/null &"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  long opened = 0;
  for (int i = 0; i < 3; ++i) {
    std::string out;
    for (int t = 0; t < 1500 && out.empty(); ++t) {
      out = berth({"exec", a, "cat /tmp/hold" + std::to_string(i) + " 2>/dev/null"}).out;
      if (out.empty()) sleep_ms(100);
    }
    ASSERT_FALSE(out.empty()) << "holder " << i << " did not finish";
    opened += std::atol(out.c_str());
  }
  long after = rss_kb(srv[0]);
  std::printf(
      "server RSS: %ld kB before, %ld kB with %ld beancounter files held open by CT %s (+%ld kB)\n",
      before, after, opened, a.c_str(), after - before);
  EXPECT_GE(opened, 3000) << "the CT could not even open a few thousand";
  EXPECT_LE(after - before, 8 * 1024) << "the server grew with the CT's open files";
  // The server still answers, the CT included.
  RunResult r = berth({"exec", a, "head -1 /proc/user_beancounters"});
  EXPECT_EQ(r.out, "Version: 2.5\n") << r.err;
}

}  // namespace
}  // namespace berth::itest
