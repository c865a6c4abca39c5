// The pure parts of checkpoint and restore: the console's tty key CRIU wants (from mountinfo),
// and the end of a CRIU log that an error message quotes.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "checkpoint/criu.h"
#include "runtime/checkpoint.h"

namespace berth {
namespace {

constexpr const char* kMountinfo =
    "35 43 0:29 / / rw,nodev,relatime - overlay berth-101 rw,lowerdir=/x\n"
    "63 62 0:5 /null /dev/null rw,nosuid,relatime - devtmpfs devtmpfs rw\n"
    "69 62 0:36 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,max=64\n"
    "73 62 0:38 /0 /dev/console rw,nosuid,noexec,relatime - devpts devpts rw,max=1\n";

TEST(ConsoleTtyKey, TheDevptsBindAtDevConsole) {
  // pty 0 (136:0 = 0x8800) of the instance 0:38 (0x26), as CRIU prints tty[rdev:dev].
  EXPECT_EQ(runtime::console_tty_key_of(kMountinfo), "tty[8800:26]");
}

TEST(ConsoleTtyKey, HighIndexAndBigMinor) {
  EXPECT_EQ(runtime::console_tty_key_of("1 2 0:300 /257 /dev/console rw - devpts devpts rw\n"),
            "tty[8901:10002c]");  // index 257: 137:1; dev 0:300, as glibc encodes it
}

TEST(ConsoleTtyKey, NoPtyNoKey) {
  // No console at all, a null device bound there (no pty could be had), or a tenant's own
  // mount under another name: nothing is external.
  EXPECT_EQ(runtime::console_tty_key_of("35 43 0:29 / / rw - overlay o rw\n"), "");
  EXPECT_EQ(runtime::console_tty_key_of("73 62 0:5 /null /dev/console rw - devtmpfs devtmpfs rw\n"),
            "");
  EXPECT_EQ(runtime::console_tty_key_of("73 62 0:38 /0 /dev/consolex rw - devpts devpts rw\n"), "");
  EXPECT_EQ(runtime::console_tty_key_of(""), "");
}

TEST(CriuLogTail, ErrorsFirstThenTheLastLines) {
  char path[] = "/tmp/berth-criu-log-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream f(path);
    f << "(00.1) one\n(00.2) Error (criu/mount.c:1): mnt: first\n(00.3) two\n\n"
         "(00.4) three\n(00.5) four\n";
  }
  std::string t = checkpoint::log_tail(path, 2);
  EXPECT_EQ(t, "\n  (00.2) Error (criu/mount.c:1): mnt: first\n  (00.4) three\n  (00.5) four");
  EXPECT_EQ(checkpoint::log_tail("/nonexistent/criu.log", 3), "");
  ::unlink(path);
}

TEST(SessionHelperBug, CriuBefore42) {
  EXPECT_TRUE(runtime::criu_has_session_helper_bug("3.17.1"));
  EXPECT_TRUE(runtime::criu_has_session_helper_bug("4.1"));
  EXPECT_FALSE(runtime::criu_has_session_helper_bug("4.2"));
  EXPECT_FALSE(runtime::criu_has_session_helper_bug("5.0.1"));
  EXPECT_FALSE(runtime::criu_has_session_helper_bug(""));  // unknown: not refused for it
}

TEST(SessionHelperBug, ASessionWhoseLeaderIsGone) {
  // init (1 leads its own), a service leading its session, a shell's orphaned child.
  EXPECT_EQ(runtime::orphaned_session_member({{100, 100}, {120, 120}, {121, 120}}), 0);
  EXPECT_EQ(runtime::orphaned_session_member({{100, 100}, {130, 125}, {131, 125}}), 130);
  EXPECT_EQ(runtime::orphaned_session_member({{100, 100}, {140, 0}}), 0);  // no session
  EXPECT_EQ(runtime::orphaned_session_member({}), 0);
}

TEST(SessionHelperBug, NamedUnixSockets) {
  const char* head = "Num       RefCount Protocol Flags    Type St Inode Path\n";
  EXPECT_EQ(runtime::named_unix_socket(std::string(head) +
                                       "0000000000000000: 00000002 00000000 00010000 0001 01 "
                                       "11522 @/org/kernel/abstract\n"
                                       "0000000000000000: 00000003 00000000 00000000 0001 03 "
                                       "11610\n"
                                       "0000000000000000: 00000002 00000000 00000000 0002 01 "
                                       "11577 /run/systemd/notify\n"),
            "/run/systemd/notify");
  EXPECT_EQ(runtime::named_unix_socket(std::string(head) +
                                       "0000000000000000: 00000003 00000000 00000000 0001 03 "
                                       "11610\n"),
            "");
  EXPECT_EQ(runtime::named_unix_socket(""), "");
}

}  // namespace
}  // namespace berth
