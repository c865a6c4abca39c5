// Backups: dedup and incremental cost, restore to a new CTID compared file by file, verify finding
// corrupt and missing chunks, delete keeping shared chunks, export/import through a real tar,
// SIGKILL during backup and restore, and the hostile archive. The fixture's leak check runs after
// each test.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

uint32_t conf_u32(const std::string& conf_text, const std::string& key) {
  for (const auto& l : split_lines(conf_text))
    if (l.rfind(key + "=", 0) == 0) {
      std::string v = l.substr(key.size() + 1);
      if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() - 2);
      return static_cast<uint32_t>(std::stoul(v));
    }
  return 0;
}

uint64_t field(const std::string& out, const std::string& key) {
  for (const auto& l : split_lines(out))
    if (l.rfind(key + ": ", 0) == 0) return std::stoull(l.substr(key.size() + 2));
  ADD_FAILURE() << "no `" << key << "` in " << out;
  return 0;
}

std::string id_of(const std::string& out) {
  for (const auto& l : split_lines(out))
    if (l.rfind("id: ", 0) == 0) return l.substr(4);
  ADD_FAILURE() << "no id in " << out;
  return "";
}

void write_file(const std::string& path, const std::string& data, uid_t uid, mode_t mode) {
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_EQ(::chown(path.c_str(), uid, uid), 0) << path;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class BackupTest : public BerthTest {
 protected:
  std::mt19937 rng{static_cast<unsigned>(::getpid())};

  uint32_t base(const std::string& id) { return conf_u32(read_text(conf_path(id)), "LOCAL_UID"); }

  std::string random_data(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }

  // The mix of the brief: 200 files of mixed sizes, symlinks, a hard link, a FIFO, a device node,
  // xattrs, a setuid file, an empty dir, a name with a newline.
  void populate(const std::string& id) {
    ASSERT_EQ(berth({"mount", id}).code, 0);
    std::string r = ve_root(id);
    uid_t b = base(id);
    std::string d = r + "/data";
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
    ASSERT_EQ(::chown(d.c_str(), b + 1000, b + 1000), 0);
    for (int i = 0; i < 200; ++i) {
      size_t n = i % 50 == 0 ? (8 << 20) + static_cast<size_t>(rng() % 100000)
                             : static_cast<size_t>(rng() % 60000);
      write_file(d + "/f" + std::to_string(i), random_data(n), b + 1000, 0644);
    }
    write_file(d + "/suid", "#!/bin/sh\n", b, 04755);
    ASSERT_EQ(::symlink("f1", (d + "/rel-link").c_str()), 0);
    ASSERT_EQ(::lchown((d + "/rel-link").c_str(), b + 1000, b + 1000), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (d + "/abs-link").c_str()), 0);
    ASSERT_EQ(::lchown((d + "/abs-link").c_str(), b + 1000, b + 1000), 0);
    ASSERT_EQ(::link((d + "/f2").c_str(), (d + "/hard").c_str()), 0);
    ASSERT_EQ(::mkfifo((d + "/fifo").c_str(), 0600), 0);
    ASSERT_EQ(::chown((d + "/fifo").c_str(), b, b), 0);
    ASSERT_EQ(::mknod((d + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(::chown((d + "/null").c_str(), b, b), 0);
    ASSERT_EQ(::setxattr((d + "/f3").c_str(), "user.x", "value\0x", 7, 0), 0);
    ASSERT_EQ(::mkdir((d + "/empty").c_str(), 0700), 0);
    ASSERT_EQ(::chown((d + "/empty").c_str(), b + 5, b + 5), 0);
    write_file(d + "/new\nline", "newline name", b + 1000, 0600);
    ASSERT_EQ(berth({"umount", id}).code, 0);
  }

  // Both CTs' trees as the CT sees them: same names, types, contents, modes, owners (relative to
  // each CT's range), xattrs, hard links.
  // sub: only that directory of the trees (a running CT changes files outside its data).
  void expect_same_tree(const std::string& a, const std::string& b, const std::string& sub = "") {
    ASSERT_EQ(berth({"mount", a}).code, 0);
    ASSERT_EQ(berth({"mount", b}).code, 0);
    std::string ra = ve_root(a), rb = ve_root(b);
    uint32_t ba = base(a), bb = base(b);
    std::map<ino_t, std::string> links_a;
    std::map<ino_t, std::string> links_b;
    size_t n = 0;
    std::set<std::string> names_a;
    for (auto it = fs::recursive_directory_iterator(ra + sub);
         it != fs::recursive_directory_iterator(); ++it) {
      std::string rel = it->path().lexically_relative(ra).string();
      names_a.insert(rel);
      std::string pa = ra + "/" + rel, pb = rb + "/" + rel;
      struct stat sa, sb;
      ASSERT_EQ(::lstat(pa.c_str(), &sa), 0);
      ASSERT_EQ(::lstat(pb.c_str(), &sb), 0) << "missing in " << b << ": " << rel;
      ++n;
      EXPECT_EQ(sa.st_mode, sb.st_mode) << rel;
      EXPECT_EQ(sa.st_uid - ba, sb.st_uid - bb) << rel;
      EXPECT_EQ(sa.st_gid - ba, sb.st_gid - bb) << rel;
      if (S_ISREG(sa.st_mode)) {
        EXPECT_EQ(sa.st_size, sb.st_size) << rel;
        EXPECT_EQ(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec) << rel;
        EXPECT_EQ(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec) << rel;
        EXPECT_TRUE(slurp(pa) == slurp(pb)) << "content of " << rel;
        if (sa.st_nlink > 1) {
          auto [ia, fa] = links_a.emplace(sa.st_ino, rel);
          auto [ib, fb] = links_b.emplace(sb.st_ino, rel);
          EXPECT_EQ(ia->second, ib->second) << "hard link " << rel;
        }
      }
      if (S_ISLNK(sa.st_mode)) {
        EXPECT_EQ(fs::read_symlink(pa), fs::read_symlink(pb)) << rel;
      }
      if (S_ISCHR(sa.st_mode)) {
        EXPECT_EQ(sa.st_rdev, sb.st_rdev) << rel;
      }
      if (!S_ISLNK(sa.st_mode)) {
        char va[64] = {}, vb[64] = {};
        ssize_t la = ::lgetxattr(pa.c_str(), "user.x", va, sizeof va);
        ssize_t lb = ::lgetxattr(pb.c_str(), "user.x", vb, sizeof vb);
        EXPECT_EQ(la, lb) << "user.x of " << rel;
        if (la > 0) {
          EXPECT_EQ(std::string(va, la), std::string(vb, lb)) << rel;
        }
      }
    }
    size_t nb = 0;
    for (auto it = fs::recursive_directory_iterator(rb + sub);
         it != fs::recursive_directory_iterator(); ++it) {
      ++nb;
      EXPECT_TRUE(names_a.count(it->path().lexically_relative(rb).string()))
          << "extra in " << b << ": " << it->path();
    }
    EXPECT_EQ(n, nb);
    EXPECT_GT(n, 200u);
    EXPECT_EQ(berth({"umount", a}).code, 0);
    EXPECT_EQ(berth({"umount", b}).code, 0);
  }

  // Overwrite 64 KiB in the middle of each of the 4 big files (about 1% of the ~38 MiB).
  void change_one_percent(const std::string& id) {
    ASSERT_EQ(berth({"mount", id}).code, 0);
    for (int i : {0, 50, 100, 150}) {
      std::string p = ve_root(id) + "/data/f" + std::to_string(i);
      int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      std::string d = random_data(64 * 1024);
      ASSERT_EQ(::pwrite(fd, d.data(), d.size(), 3 << 20), static_cast<ssize_t>(d.size()));
      ::close(fd);
    }
    ASSERT_EQ(berth({"umount", id}).code, 0);
  }

  std::string backup(const std::string& id, uint64_t* stored = nullptr) {
    RunResult r = berth({"backup", id}, {.timeout = std::chrono::seconds(120)});
    EXPECT_EQ(r.code, 0) << r.err;
    if (stored) *stored = field(r.out, "new");
    return id_of(r.out);
  }

  std::string chunk_of(const std::string& backup_id) {
    // Any chunk file of the store that only this backup's big file has is fine: take the largest.
    std::string best;
    uintmax_t size = 0;
    for (const auto& e : fs::recursive_directory_iterator(store()))
      if (e.is_regular_file() && e.path().parent_path().parent_path().filename() == "chunks" &&
          e.file_size() > size) {
        size = e.file_size();
        best = e.path();
      }
    (void)backup_id;
    return best;
  }

  std::string store() const { return root() + "/var/lib/berth/backup"; }
};

TEST_F(BackupTest, IncrementalStoresOnlyTheChangeAndTemplatesOnce) {
  std::string a = create_ct();
  populate(a);
  uint64_t first = 0, second = 0, other = 0;
  backup(a, &first);
  EXPECT_GT(first, 32u << 20) << "random data does not compress";
  change_one_percent(a);
  std::string id2 = backup(a, &second);
  EXPECT_LT(second, first / 20) << "second backup stored " << second << " of " << first;
  std::string b = create_ct();
  backup(b, &other);
  EXPECT_LT(other, 64u * 1024) << "the template's data is in the store already";
  RunResult l = berth({"backup-list", "-j"});
  ASSERT_EQ(l.code, 0) << l.err;
  auto j = nlohmann::json::parse(l.out);
  EXPECT_EQ(j.size(), 3u);
  RunResult v = berth({"backup-verify", id2});
  EXPECT_EQ(v.code, 0) << v.err;
  // --full-read reads everything and still stores nothing new.
  RunResult f = berth({"backup", a, "--full-read"}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_LT(field(f.out, "new"), 64u * 1024);
}

TEST_F(BackupTest, RestoreToANewCtidComparesEqualAndStarts) {
  std::string a = create_ct();
  populate(a);
  std::string id = backup(a);
  std::string c = new_ctid();
  RunResult r =
      berth({"restore", a, "--backup", id, "--ctid", c}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(base(a), base(c)) << "a new id range";
  expect_same_tree(a, c);
  RunResult exists = berth({"restore", a, "--backup", id, "--ctid", c});
  EXPECT_EQ(exists.code, 44) << exists.err;
  RunResult s = berth({"start", c, "--wait"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(status_line(c), "CTID " + c + " exist mounted running");
  RunResult cat = berth({"exec3", c, "/bin/cat", "/data/new\nline"});
  EXPECT_EQ(cat.out, "newline name");
  EXPECT_EQ(berth({"stop", c, "--fast"}).code, 0);
  // --force replaces the stopped CT.
  RunResult again = berth({"restore", a, "--backup", id, "--ctid", c, "--force"},
                          {.timeout = std::chrono::seconds(120)});
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST_F(BackupTest, RunningCtIsReadFromASnapshot) {
  // No disk image: the temporary snapshot copies the upper layer.
  std::string a = create_ct({"--diskspace", "unlimited"});
  populate(a);
  RunResult s = berth({"start", a, "--wait"});
  ASSERT_EQ(s.code, 0) << s.err;
  RunResult b = berth({"backup", a}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_FALSE(contains(b.err, "not consistent")) << b.err;
  EXPECT_EQ(status_line(a), "CTID " + a + " exist mounted running");
  ASSERT_EQ(berth({"stop", a, "--fast"}).code, 0);
  std::string c = new_ctid();
  RunResult r = berth({"restore", a, "--backup", id_of(b.out), "--ctid", c},
                      {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_tree(a, c, "/data");
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
}

TEST_F(BackupTest, RunningDiskCtIsReadFromASnapshotOfItsImage) {
  // A CT with a disk image (layouts overlay and image): its tree lives in the image, so the
  // temporary snapshot is a copy of the image file, taken frozen and mounted read-only (it used to
  // copy VE_PRIVATE/upper, which such a CT does not have, and the backup read the live tree).
  for (const char* layout : {"overlay", "image"}) {
    SCOPED_TRACE(layout);
    std::string a = create_ct({"--layout", layout, "--diskspace", "200M"});
    ASSERT_TRUE(fs::exists(ve_private(a) + "/disk.img"));
    populate(a);
    RunResult s = berth({"start", a, "--wait"});
    ASSERT_EQ(s.code, 0) << s.err;
    RunResult b = berth({"backup", a}, {.timeout = std::chrono::seconds(120)});
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_FALSE(contains(b.err, "not consistent")) << b.err;
    EXPECT_FALSE(contains(b.err, "No such file")) << b.err;
    EXPECT_EQ(status_line(a), "CTID " + a + " exist mounted running");
    // The copy, its mounts and its stage directories are gone with the backup.
    std::vector<std::string> left;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(ve_private(a) + "/snapshots", ec))
      left.push_back(e.path().filename().string());
    EXPECT_TRUE(left.empty() || left == std::vector<std::string>{"index.json"})
        << ::testing::PrintToString(left);
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(ve_private(a) + "/snapshots"),
              std::string::npos);
    ASSERT_EQ(berth({"stop", a, "--fast"}).code, 0);
    std::string c = new_ctid();
    RunResult r = berth({"restore", a, "--backup", id_of(b.out), "--ctid", c},
                        {.timeout = std::chrono::seconds(120)});
    ASSERT_EQ(r.code, 0) << r.err;
    expect_same_tree(a, c, "/data");
  }
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
}

TEST_F(BackupTest, VerifyFindsCorruptAndMissingChunks) {
  std::string a = create_ct();
  populate(a);
  std::string id = backup(a);
  std::string chunk = chunk_of(id);
  ASSERT_FALSE(chunk.empty());
  {
    std::fstream f(chunk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x40));
  }
  RunResult v = berth({"backup-verify", id});
  EXPECT_EQ(v.code, 151) << v.err;
  EXPECT_EQ(split_lines(v.err).size(), 1u) << v.err;
  RunResult bad = berth({"restore", a, "--backup", id, "--ctid", new_ctid()},
                        {.timeout = std::chrono::seconds(120)});
  EXPECT_EQ(bad.code, 151) << bad.err;
  fs::remove(chunk);
  v = berth({"backup-verify", id});
  EXPECT_EQ(v.code, 151);
  EXPECT_PRED2(contains, v.err, "missing");
}

TEST_F(BackupTest, DeleteKeepsChunksOtherBackupsUse) {
  std::string a = create_ct();
  populate(a);
  std::string first = backup(a);
  change_one_percent(a);
  std::string second = backup(a);
  RunResult d = berth({"backup-delete", first});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(berth({"backup-verify", first}).code, 150);
  RunResult v = berth({"backup-verify", second});
  EXPECT_EQ(v.code, 0) << v.err;
  std::string c = new_ctid();
  RunResult r = berth({"restore", a, "--backup", second, "--ctid", c},
                      {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_tree(a, c);
  // Deleting the last backup leaves no chunk behind.
  ASSERT_EQ(berth({"backup-delete", second}).code, 0);
  size_t chunks = 0;
  for (const auto& e : fs::recursive_directory_iterator(store() + "/chunks"))
    chunks += e.is_regular_file();
  EXPECT_EQ(chunks, 0u);
}

TEST_F(BackupTest, ExportIsATarAndImportsEqual) {
  std::string a = create_ct();
  populate(a);
  std::string file = root() + "/ct.tar.zst";
  RunResult e = berth({"backup", a, "--export", file}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(e.code, 0) << e.err;
  RunResult t = run_process({"/usr/bin/tar", "--zstd", "-tf", file}, {"PATH=/usr/bin:/bin"}, {});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_PRED2(contains, t.out, "\nrootfs/data/f1\n");
  EXPECT_PRED2(contains, t.out, "ve.conf\n");
  std::string c = new_ctid();
  RunResult r =
      berth({"restore", a, "--import", file, "--ctid", c}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.err;
  // An archive is hostile input: its device node is left out (a VPS cannot make one itself),
  // and the import says so.
  EXPECT_PRED2(contains, r.err, "1 device nodes");
  ASSERT_EQ(berth({"mount", a}).code, 0);
  ASSERT_EQ(::unlink((ve_root(a) + "/data/null").c_str()), 0);
  ASSERT_EQ(berth({"umount", a}).code, 0);
  expect_same_tree(a, c);
}

TEST_F(BackupTest, KilledBackupAndRestoreAreCleanedUp) {
  std::string a = create_ct();
  populate(a);
  std::string good = backup(a);
  for (int i = 0; i < 3; ++i) {
    change_one_percent(a);
    pid_t pid = spawn_berth({"backup", a, "--full-read"});
    sleep_ms(50 + 100 * i);
    ::kill(pid, SIGKILL);
    wait_berth(pid);
    // The killed backup's CT lock and mount: the next command repairs the store.
    RunResult v = berth({"backup-verify", good});
    EXPECT_EQ(v.code, 0) << v.err;
    (void)berth({"umount", a});  // the killed backup's mount, if it got that far
  }
  for (const auto& e : fs::directory_iterator(store() + "/backups"))
    EXPECT_TRUE(fs::exists(e.path() / "meta.json")) << e.path();
  for (const auto& e : fs::recursive_directory_iterator(store() + "/chunks"))
    EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();
  // The tree as it is now, to compare the restore with.
  good = backup(a);
  std::string c = new_ctid();
  for (int i = 0; i < 2; ++i) {
    pid_t pid = spawn_berth({"restore", a, "--backup", good, "--ctid", c, "--force"});
    sleep_ms(100 + 150 * i);
    ::kill(pid, SIGKILL);
    wait_berth(pid);
    if (fs::exists(conf_path(c))) (void)berth({"umount", c});
  }
  RunResult r = berth({"restore", a, "--backup", good, "--ctid", c, "--force"},
                      {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_tree(a, c);
  EXPECT_TRUE(leaks().empty()) << ::testing::PrintToString(leaks());
}

// An archive with ve.conf and the given entries: {path, type, target}.
struct Member {
  std::string path;
  mode_t type;
  std::string link;
  bool hardlink = false;
};
void make_archive(const std::string& file, const std::string& conf,
                  const std::vector<Member>& members) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK);
  struct archive_entry* e = archive_entry_new();
  auto add = [&](const std::string& path, mode_t type, const std::string& data,
                 const std::string& link, bool hard) {
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    if (type == AE_IFLNK) archive_entry_copy_symlink(e, link.c_str());
    if (hard) archive_entry_copy_hardlink(e, link.c_str());
    archive_entry_set_size(e, hard ? 0 : static_cast<la_int64_t>(data.size()));
    archive_write_header(a, e);
    if (!data.empty() && !hard) archive_write_data(a, data.data(), data.size());
  };
  add("ve.conf", AE_IFREG, conf, "", false);
  add("rootfs/", AE_IFDIR, "", "", false);
  for (const auto& m : members)
    add(m.path, m.type, m.type == AE_IFREG ? "pwned\n" : "", m.link, m.hardlink);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

TEST_F(BackupTest, HostileArchiveIsRefusedOrContained) {
  std::string a = create_ct();
  std::string conf = read_text(conf_path(a));
  std::string outside = root() + "/outside";
  fs::create_directories(outside);
  std::string file = root() + "/evil.tar";
  const std::vector<std::vector<Member>> attacks = {
      {{"rootfs/../../x", AE_IFREG, ""}},
      {{"../" + outside.substr(1) + "/x", AE_IFREG, ""}},
      {{outside + "/x", AE_IFREG, ""}},
      {{"rootfs/a", AE_IFLNK, outside}, {"rootfs/a/x", AE_IFREG, ""}},
      {{"rootfs/h", AE_IFREG, outside + "/x", true}},
      {{"rootfs/h", AE_IFREG, "rootfs/../../x", true}},
  };
  for (size_t i = 0; i < attacks.size(); ++i) {
    make_archive(file, conf, attacks[i]);
    std::string c = new_ctid();
    RunResult r = berth({"restore", a, "--import", file, "--ctid", c});
    EXPECT_EQ(r.code, 152) << "attack " << i << ": " << r.err;
    EXPECT_FALSE(fs::exists(outside + "/x")) << "attack " << i;
    EXPECT_FALSE(fs::exists(conf_path(c))) << "attack " << i << ": a refused import leaves no CT";
  }
  EXPECT_FALSE(fs::exists("/etc/x"));
  EXPECT_FALSE(fs::exists(root() + "/x"));
}

}  // namespace
}  // namespace berth::itest
