#include <gtest/gtest.h>

#include "sys/fs.h"

namespace berth::sys {
namespace {

TEST(UnescapeMountinfo, OctalEscapesBecomeTheirCharacters) {
  EXPECT_EQ(unescape_mountinfo("/run/a\\040b"), "/run/a b");
  EXPECT_EQ(unescape_mountinfo("/x\\011y\\012z\\134w"), "/x\ty\nz\\w");
  EXPECT_EQ(unescape_mountinfo("/proc/meminfo"), "/proc/meminfo");
  EXPECT_EQ(unescape_mountinfo("/end\\040"), "/end ");
}

TEST(UnescapeMountinfo, WhatIsNoEscapeStaysAsItIs) {
  EXPECT_EQ(unescape_mountinfo("/a\\09"), "/a\\09");  // 9 is no octal digit
  EXPECT_EQ(unescape_mountinfo("/a\\04"), "/a\\04");  // too short
  EXPECT_EQ(unescape_mountinfo("\\"), "\\");
}

}  // namespace
}  // namespace berth::sys
