// DEVNODES and DEVICES: the one parser of both keys and of permissions.
#include "core/values/devices.h"

#include <gtest/gtest.h>

namespace berth::values {
namespace {

TEST(ValuesDevices, Access) {
  EXPECT_EQ(parse_dev_access("rw").value(), (DevAccess{true, true, false}));
  EXPECT_EQ(parse_dev_access("wq").value(), (DevAccess{false, true, true}));
  EXPECT_TRUE(parse_dev_access("none").value().none());
  for (const char* bad : {"", "rr", "x", "rwx", "None", " r"}) {
    auto r = parse_dev_access(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), 86) << bad;
  }
  EXPECT_EQ(format_dev_access({true, true, true}), "rwq");
  EXPECT_EQ(format_dev_access({}), "none");
}

TEST(ValuesDevices, DevnodesAndNames) {
  auto l = parse_devnodes(" net/tun:rw\tfuse:r sdb:none ");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].path, "net/tun");
  EXPECT_EQ(format_devnode((*l)[1]), "fuse:r");
  EXPECT_TRUE((*l)[2].access.none());
  for (const char* bad : {"tun", "tun:x", "/dev/tun:rw", "../tun:rw", "net/../tun:rw",
                          "tun:", ":rw", "a b/c:rw", "net//tun:rw", "net/tun/:rw", "a$b:rw"})
    EXPECT_FALSE(parse_devnodes(bad).ok()) << bad;
  EXPECT_TRUE(is_valid_dev_name("dri/card0"));
  EXPECT_FALSE(is_valid_dev_name(std::string(256, 'a')));
}

TEST(ValuesDevices, DevicesByNumber) {
  auto l = parse_devices("c:10:200:rw b:8:all:r");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].type, DevType::kChar);
  EXPECT_EQ((*l)[0].minor, 200u);
  EXPECT_FALSE((*l)[1].minor.has_value());
  EXPECT_EQ(format_device((*l)[0]), "c:10:200:rw");
  EXPECT_EQ(format_device((*l)[1]), "b:8:all:r");
  EXPECT_TRUE(parse_devices("none").value().empty());
  EXPECT_TRUE(parse_devices("").value().empty());
  for (const char* bad : {"c:10:rw", "x:1:2:rw", "c:a:1:rw", "c:1:2:rwx", "c:1:2:3:rw",
                          "c:4096:0:rw", "c:1:1048576:r", "all:rw", "c:-1:0:r"})
    EXPECT_FALSE(parse_devices(bad).ok()) << bad;
}

}  // namespace
}  // namespace berth::values
