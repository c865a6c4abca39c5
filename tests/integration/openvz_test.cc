// Moving in from OpenVZ (issue 10, point 7): an instance in OpenVZ's path layout (etc/vz, vz/...)
// runs a legacy VPS as an OpenVZ 6 host left it: a tree owned by host root in vz/private/<CTID>
// and a CTID.conf without VE_LAYOUT or LOCAL_UID. It starts as an unprivileged VPS, is entered and
// stopped, and every file keeps its owner on disk. Fixtures: the busybox tree always; a Debian 12
// tree when BERTH_TEST_DEBIAN_TEMPLATE names one (SKIPPED otherwise).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

struct Owner {
  uid_t uid;
  gid_t gid;
  mode_t mode;
  bool operator==(const Owner&) const = default;
};

// Owner, group and mode of every entry below dir (symlinks not followed).
std::map<std::string, Owner> owners_of(const std::string& dir) {
  std::map<std::string, Owner> out;
  std::error_code ec;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0)
      out[it->path().string().substr(dir.size())] = {st.st_uid, st.st_gid, st.st_mode};
  }
  return out;
}

class OpenvzTest : public BerthTest {
 protected:
  void SetUp() override {
    BerthTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::ofstream(root() + "/etc/berth/berth.conf", std::ios::app) << "PATH_LAYOUT=\"openvz\"\n";
    fs::create_directories(root() + "/etc/vz/conf");
    // OpenVZ 6's own vz.conf keys; its default layout for new CTs (ploop) must not touch old ones.
    std::ofstream(root() + "/etc/vz/vz.conf")
        << "## Global parameters\nVIRTUOZZO=yes\nLOCKDIR=/vz/lock\nDUMPDIR=/vz/dump\n"
           "VE0CPUUNITS=1000\nTEMPLATE=/vz/template\nVE_ROOT=/vz/root/$VEID\n"
           "VE_PRIVATE=/vz/private/$VEID\nCONFIGFILE=\"basic\"\nDEF_OSTEMPLATE=\"centos-6-x86\"\n"
           "VE_LAYOUT=ploop\nIPV6=\"yes\"\n";
  }
  void TearDown() override {
    for (const auto& id : ours_) {
      (void)berth({"stop", id, "--fast"});
      RunResult d = berth({"destroy", id});
      EXPECT_TRUE(d.code == 0) << "destroy " << id << ": " << d.err;
    }
    if (!ramfs_.empty()) {
      EXPECT_EQ(run_process({"/usr/bin/umount", ramfs_}, {"PATH=/usr/bin:/bin"}, {}).code, 0);
    }
    BerthTest::TearDown();
  }

  std::string vz(const std::string& rel) const { return root() + "/vz" + rel; }

  // An OpenVZ 6 CTID.conf (vzctl 4.x, ve-basic sample): no VE_LAYOUT, no LOCAL_UID.
  void write_conf(const std::string& id, const std::string& ostemplate, const std::string& ip) {
    std::ofstream(root() + "/etc/vz/conf/" + id + ".conf")
        << "# RAM\nPHYSPAGES=\"0:256M\"\nSWAPPAGES=\"0:512M\"\n"
           "# Disk quota parameters (in form of softlimit:hardlimit)\n"
           "DISKSPACE=\"2G:2.2G\"\nDISKINODES=\"131072:144179\"\nQUOTATIME=\"0\"\n"
           "# CPU fair scheduler parameter\nCPUUNITS=\"1000\"\n"
           "VE_ROOT=\"/vz/root/$VEID\"\nVE_PRIVATE=\"/vz/private/$VEID\"\n"
           "OSTEMPLATE=\""
        << ostemplate << "\"\nORIGIN_SAMPLE=\"basic\"\nHOSTNAME=\"legacy" << id
        << ".example\"\nIP_ADDRESS=\"" << ip << "\"\nNAMESERVER=\"198.18.42.254\"\n";
    if (std::find(ours_.begin(), ours_.end(), id) == ours_.end()) ours_.push_back(id);
  }

  // Unpack archive into vz/private/<id> with its own (host) ids, as vzctl create did.
  void unpack(const std::string& archive, const std::string& id) {
    std::string priv = vz("/private/" + id);
    fs::create_directories(priv);
    RunResult r = run_process({"/usr/bin/tar", "--numeric-owner", "-xpf", archive, "-C", priv},
                              {"PATH=/usr/bin:/bin"}, {.timeout = std::chrono::minutes(3)});
    ASSERT_EQ(r.code, 0) << r.err;
    struct stat st;
    ASSERT_EQ(::stat(priv.c_str(), &st), 0);
    ASSERT_EQ(st.st_uid, 0u) << "the fixture must be owned by host root";
  }

  std::string busybox_archive() const {
    for (const auto& e : fs::directory_iterator(root() + "/var/lib/berth/template/cache"))
      if (e.path().filename().string().rfind("busybox.tar", 0) == 0) return e.path();
    return {};
  }

  // Start, enter and stop the legacy CT; its files keep their owners on disk.
  void start_enter_stop(const std::string& id, bool wait) {
    std::string priv = vz("/private/" + id);
    auto before = owners_of(priv);
    ASSERT_GT(before.size(), 10u);

    RunResult s = berth(wait ? std::vector<std::string>{"start", id, "--wait"}
                             : std::vector<std::string>{"start", id},
                        {.timeout = std::chrono::seconds(120)});
    ASSERT_EQ(s.code, 0) << s.out << s.err;
    EXPECT_PRED2(contains, s.err, "idmapped") << "this kernel and file system take idmapped mounts";
    EXPECT_PRED2(contains, status_line(id), "running");

    // Unprivileged: the CT's root is host uid 100000 (the default LOCAL_UID), and sees its files
    // as its own.
    RunResult e = berth({"exec", id, "cat /proc/self/uid_map; stat -c '%u:%g %n' / /etc/passwd"});
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_PRED2(matches, split_lines(e.out).at(0), R"(\s*0\s+100000\s+65536\s*)");
    EXPECT_PRED2(contains, e.out, "0:0 /\n");
    EXPECT_PRED2(contains, e.out, "0:0 /etc/passwd\n");
    RunResult w = berth({"exec", id, "echo hi > /root/from-ct && chown 0:0 /root/from-ct"});
    EXPECT_EQ(w.code, 0) << w.err;

    // The host's view of VE_ROOT stays nosuid,nodev: nothing of the area is usable as a device.
    RunResult m = run_process({"/usr/bin/findmnt", "-n", "-o", "OPTIONS", vz("/root/" + id)},
                              {"PATH=/usr/bin:/bin"}, {});
    EXPECT_PRED2(contains, m.out, "nosuid");
    EXPECT_PRED2(contains, m.out, "nodev");
    EXPECT_PRED2(contains, m.out, "idmapped");

    RunResult t = berth({"stop", id}, {.timeout = std::chrono::seconds(180)});
    ASSERT_EQ(t.code, 0) << t.err;
    EXPECT_PRED2(contains, status_line(id), "down");
    EXPECT_FALSE(fs::exists(vz("/root/" + id + "/etc"))) << "VE_ROOT unmounted after stop";

    // Every file that is still there has its owner, group and mode as before.
    auto after = owners_of(priv);
    size_t same = 0, changed = 0;
    std::string first_changed;
    for (const auto& [path, o] : before) {
      auto it = after.find(path);
      if (it == after.end()) continue;
      if (it->second.uid == o.uid && it->second.gid == o.gid) {
        ++same;
      } else if (changed++ == 0) {
        first_changed =
            path + " " + std::to_string(o.uid) + " -> " + std::to_string(it->second.uid);
      }
    }
    EXPECT_EQ(changed, 0u) << "first: " << first_changed;
    EXPECT_GT(same, before.size() * 9 / 10);
    struct stat st;
    ASSERT_EQ(::stat((priv + "/root/from-ct").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << "a file the CT's root made is host uid 0 on disk, as on OpenVZ";
    EXPECT_FALSE(fs::exists(priv + ".idshift"));
  }

  std::vector<std::string> ours_;
  std::string ramfs_;  // a ramfs mounted on vz/private, unmounted in TearDown
};

TEST_F(OpenvzTest, LegacyBusyboxVpsStartsUnchanged) {
  std::string archive = busybox_archive();
  ASSERT_FALSE(archive.empty());
  const std::string id = "1201";
  ASSERT_NO_FATAL_FAILURE(unpack(archive, id));
  write_conf(id, "busybox", "198.18.42.11");

  // vzlist-style readers and scripts that source CTID.conf see OpenVZ's files and values.
  RunResult l = berth_as("vzlist", {"-a", "-H", "-o", "ctid,layout,status"});
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_PRED2(matches, l.out, R"(\s*1201\s+simfs\s+stopped\s*\n)");
  RunResult src = run_process({"/bin/sh", "-c", ". \"$0\"; echo \"$VE_PRIVATE $OSTEMPLATE\"",
                               root() + "/etc/vz/conf/" + id + ".conf"},
                              {"VEID=" + id}, {});
  EXPECT_EQ(src.out, "/vz/private/1201 busybox\n") << src.err;

  ASSERT_NO_FATAL_FAILURE(start_enter_stop(id, true));

  // set --save edits the OpenVZ file in place and it stays an OpenVZ file (no VE_LAYOUT added).
  RunResult set = berth({"set", id, "--hostname", "moved.example", "--save"});
  ASSERT_EQ(set.code, 0) << set.err;
  std::string conf = read_text(root() + "/etc/vz/conf/" + id + ".conf");
  EXPECT_PRED2(contains, conf, "HOSTNAME=\"moved.example\"");
  EXPECT_PRED2(contains, conf, "VE_PRIVATE=\"/vz/private/$VEID\"");
  EXPECT_EQ(conf.find("VE_LAYOUT"), std::string::npos);
  EXPECT_EQ(conf.find("LOCAL_UID"), std::string::npos);
  EXPECT_FALSE(fs::exists(root() + "/etc/berth/conf")) << "nothing in Berth's own layout";
}

// Where the file system takes no idmapped mount (ramfs), the owners are shifted once, with
// progress; a shift killed half-way (its marker left) is finished by the next start.
TEST_F(OpenvzTest, ShiftWhereNoIdmappedMount) {
  std::string archive = busybox_archive();
  ASSERT_FALSE(archive.empty());
  fs::create_directories(vz("/private"));
  RunResult m =
      run_process({"/usr/bin/mount", "-t", "ramfs", "-o", "mode=0700", "ramfs", vz("/private")},
                  {"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, {});
  ASSERT_EQ(m.code, 0) << m.err;
  ramfs_ = vz("/private");
  const std::string id = "1205", priv = vz("/private/1205");
  ASSERT_NO_FATAL_FAILURE(unpack(archive, id));
  write_conf(id, "busybox", "198.18.42.15");
  // As a killed shift leaves it: the marker, and some entries already shifted.
  std::ofstream(priv + ".idshift") << "uid=100000 gid=100000\n";
  ASSERT_EQ(::lchown((priv + "/bin").c_str(), 100000, 100000), 0);
  struct stat st;
  ASSERT_EQ(::lstat((priv + "/etc").c_str(), &st), 0);
  ASSERT_EQ(st.st_uid, 0u);

  RunResult s = berth({"start", id, "--wait"}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_PRED2(contains, s.err, "finishing a one-time shift");
  EXPECT_PRED2(contains, s.err, "shifting owners: 100%");
  EXPECT_FALSE(fs::exists(priv + ".idshift"));
  for (const char* rel : {"", "/bin", "/etc", "/bin/busybox"}) {
    ASSERT_EQ(::lstat((priv + rel).c_str(), &st), 0) << rel;
    EXPECT_EQ(st.st_uid, 100000u) << rel << " shifted once";
  }
  RunResult e = berth({"exec", id, "stat -c '%u:%g' / /etc /bin/busybox"});
  EXPECT_EQ(e.out, "0:0\n0:0\n0:0\n") << e.err;
  ASSERT_EQ(berth({"stop", id}).code, 0);

  // A host-owned area on this file system: the choice is said, then the shift runs.
  RunResult d = berth({"destroy", id});
  ASSERT_EQ(d.code, 0) << d.err;
  ASSERT_NO_FATAL_FAILURE(unpack(archive, id));
  write_conf(id, "busybox", "198.18.42.15");
  s = berth({"start", id, "--wait"}, {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_PRED2(contains, s.err, "no idmapped mount here");
  EXPECT_PRED2(contains, s.err, "starting a one-time shift");
  ASSERT_EQ(berth({"stop", id}).code, 0);
}

TEST_F(OpenvzTest, LegacyDebianVpsStartsUnchanged) {
  const char* deb = std::getenv("BERTH_TEST_DEBIAN_TEMPLATE");
  if (!deb || !*deb || !fs::exists(deb))
    GTEST_SKIP() << "SKIPPED: no Debian template (BERTH_TEST_DEBIAN_TEMPLATE unset or missing)";
  const std::string id = "1202";
  ASSERT_NO_FATAL_FAILURE(unpack(deb, id));
  write_conf(id, "debian-12-x86_64-minimal", "198.18.42.12");
  // systemd may report degraded (the /proc and console fixes are elsewhere): no --wait.
  ASSERT_NO_FATAL_FAILURE(start_enter_stop(id, false));
}

TEST_F(OpenvzTest, PloopAreaIsRefusedInOneLine) {
  const std::string id = "1203";
  fs::create_directories(vz("/private/" + id + "/root.hdd"));
  std::ofstream(vz("/private/" + id + "/root.hdd/DiskDescriptor.xml"))
      << "<Parallels_disk_image/>\n";
  write_conf(id, "centos-6-x86_64", "198.18.42.13");
  RunResult s = berth({"start", id});
  EXPECT_EQ(s.code, 99) << s.err;
  EXPECT_PRED2(contains, s.err, "ploop");
  EXPECT_PRED2(contains, s.err, "not support");
  EXPECT_EQ(split_lines(s.err).size(), 1u) << s.err;
  EXPECT_PRED2(contains, status_line(id), "down");
}

// vzctl accepts names made only of digits; an argument that is a valid CTID is always the CTID.
TEST_F(OpenvzTest, DigitsOnlyNames) {
  std::string archive = busybox_archive();
  const std::string id = "1204";
  ASSERT_NO_FATAL_FAILURE(unpack(archive, id));
  write_conf(id, "busybox", "198.18.42.14");
  RunResult r = berth({"set", id, "--name", "42", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, status_line("42"), "CTID 1204 ");
  r = berth({"set", id, "--name", "1299", "--save"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_PRED2(contains, status_line("1299"), "CTID 1299 deleted") << "the CTID, not the name";
  EXPECT_TRUE(fs::is_symlink(root() + "/etc/vz/names/1299"));
}

TEST_F(OpenvzTest, VzctlVersionLine) {
  for (const auto& args : {std::vector<std::string>{"--version"}, {"--help"}}) {
    RunResult v = berth_as("vzctl", args);
    ASSERT_EQ(v.code, 0);
    EXPECT_PRED2(matches, split_lines(v.out).at(0), R"(vzctl version \d+\.\d+\.\d+ \(berth .+\))");
  }
  RunResult b = berth({"--version"});
  EXPECT_PRED2(matches, b.out, "vzctl version 4\\.11\\.1 \\(berth [0-9.]+\\)\n");
}

}  // namespace
}  // namespace berth::itest
