// The staging mount namespace a CT's first process is cloned from (isolation/staging.h): it holds
// what the child needs and nothing of the host's other mounts (no other CT's disk or root), it is
// read-only, and making it leaves nothing on the host.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "harness.h"
#include "isolation/staging.h"
#include "sys/kernel.h"

namespace berth::itest {
namespace {

// mount point -> "fstype options" of every line of a mountinfo text.
std::map<std::string, std::string> mounts_of(const std::string& mountinfo) {
  std::map<std::string, std::string> out;
  std::istringstream in(mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, opts, field;
    f >> id >> parent >> dev >> root >> point >> opts;
    while (f >> field && field != "-") {}
    std::string type;
    f >> type;
    out[point] = type + " " + opts;
  }
  return out;
}

class StagingTest : public BerthTest {};

TEST_F(StagingTest, HoldsOnlyWhatACtChildNeeds) {
  // A host mount standing for another CT's disk: it must not be in the staging namespace.
  std::string other = root() + "/other-ct-disk";
  std::string scratch = root() + "/scratch";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(scratch.c_str(), 0755), 0);
  ASSERT_EQ(::mount("berth-test", other.c_str(), "tmpfs", 0, "size=64k"), 0) << errno;
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{other};

  auto ns = isolation::make_staging_namespace(scratch);
  ASSERT_TRUE(ns.ok()) << ns.error().message();
  // The helper worked on a copy: the host has no mount on the scratch directory.
  EXPECT_EQ(mounts_of(read_text("/proc/self/mountinfo")).count(scratch), 0U);

  // A child in the namespace reports its mountinfo and what it may do there.
  int pfd[2];
  ASSERT_EQ(::pipe2(pfd, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pfd[0]);
    std::string report;
    if (::setns(ns->get(), CLONE_NEWNS) != 0) {
      report = "setns failed\n";
    } else {
      report = read_text("/proc/self/mountinfo");
      struct stat st {};
      report +=
          "#null " +
          std::string(::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) ? "chr" : "missing") +
          "\n";
      report += "#ct " +
                std::string(::stat(isolation::kStagingAttachDir, &st) == 0 && S_ISDIR(st.st_mode)
                                ? "dir"
                                : "missing") +
                "\n";
      int rc = ::mkdir("/planted", 0755);
      report += "#mkdir " + std::string(rc == 0 ? "ok" : errno == EROFS ? "erofs" : "other") + "\n";
    }
    (void)!::write(pfd[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pfd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pfd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pfd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);

  std::string mountinfo, facts;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) (line.rfind('#', 0) == 0 ? facts : mountinfo) += line + "\n";
  auto mounts = mounts_of(mountinfo);
  ASSERT_EQ(mounts.size(), 4U) << out;
  ASSERT_TRUE(mounts.count("/") && mounts.count("/proc") && mounts.count("/sys") &&
              mounts.count("/dev"))
      << out;
  EXPECT_EQ(mounts["/"].rfind("tmpfs ro,", 0), 0U) << mounts["/"];
  EXPECT_EQ(mounts["/proc"].rfind("proc ", 0), 0U) << mounts["/proc"];
  EXPECT_EQ(mounts["/sys"].rfind("sysfs ro,", 0), 0U) << mounts["/sys"];
  EXPECT_EQ(out.find("other-ct-disk"), std::string::npos) << out;
  EXPECT_NE(facts.find("#null chr"), std::string::npos) << facts;
  EXPECT_NE(facts.find("#ct dir"), std::string::npos) << facts;
  EXPECT_NE(facts.find("#mkdir erofs"), std::string::npos) << facts;
}

// The watcher's clone anchors (sys/kernel.h): a clone of a file below an anchor is that file, and
// once the anchored directory was removed and made again, the file the path names now (not one
// the anchor still holds).
TEST_F(StagingTest, AClonedFileBelowAnAnchorIsTheOneThePathNames) {
  std::string dir = root() + "/anchored";
  auto make = [&](const std::string& text) {
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    std::ofstream(dir + "/f") << text;
  };
  auto cloned_text = [&] {
    auto fd = sys::kernel().open_tree(dir + "/f", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (!fd.ok()) return "error: " + fd.error().message();
    struct stat a {
    }, b{};
    if (::fstat(fd->get(), &a) != 0 || ::stat((dir + "/f").c_str(), &b) != 0 ||
        a.st_ino != b.st_ino || a.st_dev != b.st_dev)
      return std::string("another file");
    return read_text("/proc/self/fd/" + std::to_string(fd->get()));
  };
  make("first");
  sys::add_clone_anchor(dir);
  EXPECT_EQ(sys::clone_anchor_fds().size(), 1U);
  EXPECT_EQ(cloned_text(), "first");
  ASSERT_EQ(::unlink((dir + "/f").c_str()), 0);
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  make("second");
  EXPECT_EQ(cloned_text(), "second");
}

// Starts run in the watcher's forks, which clone the CT from the staging namespace: a CT with a
// disk, a user namespace and extra device nodes (bound from the host's /dev, which the staging
// namespace carries) starts and sees its own root, devices and the host's DNS servers.
TEST_F(StagingTest, CtClonedFromStagingGetsItsDevicesAndDns) {
  std::string id = create_ct({"--devnodes", "loop-control:rw", "--nameserver", "inherit"});
  RunResult s = berth({"start", id});
  ASSERT_EQ(s.code, 0) << s.err;
  RunResult r = berth({"exec2", id,
                       "ls -l /dev/loop-control /dev/null | cut -c1; "
                       "grep -c ^nameserver /etc/resolv.conf; "
                       "awk '$5 == \"/\"' /proc/self/mountinfo | wc -l"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 4U) << r.out << r.err;
  EXPECT_EQ(lines[0], "c");
  EXPECT_EQ(lines[1], "c");
  std::string host_resolv = read_text("/etc/resolv.conf");
  if (host_resolv.find("nameserver") != std::string::npos) {
    EXPECT_NE(lines[2], "0") << r.out;
  }
  EXPECT_EQ(lines[3], "1") << r.out;
  EXPECT_EQ(berth({"stop", id, "--fast"}).code, 0);
}

}  // namespace
}  // namespace berth::itest
