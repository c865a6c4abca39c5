// The start, stop and exec pipelines without root: the order of their steps, failure injection,
// the unwinding of StartContext's guards against the fake kernel and cgroups (tests/fakes), and
// the parent/child sync protocol (an Error keeps its errno and exit status across the socket).
#include "runtime/pipeline.h"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/host_config.h"
#include "../../fakes/fake_kernel.h"
#include "runtime/child_init.h"
#include "runtime/start_steps.h"
#include "runtime/sync.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

size_t index_of(const std::vector<std::string>& steps, const std::string& name) {
  auto it = std::find(steps.begin(), steps.end(), name);
  EXPECT_NE(it, steps.end()) << "no step " << name;
  return static_cast<size_t>(it - steps.begin());
}

// Each name in `order` comes after the one before it.
void expect_in_order(const std::vector<std::string>& steps, const std::vector<std::string>& order) {
  for (size_t i = 1; i < order.size(); ++i)
    EXPECT_LT(index_of(steps, order[i - 1]), index_of(steps, order[i]))
        << order[i - 1] << " before " << order[i];
}

TEST(StartSteps, ParentOrder) {
  auto s = start_parent_step_names();
  ASSERT_FALSE(s.empty());
  // The config is loaded and validated before anything is made.
  EXPECT_EQ(s.front(), "validate_config");
  EXPECT_EQ(s.back(), "wait_child");
  // The CT's view is a clone of the mounted root; the child needs it.
  expect_in_order(
      s, {"validate_config", "repair_leftovers", "mount_root", "open_root_view", "clone_child"});
  // Limits are on the group before anything of the CT exists. The group is made beside the
  // root's mount, and waited for before the limits.
  expect_in_order(s, {"repair_leftovers", "begin_cgroup", "mount_root", "create_cgroup",
                      "apply_limits", "clone_child"});
  // The id maps go first so the child mounts while the network is made and (v1) joined; the
  // child is released after both (its init starts with its network); then the parent waits for
  // the child's answer.
  expect_in_order(s, {"prepare_child", "clone_child", "write_id_maps", "attach_network",
                      "apply_shaping", "join_cgroup_v1", "release_child", "wait_child"});
  // The beancounter mounts are cloned before the child that attaches them exists; a first
  // start's /proc server comes up while the root is mounted.
  expect_in_order(s, {"spawn_ubc_server", "mount_root", "ensure_ubc_server", "clone_child"});
  EXPECT_EQ(std::set<std::string>(s.begin(), s.end()).size(), s.size()) << "step names are unique";
}

TEST(StartSteps, ChildOrder) {
  auto s = start_child_step_names();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front(), "set_parent_death_signal");  // a killed parent takes the child with it
  // Nothing works in a new user namespace before its maps; the inotify limits go through the
  // CT's own fresh procfs, before mask_proc makes its /proc/sys read-only.
  expect_in_order(s, {"wait_id_maps", "become_root", "read_host_resolv", "set_up_mounts",
                      "apply_userns_limits", "mask_proc"});
  expect_in_order(s, {"set_up_mounts", "mask_proc", "attach_proc_view", "configure_inside"});
  expect_in_order(s, {"join_cgroup_namespace", "mount_cgroup_fs", "load_seccomp"});
  // Seccomp needs CAP_SYS_ADMIN without no_new_privs: loaded before the caps go, which is last.
  expect_in_order(s, {"load_seccomp", "drop_caps"});
  EXPECT_EQ(s.back(), "drop_caps");
}

TEST(StopSteps, Order) {
  auto s = stop_step_names();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front(), "query_state");
  // The netns is held before init dies (the veth's counters are saved by detach_network); the
  // polite halt comes before the kill; the group is emptied before it is removed; VE_ROOT is
  // unmounted last, when nothing of the CT can hold it.
  expect_in_order(s, {"query_state", "hold_netns", "halt_init", "kill_init", "remove_cgroup",
                      "detach_network", "umount_root"});
  EXPECT_EQ(s.back(), "umount_root");
}

TEST(ExecSteps, Order) {
  auto s = exec_step_names();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front(), "query_state");
  // A dead /proc view is repaired before anyone joins; the joiner is in the CT's cgroup before
  // it may join the namespaces; stdio is relayed until the command ends; its status is last.
  expect_in_order(
      s, {"query_state", "repair_proc_view", "open_init_pidfd", "open_cgroup", "prepare_stdio",
          "start_command", "join_cgroup", "receive_pty", "relay_stdio", "collect_status"});
  EXPECT_EQ(s.back(), "collect_status");
}

TEST(DestroySteps, Order) {
  auto s = destroy_step_names();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front(), "query_state");
  // Leftovers of a killed command are repaired first; the instance's tables go only after the
  // CT's elements; the disk is unmounted before the private area goes; the config is renamed
  // after everything else it names is gone (a destroy killed before that runs all of it again);
  // the closes it left behind are waited for last.
  expect_in_order(s,
                  {"query_state", "repair_leftovers", "detach_network", "remove_instance_filters",
                   "umount_root", "destroy_private", "remove_config", "wait_closes"});
  expect_in_order(s, {"remove_snapshots", "destroy_private", "release_ids", "remove_config"});
  EXPECT_EQ(s.back(), "wait_closes");
}

TEST(Pipeline, FailStepSpec) {
  EXPECT_TRUE(fail_step_matches("mount_root", "start", 2, "mount_root"));
  EXPECT_TRUE(fail_step_matches("3", "start", 2, "mount_root"));
  EXPECT_FALSE(fail_step_matches("3", "start", 3, "open_root_view"));
  EXPECT_TRUE(fail_step_matches("start:mount_root", "start", 2, "mount_root"));
  EXPECT_FALSE(fail_step_matches("start-child:mount_root", "start", 2, "mount_root"));
  EXPECT_TRUE(fail_step_matches("start-child:2", "start-child", 1, "wait_id_maps"));
  EXPECT_FALSE(fail_step_matches("mount", "start", 2, "mount_root"));
  EXPECT_FALSE(fail_step_matches("", "start", 0, "validate_config"));
}

// Sets BERTH_FAIL_STEP for one scope.
struct FailStep {
  explicit FailStep(const std::string& spec) { ::setenv("BERTH_FAIL_STEP", spec.c_str(), 1); }
  ~FailStep() { ::unsetenv("BERTH_FAIL_STEP"); }
};

struct Counter {
  std::vector<std::string> ran;
};
Status step_a(Counter& c) {
  c.ran.push_back("a");
  return {};
}
Status step_b(Counter& c) {
  c.ran.push_back("b");
  return {};
}
Status step_c(Counter& c) {
  c.ran.push_back("c");
  return Error::from_errno(ENOSPC, "c");
}

TEST(Pipeline, InjectedFailureStopsBeforeTheStep) {
  constexpr std::array<Step<Counter>, 2> steps{{{"do_a", step_a}, {"do_b", step_b}}};
  {
    Counter c;
    EXPECT_TRUE(run_pipeline<Counter>("t", steps, c).ok());
    EXPECT_EQ(c.ran, (std::vector<std::string>{"a", "b"}));
  }
  for (const char* spec : {"do_b", "2", "t:do_b", "t:2"}) {
    FailStep f(spec);
    Counter c;
    auto st = run_pipeline<Counter>("t", steps, c);
    ASSERT_FALSE(st.ok()) << spec;
    EXPECT_EQ(st.error().code(), EIO);
    EXPECT_NE(st.error().message().find("step do_b: failure injected by BERTH_FAIL_STEP"),
              std::string::npos);
    EXPECT_EQ(c.ran, (std::vector<std::string>{"a"})) << spec;
  }
  {
    FailStep other("u:do_a");  // another pipeline's step
    Counter c;
    EXPECT_TRUE(run_pipeline<Counter>("t", steps, c).ok());
  }
}

TEST(Pipeline, AFailedStepEndsThePipelineWithItsError) {
  constexpr std::array<Step<Counter>, 3> steps{
      {{"do_a", step_a}, {"do_c", step_c}, {"do_b", step_b}}};
  Counter c;
  auto st = run_pipeline<Counter>("t", steps, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ENOSPC);
  EXPECT_EQ(c.ran, (std::vector<std::string>{"a", "c"}));
}

// A host config of a root that does not exist (nothing is read from it).
class WithHost : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = HostConfig::load_at("/nonexistent-berth-root-for-tests");
    ASSERT_TRUE(h.ok()) << h.error().message();
    host_ = std::move(*h);
  }
  HostConfig host_;
};

// The real start steps from create_cgroup to release_child, against the fakes. mount_root is
// stood in for by a step that acquires the same guard (the real one mounts an overlay), and
// the test holds the child's end of the sync socket (the fake clone makes no process to hold it).
class StartUnwind : public WithHost {
 protected:
  static Status stand_in_mount_root(StartContext& ctx) {
    BERTH_RETURN_IF_ERROR(sys::kernel().move_mount(-1, "/ve/root"));
    ctx.root = sys::MountGuard("/ve/root");
    return {};
  }
  static Status hold_child_end(StartContext& ctx) {
    held_child_end().reset(::dup(ctx.sync.child.get()));
    return {};
  }
  static UniqueFd& held_child_end() {
    static UniqueFd fd;
    return fd;
  }

  // The steps, the real ones taken from start_steps() by name.
  std::vector<Step<StartContext>> steps() const {
    auto real = [](const char* name) {
      for (const auto& s : start_steps())
        if (std::string(s.name) == name) return s;
      ADD_FAILURE() << "no start step " << name;
      return Step<StartContext>{name, nullptr};
    };
    return {{"mount_root", stand_in_mount_root},
            real("create_cgroup"),
            real("apply_limits"),
            real("prepare_child"),
            {"hold_child_end", hold_child_end},
            real("clone_child"),
            real("write_id_maps"),
            real("join_cgroup_v1"),
            real("release_child")};
  }

  // Runs the steps in a fresh context (destroyed before this returns); returns the pipeline's
  // status and the journal split at the failure: `done` before the context was destroyed,
  // `undone` what its destruction did.
  struct Outcome {
    Status status;
    std::vector<std::string> done, undone;
  };
  Outcome run(fakes::Journal& j) {
    CtConfig ct(host_, "101", ConfFile::parse("LOCAL_UID=\"200000\"\nLOCAL_GID=\"200000\"\n"));
    StartOptions opts;
    fakes::FakeKernel kernel(j);
    fakes::FakeCgroups cg(j);
    sys::KernelOverride use(kernel);
    Outcome out;
    size_t at = 0;
    {
      StartContext ctx(ct, opts);
      ctx.cg = &cg;
      ctx.group = "inst/101";
      ctx.userns = true;
      auto list = steps();
      out.status =
          run_pipeline<StartContext>("start", std::span<const Step<StartContext>>(list), ctx);
      at = j.calls.size();
      if (out.status.ok()) ctx.commit();
    }
    out.done.assign(j.calls.begin(), j.calls.begin() + static_cast<std::ptrdiff_t>(at));
    out.undone.assign(j.calls.begin() + static_cast<std::ptrdiff_t>(at), j.calls.end());
    held_child_end().reset();
    return out;
  }
};

const std::string kChildPid = std::to_string(fakes::FakeKernel::kFirstPid);

TEST_F(StartUnwind, SuccessAcquiresInOrderAndCommitKeepsEverything) {
  fakes::Journal j;
  auto o = run(j);
  ASSERT_TRUE(o.status.ok()) << o.status.error().message();
  EXPECT_EQ(o.done, (std::vector<std::string>{
                        "move_mount /ve/root",
                        "cgroup create inst/101",
                        "cgroup delegate inst/101 200000",
                        "cgroup limit_nesting inst/101",
                        "cgroup set_devices inst/101",
                        "cgroup apply inst/101",
                        "clone_child",
                        "write_id_maps " + kChildPid + " 0 200000 65536",
                        "cgroup attach inst/101 " + kChildPid,
                    }));
  EXPECT_TRUE(o.undone.empty()) << ::testing::PrintToString(o.undone);
}

// Injected at each step in turn: what was acquired before it is undone, newest first.
TEST_F(StartUnwind, EachInjectedFailureUndoesInReverse) {
  const std::vector<std::string> undo_child{"kill_and_reap " + kChildPid};
  const std::vector<std::string> undo_cgroup{"cgroup kill_all inst/101", "cgroup remove inst/101"};
  const std::vector<std::string> undo_mount{"umount /ve/root"};
  auto concat = [](std::initializer_list<std::vector<std::string>> parts) {
    std::vector<std::string> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  struct Case {
    const char* step;
    std::vector<std::string> undone;
  };
  std::vector<Case> cases{
      {"mount_root", {}},
      {"create_cgroup", undo_mount},
      {"apply_limits", concat({undo_cgroup, undo_mount})},
      {"prepare_child", concat({undo_cgroup, undo_mount})},
      {"clone_child", concat({undo_cgroup, undo_mount})},
      {"write_id_maps", concat({undo_child, undo_cgroup, undo_mount})},
      {"join_cgroup_v1", concat({undo_child, undo_cgroup, undo_mount})},
      {"release_child", concat({undo_child, undo_cgroup, undo_mount})},
  };
  for (const auto& c : cases) {
    FailStep f(std::string("start:") + c.step);
    fakes::Journal j;
    auto o = run(j);
    ASSERT_FALSE(o.status.ok()) << c.step;
    EXPECT_EQ(o.status.error().code(), EIO) << c.step;
    EXPECT_EQ(o.undone, c.undone) << c.step << ": " << ::testing::PrintToString(o.undone);
  }
}

// Real failures of a kernel or cgroup call (not injected ones): the errno comes back with the
// step's context, and only the guards acquired before the failure unwind (a group that could not
// be made is not removed).
TEST_F(StartUnwind, FailedCallsKeepTheErrnoAndUnwindWhatWasMade) {
  struct Case {
    const char* call;
    int err;
    const char* context;
    std::vector<std::string> undone;
  };
  std::vector<Case> cases{
      {"write_id_maps",
       EPERM,
       "write id maps: ",
       {"kill_and_reap " + kChildPid, "cgroup kill_all inst/101", "cgroup remove inst/101",
        "umount /ve/root"}},
      {"cgroup create", ENOSPC, "create cgroup: ", {"umount /ve/root"}},
      {"cgroup apply",
       EINVAL,
       "apply resource limits: ",
       {"cgroup kill_all inst/101", "cgroup remove inst/101", "umount /ve/root"}},
  };
  for (const auto& c : cases) {
    fakes::Journal j;
    j.fail_on = c.call;
    j.fail_errno = c.err;
    auto o = run(j);
    ASSERT_FALSE(o.status.ok()) << c.call;
    EXPECT_EQ(o.status.error().code(), c.err) << c.call;
    EXPECT_EQ(o.status.error().message().rfind(c.context, 0), 0u) << o.status.error().message();
    EXPECT_EQ(o.undone, c.undone) << c.call << ": " << ::testing::PrintToString(o.undone);
  }
}

// MountGuard unmounts what is below its path first (deepest first, as the kernel lists them).
TEST(MountGuard, UnmountsDeepestFirstThroughTheKernel) {
  fakes::Journal j;
  fakes::FakeKernel kernel(j);
  kernel.submounts = {"/ve/root/proc", "/ve/root"};
  sys::KernelOverride use(kernel);
  {
    sys::MountGuard g("/ve/root");
    sys::MountGuard kept("/ve/other");
    kept.release();
  }
  EXPECT_EQ(j.calls, (std::vector<std::string>{"umount /ve/root/proc", "umount /ve/root"}));
}

// The sync protocol: what the child sends arrives as the same Error in the parent.
TEST(SyncProtocol, ChildErrorKeepsErrnoStatusAndMessage) {
  auto pair = make_sync_pair();
  ASSERT_TRUE(pair.ok());
  int child_end = pair->child.get();
  Error sent = Error::from_errno(ENOSPC, "mount `proc` on `/proc`");
  sent.context("set up mounts").status(47);
  auto child = sys::clone_child(0, -1, [&] {
    sync_report_error(child_end, sent);
    return kChildSetupFailed;
  });
  ASSERT_TRUE(child.ok()) << child.error().message();
  pair->child.reset();
  auto r = sync_recv(pair->parent.get());
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->eof);
  ASSERT_EQ(r->type, SyncMsg::kError);
  Error got = error_from(*r);
  EXPECT_EQ(got.code(), ENOSPC);
  EXPECT_EQ(got.exit_status(), 47);
  EXPECT_EQ(got.message(),
            "set up mounts: mount `proc` on `/proc`: ENOSPC (No space left on device)");
  EXPECT_EQ(got.message(), sent.message());
  auto ws = child->wait();
  ASSERT_TRUE(ws.ok());
  EXPECT_EQ(sys::exit_code_of(*ws), kChildSetupFailed);
}

// A child that fails before it reads the parent's next message (kCgroupDone sent while it was
// failing) closes with that message unread: the kernel then reports ECONNRESET once, ahead of the
// child's queued error. The error must still arrive (not be read as "init exited").
TEST(SyncProtocol, ErrorOfAPeerThatClosedWithOurMessageUnread) {
  auto pair = make_sync_pair();
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(sync_send(pair->parent.get(), SyncMsg::kCgroupDone).ok());
  sync_report_error(pair->child.get(), Error::from_errno(EACCES, "open `/etc/resolv.conf`"));
  pair->child.reset();
  auto r = sync_recv(pair->parent.get());
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_FALSE(r->eof);
  ASSERT_EQ(r->type, SyncMsg::kError);
  EXPECT_EQ(error_from(*r).code(), EACCES);
  auto end = sync_recv(pair->parent.get());
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->eof);
}

class ChildInit : public WithHost {
 protected:
  // Runs child_init in a child process (it gets no further than the sync protocol here);
  // `parent` acts the parent's part; returns what the parent received and the child's exit code.
  std::pair<Received, int> run(const std::function<void(int)>& parent) {
    CtConfig ct(host_, "101", ConfFile::parse(""));
    auto pair = make_sync_pair();
    EXPECT_TRUE(pair.ok());
    ChildArgs a;
    a.ct = &ct;
    a.userns = true;
    a.sync_fd = pair->child.get();
    int parent_end = pair->parent.get();
    auto child = sys::clone_child(0, -1, [&] {
      ::close(parent_end);
      return child_init(a);
    });
    EXPECT_TRUE(child.ok());
    pair->child.reset();
    parent(pair->parent.get());
    auto r = sync_recv(pair->parent.get());
    EXPECT_TRUE(r.ok());
    auto ws = child->wait();
    EXPECT_TRUE(ws.ok());
    return {std::move(*r), sys::exit_code_of(*ws)};
  }
};

// An injected failure in a child step travels as a real one would: errno, status 3, its words.
TEST_F(ChildInit, InjectedChildStepFailureReachesTheParent) {
  FailStep f("start-child:wait_id_maps");
  auto [r, code] = run([](int) {});
  ASSERT_FALSE(r.eof);
  ASSERT_EQ(r.type, SyncMsg::kError);
  Error e = error_from(r);
  EXPECT_EQ(e.code(), EIO);
  EXPECT_EQ(e.exit_status(), 3);
  EXPECT_NE(e.message().find("step wait_id_maps: failure injected"), std::string::npos)
      << e.message();
  EXPECT_EQ(code, kChildSetupFailed);
}

// The child waits for the id maps before anything else: any other message is an error (EINVAL)
// it reports, and it goes no further.
TEST_F(ChildInit, WrongMessageInsteadOfIdMapsIsReported) {
  auto [r, code] = run([](int sock) { ASSERT_TRUE(sync_send(sock, SyncMsg::kCgroupDone).ok()); });
  ASSERT_FALSE(r.eof);
  ASSERT_EQ(r.type, SyncMsg::kError);
  Error e = error_from(r);
  EXPECT_EQ(e.code(), EINVAL);
  EXPECT_NE(e.message().find("unexpected sync message 2"), std::string::npos) << e.message();
  EXPECT_EQ(code, kChildSetupFailed);
}

}  // namespace
}  // namespace berth::runtime
