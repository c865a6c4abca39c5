#include "isolation/proc_mask.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "child_util.h"

namespace berth::isolation {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(IsolationProcMask, PlanHidesHostWideFiles) {
  auto p = proc_mask_plan(true);
  for (const char* f : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"})
    EXPECT_TRUE(contains(p.null_files, f)) << f;
  for (const char* d : {"/proc/acpi", "/proc/scsi", "/sys/firmware"})
    EXPECT_TRUE(contains(p.empty_dirs, d)) << d;
  for (const char* r : {"/proc/sys", "/proc/bus", "/proc/irq", "/proc/sysrq-trigger", "/proc/fs"})
    EXPECT_TRUE(contains(p.read_only, r)) << r;
  EXPECT_TRUE(contains(p.writable_again, "/proc/sys/net"));
  // Every writable exception lies under a read-only path (else it would be a no-op or a hole).
  for (const auto& w : p.writable_again)
    EXPECT_TRUE(std::any_of(p.read_only.begin(), p.read_only.end(), [&](const std::string& r) {
      return w.rfind(r + "/", 0) == 0;
    })) << w;
}

TEST(IsolationProcMask, KmsgOnlyMaskedWithoutUserNamespace) {
  EXPECT_FALSE(contains(proc_mask_plan(true).null_files, "/proc/kmsg"));
  EXPECT_TRUE(contains(proc_mask_plan(false).null_files, "/proc/kmsg"));
}

TEST(IsolationProcMask, MissingPathsAreSkipped) {
  testing::TempDir tmp;
  ProcMaskPlan plan;
  plan.null_files = {"/proc/nope"};
  plan.empty_dirs = {"/sys/nope"};
  plan.read_only = {"/proc/sys"};
  plan.writable_again = {"/proc/sys/net"};
  EXPECT_TRUE(apply_proc_mask(plan, tmp.path()).ok());
}

bool read_only(const std::string& path) {
  struct statvfs sv {};
  return ::statvfs(path.c_str(), &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

// A CT-like setup in a user namespace: its own /proc (new PID namespace) and /sys (new network
// namespace) under a temporary root, with /dev/null bound from the host, then the real mask.
TEST(IsolationProcMask, AppliesInUserNamespace) {
  testing::TempDir tmp;
  const std::string root = tmp.path();
  const bool host_root = ::geteuid() == 0;
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns(
      [&] {
        pid_t pid = ::fork();  // the first child of the new PID namespace may mount its /proc
        if (pid < 0) return 1;
        if (pid > 0) {
          int st = 0;
          ::waitpid(pid, &st, 0);
          return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(3);
        for (const char* d : {"/proc", "/sys", "/dev"}) ::mkdir((root + d).c_str(), 0755);
        if (::mount("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    nullptr) != 0)
          ::_exit(testing::kNoUserns);  // e.g. the host /proc is not fully visible
        bool have_sys = ::mount("sysfs", (root + "/sys").c_str(), "sysfs",
                                MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
        ::close(::open((root + "/dev/null").c_str(), O_WRONLY | O_CREAT, 0644));
        if (::mount("/dev/null", (root + "/dev/null").c_str(), nullptr, MS_BIND, nullptr) != 0)
          ::_exit(4);

        auto st = apply_proc_mask(proc_mask_plan(false), root);
        if (!st.ok()) {
          fprintf(stderr, "%s\n", st.error().message().c_str());
          ::_exit(5);
        }
        // Masked files read as empty (unmasked, /proc/kcore and /proc/kmsg refuse to open here).
        int checked = 0;
        for (const char* f : {"/proc/kcore", "/proc/kmsg", "/proc/timer_list"}) {
          if (::access(f, F_OK) != 0) continue;  // not in this kernel
          ++checked;
          int fd = ::open((root + f).c_str(), O_RDONLY);
          char c;
          if (fd < 0 || ::read(fd, &c, 1) != 0) ::_exit(6);
          ::close(fd);
        }
        if (checked == 0) ::_exit(13);
        if (!read_only(root + "/proc/sys") || !read_only(root + "/proc/sys/kernel")) ::_exit(7);
        if (read_only(root + "/proc/sys/net") || read_only(root + "/proc/sys/kernel/hostname"))
          ::_exit(8);
        // The UTS namespace is the CT's: its hostname sysctl must stay writable. (Only the host's
        // root passes the sysctl's own permission check for kernel.hostname.)
        if (host_root) {
          int fd = ::open((root + "/proc/sys/kernel/hostname").c_str(), O_WRONLY);
          if (fd < 0 || ::write(fd, "berth-test", 10) != 10) ::_exit(9);
          ::close(fd);
        }
        for (const char* r : {"/proc/sysrq-trigger", "/proc/bus", "/proc/irq"})
          if (::access(r, F_OK) == 0 && !read_only(root + r)) ::_exit(10);
        if (have_sys && ::access((root + "/sys/firmware").c_str(), F_OK) == 0) {
          struct statfs sf {};
          if (::statfs((root + "/sys/firmware").c_str(), &sf) != 0 ||
              sf.f_type != 0x01021994 /* TMPFS_MAGIC */)
            ::_exit(11);
          if (!read_only(root + "/sys/firmware")) ::_exit(12);
        }
        ::_exit(0);
      },
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS));
}

}  // namespace
}  // namespace berth::isolation
