// A hostile template author: an OS template cache crafted with libarchive (the busybox template
// plus entries with wrapping and out-of-range ids, setuid-root files, device nodes for the host's
// console and memory, a block device, a hardlink to a device, trusted.overlay.* xattrs) is imported
// with `berth template import` and used for a CT on both layouts. Then the tenant (from inside the
// VPS) and an unprivileged host user (nobody) try to use what the archive planted.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kOverflow = 65534;

struct Planted {
  std::string path;
  mode_t type;
  unsigned perm;
  int64_t uid;
  dev_t rdev = 0;
  std::string hardlink;
  std::string xattr;  // name of a trusted.* xattr to set ("" none)
};

// The entries the attacker adds. base is the CT's LOCAL_UID: 2^32 - base is the uid that the old
// `uid + LOCAL_UID` truncated to 32 bits made host root.
std::vector<Planted> planted(uint32_t base) {
  return {
      {"./tmp/wrap-suid", AE_IFREG, 04755, (int64_t{1} << 32) - base},
      {"./tmp/minus1-suid", AE_IFREG, 04755, 4294967295LL},
      {"./tmp/two32-suid", AE_IFREG, 04755, int64_t{1} << 32},
      {"./tmp/neighbour", AE_IFREG, 06755, 70000},
      {"./tmp/console", AE_IFCHR, 0666, 0, makedev(5, 1)},
      {"./tmp/mem", AE_IFCHR, 0666, 0, makedev(1, 1)},
      {"./tmp/sda", AE_IFBLK, 0666, 0, makedev(8, 0)},
      {"./tmp/console2", AE_IFCHR, 0666, 0, makedev(5, 1), "./tmp/console"},
      {"./tmp/opq/", AE_IFDIR, 0755, 0, 0, "", "trusted.overlay.opaque"},
  };
}

// Copies the busybox cache (every entry) and appends the planted entries: a bootable template.
void write_evil_template(const std::string& busybox_tar, const std::string& out, uint32_t base) {
  struct archive* in = archive_read_new();
  archive_read_support_filter_all(in);
  archive_read_support_format_all(in);
  ASSERT_EQ(archive_read_open_filename(in, busybox_tar.c_str(), 1 << 16), ARCHIVE_OK);
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    const void* buf;
    size_t size;
    la_int64_t off;
    while (archive_read_data_block(in, &buf, &size, &off) == ARCHIVE_OK)
      archive_write_data(a, buf, size);
  }
  archive_read_free(in);
  for (const auto& p : planted(base)) {
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, p.path.c_str());
    archive_entry_set_filetype(en, p.type);
    archive_entry_set_perm(en, p.perm);
    archive_entry_set_uid(en, p.uid);
    archive_entry_set_gid(en, p.uid);
    archive_entry_set_mtime(en, 1700000000, 0);
    if (p.rdev) archive_entry_set_rdev(en, p.rdev);
    if (!p.hardlink.empty()) archive_entry_set_hardlink(en, p.hardlink.c_str());
    if (!p.xattr.empty()) archive_entry_xattr_add_entry(en, p.xattr.c_str(), "y", 1);
    const std::string data = "#!/bin/sh\nid\n";
    bool has_data = p.type == AE_IFREG && p.hardlink.empty();
    if (has_data) archive_entry_set_size(en, data.size());
    ASSERT_EQ(archive_write_header(a, en), ARCHIVE_OK) << archive_error_string(a);
    if (has_data) archive_write_data(a, data.data(), data.size());
    archive_entry_free(en);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

// What nobody (uid/gid 65534, no groups) reaches under dir: device nodes it can open, setuid or
// setgid files of host root it can execute. Runs in a child that drops to nobody, as a local
// unprivileged host user would be.
std::vector<std::string> reachable_by_nobody(const std::string& dir) {
  int p[2];
  if (pipe(p) != 0) return {"pipe failed"};
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
      _exit(2);
    static int out;
    out = p[1];
    nftw(
        dir.c_str(),
        [](const char* path, const struct stat* st, int type, struct FTW*) -> int {
          if (type != FTW_F && type != FTW_SL && type != FTW_SLN) return 0;
          std::string hit;
          if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
            int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) {
              close(fd);
              hit = std::string("opened device ") + path;
            }
          } else if (S_ISREG(st->st_mode) && st->st_uid == 0 && (st->st_mode & S_ISUID) &&
                     access(path, X_OK) == 0) {
            hit = std::string("setuid-root executable ") + path;
          }
          if (!hit.empty()) {
            hit += "\n";
            (void)!write(out, hit.data(), hit.size());
          }
          return 0;
        },
        64, FTW_PHYS);
    _exit(0);
  }
  close(p[1]);
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) all.append(buf, n);
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::vector<std::string> hits = split_lines(all);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) hits.push_back("nobody walk failed");
  return hits;
}

// Everything under dir that the archive must not have placed there.
std::vector<std::string> bad_entries(const std::string& dir, uint32_t base) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string p = it->path().string();
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) out.push_back("device node " + p);
    if (st.st_uid < base || st.st_uid >= base + 65536 || st.st_gid < base ||
        st.st_gid >= base + 65536)
      out.push_back("host id " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + " " +
                    p);
    if (st.st_uid == 0 && (st.st_mode & S_ISUID)) out.push_back("setuid root " + p);
    char v[8];
    if (lgetxattr(p.c_str(), "trusted.overlay.opaque", v, sizeof v) >= 0)
      out.push_back("trusted.overlay.opaque " + p);
  }
  return out;
}

class UnpackAttackTest : public BerthTest {
 protected:
  // Builds the evil template from this root's busybox cache and imports it as `evil`.
  void import_evil(uint32_t base) {
    std::string cache = root() + "/var/lib/berth/template/cache", busybox;
    for (const auto& e : fs::directory_iterator(cache))
      if (e.path().filename().string().rfind("busybox.tar", 0) == 0) busybox = e.path();
    ASSERT_FALSE(busybox.empty());
    std::string evil = root() + "/evil.tar";
    write_evil_template(busybox, evil, base);
    RunResult r = berth({"template", "import", evil, "--name", "evil"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
};

// simfs: the private area is the unpacked tree itself, under a path every host user can traverse.
TEST_F(UnpackAttackTest, SimfsTakesNoHostIdsNoSetuidRootNoDevices) {
  constexpr uint32_t kBase = 52 * 65536;  // this test's own range, whatever the allocator does
  import_evil(kBase);
  std::string id = new_ctid();
  RunResult c = berth({"create", id, "--ostemplate", "evil", "--layout", "simfs", "--diskspace",
                       "unlimited", "--diskinodes", "unlimited", "--local_uid",
                       std::to_string(kBase), "--local_gid", std::to_string(kBase)});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_PRED2(contains, c.err, "warning");
  EXPECT_PRED2(contains, c.err, "device node");
  EXPECT_PRED2(contains, c.err, "overflow id 65534");
  const std::string priv = ve_private(id);
  auto bad = bad_entries(priv, kBase);
  EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);
  struct stat st {};
  for (const char* f :
       {"/tmp/wrap-suid", "/tmp/minus1-suid", "/tmp/two32-suid", "/tmp/neighbour"}) {
    ASSERT_EQ(lstat((priv + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_uid, kBase + kOverflow) << f;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << f;
  }
  auto hits = reachable_by_nobody(root());
  EXPECT_TRUE(hits.empty()) << ::testing::PrintToString(hits);

  // The VPS still works, and its root sees the overflow owner.
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  RunResult s = berth({"exec", id, "stat -c %u:%g /tmp/wrap-suid"});
  EXPECT_PRED2(contains, s.out, "65534:65534");
  RunResult o = berth({"exec", id, "[ -c /tmp/console2 ] && exec 3<>/tmp/console2 && echo OPENED"});
  EXPECT_FALSE(contains(o.out, "OPENED"))
      << "the VPS opened the host's console through the archive's node";
}

// overlay: the template is unpacked once into the shared read-only lower layer (host side) and
// reached through each CT's idmapped overlay on VE_ROOT.
TEST_F(UnpackAttackTest, OverlayLowerTakesNoDevicesAndTheVpsCannotOpenTheConsole) {
  constexpr uint32_t kBase = 53 * 65536;
  import_evil(kBase);
  std::string id = new_ctid();
  RunResult c = berth({"create", id, "--ostemplate", "evil", "--local_uid", std::to_string(kBase),
                       "--local_gid", std::to_string(kBase)});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_PRED2(contains, c.err, "device node");
  auto bad = bad_entries(root() + "/var/lib/berth/template/rootfs", 0);
  EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);
  ASSERT_EQ(berth({"start", id, "--wait"}).code, 0);
  // The tenant, root inside: the host console (5:1 is no longer in the device allow list either).
  // (`<>` would create a plain file where none is: only a character device counts.)
  RunResult o = berth({"exec", id,
                       "[ -c /tmp/console ] && exec 3<>/tmp/console && echo OPENED; "
                       "[ -c /tmp/console2 ] && exec 4<>/tmp/console2 && echo OPENED"});
  EXPECT_FALSE(contains(o.out, "OPENED"))
      << "the VPS opened the host's console through the archive's node";
  // A local unprivileged host user, through the mounted VE_ROOT and everything else under the root.
  auto hits = reachable_by_nobody(root());
  EXPECT_TRUE(hits.empty()) << ::testing::PrintToString(hits);
  bad = bad_entries(ve_root(id) + "/tmp", kBase);
  EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);
}

}  // namespace
}  // namespace berth::itest
