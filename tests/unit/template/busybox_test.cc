// The built-in busybox template: embedded files, applet links, and a real build + unpack.
#include "template/busybox.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "template/busybox_files.h"
#include "template/cache.h"
#include "test_util.h"

namespace berth::tmpl {
namespace {

using testing::exists;

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(BusyboxFiles, EmbeddedTextsMatchTemplatesDir) {
  const std::string dir = std::string(BERTH_SOURCE_DIR) + "/templates/busybox/";
  const std::pair<const char*, std::string_view> files[] = {
      {"inittab", busybox_files::kInittab}, {"rcS", busybox_files::kRcS},
      {"rcK", busybox_files::kRcK},         {"passwd", busybox_files::kPasswd},
      {"group", busybox_files::kGroup},     {"shadow", busybox_files::kShadow},
      {"hosts", busybox_files::kHosts},     {"hostname", busybox_files::kHostname},
      {"profile", busybox_files::kProfile}, {"udhcpc.script", busybox_files::kUdhcpcScript}};
  for (const auto& [name, text] : files) {
    ASSERT_TRUE(exists(dir + name)) << dir + name;
    EXPECT_EQ(slurp(dir + name), text)
        << "src/template/busybox_files.h is out of date for " << name;
  }
}

TEST(BusyboxFiles, InitContract) {
  std::string_view inittab = busybox_files::kInittab;
  EXPECT_NE(inittab.find("::sysinit:/etc/init.d/rcS\n"), std::string_view::npos);
  EXPECT_NE(inittab.find("::shutdown:/etc/init.d/rcK\n"), std::string_view::npos);
  EXPECT_EQ(inittab.find(":respawn:"), std::string_view::npos);  // nothing to respawn, no getty
  EXPECT_EQ(inittab.find(":askfirst:"), std::string_view::npos);
  std::string_view rcs = busybox_files::kRcS;
  EXPECT_NE(rcs.find("hostname -F /etc/hostname"), std::string_view::npos);
  EXPECT_NE(rcs.find("ip link set lo up"), std::string_view::npos);
  EXPECT_NE(rcs.find("/etc/berth/start.d/*.sh"), std::string_view::npos);
  // The ready file is the very last command.
  std::string_view tail = rcs.substr(rcs.rfind('\n', rcs.size() - 2) + 1);
  EXPECT_EQ(tail, "touch /run/berth-ready\n");
  EXPECT_EQ(busybox_files::kShadow.substr(0, 7), "root:!:");
}

TEST(BusyboxApplets, ParseAndLinkTargets) {
  auto a = parse_applet_list(
      "usr/bin/[\nbin/sh\nlinuxrc\nbin/busybox\n/abs/x\nbin/../x\nsbin/init\n\nbin/sh\n");
  EXPECT_EQ(a, (std::vector<std::string>{"bin/sh", "sbin/init", "usr/bin/["}));
  EXPECT_EQ(applet_link_target("bin/sh"), "busybox");
  EXPECT_EQ(applet_link_target("sbin/init"), "../bin/busybox");
  EXPECT_EQ(applet_link_target("usr/bin/["), "../../bin/busybox");
  EXPECT_EQ(applet_link_target("usr/sbin/chroot"), "../../bin/busybox");
}

class BusyboxBuild : public testing::TempDirTest {
 protected:
  void SetUp() override {
    if (access(kBusyboxBinary, X_OK) != 0)
      GTEST_SKIP() << "/bin/busybox missing (package busybox-static)";
    TempDirTest::SetUp();
    auto h = HostConfig::load_at(dir_);
    ASSERT_TRUE(h.ok());
    host_ = std::move(h).value();
  }
  HostConfig host_;
};

TEST_F(BusyboxBuild, BuildsArchiveAndUnpacks) {
  auto t0 = std::chrono::steady_clock::now();
  auto st = build_busybox_template(host_, false);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(st.ok()) << st.error().message();
  const std::string arc = busybox_archive_path(host_);
  ASSERT_EQ(*find_cache_archive(host_, "busybox"), arc);
  auto entries = testing::list_tar(arc);
  for (const char* want :
       {"./bin/busybox", "./sbin/init", "./etc/inittab", "./etc/init.d/rcS", "./etc/init.d/rcK",
        "./etc/passwd", "./etc/shadow", "./etc/os-release", "./bin/sh", "./tmp/", "./root/"})
    EXPECT_NE(std::find(entries.begin(), entries.end(), want), entries.end()) << want;
  EXPECT_GT(entries.size(), 100u);

  auto t2 = std::chrono::steady_clock::now();
  auto root = ensure_unpacked(host_, "busybox");
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(root.ok()) << root.error().message();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("[ timing ] build busybox template %.1f ms, first ensure_unpacked %.1f ms\n",
              ms(t0, t1), ms(t2, t3));
  EXPECT_LT(ms(t2, t3), 2000.0);

  char target[64] = {};
  ASSERT_GT(readlink((*root + "/sbin/init").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "../bin/busybox");
  struct stat s;
  ASSERT_EQ(stat((*root + "/sbin/init").c_str(), &s), 0);  // the link resolves inside the root
  EXPECT_TRUE(S_ISREG(s.st_mode));
  EXPECT_NE(s.st_mode & 0111, 0u);
  ASSERT_EQ(stat((*root + "/tmp").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 01777u);
  ASSERT_EQ(stat((*root + "/root").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0700u);
  ASSERT_EQ(stat((*root + "/etc/shadow").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0600u);
  if (geteuid() == 0) {
    EXPECT_EQ(s.st_uid, 0u);
  }
  EXPECT_NE(slurp(*root + "/etc/os-release").find("ID=busybox\n"), std::string::npos);
  EXPECT_EQ(slurp(*root + "/etc/init.d/rcS"), busybox_files::kRcS);
}

TEST_F(BusyboxBuild, IdempotentUnlessForced) {
  ASSERT_TRUE(build_busybox_template(host_, false).ok());
  const std::string arc = busybox_archive_path(host_);
  struct stat a, b;
  ASSERT_EQ(stat(arc.c_str(), &a), 0);
  ASSERT_TRUE(build_busybox_template(host_, false).ok());
  ASSERT_EQ(stat(arc.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // untouched
  std::string before = slurp(arc);

  std::ofstream(host_.paths().cache_dir + "/busybox.tar") << "stale, would shadow the .tar.gz";
  ASSERT_TRUE(build_busybox_template(host_, true).ok());
  ASSERT_EQ(stat(arc.c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);  // rewritten (rename)
  EXPECT_EQ(slurp(arc), before);  // reproducible bytes
  EXPECT_FALSE(exists(host_.paths().cache_dir + "/busybox.tar"));
  EXPECT_EQ(*find_cache_archive(host_, "busybox"), arc);
}

}  // namespace
}  // namespace berth::tmpl

namespace berth::tmpl {
namespace {

TEST(ParseLdd, KeepsLibrariesAndTheLoader) {
  auto p = parse_ldd(
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibnftables.so.1 => /lib/x86_64-linux-gnu/libnftables.so.1 (0x00007f10)\n"
      "\tlibmissing.so.3 => not found\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f20)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f30)\n");
  EXPECT_EQ(p, (std::vector<std::string>{"/lib/x86_64-linux-gnu/libnftables.so.1",
                                         "/lib/x86_64-linux-gnu/libc.so.6",
                                         "/lib64/ld-linux-x86-64.so.2"}));
  EXPECT_TRUE(parse_ldd("\tnot a dynamic executable\n").empty());
}

}  // namespace
}  // namespace berth::tmpl
