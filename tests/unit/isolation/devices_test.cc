#include "isolation/devices.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "child_util.h"
#include "core/exit_codes.h"

namespace berth::isolation {
namespace {

TEST(IsolationDevices, StandardNodes) {
  auto nodes = standard_devnodes();
  ASSERT_EQ(nodes.size(), 6u);
  auto find = [&](const std::string& p) {
    for (const auto& n : nodes)
      if (n.path == p) return n;
    ADD_FAILURE() << p;
    return DevNode{};
  };
  EXPECT_EQ(find("null").major, 1u);
  EXPECT_EQ(find("null").minor, 3u);
  EXPECT_EQ(find("urandom").minor, 9u);
  EXPECT_EQ(find("tty").major, 5u);
  EXPECT_EQ(find("tty").minor, 0u);
  for (const auto& n : nodes) {
    EXPECT_EQ(n.type, DevType::kChar);
    EXPECT_TRUE(n.access.read && n.access.write) << n.path;
  }
}

TEST(IsolationDevices, ParsesAccess) {
  EXPECT_EQ(parse_dev_access("rw").value(), (DevAccess{true, true, false}));
  EXPECT_EQ(parse_dev_access("rwq").value(), (DevAccess{true, true, true}));
  EXPECT_TRUE(parse_dev_access("none").value().none());
  for (const char* bad : {"", "rx", "rr", "RW"}) {
    auto r = parse_dev_access(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), exitcode::kDevices);
  }
  EXPECT_EQ(format_dev_access({true, false, true}), "rq");
  EXPECT_EQ(format_dev_access({}), "none");
}

TEST(IsolationDevices, ParsesDevnodes) {
  auto r = parse_devnodes("net/tun:rw  fuse:rw sdb:none ");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].path, "net/tun");
  EXPECT_TRUE((*r)[0].access.write);
  EXPECT_EQ((*r)[1].path, "fuse");
  EXPECT_TRUE((*r)[2].access.none());
  EXPECT_TRUE(parse_devnodes("").value().empty());
  for (const char* bad : {"tun", "../sda:rw", "/dev/sda:rw", "net//tun:rw", "a/../b:rw", "tun:rx",
                          "net/:rw", ":rw"}) {
    auto b = parse_devnodes(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.error().exit_status(), exitcode::kDevices) << bad;
  }
}

TEST(IsolationDevices, ParsesDevices) {
  auto r = parse_devices("c:10:200:rw b:8:0:r c:4:all:rw");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].type, DevType::kChar);
  EXPECT_EQ((*r)[0].major, 10u);
  EXPECT_EQ((*r)[0].minor, 200u);
  EXPECT_TRUE((*r)[0].path.empty());
  EXPECT_EQ((*r)[1].type, DevType::kBlock);
  EXPECT_TRUE((*r)[1].access.read);
  EXPECT_FALSE((*r)[1].access.write);
  EXPECT_FALSE((*r)[2].minor.has_value());
  EXPECT_TRUE(parse_devices("none").value().empty());
  for (const char* bad : {"all:rw", "x:1:2:rw", "c:1:2", "c:a:2:rw", "c:1:-2:rw", "c:1:2:rw:x",
                          "c:1:2:rz", "c::2:rw"}) {
    auto b = parse_devices(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.error().exit_status(), exitcode::kDevices) << bad;
  }
}

TEST(IsolationDevices, CgroupRule) {
  auto r = parse_devices("c:10:200:rw b:8:all:r").value();
  EXPECT_EQ(device_rule(r[0]), "c 10:200 rw");
  EXPECT_EQ(device_rule(r[1]), "b 8:* r");
}

TEST(IsolationDevices, ResolvesFromHostDev) {
  auto nodes = parse_devnodes("null:rw").value();
  ASSERT_TRUE(resolve_devnode(nodes[0]).ok());
  EXPECT_EQ(nodes[0].type, DevType::kChar);
  EXPECT_EQ(nodes[0].major, 1u);
  EXPECT_EQ(nodes[0].minor, 3u);
  DevNode missing;
  missing.path = "no-such-device";
  auto st = resolve_devnode(missing);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().exit_status(), exitcode::kDevices);
  testing::TempDir tmp;
  ::close(::open((tmp.path() + "/file").c_str(), O_WRONLY | O_CREAT, 0644));
  DevNode regular;
  regular.path = "file";
  EXPECT_FALSE(resolve_devnode(regular, tmp.path()).ok());
}

bool is_char_dev(const std::string& path, unsigned maj, unsigned min) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
         minor(st.st_rdev) == min;
}

bool link_is(const std::string& path, const std::string& target) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  return n >= 0 && std::string(buf, static_cast<size_t>(n)) == target;
}

// In a user namespace mknod is refused, so populate_dev binds the host's nodes.
TEST(IsolationDevices, PopulateInUserNamespaceBindsHostNodes) {
  testing::TempDir tmp;
  const std::string dev = tmp.path();
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns(
      [&] {
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 1;
        auto nodes = standard_devnodes();
        DevNode hidden;  // no access: not created
        hidden.path = "zero2";
        nodes.push_back(hidden);
        auto st = populate_dev(dev, nodes, true);
        if (!st.ok()) {
          fprintf(stderr, "%s\n", st.error().message().c_str());
          return 2;
        }
        if (!is_char_dev(dev + "/null", 1, 3) || !is_char_dev(dev + "/urandom", 1, 9)) return 3;
        int fd = ::open((dev + "/zero").c_str(), O_RDONLY);
        char c = 1;
        if (fd < 0 || ::read(fd, &c, 1) != 1 || c != 0) return 4;
        ::close(fd);
        if (::access((dev + "/zero2").c_str(), F_OK) == 0) return 5;
        if (!link_is(dev + "/fd", "/proc/self/fd") || !link_is(dev + "/ptmx", "pts/ptmx") ||
            !link_is(dev + "/stderr", "/proc/self/fd/2"))
          return 6;
        struct stat st_shm {};
        if (::stat((dev + "/shm").c_str(), &st_shm) != 0 || (st_shm.st_mode & 07777) != 01777)
          return 7;
        // Missing host node: exit 86.
        DevNode absent;
        absent.path = "net/no-such-node";
        absent.access = {true, true, false};
        absent.minor = 0;
        auto bad = populate_dev(dev, {absent}, true);
        if (bad.ok() || bad.error().exit_status() != exitcode::kDevices) return 8;
        // Running it twice (symlinks present) is fine.
        if (!populate_dev(dev, {}, true).ok()) return 9;
        return 0;
      },
      CLONE_NEWNS));
}

TEST(IsolationDevices, PopulatePrivilegedMakesNodes) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod needs root";
  testing::TempDir tmp;
  auto nodes = standard_devnodes();
  nodes.push_back(parse_devnodes("net/tun:rw").value()[0]);
  nodes.back().type = DevType::kChar;
  nodes.back().major = 10;
  nodes.back().minor = 200;
  nodes.back().mode = 0600;
  ASSERT_TRUE(populate_dev(tmp.path(), nodes, false).ok());
  EXPECT_TRUE(is_char_dev(tmp.path() + "/tty", 5, 0));
  EXPECT_TRUE(is_char_dev(tmp.path() + "/net/tun", 10, 200));
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() + "/null").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  ASSERT_EQ(::stat((tmp.path() + "/net/tun").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

}  // namespace
}  // namespace berth::isolation
