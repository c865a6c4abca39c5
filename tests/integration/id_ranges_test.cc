// Host-wide id ranges with the real /etc/subuid and /etc/subgid: two Berth instances (two
// BERTH_ROOTs) never hand out the same host ids, a range another tool holds in /etc/subuid is
// skipped, every CT's range is registered there while it exists, and the files are left exactly
// as they were found.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_all(const std::string& p, const std::string& text) {
  std::ofstream(p, std::ios::trunc) << text;
}

uint64_t conf_base(const std::string& conf) {
  std::string text = slurp(conf);
  size_t at = text.find("LOCAL_UID=\"");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + 11));
}

// Berth's host-wide allocation lock, held while the test edits /etc/subuid itself: tests of other
// programs (ctest -j2) create and destroy CTs, which rewrite the file, at the same time.
class AllocationLock {
 public:
  AllocationLock() : fd_(::open("/run/berth-idranges.lck", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~AllocationLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  AllocationLock(const AllocationLock&) = delete;
  AllocationLock& operator=(const AllocationLock&) = delete;

 private:
  int fd_;
};

// A line for a made-up user in /etc/subuid, removed again (only that line) on destruction.
class FakeSubuidLine {
 public:
  explicit FakeSubuidLine(std::string line) : line_(std::move(line)) {
    AllocationLock lock;
    write_all("/etc/subuid", slurp("/etc/subuid") + line_);
  }
  ~FakeSubuidLine() {
    AllocationLock lock;
    std::string text = slurp("/etc/subuid");
    size_t at = text.find(line_);
    if (at != std::string::npos) write_all("/etc/subuid", text.erase(at, line_.size()));
  }

 private:
  std::string line_;
};

class IdRangesTest : public BerthTest {
 protected:
  void SetUp() override {
    BerthTest::SetUp();
    subuid_ = ours(slurp("/etc/subuid"));
    subgid_ = ours(slurp("/etc/subgid"));
  }
  // The file without the lines of other test programs' instances (berth-test-<pid>) and of
  // their fake other tools (berth-itest-fake-<pid>, RangeOfAnotherToolInSubuidIsSkipped in a
  // program running beside this one), which come and go while this test runs: what this test
  // must leave as it found is the rest.
  std::string ours(const std::string& text) const {
    const std::string fake = "berth-itest-fake-";
    const std::string own_fake = fake + std::to_string(::getpid()) + ":";
    std::string out;
    for (const auto& l : split_lines(text)) {
      if (l.rfind("berth-test-", 0) == 0 && l.rfind(instance(), 0) != 0) continue;
      if (l.rfind(fake, 0) == 0 && l.rfind(own_fake, 0) != 0) continue;
      out += l + "\n";
    }
    return out;
  }
  void TearDown() override {
    if (!root2_.empty()) {
      run_process({BERTH_BINARY, "stop", id2_, "--fast"}, env2(), {});
      run_process({BERTH_BINARY, "destroy", id2_}, env2(), {});
      std::error_code ec;
      fs::remove_all(root2_, ec);
    }
    BerthTest::TearDown();
    if (root().empty()) return;
    EXPECT_EQ(ours(slurp("/etc/subuid")), subuid_) << "/etc/subuid not left as found";
    EXPECT_EQ(ours(slurp("/etc/subgid")), subgid_) << "/etc/subgid not left as found";
  }
  // A second instance: its own BERTH_ROOT and instance name, the same busybox cache.
  void make_second_instance() {
    root2_ = root() + "-second";
    fs::create_directories(root2_ + "/etc/berth");
    fs::create_directories(root2_ + "/var/lib/berth/template");
    fs::copy(root() + "/var/lib/berth/template/cache", root2_ + "/var/lib/berth/template/cache");
    for (std::string p = root2_ + "/var/lib/berth/template/cache"; p.size() > 4;
         p = fs::path(p).parent_path())
      ::chmod(p.c_str(), 0755);
    std::ofstream(root2_ + "/etc/berth/berth.conf")
        << "CGROUP_PARENT=\"" << instance() << "-second\"\n";
  }
  std::vector<std::string> env2() const { return root_env(root2_); }
  std::string subuid_, subgid_, root2_, id2_;
};

bool overlaps(uint64_t a, uint64_t b) { return a < b + 65536 && b < a + 65536; }

TEST_F(IdRangesTest, TwoInstancesGetDisjointRangesRegisteredInSubuid) {
  std::string id = create_ct();
  make_second_instance();
  id2_ = id;  // the same CTID in the other instance
  RunResult c = run_process({BERTH_BINARY, "create", id2_, "--ostemplate", "busybox"}, env2(), {});
  ASSERT_EQ(c.code, 0) << c.err;
  uint64_t a = conf_base(conf_path(id)),
           b = conf_base(root2_ + "/etc/berth/conf/" + id2_ + ".conf");
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_FALSE(overlaps(a, b)) << "both instances handed out host ids " << a << " and " << b;
  // Other tools see both ranges.
  for (const char* f : {"/etc/subuid", "/etc/subgid"}) {
    std::string text = slurp(f);
    EXPECT_PRED2(contains, text, instance() + "." + id + ":" + std::to_string(a) + ":65536\n") << f;
    EXPECT_PRED2(contains, text,
                 instance() + "-second." + id2_ + ":" + std::to_string(b) + ":65536\n")
        << f;
  }
  // The second instance's CT works in its range.
  RunResult s = run_process({BERTH_BINARY, "start", id2_, "--wait"}, env2(), {});
  ASSERT_EQ(s.code, 0) << s.err;
  RunResult st = run_process({BERTH_BINARY, "stop", id2_, "--fast"}, env2(), {});
  EXPECT_EQ(st.code, 0) << st.err;
  RunResult d = run_process({BERTH_BINARY, "destroy", id2_}, env2(), {});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_FALSE(contains(slurp("/etc/subuid"), instance() + "-second." + id2_ + ":"));
}

TEST_F(IdRangesTest, RangeOfAnotherToolInSubuidIsSkipped) {
  std::string first = create_ct();
  uint64_t taken = conf_base(conf_path(first));
  ASSERT_EQ(berth({"destroy", first}).code, 0);
  EXPECT_EQ(ours(slurp("/etc/subuid")), subuid_) << "destroy left the CT's range registered";
  // Another tool (a podman user, say) now holds exactly that range.
  FakeSubuidLine fake("berth-itest-fake-" + std::to_string(::getpid()) + ":" +
                      std::to_string(taken) + ":65536\n");
  std::string id = create_ct();
  uint64_t base = conf_base(conf_path(id));
  EXPECT_FALSE(overlaps(base, taken))
      << "got " << base << ", which /etc/subuid gives to another user";
}

}  // namespace
}  // namespace berth::itest
