// Debian templates: recipe names, the mirror from the host's apt sources, mmdebstrap's output.
#include "template/debian.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "core/exit_codes.h"
#include "test_util.h"

namespace berth::tmpl {
namespace {

TEST(DebianSpec, ShortAndFullNames) {
  auto s = debian_spec("debian-12", "x86_64");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->version, "12");
  EXPECT_EQ(s->suite, "bookworm");
  EXPECT_EQ(s->deb_arch, "amd64");
  EXPECT_EQ(s->cache_name, "debian-12-x86_64-minimal");
  auto full = debian_spec("debian-12-x86_64-minimal", "x86_64");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->cache_name, "debian-12-x86_64-minimal");
  EXPECT_EQ(debian_spec("debian-11", "x86_64")->suite, "bullseye");
  EXPECT_EQ(debian_spec("debian-13", "aarch64")->cache_name, "debian-13-aarch64-minimal");
  EXPECT_EQ(debian_spec("debian-13", "aarch64")->deb_arch, "arm64");
  for (const char* no : {"debian-10", "debian-12-aarch64-minimal", "debian-12-x86_64",
                         "debian-12-x86_64-full", "ubuntu-22.04", "debian", "busybox"})
    EXPECT_FALSE(debian_spec(no, "x86_64")) << no;
  EXPECT_FALSE(debian_spec("debian-12", "m68k"));
  EXPECT_EQ(debian_versions(), "11 12 13");
}

TEST(DebianMirror, Deb822PicksTheReleaseNotSecurity) {
  const std::string sources =
      "Types: deb\n"
      "# http://snapshot.debian.org/archive/debian-security/20250520T000000Z\n"
      "URIs: http://deb.debian.org/debian-security\n"
      "Suites: bookworm-security\n"
      "Components: main\n"
      "\n"
      "Types: deb-src deb\n"
      "URIs: http://mirror.example/debian/\n"
      "Suites: bookworm bookworm-updates\n"
      "Components: main\n"
      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
  EXPECT_EQ(mirror_from_apt_sources("", {sources}), "http://mirror.example/debian");
  EXPECT_EQ(security_mirror_from_apt_sources("", {sources}),
            "http://deb.debian.org/debian-security");
}

TEST(DebianMirror, Deb822SkipsDisabledAndSourceOnly) {
  const std::string sources =
      "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
      "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n"
      "Types: deb\nURIs: http://on.example/debian\nSuites: bookworm\n";
  EXPECT_EQ(mirror_from_apt_sources("", {sources}), "http://on.example/debian");
}

TEST(DebianMirror, SourcesListLines) {
  const std::string list =
      "# deb http://commented.example/debian bookworm main\n"
      "deb-src http://src.example/debian bookworm main\n"
      "deb http://security.debian.org/debian-security bookworm-security main\n"
      "deb [arch=amd64 signed-by=/k.gpg] http://ftp.example/debian/ bookworm main contrib\n";
  EXPECT_EQ(mirror_from_apt_sources(list, {}), "http://ftp.example/debian");
  EXPECT_EQ(security_mirror_from_apt_sources(list, {}),
            "http://security.debian.org/debian-security");
  EXPECT_FALSE(mirror_from_apt_sources("deb-src http://x/debian bookworm main\n", {}));
  EXPECT_FALSE(mirror_from_apt_sources("", {}));
  // deb822 first, then sources.list.
  EXPECT_EQ(mirror_from_apt_sources(list, {"Types: deb\nURIs: http://a/debian\nSuites: trixie\n"}),
            "http://a/debian");
}

class DebianMirrorFiles : public testing::TempDirTest {};

TEST_F(DebianMirrorFiles, TemplateMirrorWinsThenAptDir) {
  ASSERT_EQ(mkdir((dir_ + "/apt").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir_ + "/apt/sources.list.d").c_str(), 0755), 0);
  auto host = HostConfig::load_at(dir_);
  ASSERT_TRUE(host.ok());
  auto none = debian_mirror(*host, dir_ + "/apt");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("TEMPLATE_MIRROR"), std::string::npos);
  std::ofstream(dir_ + "/apt/sources.list.d/debian.sources")
      << "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n";
  std::ofstream(dir_ + "/apt/sources.list.d/other.list") << "deb http://other/debian sid main\n";
  EXPECT_EQ(debian_mirror(*host, dir_ + "/apt").value(), "http://deb.debian.org/debian");

  ASSERT_TRUE(make_dirs(dir_ + "/etc/berth").ok());
  std::ofstream(dir_ + "/etc/berth/berth.conf")
      << "TEMPLATE_MIRROR=\"http://local.example/debian/\"\n";
  auto with_key = HostConfig::load_at(dir_);
  ASSERT_TRUE(with_key.ok());
  EXPECT_EQ(debian_mirror(*with_key, dir_ + "/apt").value(), "http://local.example/debian");
}

TEST(DebianRecipe, HoldsPackagesMasksAndFirstBootFiles) {
  auto spec = debian_spec("debian-12", "x86_64");
  ASSERT_TRUE(spec);
  std::string r = debian_recipe_text(*spec);
  for (const char* p : {"systemd-sysv", "openssh-server", "iproute2", "ifupdown", "procps", "less",
                        "ca-certificates", "dbus"})
    EXPECT_NE(r.find(p), std::string::npos) << p;
  for (const auto& u : kDebianMaskedUnits)
    EXPECT_NE(r.find("ln -sf /dev/null \"$r/etc/systemd/system/" + u + "\""), std::string::npos)
        << u;
  EXPECT_NE(r.find(": > \"$r/etc/machine-id\""), std::string::npos);
  EXPECT_NE(r.find("rm -f \"$r\"/etc/ssh/ssh_host_*"), std::string::npos);
  EXPECT_NE(r.find("ExecStart=/usr/bin/ssh-keygen -A"), std::string::npos);
  EXPECT_NE(r.find("Before=ssh.service"), std::string::npos);
  EXPECT_NE(r.find("var/lib/apt/lists/*"), std::string::npos);
  EXPECT_NE(r.find("suite bookworm"), std::string::npos);
  // Another version is another recipe (the test cache is keyed by its hash).
  EXPECT_NE(r, debian_recipe_text(*debian_spec("debian-13", "x86_64")));
}

TEST(MmdebstrapOutput, Condensed) {
  auto phase = condense_mmdebstrap_line("I: downloading packages with apt...");
  EXPECT_EQ(phase.text, "downloading packages with apt...");
  EXPECT_FALSE(phase.transient);
  EXPECT_TRUE(phase.keep);
  auto err = condense_mmdebstrap_line("E: apt-get update failed");
  EXPECT_EQ(err.text, "E: apt-get update failed");
  EXPECT_FALSE(err.transient);
  auto chatter = condense_mmdebstrap_line("Setting up libc6:amd64 (2.36-9) ...");
  EXPECT_TRUE(chatter.transient);
  EXPECT_TRUE(chatter.keep);
  EXPECT_FALSE(condense_mmdebstrap_line("   ").keep);
  EXPECT_LE(condense_mmdebstrap_line(std::string(300, 'x')).text.size(), 100u);
}

}  // namespace
}  // namespace berth::tmpl
