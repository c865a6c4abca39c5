// state::any_ct_alive (asked by every stop: may the instance's watcher and /proc server end?).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "core/host_config.h"
#include "harness.h"
#include "state/ct_cgroup.h"
#include "state/inventory.h"
#include "sys/fs.h"

namespace berth::itest {
namespace {

class InventoryTest : public BerthTest {};

// On a hybrid host a CT's processes are also in its group of the unified hierarchy, and the
// instance's group there says whether any runs (`populated 1`) without a listing of every CT's
// group in a v1 hierarchy. Here only the unified group holds a process (no v1 group exists): the
// answer must come from it. (The check looked among the v1 hierarchies for the unified one, which
// is not among them: it never answered, and every stop listed the instance's 1000 groups.)
TEST_F(InventoryTest, AHybridHostsUnifiedGroupAnswersWhetherAnyCtRuns) {
  auto backend = state::cgroup_backend();
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  const std::string unified = (*backend)->unified_mount();
  if (unified.empty()) GTEST_SKIP() << "not a hybrid host (no unified hierarchy beside v1)";
  auto host = HostConfig::load_at(root());
  ASSERT_TRUE(host.ok()) << host.error().message();
  ASSERT_EQ(host->instance(), instance());
  EXPECT_FALSE(state::any_ct_alive(*host));  // nothing of the instance anywhere

  const std::string inst = unified + "/" + instance(), group = inst + "/busy";
  ASSERT_EQ(::mkdir(inst.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(group.c_str(), 0755), 0);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    std::string me = std::to_string(::getpid());
    bool moved = sys::write_file(group + "/cgroup.procs", me).ok();
    (void)!::write(ready[1], moved ? "1" : "0", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char moved = '0';
  EXPECT_EQ(::read(ready[0], &moved, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(moved, '1');
  const bool alive = state::any_ct_alive(*host);
  ::kill(child, SIGKILL);
  int st = 0;
  ::waitpid(child, &st, 0);
  EXPECT_TRUE(alive) << "the unified group holds a process";
  // Gone again: the unified group says 0, and the listing (no v1 group) confirms it.
  for (int i = 0; i < 100 && state::any_ct_alive(*host); ++i) sleep_ms(10);
  EXPECT_FALSE(state::any_ct_alive(*host));
  EXPECT_EQ(::rmdir(group.c_str()), 0);
  EXPECT_EQ(::rmdir(inst.c_str()), 0);
}

}  // namespace
}  // namespace berth::itest
