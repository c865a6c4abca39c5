// sys::run_tool: what a host tool printed and its status, and the tool never outlives its caller.
#include "sys/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>
#include <string>
#include <thread>

namespace berth::sys {
namespace {

TEST(RunTool, CollectsOutputAndStatus) {
  auto r = run_tool({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, true);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 3);
  EXPECT_NE(r->out.find("out"), std::string::npos);
  EXPECT_NE(r->out.find("err"), std::string::npos);
  auto missing = run_tool({"/nonexistent/berth-tool"}, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/berth-tool"), std::string::npos);
}

// State letter of /proc/<pid>/stat ('\0' when the process is gone).
char state_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return '\0';
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ? '\0' : line[paren + 2];
}

// The tools work on a CT's disk image by its path: one left running by a killed `berth create`
// wrote into the image the retry had just made there. A killed caller takes its tool with it.
TEST(RunTool, TheToolDiesWithTheProcessThatRanIt) {
  char dir[] = "/tmp/berth-run-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string pidfile = std::string(dir) + "/tool.pid";
  pid_t caller = ::fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    (void)run_tool({"/bin/sh", "-c", "echo $$ > " + pidfile + "; exec sleep 30"}, false);
    ::_exit(0);
  }
  pid_t tool = 0;
  for (int i = 0; i < 500 && tool <= 0; ++i) {
    std::ifstream in(pidfile);
    if (!(in >> tool)) tool = 0;
    if (tool <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(tool, 0) << "the tool did not start";
  ::kill(caller, SIGKILL);
  int st = 0;
  ::waitpid(caller, &st, 0);
  char state = state_of(tool);
  for (int i = 0; i < 200 && state != '\0' && state != 'Z' && state != 'X'; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    state = state_of(tool);
  }
  EXPECT_TRUE(state == '\0' || state == 'Z' || state == 'X')
      << "the tool (pid " << tool << ") still runs: state " << state;
  if (state != '\0' && state != 'Z' && state != 'X') ::kill(tool, SIGKILL);
  ::unlink(pidfile.c_str());
  ::rmdir(dir);
}

// The tool's clone lets go of the caller's files before anything else (a clone killed with its
// caller kept the CT's lock while it tore the caller's memory down): the tool gets stdio only,
// even of a file the caller left inheritable.
TEST(RunTool, TheToolGetsNoFileOfTheCallerButStdio) {
  int keep = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: an exec alone would pass it on
  ASSERT_GE(keep, 3);
  auto r = run_tool({"/bin/sh", "-c", "ls /proc/$$/fd"}, true);
  ::close(keep);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 0);
  std::istringstream in(r->out);
  std::string fd;
  std::vector<std::string> fds;
  while (in >> fd) fds.push_back(fd);
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"})) << r->out;
}

}  // namespace
}  // namespace berth::sys
