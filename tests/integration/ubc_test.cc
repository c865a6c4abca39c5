// Beancounter accounting on real CTs (root): a fork bomb's refused forks show as numproc failcnt
// in `berth ubc --raw`, vzubc (-q, -r), vzlist (text and JSON) and inside the CT at
// /run/berth/user_beancounters (its own block only); memory a CT allocates shows in physpages
// and shmpages, also inside; the instance's beancounter server goes away with its last CT.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

struct Row {
  uint64_t held = 0, maxheld = 0, barrier = 0, limit = 0, failcnt = 0;
};

// Version 2.5 text -> uid of each block, and the rows of the (single expected) block.
struct Parsed {
  std::vector<std::string> uids;
  std::map<std::string, Row> rows;
  bool version_ok = false;
};

Parsed parse(const std::string& text) {
  Parsed p;
  auto lines = split_lines(text);
  p.version_ok = !lines.empty() && lines[0] == "Version: 2.5";
  for (size_t i = 2; i < lines.size(); ++i) {
    std::istringstream in(lines[i]);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    if (!w.empty() && w[0].back() == ':') {
      p.uids.push_back(w[0].substr(0, w[0].size() - 1));
      w.erase(w.begin());
    }
    if (w.size() != 6) continue;
    p.rows[w[0]] = {std::stoull(w[1]), std::stoull(w[2]), std::stoull(w[3]), std::stoull(w[4]),
                    std::stoull(w[5])};
  }
  return p;
}

// vzubc's table: row name -> its cells (HELD ... FAIL), trimmed.
std::map<std::string, std::vector<std::string>> table(const std::string& text) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& line : split_lines(text)) {
    if (line.find('|') == std::string::npos || line.rfind("CT ", 0) == 0 || line[0] == '-')
      continue;
    std::vector<std::string> cells;
    std::string cur;
    for (char c : line + "|") {
      if (c == '|' || c == ' ') {
        if (!cur.empty()) cells.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cells.empty()) out[cells[0]] = std::vector<std::string>(cells.begin() + 1, cells.end());
  }
  return out;
}

class UbcTest : public BerthTest {
 protected:
  std::string served(const std::string& id) const { return root() + "/run/berth/ubcfs/" + id; }
  // The instance's beancounter server (`berth ubc --serve`), if one runs.
  std::vector<pid_t> servers() const {
    std::vector<pid_t> out;
    for (pid_t p : berth_processes()) {
      std::string cmd = read_text("/proc/" + std::to_string(p) + "/cmdline");
      if (cmd == std::string("berth\0ubc\0--serve\0", 18)) out.push_back(p);
    }
    return out;
  }
  Parsed raw(const std::string& id) {
    RunResult r = berth({"ubc", "--raw", id});
    EXPECT_EQ(r.code, 0) << r.err;
    return parse(r.out);
  }
  // The CT's own view, at /proc/user_beancounters, and the same at /run/berth/user_beancounters.
  Parsed inside(const std::string& id, const char* path = "/proc/user_beancounters") {
    RunResult r = berth({"exec", id, std::string("cat ") + path});
    EXPECT_EQ(r.code, 0) << r.err;
    return parse(r.out);
  }
  void fork_bomb(const std::string& id) {
    // 100 background sleeps against --numproc 32: forks past the limit fail (EAGAIN).
    berth(
        {"exec", id, "i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done 2>/dev/null; true"},
        {.timeout = std::chrono::seconds(20)});
  }
};

TEST_F(UbcTest, ForkBombShowsInEveryView) {
  std::string id = create_running_ct({"--numproc", "32"});
  ASSERT_EQ(servers().size(), 1u) << "start did not bring up the beancounter server";
  struct stat st;
  ASSERT_EQ(::stat(served(id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);

  Parsed before = inside(id);
  ASSERT_TRUE(before.version_ok);
  EXPECT_EQ(before.rows.size(), 25u - 3);  // the four dummies share one name
  EXPECT_EQ(before.rows["numproc"].failcnt, 0u);
  fork_bomb(id);

  Parsed r = raw(id);
  ASSERT_TRUE(r.version_ok);
  EXPECT_EQ(r.uids, std::vector<std::string>{id});
  EXPECT_EQ(r.rows["numproc"].limit, 32u);
  EXPECT_LE(r.rows["numproc"].maxheld, 32u);
  EXPECT_GT(r.rows["numproc"].failcnt, 0u);
  EXPECT_GT(r.rows["physpages"].held, 0u);
  EXPECT_GT(r.rows["numfile"].held, 0u);  // the CT's processes hold open files

  // Inside the CT: its own block only, the same counter, at both places.
  for (const char* path : {"/proc/user_beancounters", "/run/berth/user_beancounters"}) {
    Parsed in = inside(id, path);
    ASSERT_TRUE(in.version_ok) << path;
    EXPECT_EQ(in.uids, std::vector<std::string>{id}) << path;
    EXPECT_GE(in.rows["numproc"].failcnt, r.rows["numproc"].failcnt) << path;
  }

  // vzubc: the table, then -q (only numproc failed), then -r (the change since the last -r run).
  RunResult v = berth_as("vzubc", {id});
  ASSERT_EQ(v.code, 0) << v.err;
  auto t = table(v.out);
  ASSERT_TRUE(t.count("numproc")) << v.out;
  EXPECT_EQ(t["numproc"].back(), std::to_string(r.rows["numproc"].failcnt)) << v.out;
  v = berth_as("vzubc", {"-q", id});
  ASSERT_EQ(v.code, 0) << v.err;
  t = table(v.out);
  EXPECT_EQ(t.size(), 1u) << v.out;
  EXPECT_TRUE(t.count("numproc")) << v.out;
  v = berth_as("vzubc", {"-r", id});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(table(v.out)["numproc"].back(), "+" + std::to_string(r.rows["numproc"].failcnt))
      << v.out;
  v = berth_as("vzubc", {"-r", id});
  EXPECT_EQ(table(v.out)["numproc"].back(), "-")
      << "no new failure since the last -r run: " << v.out;
  sleep_ms(2200);  // the sleeps end
  fork_bomb(id);
  uint64_t now = raw(id).rows["numproc"].failcnt;
  v = berth_as("vzubc", {"-r", id});
  EXPECT_EQ(table(v.out)["numproc"].back(), "+" + std::to_string(now - r.rows["numproc"].failcnt))
      << v.out;

  // vzlist, text and JSON.
  RunResult l = berth_as("vzlist", {"-H", "-o", "ctid,numproc,numproc.l,numproc.f", id});
  ASSERT_EQ(l.code, 0) << l.err;
  std::istringstream ls(l.out);
  std::string ctid, held, lim, fail;
  ls >> ctid >> held >> lim >> fail;
  EXPECT_EQ(ctid, id);
  EXPECT_EQ(lim, "32");
  EXPECT_EQ(fail, std::to_string(now)) << l.out;
  l = berth_as("vzlist", {"-j", "-o", "ctid,numproc,physpages", id});
  ASSERT_EQ(l.code, 0) << l.err;
  auto j = nlohmann::json::parse(l.out);
  EXPECT_EQ(j[0]["numproc"]["failcnt"].get<uint64_t>(), now);
  EXPECT_EQ(j[0]["numproc"]["limit"].get<uint64_t>(), 32u);
  EXPECT_GT(j[0]["physpages"]["held"].get<uint64_t>(), 0u);
  // Sorting by a UBC field works (one CT: just accepted); a stopped CT shows `-`.
  EXPECT_EQ(berth_as("vzlist", {"-H", "-o", "ctid", "-s", "-numproc.f"}).code, 0);

  // The last stop ends the server and its mount.
  sleep_ms(2200);
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_TRUE(servers().empty());
  EXPECT_FALSE(fs::exists(served(id)));
  l = berth_as("vzlist", {"-a", "-H", "-o", "ctid,numproc.f,numproc.l", id});
  std::istringstream stopped(l.out);
  stopped >> ctid >> fail >> lim;
  EXPECT_EQ(fail, "-") << l.out;
  EXPECT_EQ(lim, "32") << l.out;
}

TEST_F(UbcTest, MemoryShowsInPhyspagesAndShmpages) {
  std::string id = create_running_ct();
  std::string other = create_running_ct();
  EXPECT_EQ(servers().size(), 1u) << "one server per instance, not per CT";
  Parsed before = inside(id);
  // 32 MiB in the CT's /dev/shm (tmpfs): charged to its memory cgroup as shmem.
  RunResult w = berth({"exec", id, "head -c 33554432 /dev/zero > /dev/shm/fill"});
  ASSERT_EQ(w.code, 0) << w.err;
  Parsed after = inside(id);
  EXPECT_GE(after.rows["physpages"].held, before.rows["physpages"].held + 7000)
      << "32M = 8192 pages";
  EXPECT_GE(after.rows["shmpages"].held, before.rows["shmpages"].held + 7000);
  EXPECT_GE(after.rows["physpages"].maxheld, after.rows["physpages"].held);
  // The neighbour's block does not move, and each CT sees only itself.
  Parsed n = inside(other);
  EXPECT_EQ(n.uids, std::vector<std::string>{other});
  EXPECT_LT(n.rows["shmpages"].held, 4096u);
  // All running CTs without CTIDs; -f - reads such text back.
  RunResult all = berth({"ubc", "--raw"});
  ASSERT_EQ(all.code, 0);
  EXPECT_EQ(parse(all.out).uids, (std::vector<std::string>{id, other}));
  RunResult f = berth_as("vzubc", {"-v", "-f", "-"}, {.input = all.out});
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_PRED2(contains, f.out, "CT " + id + " ");
  EXPECT_PRED2(contains, f.out, "CT " + other + " ");
  EXPECT_TRUE(table(f.out).count("shmpages")) << f.out;
  // -w redraws until interrupted.
  RunResult wt =
      berth_as("vzubc", {"-w", "-wn", "0.2", id}, {.timeout = std::chrono::milliseconds(1500)});
  EXPECT_TRUE(wt.timed_out);
  size_t screens = 0;
  for (size_t p = wt.out.find("Every 0.2s"); p != std::string::npos;
       p = wt.out.find("Every 0.2s", p + 1))
    ++screens;
  EXPECT_GE(screens, 2u) << wt.out;
  // maxheld survives the memory being freed.
  ASSERT_EQ(berth({"exec", id, "rm /dev/shm/fill"}).code, 0);
  Parsed freed = inside(id);
  EXPECT_LT(freed.rows["shmpages"].held, after.rows["shmpages"].held);
  EXPECT_GE(freed.rows["shmpages"].maxheld, after.rows["shmpages"].held);
  // One stop leaves the server for the other CT; the last stop ends it.
  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  EXPECT_EQ(servers().size(), 1u);
  EXPECT_EQ(inside(other).uids, std::vector<std::string>{other});
  ASSERT_EQ(berth({"stop", other, "--fast"}).code, 0);
  EXPECT_TRUE(servers().empty());
}

// A CT that ends without `berth stop` (its init killed): the server notices by itself (it checks
// every 2 s) and leaves, mount and all.
TEST_F(UbcTest, ServerLeavesWhenTheLastCtDiesWithoutStop) {
  std::string id = create_running_ct();
  ASSERT_EQ(servers().size(), 1u);
  auto procs = ct_processes(id);
  ASSERT_FALSE(procs.empty());
  for (pid_t p : procs) ::kill(p, SIGKILL);
  for (int i = 0; i < 60 && !servers().empty(); ++i) sleep_ms(100);
  EXPECT_TRUE(servers().empty());
  EXPECT_FALSE(fs::exists(served(id)));
  // The next start brings a new one up.
  RunResult r = berth({"start", id, "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(servers().size(), 1u);
  EXPECT_EQ(inside(id).uids, std::vector<std::string>{id});
}

// The CT's /proc with user_beancounters in it is still its own procfs for everything else: its
// pids only, /proc/self and magic links, the masks and read-only sysctls; PROC_BEANCOUNTERS="no"
// gives the plain procfs.
TEST_F(UbcTest, ProcViewIsTheCtsProcfsPlusBeancounters) {
  std::string id = create_running_ct();
  RunResult r = berth({"exec", id, "ls /proc"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto names = split_lines(r.out);
  std::vector<std::string> lines;
  auto has = [&](const char* n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  for (const char* n : {"user_beancounters", "1", "self", "meminfo", "sys", "net"})
    EXPECT_TRUE(has(n)) << n << "\n" << r.out;
  EXPECT_FALSE(has(".real"));
  size_t pids = std::count_if(names.begin(), names.end(), [](const std::string& n) {
    return !n.empty() &&
           std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
  });
  // The CT's processes (plus the exec'ed shell and ls), not the host's hundreds.
  EXPECT_LE(pids, ct_processes(id).size() + 3) << r.out;

  r = berth({"exec", id,
             "head -1 /proc/self/status; readlink /proc/self/exe; cat /proc/self/fd/0 "
             "</etc/hostname >/dev/null && echo fd-ok; "
             "cat /proc/1/comm; "
             "echo 1 >/proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward; "
             "(echo 1 >/proc/sys/kernel/panic) 2>/dev/null || echo sys-ro; "
             "cat /proc/nonexistent 2>/dev/null || echo enoent; "
             "wc -c </proc/keys"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Name:\thead\n/bin/busybox\nfd-ok\ninit\n1\nsys-ro\nenoent\n0\n") << r.err;
  EXPECT_NE(berth({"exec", id, "echo x >/proc/user_beancounters"}).code, 0);

  // Its own RAM and swap in /proc/meminfo (what free and top read), live after a set.
  ASSERT_EQ(berth({"set", id, "--ram", "96M", "--swap", "32M"}).code, 0);
  r = berth({"exec", id, "grep -E '^(MemTotal|SwapTotal):' /proc/meminfo; top -b -n 1 | head -1"});
  ASSERT_EQ(r.code, 0) << r.err;
  lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  unsigned long mem_total = 0, swap_total = 0;
  EXPECT_EQ(std::sscanf(lines[0].c_str(), "MemTotal: %lu kB", &mem_total), 1) << lines[0];
  EXPECT_EQ(std::sscanf(lines[1].c_str(), "SwapTotal: %lu kB", &swap_total), 1) << lines[1];
  EXPECT_EQ(mem_total, 98304u);
  EXPECT_EQ(swap_total, 32768u);
  // busybox top: "Mem: <used>K used, <free>K free, ...": the two add up to the CT's 96M.
  unsigned long used = 0, free_kb = 0;
  ASSERT_EQ(std::sscanf(lines[2].c_str(), "Mem: %luK used, %luK free", &used, &free_kb), 2)
      << lines[2];
  EXPECT_EQ(used + free_kb, 98304u);
  // Read in small pieces (a request each with direct_io, the page cache otherwise: server.cc's
  // page_cached), the served meminfo and block are whole: as long as stat says, ending with the
  // host's last meminfo line's name.
  r = berth({"exec", id,
             "stat -c %s /proc/meminfo; dd if=/proc/meminfo bs=64 2>/dev/null | wc -c; "
             "dd if=/proc/meminfo bs=64 2>/dev/null | tail -1 | cut -d: -f1; "
             "stat -c %s /proc/user_beancounters; dd if=/proc/user_beancounters bs=64 "
             "2>/dev/null | wc -c"});
  ASSERT_EQ(r.code, 0) << r.err;
  lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], lines[1]) << r.out;
  auto host_meminfo = split_lines(read_text("/proc/meminfo"));
  ASSERT_FALSE(host_meminfo.empty());
  EXPECT_EQ(lines[2], host_meminfo.back().substr(0, host_meminfo.back().find(':'))) << r.out;
  EXPECT_EQ(lines[3], lines[4]) << r.out;

  // Its CPUs in /proc/cpuinfo: as many as its CPU quota is worth (--cpus, --cpulimit), live.
  auto processors = [&] {
    RunResult p = berth({"exec", id, "grep -c ^processor /proc/cpuinfo"});
    return p.code == 0 ? std::stoi(p.out) : -1;
  };
  long host_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(processors(), host_cpus);
  ASSERT_EQ(berth({"set", id, "--cpus", "1"}).code, 0);
  EXPECT_EQ(processors(), 1);
  ASSERT_EQ(berth({"set", id, "--cpus", "0", "--cpulimit", "50%"}).code, 0);
  EXPECT_EQ(processors(), 1);
  ASSERT_EQ(berth({"set", id, "--cpulimit", "0"}).code, 0);
  EXPECT_EQ(processors(), host_cpus);

  // Its own load average: two busy loops show in /proc/loadavg and vzlist after a 5 s sample.
  r = berth({"exec", id,
             "for i in 1 2; do (while :; do :; done) >/dev/null 2>&1 </dev/null & done; cat "
             "/proc/loadavg"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(
      r.out,
      std::regex("[0-9]+\\.[0-9]{2} [0-9]+\\.[0-9]{2} [0-9]+\\.[0-9]{2} [0-9]+/[0-9]+ [0-9]+\n")))
      << r.out;
  // Samples come every 5 s: wait for one that saw the loops (at most three intervals).
  double one = 0;
  unsigned running = 0, threads = 0;
  for (int i = 0; i < 30 && !(one > 0.1 && threads > 0); ++i) {
    sleep_ms(500);
    r = berth({"exec", id, "cat /proc/loadavg"});
    ASSERT_EQ(std::sscanf(r.out.c_str(), "%lf %*f %*f %u/%u", &one, &running, &threads), 3)
        << r.out;
  }
  EXPECT_GT(one, 0.1) << r.out;  // 2 * (1 - e^(-5/60)) = 0.16 after one sample
  EXPECT_GE(running, 1u) << r.out;
  EXPECT_LE(threads, 10u) << r.out;  // the CT's tasks, not the host's
  RunResult l = berth({"list", "-H", "-o", "laverage", id});
  EXPECT_PRED2(contains, l.out, "/") << l.out << l.err;
  EXPECT_EQ(l.out.find('-'), std::string::npos) << l.out;

  // The plain procfs on request.
  std::ofstream(conf_path(id), std::ios::app) << "PROC_BEANCOUNTERS=\"no\"\n";
  ASSERT_EQ(berth({"restart", id}).code, 0);
  r = berth(
      {"exec", id, "grep ' /proc ' /proc/mounts; test -e /proc/user_beancounters || echo absent"});
  EXPECT_EQ(r.out, "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\nabsent\n") << r.err;
  EXPECT_EQ(inside(id, "/run/berth/user_beancounters").uids, std::vector<std::string>{id});
}

// The server's load samples (every 5 s, for vzlist's laverage) stay cheap at 1000 CTs: a CT whose
// numbers did not change from one round to the next keeps its state file (not written again: the
// same inode), while the round's heartbeat keeps vzlist's value current; a destroyed CT's file
// goes at the next round. (An idle busybox CT's numbers stay all zero, unless a round happened to
// see its boot: then they decay, change every round and the file is rightly rewritten; the
// inode is checked for every pair of rounds whose text is the same.)
TEST_F(UbcTest, LoadSamplesRewriteOnlyWhatChanged) {
  std::string id = create_running_ct();
  std::string state = root() + "/run/berth/ubc/" + id + ".loadavg";
  std::string beat = root() + "/run/berth/ubc/sampled";
  struct stat st {};
  for (int i = 0; i < 60 && ::stat(state.c_str(), &st) != 0; ++i) sleep_ms(250);
  ASSERT_EQ(::stat(state.c_str(), &st), 0) << "no sample of " << id << " in 15 s";
  ino_t ino = st.st_ino;
  std::string text = read_text(state);
  for (int i = 0; i < 60 && ::access(beat.c_str(), F_OK) != 0; ++i) sleep_ms(250);
  int same_pairs = 0;
  for (int round = 0; round < 3; ++round) {
    struct stat b1 {
    }, b2{};
    ASSERT_EQ(::stat(beat.c_str(), &b1), 0);
    b2 = b1;
    for (int i = 0; i < 60 && b2.st_ino == b1.st_ino; ++i) {
      sleep_ms(250);
      ASSERT_EQ(::stat(beat.c_str(), &b2), 0);
    }
    ASSERT_NE(b2.st_ino, b1.st_ino) << "no next round of samples in 15 s";
    ASSERT_EQ(::stat(state.c_str(), &st), 0);
    std::string now = read_text(state);
    if (now == text) {
      ++same_pairs;
      EXPECT_EQ(st.st_ino, ino) << "unchanged text rewritten: " << now;
    }
    ino = st.st_ino;
    text = now;
  }
  if (same_pairs == 0) std::printf("note: every round changed the text: %s", text.c_str());
  RunResult l = berth({"list", "-H", "-o", "laverage", id});
  EXPECT_PRED2(contains, l.out, "/") << l.out << l.err;
  EXPECT_EQ(l.out.find('-'), std::string::npos) << l.out;

  ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
  std::string other = create_running_ct();  // the server runs on for the next round
  ASSERT_EQ(berth({"destroy", id}).code, 0);
  for (int i = 0; i < 60 && ::access(state.c_str(), F_OK) == 0; ++i) sleep_ms(250);
  EXPECT_NE(::access(state.c_str(), F_OK), 0) << state << " outlived its CT";
  (void)other;
}

// A killed server leaves every running CT with a dead /proc (ENOTCONN); the next exec into one of
// them (or a start of any CT) brings a new server up and gives each a new procfs under a new view,
// without touching the CTs' processes.
TEST_F(UbcTest, KilledServerIsReplacedAndDeadProcIsRepaired) {
  std::string a = create_running_ct();
  std::string b = create_running_ct();
  auto servers_before = servers();
  ASSERT_EQ(servers_before.size(), 1u);
  auto procs_a = ct_processes(a);
  ASSERT_EQ(::kill(servers_before[0], SIGKILL), 0);
  for (int i = 0; i < 50 && !servers().empty(); ++i) sleep_ms(20);
  ASSERT_TRUE(servers().empty());

  RunResult r = berth({"exec", a,
                       "head -1 /proc/user_beancounters; head -1 /run/berth/user_beancounters; ls "
                       "/proc | grep -c ."});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out << r.err;
  EXPECT_EQ(lines[0], "Version: 2.5");
  EXPECT_EQ(lines[1], "Version: 2.5");
  EXPECT_GT(std::stoi(lines[2]), 10);
  EXPECT_PRED2(contains, r.err, "CT " + a + ": /proc was dead");
  EXPECT_PRED2(contains, r.err, "CT " + b + ": /proc was dead");  // all CTs of the instance
  EXPECT_EQ(servers().size(), 1u);
  EXPECT_EQ(ct_processes(a).front(), procs_a.front());  // same init: not restarted
  EXPECT_EQ(inside(b).uids, std::vector<std::string>{b});
  r = berth({"exec", b,
             "(echo 1 >/proc/sys/kernel/panic) 2>/dev/null || echo sys-ro; wc -c </proc/keys"});
  EXPECT_EQ(r.out, "sys-ro\n0\n") << r.err;  // masked as at start
  // Nothing more to repair: exec says nothing.
  r = berth({"exec", a, "true"});
  EXPECT_EQ(r.err, "");
}

// vzubc -i: a dHELD column with the change of held since the last -i run; -ic starts over.
TEST_F(UbcTest, IncrementalShowsHeldChanges) {
  std::string id = create_running_ct({"--numproc", "100"});
  auto dheld = [&](const std::vector<std::string>& args) {
    std::vector<std::string> a = args;
    a.push_back(id);
    RunResult v = berth_as("vzubc", a);
    EXPECT_EQ(v.code, 0) << v.err;
    EXPECT_PRED2(contains, v.out, "| dHELD") << v.out;
    auto t = table(v.out);
    return t.count("numproc") ? t["numproc"].back() : std::string("?");
  };
  dheld({"-i"});  // the first run stores held
  RunResult r = berth(
      {"exec", id,
       "i=0; while [ $i -lt 10 ]; do sleep 30 >/dev/null 2>&1 </dev/null & i=$((i+1)); done"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dheld({"-i"}), "+10");
  EXPECT_EQ(dheld({"-i"}), "-");  // nothing changed since
  std::string held = table(berth_as("vzubc", {id}).out)["numproc"].front();
  EXPECT_EQ(dheld({"-ic", "-i"}), "+" + held);  // cleared: against 0
}

}  // namespace
}  // namespace berth::itest
