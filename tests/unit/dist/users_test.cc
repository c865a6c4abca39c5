#include "dist/users.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/host_config.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
    "bob:x:1003:1003::/home/bob:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const char* kGroup =
    "root:x:0:\n"
    "alice:x:1000:\n"
    "bob:x:1003:\n"
    "staff:x:1004:alice\n"
    "nogroup:x:65534:\n";
const char* kShadow =
    "root:*:19000:0:99999:7:::\n"
    "alice:$6$old$hash:19001:0:99999:7:::\n"
    "bob:!:19002:0:99999:7:30:20000:\n";

TEST(DistUsers, ValidatesNames) {
  for (const char* ok : {"alice", "a.b", "svc_1", "x-y", "A1"})
    EXPECT_TRUE(validate_user_name(ok).ok()) << ok;
  for (const char* bad : {"", "-x", "1234", "a:b", "a b", "a/b", "..", "ali\nce", "émile"}) {
    auto st = validate_user_name(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().exit_status(), exitcode::kPasswordFailed) << bad;
  }
  EXPECT_FALSE(validate_user_name(std::string(33, 'a')).ok());
}

TEST(DistUsers, ValidatesPasswords) {
  EXPECT_TRUE(validate_password("s3cret with spaces").ok());
  for (std::string bad :
       {std::string(""), std::string("a:b"), std::string("a\nb"), std::string("a\0b", 3)}) {
    auto st = validate_password(bad);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().exit_status(), exitcode::kPasswordFailed);
  }
}

TEST(DistUsers, HashesWithSha512Crypt) {
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h.ok()) << h.error().message();
  EXPECT_EQ(h->rfind("$6$", 0), 0u);
  EXPECT_TRUE(password_matches("correct horse", *h));
  EXPECT_FALSE(password_matches("correct horse!", *h));
  // crypt_rn with the stored hash as setting reproduces it exactly (what login/su do).
  auto data = std::make_unique<crypt_data>();
  EXPECT_EQ(std::string(crypt_rn("correct horse", h->c_str(), data.get(), sizeof(crypt_data))), *h);
  // A fresh salt every time.
  EXPECT_NE(hash_password("correct horse").value(), *h);
}

TEST(DistUsers, HashMethodIsTheDistributions) {
  // Debian 12: login.defs still says SHA512, but passwd/chpasswd go through PAM, which says
  // yescrypt.
  std::string pam12 =
      "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n"
      "password\trequisite\t\t\tpam_deny.so\n";
  EXPECT_EQ(hash_prefix_for(pam12, "ENCRYPT_METHOD SHA512\n"), "$y$");
  EXPECT_EQ(hash_prefix_for("password [success=1 default=ignore] pam_unix.so obscure sha512\n",
                            "ENCRYPT_METHOD YESCRYPT\n"),
            "$6$");
  EXPECT_EQ(hash_prefix_for("# password pam_unix.so yescrypt\n", "ENCRYPT_METHOD SHA256\n"), "$5$");
  EXPECT_EQ(hash_prefix_for("", "# ENCRYPT_METHOD YESCRYPT\nENCRYPT_METHOD\tYESCRYPT\n"), "$y$");
  EXPECT_EQ(hash_prefix_for("password required pam_unix.so nullok\n", ""), "$6$");  // busybox, old
  EXPECT_EQ(hash_prefix_for("", "ENCRYPT_METHOD MD5\n"), "$6$");  // nothing weaker than SHA-512
}

TEST(DistUsers, HashesWithYescrypt) {
  auto h = hash_password("correct horse", "$y$");
  ASSERT_TRUE(h.ok()) << h.error().message();
  EXPECT_EQ(h->rfind("$y$", 0), 0u) << *h;
  EXPECT_TRUE(password_matches("correct horse", *h));
  EXPECT_FALSE(password_matches("correct horsE", *h));
  // A method this libcrypt does not know falls back to SHA-512.
  auto f = hash_password("correct horse", "$unknown$");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->rfind("$6$", 0), 0u) << *f;
}

TEST(DistUsers, ShadowUpdateKeepsOtherUsersAndFields) {
  std::string out = shadow_with_password(kShadow, "bob", "$6$s$h", 20000);
  EXPECT_EQ(out,
            "root:*:19000:0:99999:7:::\n"
            "alice:$6$old$hash:19001:0:99999:7:::\n"
            "bob:$6$s$h:20000:0:99999:7:30:20000:\n");
  EXPECT_EQ(shadow_with_password(kShadow, "carol", "$6$s$h", 20000),
            std::string(kShadow) + "carol:$6$s$h:20000:0:99999:7:::\n");
  EXPECT_EQ(shadow_with_password("short:x\n", "short", "H", 1), "short:H:1::::::\n");
}

TEST(DistUsers, PasswdWithPassword) {
  EXPECT_EQ(passwd_with_password("a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/sh\n", "b", "H"),
            "a:x:1:1::/:/bin/sh\nb:H:2:2::/:/bin/sh\n");
}

TEST(DistUsers, FindsIds) {
  EXPECT_EQ(find_id(kPasswd, "bob"), 1003u);
  EXPECT_EQ(find_id(kGroup, "staff"), 1004u);
  EXPECT_FALSE(find_id(kPasswd, "carol").has_value());
  EXPECT_FALSE(find_id(kPasswd, "bo").has_value());
}

TEST(DistUsers, NextFreeIdLikeUseradd) {
  EXPECT_EQ(next_free_id(kPasswd, 1000, 60000), 1004u);  // above the highest in range, not a gap
  EXPECT_EQ(
      next_free_id("root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n", 1000, 60000),
      1000u);
  EXPECT_EQ(next_free_id("a:x:1000:1\nz:x:1002:1\n", 1000, 1002), 1001u);  // top taken: lowest free
  EXPECT_FALSE(next_free_id("a:x:1000:1\nb:x:1001:1\n", 1000, 1001).has_value());
  EXPECT_EQ(next_free_id("", 500, 600), 500u);
}

TEST(DistUsers, PlanNewUserWithPrivateGroup) {
  LoginDefs defs;
  auto u = plan_new_user(kPasswd, kGroup, "carol", defs, "/bin/bash");
  ASSERT_TRUE(u.ok()) << u.error().message();
  EXPECT_EQ(u->uid, 1004u);
  // gid 1004 is taken by "staff": the next free gid.
  EXPECT_EQ(u->gid, 1005u);
  EXPECT_TRUE(u->new_group);
  EXPECT_EQ(u->home, "/home/carol");
  EXPECT_EQ(passwd_with_user("root:x:0:0::/root:/bin/sh", *u),
            "root:x:0:0::/root:/bin/sh\ncarol:x:1004:1005::/home/carol:/bin/bash\n");
  EXPECT_EQ(group_with_user("root:x:0:\n", *u), "root:x:0:\ncarol:x:1005:\n");
  EXPECT_EQ(gshadow_with_user("root:*::\n", *u), "root:*::\ncarol:!::\n");

  auto same = plan_new_user(kPasswd, "root:x:0:\n", "dave", defs, "/bin/sh");
  EXPECT_EQ(same->gid, same->uid);
  auto existing_group = plan_new_user(kPasswd, kGroup, "staff", defs, "/bin/sh");
  EXPECT_EQ(existing_group->gid, 1004u);
  EXPECT_FALSE(existing_group->new_group);
  EXPECT_EQ(group_with_user(kGroup, *existing_group), kGroup);

  LoginDefs full;
  full.uid_min = 1000;
  full.uid_max = 1000;
  auto none = plan_new_user(kPasswd, kGroup, "eve", full, "/bin/sh");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().exit_status(), exitcode::kPasswordFailed);
}

TEST(DistUsers, ParsesLoginDefs) {
  auto d = parse_login_defs(
      "# comment\nUID_MIN\t\t 2000\nUID_MAX 3000\nGID_MIN 2000\nHOME_MODE 0750\nUMASK 022\nBAD "
      "x\n");
  EXPECT_EQ(d.uid_min, 2000u);
  EXPECT_EQ(d.uid_max, 3000u);
  EXPECT_EQ(d.gid_min, 2000u);
  EXPECT_EQ(d.gid_max, 60000u);
  EXPECT_EQ(d.home_mode, 0750u);
  EXPECT_EQ(parse_login_defs("").home_mode, 0700u);
}

class DistUsersFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/berth-dist-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(make_dirs(root_ + "/etc").ok());
    ASSERT_TRUE(write_file_atomic(root_ + "/etc/passwd", kPasswd).ok());
    ASSERT_TRUE(write_file_atomic(root_ + "/etc/group", kGroup).ok());
    ASSERT_TRUE(write_file_atomic(root_ + "/etc/shadow", kShadow, 0640).ok());
  }
  void TearDown() override { EXPECT_TRUE(sys::remove_tree(root_).ok()); }
  std::string read(const std::string& rel) { return sys::read_file(root_ + rel).value(); }
  std::string field(const std::string& file, const std::string& user, int n) {
    for (const auto& line : split_lines(read(file))) {
      if (line.rfind(user + ":", 0) != 0) continue;
      std::string rest = line;
      for (int i = 0; i < n; ++i) rest = rest.substr(rest.find(':') + 1);
      return rest.substr(0, rest.find(':'));
    }
    return "<none>";
  }
  static std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
      size_t nl = s.find('\n', start);
      out.push_back(s.substr(start, nl - start));
      start = nl + 1;
    }
    return out;
  }
  std::string root_;
};

TEST_F(DistUsersFiles, SetsPasswordOfExistingUser) {
  ASSERT_TRUE(set_userpasswd("alice", "n3w pass", root_).ok());
  std::string hash = field("/etc/shadow", "alice", 1);
  EXPECT_TRUE(password_matches("n3w pass", hash)) << hash;
  EXPECT_EQ(field("/etc/shadow", "bob", 1), "!");
  EXPECT_EQ(field("/etc/shadow", "root", 1), "*");
  EXPECT_EQ(read("/etc/passwd"), kPasswd);
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/etc/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_FALSE(sys::path_exists(root_ + "/etc/shadow.tmp"));
}

TEST_F(DistUsersFiles, UsesTheCtsOwnMethod) {
  ASSERT_TRUE(make_dirs(root_ + "/etc/pam.d").ok());
  ASSERT_TRUE(
      write_file_atomic(root_ + "/etc/pam.d/common-password",
                        "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n")
          .ok());
  ASSERT_TRUE(set_userpasswd("alice", "s3cret", root_).ok());
  std::string hash = field("/etc/shadow", "alice", 1);
  EXPECT_EQ(hash.rfind("$y$", 0), 0u) << hash;
  EXPECT_TRUE(password_matches("s3cret", hash));
}

TEST_F(DistUsersFiles, RefusesBadInputWithoutTouchingFiles) {
  for (auto [user, pass] :
       {std::pair<const char*, const char*>{"bad:name", "x"}, {"alice", "a:b"}, {"alice", ""}}) {
    auto st = set_userpasswd(user, pass, root_);
    ASSERT_FALSE(st.ok()) << user;
    EXPECT_EQ(st.error().exit_status(), exitcode::kPasswordFailed);
  }
  EXPECT_EQ(read("/etc/shadow"), kShadow);
}

TEST_F(DistUsersFiles, WithoutShadowTheHashGoesToPasswd) {
  ASSERT_EQ(::unlink((root_ + "/etc/shadow").c_str()), 0);
  ASSERT_TRUE(set_userpasswd("bob", "pw", root_).ok());
  EXPECT_TRUE(password_matches("pw", field("/etc/passwd", "bob", 1)));
  EXPECT_FALSE(sys::path_exists(root_ + "/etc/shadow"));
}

TEST_F(DistUsersFiles, CreatesMissingUserLikeUseradd) {
  // Creating a user chowns its home to the new uid, which needs root.
  if (::geteuid() != 0) GTEST_SKIP() << "chown to a new uid needs root";
  ASSERT_TRUE(make_dirs(root_ + "/etc/skel/.config").ok());
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/skel/.profile", "PATH=/bin\n").ok());
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/gshadow", "root:*::\n", 0640).ok());
  ASSERT_TRUE(set_userpasswd("carol", "pw", root_).ok());
  EXPECT_EQ(field("/etc/passwd", "carol", 2), "1004");
  EXPECT_EQ(field("/etc/passwd", "carol", 3), "1005");
  EXPECT_EQ(field("/etc/passwd", "carol", 5), "/home/carol");
  EXPECT_EQ(field("/etc/group", "carol", 2), "1005");
  EXPECT_EQ(field("/etc/gshadow", "carol", 1), "!");
  EXPECT_TRUE(password_matches("pw", field("/etc/shadow", "carol", 1)));
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/home/carol").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1004u);
  EXPECT_EQ(st.st_gid, 1005u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((root_ + "/home/carol/.profile").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1004u);
  EXPECT_EQ(read("/home/carol/.profile"), "PATH=/bin\n");
  ASSERT_EQ(::stat((root_ + "/home/carol/.config").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  // Second call: the user exists now, only the password changes.
  ASSERT_TRUE(set_userpasswd("carol", "pw2", root_).ok());
  EXPECT_TRUE(password_matches("pw2", field("/etc/shadow", "carol", 1)));
  EXPECT_EQ(field("/etc/passwd", "carol", 2), "1004");
}

}  // namespace
}  // namespace berth::dist
