// Many VPSs on one host (issue 14): 100 running busybox VPSs, each with its own routed address,
// memory limit and hostname (every tenth with its own disk image), do not see or disturb each
// other. It covers the code paths a host with 1000 VPSs takes (every start and stop with many
// others running: nftables set elements, routes, the /proc view's slots, loop devices, the
// watcher's bookkeeping, the listing). No timing is checked here; bench/density measures.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace berth::itest {
namespace {

constexpr int kCount = 100;

struct Seen {
  std::string hostname, memtotal, addr, marker, init_start;
  int pids = 0;
};

std::string address_of(int i) {
  return "198.18." + std::to_string(200 + i / 200) + "." + std::to_string(1 + i % 200);
}

class DensityTest : public BerthTest {
 protected:
  // One exec per CT: what it sees of itself. Lines: hostname, MemTotal, venet0's IPv4 address,
  // its marker file, its init's start time, the number of processes it sees.
  Seen look_inside(const std::string& id) {
    RunResult r = berth({"exec2", id,
                         "hostname; grep MemTotal /proc/meminfo; "
                         "ip -4 -o addr show dev venet0 | sed 's/.*inet \\([0-9.]*\\).*/\\1/'; "
                         "cat /marker 2>/dev/null || echo none; cut -d' ' -f22 /proc/1/stat; "
                         "ls /proc | grep -c '^[0-9]'"});
    Seen s;
    EXPECT_EQ(r.code, 0) << "exec2 " << id << ": " << r.err;
    auto lines = split_lines(r.out);
    if (lines.size() != 6) {
      ADD_FAILURE() << "CT " << id << " answered: " << r.out << r.err;
      return s;
    }
    s.hostname = lines[0];
    s.memtotal = lines[1];
    s.addr = lines[2];
    s.marker = lines[3];
    s.init_start = lines[4];
    s.pids = std::stoi(lines[5]);
    return s;
  }
};

TEST_F(DensityTest, HundredVpsDoNotInterfere) {
  std::vector<std::string> ids;
  std::map<std::string, int> index;
  for (int i = 0; i < kCount; ++i) {
    // RAM 64..113 MiB, so each /proc/meminfo must be the CT's own.
    std::vector<std::string> extra{"--ipadd", address_of(i), "--ram",
                                   std::to_string(64 + i % 50) + "M"};
    if (i % 10 == 0) {
      extra.insert(extra.end(), {"--diskspace", "64M", "--diskinodes", "8000"});
    } else {
      extra.insert(extra.end(), {"--diskspace", "unlimited", "--diskinodes", "unlimited"});
    }
    std::string id = create_ct(extra);
    ASSERT_FALSE(HasFailure()) << "create " << i;
    index[id] = i;
    ids.push_back(id);
  }
  for (const auto& id : ids) {
    RunResult r = berth({"start", id});
    ASSERT_EQ(r.code, 0) << "start " << id << " with " << index[id] << " running: " << r.err;
  }
  // A marker in each CT's own root (written from the host into the mounted root).
  for (const auto& id : ids) {
    std::ofstream(ve_root(id) + "/marker") << "m" << id << "\n";
  }

  // The listing shows every CT running with its own address.
  RunResult l = berth({"list", "-a", "-H", "-o", "ctid,status,ip"});
  ASSERT_EQ(l.code, 0) << l.err;
  std::map<std::string, std::string> listed;
  for (const auto& line : split_lines(l.out)) {
    std::istringstream in(line);
    std::string ctid, status, ip;
    in >> ctid >> status >> ip;
    listed[ctid] = status + " " + ip;
  }
  std::map<std::string, Seen> before;
  for (const auto& id : ids) {
    int i = index[id];
    std::string ip = address_of(i);
    EXPECT_EQ(listed[id], "running " + ip) << id;
    Seen s = look_inside(id);
    EXPECT_EQ(s.hostname, "ct" + id);
    EXPECT_PRED2(contains, s.memtotal, std::to_string((64 + i % 50) * 1024) + " kB") << id;
    EXPECT_EQ(s.addr, ip) << id;
    EXPECT_EQ(s.marker, "m" + id) << "CT " << id << " sees another CT's root";
    // Its own PID namespace: init, the exec'd shell and its pipeline, nothing of the others.
    EXPECT_LE(s.pids, 8) << "CT " << id << " sees " << s.pids << " processes";
    before[id] = s;
  }

  // Stop every other CT: the rest keep running, untouched (same init, same files, address).
  for (size_t k = 0; k < ids.size(); k += 2) {
    RunResult r = berth({"stop", ids[k], "--fast"});
    ASSERT_EQ(r.code, 0) << "stop " << ids[k] << ": " << r.err;
  }
  for (size_t k = 0; k < ids.size(); ++k) {
    const std::string& id = ids[k];
    if (k % 2 == 0) {
      EXPECT_PRED2(contains, status_line(id), "down") << id;
      continue;
    }
    EXPECT_PRED2(contains, status_line(id), "running") << id;
    Seen s = look_inside(id);
    EXPECT_EQ(s.init_start, before[id].init_start) << "CT " << id << "'s init was replaced";
    EXPECT_EQ(s.marker, "m" + id);
    EXPECT_EQ(s.addr, before[id].addr);
  }
  // Stopped ones start again beside the running ones, with their files.
  for (size_t k = 0; k < ids.size(); k += 10) {
    RunResult r = berth({"start", ids[k]});
    ASSERT_EQ(r.code, 0) << "start " << ids[k] << " again: " << r.err;
    Seen s = look_inside(ids[k]);
    EXPECT_EQ(s.marker, "m" + ids[k]);
    EXPECT_EQ(s.addr, before[ids[k]].addr);
  }
  // TearDown stops and destroys all 100 and checks that nothing of them is left on the host.
}

}  // namespace
}  // namespace berth::itest
