// berth migrate / vzmigrate between two Berth instances on this machine, standing for two hosts:
// the test's BERTH_ROOT (source) and a second root (destination), reached through a REAL sshd on
// 127.0.0.1 (a throwaway host key, an authorized key in a temp dir; AcceptEnv BERTH_ROOT so the
// client's SetEnv picks the destination instance). The receiver is also fed hostile streams
// directly (its stdin is the stream).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "core/unique_fd.h"
#include "harness.h"
#include "runtime/migrate_proto.h"

namespace fs = std::filesystem;
using berth::runtime::mig::encode_frame;
using berth::runtime::mig::Frame;

namespace berth::itest {
namespace {

void write_file(const std::string& p, const std::string& text, mode_t mode = 0600) {
  std::ofstream(p) << text;
  ::chmod(p.c_str(), mode);
}

class MigrateTest : public BerthTest {
 protected:
  void SetUp() override {
    BerthTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(fs::exists("/usr/sbin/sshd")) << "openssh-server is needed (install-deps.sh)";
    dst_ = root() + "-dst";
    fs::remove_all(dst_);
    std::string cache = dst_ + "/var/lib/berth/template/cache";
    fs::create_directories(cache);
    fs::create_directories(dst_ + "/etc/berth");
    for (std::string p = cache; p.size() > 4; p = fs::path(p).parent_path())
      ::chmod(p.c_str(), 0755);
    write_file(dst_ + "/etc/berth/berth.conf", "CGROUP_PARENT=\"" + instance() + "-dst\"\n", 0644);
    for (const auto& e : fs::directory_iterator(root() + "/var/lib/berth/template/cache"))
      fs::copy_file(e.path(), cache + "/" + e.path().filename().string());
    start_sshd();
  }

  void TearDown() override {
    // The destination's CTs, then sshd, then the source (the harness).
    if (!dst_.empty()) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(dst_ + "/etc/berth/conf", ec)) {
        std::string n = e.path().filename().string();
        if (!n.ends_with(".conf")) continue;
        std::string id = n.substr(0, n.size() - 5);
        (void)dst({"stop", id, "--fast"});
        RunResult d = dst({"destroy", id});
        EXPECT_EQ(d.code, 0) << "teardown: destroy " << id << " on dst: " << d.err;
      }
    }
    if (sshd_ > 0) {
      ::kill(sshd_, SIGTERM);
      ::waitpid(sshd_, nullptr, 0);
    }
    if (!dst_.empty()) {
      EXPECT_EQ(read_text("/proc/self/mountinfo").find(dst_ + "/"), std::string::npos)
          << "mounts left under " << dst_;
      std::error_code ec;
      fs::remove_all(dst_, ec);
      fs::remove_all(dir_, ec);
    }
    BerthTest::TearDown();
  }

  void start_sshd() {
    char tmpl[] = "/tmp/berth-mig-ssh-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::mkdir("/run/sshd", 0755);  // sshd's privilege separation directory
    for (const char* k : {"host_key", "client_key"}) {
      RunResult r = run_process(
          {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir_ + "/" + k},
          {"PATH=/usr/bin:/bin"}, {});
      ASSERT_EQ(r.code, 0) << r.err;
    }
    fs::copy_file(dir_ + "/client_key.pub", dir_ + "/authorized_keys");
    std::mt19937 rng(std::random_device{}());
    port_ = 20000 + static_cast<int>(rng() % 30000);
    write_file(dir_ + "/sshd_config",
               "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " + dir_ +
                   "/host_key\nAuthorizedKeysFile " + dir_ +
                   "/authorized_keys\nPermitRootLogin prohibit-password\n"
                   "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                   "StrictModes no\nAcceptEnv BERTH_ROOT BERTH_FAIL_STEP BERTH_KILL_AT\nPidFile "
                   "none\nLogLevel ERROR\n");
    sshd_ = ::fork();
    ASSERT_GE(sshd_, 0);
    if (sshd_ == 0) {
      int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);  // dup2's copies are kept
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", (dir_ + "/sshd_config").c_str(),
              nullptr);
      ::_exit(127);
    }
    // Listening (state 0A in /proc/net/tcp), seen without connecting: a probe connection would
    // make sshd log a failed key exchange.
    char want[16];
    std::snprintf(want, sizeof want, ":%04X ", port_);
    for (int i = 0; i < 100; ++i) {
      for (const auto& line : split_lines(read_text("/proc/net/tcp")))
        if (line.find(want) != std::string::npos && line.find(" 0A ") != std::string::npos &&
            line.find(want) < line.find(" 0A "))
          return;
      sleep_ms(50);
    }
    FAIL() << "sshd did not come up on port " << port_;
  }

  std::vector<std::string> ssh_args() const {
    return {"--ssh",
            "-p " + std::to_string(port_) + " -i " + dir_ +
                "/client_key -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no "
                "-o LogLevel=ERROR -o 'SetEnv=BERTH_ROOT=" +
                dst_ + (remote_env_.empty() ? "" : " " + remote_env_) + "'",
            "--remote-berth", BERTH_BINARY};
  }

  // `berth migrate CTID root@127.0.0.1 extra...` on the source.
  RunResult migrate(const std::string& id, const std::vector<std::string>& extra = {},
                    std::vector<std::string> env = {}) {
    std::vector<std::string> args{"migrate", id, "root@127.0.0.1"};
    for (auto& a : ssh_args()) args.push_back(a);
    for (auto& a : extra) args.push_back(a);
    RunOptions o;
    o.timeout = std::chrono::seconds(120);
    o.env = std::move(env);
    return berth(args, o);
  }

  // berth on the destination instance.
  RunResult dst(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv{BERTH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.input = input;
    o.timeout = std::chrono::seconds(60);
    return run_process(argv, {"BERTH_ROOT=" + dst_, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, o);
  }
  std::string dst_status(const std::string& id) {
    std::string s = dst({"status", id}).out;
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  // The destination removes a partial copy when the source's connection ends; that takes a
  // moment after the source is gone.
  bool dst_gone(const std::string& id) {
    for (int i = 0; i < 200; ++i) {
      if (!fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf") &&
          !fs::exists(dst_ + "/var/lib/berth/migrate-in/" + id))
        return true;
      sleep_ms(100);
    }
    return false;
  }

  std::string dir_, dst_;
  std::string remote_env_;  // more of the receiver's environment ("K=V K=V"), through SetEnv
  pid_t sshd_ = -1;
  int port_ = 0;
};

std::string hello(const std::string& id, const std::string& mode,
                  int proto = runtime::mig::kProtocol) {
  return encode_frame(Frame::kHello, "protocol=" + std::to_string(proto) + "\nversion=x\nctid=" +
                                         id + "\nmode=" + mode + "\nkeep_dst=0\n");
}

// A zstd tar with the given entries: {path, type ('f' file, 'c' char device, 'd' dir), data}.
std::string make_tar(const std::vector<std::tuple<std::string, char, std::string>>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* c, const void* b, size_t n) -> la_ssize_t {
        static_cast<std::string*>(c)->append(static_cast<const char*>(b), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& [path, type, data] : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_perm(e, 0644);
    archive_entry_set_filetype(e, type == 'd'   ? AE_IFDIR
                                  : type == 'c' ? AE_IFCHR
                                  : type == 'l' ? AE_IFLNK
                                                : AE_IFREG);
    if (type == 'c') archive_entry_set_rdev(e, makedev(1, 3));
    if (type == 'l') archive_entry_set_symlink(e, data.c_str());
    archive_entry_set_size(e, type == 'f' ? static_cast<la_int64_t>(data.size()) : 0);
    archive_write_header(a, e);
    if (type == 'f') archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

class MigrateLayout : public MigrateTest, public ::testing::WithParamInterface<const char*> {};

// A running busybox CT arrives running, with its CTID, config and a file written before; nothing
// of it is left on the source.
TEST_P(MigrateLayout, OfflineRunningArrivesRunning) {
  std::string layout = GetParam();
  std::vector<std::string> opts;
  if (layout == "overlay-disk") opts = {"--diskspace", "256M"};
  if (layout == "image") opts = {"--layout", "image", "--diskspace", "256M"};
  if (layout == "simfs")
    opts = {"--layout", "simfs", "--diskspace", "unlimited", "--diskinodes", "unlimited"};
  if (layout == "overlay") opts = {"--diskspace", "unlimited", "--diskinodes", "unlimited"};
  std::string id = create_running_ct(opts);
  RunResult w = berth({"exec", id, "echo moved-" + id + " > /root/note"});
  ASSERT_EQ(w.code, 0) << w.err;
  std::string hostname =
      read_text(conf_path(id)).find("HOSTNAME=\"ct" + id) != std::string::npos ? "ct" + id : "";
  RunResult m = migrate(id, {"-t"});
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_PRED2(contains, m.out, "copy");
  EXPECT_PRED2(matches, dst_status(id), "CTID " + id + " exist mounted running");
  RunResult cat = dst({"exec", id, "cat", "/root/note"});
  EXPECT_EQ(cat.out, "moved-" + id + "\n") << cat.err;
  std::string conf = read_text(dst_ + "/etc/berth/conf/" + id + ".conf");
  EXPECT_PRED2(contains, conf, "HOSTNAME=\"" + hostname);
  EXPECT_PRED2(matches, status_line(id), "CTID " + id + " deleted unmounted down");
  EXPECT_FALSE(fs::exists(ve_private(id)));
  EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/migrate-in/" + id));
  EXPECT_FALSE(fs::exists(root() + "/var/lib/berth/migrate-out/" + id));
}

INSTANTIATE_TEST_SUITE_P(Layouts, MigrateLayout,
                         ::testing::Values("overlay-disk", "overlay", "image", "simfs"));

// --remove-area no keeps the source's files; its config is renamed .migrated (vzmigrate's way).
// The vzmigrate name with its own grammar (DEST CTID).
// A destination without the CT's OS template gets its archive along (the CT's overlay needs it),
// imported as `template import` would; `--check-only` only says it would be sent.
TEST_F(MigrateTest, TheTemplateComesAlong) {
  std::string id = create_running_ct({"--diskspace", "unlimited", "--diskinodes", "unlimited"});
  std::string cache = dst_ + "/var/lib/berth/template/cache";
  for (const auto& e : fs::directory_iterator(cache)) fs::remove(e.path());
  RunResult c = migrate(id, {"--check-only"});
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(fs::is_empty(cache));
  RunResult m = migrate(id, {"-t"});
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_PRED2(contains, m.out + m.err, "template");
  bool there = false;
  for (const auto& e : fs::directory_iterator(cache))
    there = there || e.path().filename().string().starts_with("busybox.tar");
  EXPECT_TRUE(there) << "no busybox archive in the destination's cache";
  EXPECT_PRED2(matches, dst_status(id), "CTID " + id + " exist mounted running");
  RunResult e = dst({"exec", id, "cat", "/etc/hostname"});
  EXPECT_EQ(e.code, 0) << e.err;
}

TEST_F(MigrateTest, VzmigrateRemoveAreaNoKeepsSource) {
  std::string id = create_ct();
  std::vector<std::string> args{"-r", "no"};
  for (auto& a : ssh_args()) args.push_back(a);
  args.push_back("root@127.0.0.1");
  args.push_back(id);
  RunOptions o;
  o.timeout = std::chrono::seconds(120);
  RunResult m = berth_as("vzmigrate", args, o);
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_PRED2(matches, dst_status(id), "CTID " + id + " exist unmounted down");
  EXPECT_TRUE(fs::exists(conf_path(id) + ".migrated"));
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_TRUE(fs::exists(ve_private(id)));
  // The harness only cleans CTs with a config: give it back for the teardown.
  fs::rename(conf_path(id) + ".migrated", conf_path(id));
}

// --check-only refusals: the CTID exists there (9), an address in use there (12), another
// protocol (17, the receiver fed directly); nothing is stopped or copied.
TEST_F(MigrateTest, CheckOnlyRefusals) {
  std::string id = create_ct();
  RunResult c = dst({"create", id, "--ostemplate", "busybox"});
  ASSERT_EQ(c.code, 0) << c.err;
  RunResult m = migrate(id, {"--check-only"});
  EXPECT_EQ(m.code, 9) << m.err;
  EXPECT_PRED2(contains, m.err, "exists");

  std::string id2 = create_running_ct({"--ipadd", "198.19.71.21"});
  m = migrate(id2, {"--check-only"});
  EXPECT_EQ(m.code, 12) << m.err;
  EXPECT_PRED2(contains, m.err, "198.19.71.21");
  EXPECT_PRED2(matches, status_line(id2), "CTID " + id2 + " exist mounted running");

  std::string id3 = create_ct();
  m = migrate(id3, {"--check-only"});
  EXPECT_EQ(m.code, 0) << m.err;
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id3 + ".conf"));

  RunResult v = dst({"_migrate-recv"}, hello(id3, "check", 99) + encode_frame(Frame::kConfig, ""));
  EXPECT_EQ(v.code, 17) << v.err;
  EXPECT_PRED2(contains, v.out, "17 migration protocol 99");

  RunResult bad = migrate("7999", {"--check-only"});
  EXPECT_EQ(bad.code, 10) << bad.err;
}

// The CT's address goes with it: in the destination's config, routed there once started, and no
// route left when it stops. (Stopped before the migration: on one machine the running source
// would hold the address that the destination's preflight checks, and refuse with 12.)
TEST_F(MigrateTest, AddressFollowsTheCt) {
  std::string id = create_running_ct({"--ipadd", "198.19.71.31"});
  ASSERT_EQ(berth({"stop", id}).code, 0);
  RunResult m = migrate(id);
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_PRED2(contains, read_text(dst_ + "/etc/berth/conf/" + id + ".conf"),
               "IP_ADDRESS=\"198.19.71.31");
  RunResult s = dst({"start", id, "--wait"});
  ASSERT_EQ(s.code, 0) << s.err;
  auto route = [] {
    return run_process({"/sbin/ip", "route", "show", "198.19.71.31"}, {}, {}).out;
  };
  EXPECT_PRED2(contains, route(), "198.19.71.31");
  ASSERT_EQ(dst({"stop", id}).code, 0);
  EXPECT_EQ(route(), "");
}

// ssh cannot connect: 4, and the CT goes on running here.
TEST_F(MigrateTest, UnreachableDestination) {
  std::string id = create_running_ct();
  RunOptions o;
  o.timeout = std::chrono::seconds(60);
  // One --ssh word, split over two lines.
  // NOLINTBEGIN(bugprone-suspicious-missing-comma)
  RunResult m = berth({"migrate", id, "root@127.0.0.1", "--ssh",
                       "-p 1 -o ConnectTimeout=5 -o UserKnownHostsFile=/dev/null "
                       "-o StrictHostKeyChecking=no"},
                      o);
  // NOLINTEND(bugprone-suspicious-missing-comma)
  EXPECT_EQ(m.code, 4) << m.err;
  EXPECT_PRED2(contains, m.err, "cannot connect");
  EXPECT_PRED2(matches, status_line(id), "CTID " + id + " exist mounted running");
}

// --keep-dst: a migration that fails after the copy leaves the destination's copy there, stopped
// and no longer marked as incoming, so the next migrate finds the CTID taken (9), as vzmigrate.
TEST_F(MigrateTest, KeepDstLeavesTheCopyStopped) {
  std::string id = create_running_ct();
  RunResult k = migrate(id, {"--keep-dst"}, {"BERTH_KILL_AT=migrate_started"});
  EXPECT_EQ(k.code, 128 + SIGKILL) << k.err;
  bool stopped = false;
  for (int i = 0; i < 200 && !stopped; ++i) {
    stopped = !fs::exists(dst_ + "/var/lib/berth/migrate-in/" + id) &&
              matches(dst_status(id), "CTID " + id + " exist unmounted down");
    if (!stopped) sleep_ms(100);
  }
  EXPECT_TRUE(stopped) << dst_status(id);
  EXPECT_TRUE(fs::exists(conf_path(id)));
  RunResult again = migrate(id, {"--check-only"});
  EXPECT_EQ(again.code, 9) << again.err;
}

// The destination cannot start it (a start step fails there): 7, the destination's copy is
// removed, and the CT runs on the source again; the message says where it runs.
TEST_F(MigrateTest, StartFailsThereRunsHereAgain) {
  std::string id = create_running_ct();
  // ssh keeps its first SetEnv: both variables go in one (a quoted word of --ssh, ssh_args).
  remote_env_ = "BERTH_FAIL_STEP=start:1";
  RunResult m = migrate(id);
  remote_env_.clear();
  EXPECT_EQ(m.code, 7) << m.err;
  EXPECT_PRED2(contains, m.err, "runs on this host");
  EXPECT_PRED2(matches, status_line(id), "CTID " + id + " exist mounted running");
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf"));
  EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/private/" + id));
  EXPECT_FALSE(fs::exists(root() + "/var/lib/berth/migrate-out/" + id));
}

// --online needs a running CT (vzmigrate's 2); nothing is made on the destination.
TEST_F(MigrateTest, OnlineNeedsARunningCt) {
  std::string id = create_ct();
  RunResult m = migrate(id, {"--online"});
  EXPECT_EQ(m.code, 2) << m.err;
  EXPECT_PRED2(contains, m.err, "not running");
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf"));
}

// A migration killed at each phase leaves the CT on exactly one host; the next migrate finishes.
TEST_F(MigrateTest, KilledAtEachPhase) {
  for (const char* phase : {"migrate_checked", "migrate_stopped", "migrate_copied",
                            "migrate_started", "migrate_committed"}) {
    SCOPED_TRACE(phase);
    std::string id = create_running_ct();
    RunResult k = migrate(id, {}, {std::string("BERTH_KILL_AT=") + phase});
    EXPECT_EQ(k.code, 128 + SIGKILL) << k.err;
    if (std::string(phase) == "migrate_committed") {
      EXPECT_PRED2(matches, dst_status(id), "CTID " + id + " exist mounted running");
      RunResult s = berth({"start", id});
      EXPECT_EQ(s.code, 105) << s.err;  // not a second copy
      EXPECT_PRED2(contains, s.err, "migrated to");
    } else {
      EXPECT_TRUE(dst_gone(id)) << "the destination kept its partial copy";
      EXPECT_TRUE(fs::exists(conf_path(id)));
    }
    RunResult again = migrate(id);
    ASSERT_EQ(again.code, 0) << again.out << again.err;
    EXPECT_PRED2(matches, dst_status(id), "CTID " + id + " exist mounted running");
    EXPECT_FALSE(fs::exists(conf_path(id)));
    RunResult d = dst({"stop", id, "--fast"});
    EXPECT_EQ(d.code, 0) << d.err;
    d = dst({"destroy", id});
    EXPECT_EQ(d.code, 0) << d.err;
  }
}

// The receiver is root on the destination and reads a stream from elsewhere: a path out of the
// tree is refused and nothing is kept; a device node is never made.
TEST_F(MigrateTest, HostileStreamRefused) {
  std::string id = "7190";
  std::string conf = "OSTEMPLATE=\"busybox\"\nVE_LAYOUT=\"overlay\"\n";
  std::string out_tar = make_tar({{"ve.conf", 'f', conf},
                                  {"rootfs/", 'd', ""},
                                  {"rootfs/../../../../../tmp/berth-mig-evil", 'f', "x"}});
  std::string in = hello(id, "offline") + encode_frame(Frame::kConfig, conf) +
                   encode_frame(Frame::kData, out_tar) + encode_frame(Frame::kEnd, "");
  RunResult r = dst({"_migrate-recv"}, in);
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_PRED2(contains, r.out, "leaves the tree");
  EXPECT_FALSE(fs::exists("/tmp/berth-mig-evil"));
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf"));
  EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/private/" + id));

  std::string dev_tar = make_tar({{"ve.conf", 'f', conf},
                                  {"rootfs/", 'd', ""},
                                  {"rootfs/evdev", 'c', ""},
                                  {"rootfs/ok", 'f', "fine"}});
  in = hello(id, "offline") + encode_frame(Frame::kConfig, conf) +
       encode_frame(Frame::kData, dev_tar) + encode_frame(Frame::kEnd, "") +
       encode_frame(Frame::kCommit, "");
  r = dst({"_migrate-recv"}, in);
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf")) << r.err;
  std::string upper = dst_ + "/var/lib/berth/private/" + id + "/upper";
  EXPECT_TRUE(fs::exists(upper + "/ok"));
  struct stat st;
  EXPECT_NE(::lstat((upper + "/evdev").c_str(), &st), 0) << "a device node was made";
  // A config that would make a privileged CT (host root) here is refused before anything.
  std::string priv =
      "OSTEMPLATE=\"busybox\"\nLOCAL_UID=\"0\"\nLOCAL_GID=\"0\"\n"
      "PRIVILEGED_TRUSTED=\"yes\"\n";
  r = dst({"_migrate-recv"}, hello("7192", "offline") + encode_frame(Frame::kConfig, priv) +
                                 encode_frame(Frame::kData, dev_tar) +
                                 encode_frame(Frame::kEnd, "") + encode_frame(Frame::kCommit, ""));
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_PRED2(contains, r.out, "privileged");
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/7192.conf"));
  // A frame type that does not exist ends the session.
  r = dst({"_migrate-recv"}, hello("7191", "offline") + encode_frame(Frame::kConfig, conf) +
                                 std::string("Z\0\0\0\0", 5));
  EXPECT_EQ(r.code, 1) << r.err;
}

// A delta (online migration's later copies, frames L and M): its entries are written, its
// removals never leave the tree (a symlink on the way: nothing removed), an unsafe path ends the
// session and the copy goes.
TEST_F(MigrateTest, DeltaRemovalsStayInTheTree) {
  std::string id = "7193";
  std::string conf = "OSTEMPLATE=\"busybox\"\nVE_LAYOUT=\"overlay\"\n";
  const std::string victim = "/tmp/berth-mig-victim";
  fs::create_directories(victim);
  { std::ofstream(victim + "/keep") << "keep"; }
  ScopeExit drop([&] { fs::remove_all(victim); });
  std::string full = make_tar({{"ve.conf", 'f', conf},
                               {"rootfs/", 'd', ""},
                               {"rootfs/ok", 'f', "fine"},
                               {"rootfs/gone", 'f', "x"},
                               {"rootfs/lnk", 'l', victim}});
  std::string delta =
      make_tar({{"ve.conf", 'f', conf}, {"rootfs/", 'd', ""}, {"rootfs/new", 'f', "new"}});
  std::string head = hello(id, "offline") + encode_frame(Frame::kConfig, conf) +
                     encode_frame(Frame::kData, full) + encode_frame(Frame::kEnd, "") +
                     encode_frame(Frame::kDelta, "") + encode_frame(Frame::kData, delta) +
                     encode_frame(Frame::kEnd, "");
  RunResult r =
      dst({"_migrate-recv"},
          head + encode_frame(Frame::kRemove, std::string("gone\0lnk/keep\0no/such", 20)) +
              encode_frame(Frame::kEnd, "") + encode_frame(Frame::kCommit, ""));
  EXPECT_EQ(r.code, 0) << r.err;
  std::string upper = dst_ + "/var/lib/berth/private/" + id + "/upper";
  EXPECT_TRUE(fs::exists(upper + "/ok"));
  EXPECT_TRUE(fs::exists(upper + "/new"));
  EXPECT_FALSE(fs::exists(upper + "/gone"));
  EXPECT_TRUE(fs::is_symlink(upper + "/lnk"));
  EXPECT_TRUE(fs::exists(victim + "/keep"));
  RunResult d = dst({"destroy", id});
  EXPECT_EQ(d.code, 0) << d.err;

  r = dst({"_migrate-recv"}, head + encode_frame(Frame::kRemove, "../../berth-mig-victim/keep") +
                                 encode_frame(Frame::kEnd, "") + encode_frame(Frame::kCommit, ""));
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_PRED2(contains, r.out, "unsafe path");
  EXPECT_TRUE(fs::exists(victim + "/keep"));
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf"));
}

// Snapshots come along (protocol 4): the index and each snapshot's tree, written on the
// destination as `snapshot` makes them (owners in its range, an overlay whiteout and an opaque
// directory kept); switch
// works there; the source keeps none. A mounted snapshot is refused before anything is stopped.
TEST_F(MigrateTest, SnapshotsComeAlong) {
  std::string id = create_running_ct({"--diskspace", "unlimited", "--diskinodes", "unlimited"});
  auto snapshot = [&](const std::string& ct, const std::vector<std::string>& extra) {
    std::vector<std::string> args{"snapshot", ct};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = berth(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::smatch m;
    std::regex re("Snapshot ([0-9a-f-]{36}) of CT");
    return std::regex_search(r.out, m, re) ? std::string(m[1]) : std::string();
  };
  ASSERT_EQ(berth({"exec", id, "echo one > /root/state"}).code, 0);
  std::string a = snapshot(id, {"--name", "first"});
  // A directory of the template removed (a whiteout in the upper layer), one removed and made
  // again (an opaque directory).
  ASSERT_EQ(berth({"exec", id,
                   "echo two > /root/state; rmdir /var/tmp; rm -r /etc/udhcpc; mkdir /etc/udhcpc"})
                .code,
            0);
  std::string b = snapshot(id, {"--name", "second", "--description", "state two"});
  ASSERT_EQ(berth({"exec", id, "echo three > /root/state"}).code, 0);
  ASSERT_FALSE(a.empty() || b.empty());

  std::string target = root() + "/mnt-snap";
  ASSERT_EQ(berth({"snapshot-mount", id, "--id", a, "--target", target}).code, 0);
  RunResult m = migrate(id);
  EXPECT_EQ(m.code, 6) << m.err;
  EXPECT_PRED2(contains, m.err, "snapshot-umount");
  EXPECT_PRED2(matches, status_line(id), "CTID " + id + " exist mounted running");
  ASSERT_EQ(berth({"snapshot-umount", id, "--id", a}).code, 0);
  fs::remove(target);

  RunResult before = berth({"snapshot-list", id, "-j"});
  ASSERT_EQ(before.code, 0) << before.err;
  m = migrate(id, {"-t"});
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_PRED2(contains, m.out, "snapshots");
  RunResult after = dst({"snapshot-list", id, "-j"});
  ASSERT_EQ(after.code, 0) << after.err;
  auto jb = nlohmann::json::parse(before.out, nullptr, false);
  auto ja = nlohmann::json::parse(after.out, nullptr, false);
  ASSERT_EQ(ja.size(), 2u) << after.out;
  ASSERT_EQ(jb.size(), 2u) << before.out;
  for (size_t i = 0; i < 2; ++i)
    for (const char* k : {"uuid", "parent_uuid", "name", "description", "date", "current"})
      EXPECT_EQ(ja[i][k], jb[i][k]) << k;
  // Owners in the destination's range; the whiteout is one.
  std::string snaps = dst_ + "/var/lib/berth/private/" + id + "/snapshots";
  std::string conf = read_text(dst_ + "/etc/berth/conf/" + id + ".conf");
  std::smatch um;
  ASSERT_TRUE(std::regex_search(conf, um, std::regex("LOCAL_UID=\"([0-9]+)\"")));
  struct stat st;
  ASSERT_EQ(::stat((snaps + "/" + a + "/upper/root/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, static_cast<uid_t>(std::stoul(um[1])));
  ASSERT_EQ(::lstat((snaps + "/" + b + "/upper/var/tmp").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0);
  EXPECT_TRUE(fs::exists(snaps + "/" + a + ".conf"));

  RunResult sw = dst({"snapshot-switch", id, "--id", a});
  ASSERT_EQ(sw.code, 0) << sw.err;
  EXPECT_EQ(dst({"exec", id, "cat", "/root/state"}).out, "one\n");
  EXPECT_EQ(dst({"exec", id, "ls", "-d", "/var/tmp"}).code, 0);
  sw = dst({"snapshot-switch", id, "--id", b});
  ASSERT_EQ(sw.code, 0) << sw.err;
  EXPECT_EQ(dst({"exec", id, "cat", "/root/state"}).out, "two\n");
  EXPECT_NE(dst({"exec", id, "ls", "-d", "/var/tmp"}).code, 0) << "the whiteout was lost";
  RunResult opaque = dst({"exec", id, "ls", "-A", "/etc/udhcpc"});
  EXPECT_EQ(opaque.code, 0) << opaque.err;
  EXPECT_EQ(opaque.out, "") << "the opaque directory shows the template's entries";
  EXPECT_FALSE(fs::exists(ve_private(id)));
  EXPECT_FALSE(fs::exists(conf_path(id)));
}

// A CT with a disk: its snapshots are images (<uuid>.img); each comes as the tree its file
// system holds and is made an image again there, with that host's ids.
TEST_F(MigrateTest, ImageSnapshotsComeAlong) {
  std::string id = create_running_ct({"--diskspace", "256M"});
  auto put = [&](const std::string& text) {
    return berth({"exec", id, "echo " + text + " > /root/state"}).code;
  };
  ASSERT_EQ(put("one"), 0);
  RunResult s1 = berth({"snapshot", id, "--name", "first"});
  ASSERT_EQ(s1.code, 0) << s1.err;
  ASSERT_EQ(put("two"), 0);
  RunResult s2 = berth({"snapshot", id, "--name", "second"});
  ASSERT_EQ(s2.code, 0) << s2.err;
  std::smatch um;
  ASSERT_TRUE(std::regex_search(s1.out, um, std::regex("Snapshot ([0-9a-f-]{36}) of CT")));
  std::string a = um[1];
  RunResult before = berth({"snapshot-list", id, "-j"});
  // What a killed earlier migration left mounted where it reads an image is released first.
  std::string stage = ve_private(id) + "/snapshots/" + a + ".mnt";
  fs::create_directories(stage);
  ASSERT_EQ(run_process({"/bin/mount", "-t", "tmpfs", "leftover", stage}, {}, {}).code, 0);
  RunResult m = migrate(id, {"-t"});
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_EQ(read_text("/proc/self/mountinfo").find(stage), std::string::npos);
  RunResult after = dst({"snapshot-list", id, "-j"});
  ASSERT_EQ(after.code, 0) << after.err;
  auto jb = nlohmann::json::parse(before.out, nullptr, false);
  auto ja = nlohmann::json::parse(after.out, nullptr, false);
  ASSERT_EQ(ja.size(), 2u) << after.out;
  for (size_t i = 0; i < 2; ++i)
    for (const char* k : {"uuid", "parent_uuid", "name", "description", "date", "current"})
      EXPECT_EQ(ja[i][k], jb[i][k]) << k;
  EXPECT_TRUE(
      fs::is_regular_file(dst_ + "/var/lib/berth/private/" + id + "/snapshots/" + a + ".img"));
  RunResult sw = dst({"snapshot-switch", id, "--id", a});
  ASSERT_EQ(sw.code, 0) << sw.err;
  RunResult cat = dst({"exec", id, "cat", "/root/state"});
  EXPECT_EQ(cat.out, "one\n") << cat.err;
  // Owned by the CT's root there (its own range), as the tree's files are.
  RunResult own = dst({"exec", id, "stat", "-c", "%u", "/root/state"});
  EXPECT_EQ(own.out, "0\n") << own.err;
  EXPECT_FALSE(fs::exists(ve_private(id)));
}

// The receiver killed while it writes a snapshot's image (<uuid>.img.tmp made, mounted at its
// stage, the tree written into it): the source keeps the CT (started again); the destination's
// partial copy, the part-made image and its mount are removed by the next command there: the
// next migration of the CT (which then succeeds), or a destroy of the leftover by its admin.
TEST_F(MigrateTest, ReceiverKilledMidImageLeavesNoPartImage) {
  for (const char* next : {"migrate", "destroy"}) {
    SCOPED_TRACE(next);
    std::string id = create_running_ct({"--diskspace", "256M"});
    ASSERT_EQ(berth({"exec", id, "echo one > /root/state"}).code, 0);
    RunResult s1 = berth({"snapshot", id, "--name", "first"});
    ASSERT_EQ(s1.code, 0) << s1.err;
    std::smatch um;
    ASSERT_TRUE(std::regex_search(s1.out, um, std::regex("Snapshot ([0-9a-f-]{36}) of CT")));
    const std::string uuid = um[1];
    const std::string snaps = dst_ + "/var/lib/berth/private/" + id + "/snapshots/";
    remote_env_ = "BERTH_KILL_AT=migrate_recv_image";
    RunResult k = migrate(id);
    remote_env_.clear();
    EXPECT_NE(k.code, 0) << k.out << k.err;
    EXPECT_PRED2(contains, k.err, "runs on this host");
    EXPECT_EQ(status_line(id), "CTID " + id + " exist mounted running");
    // What the killed receiver left: its partial copy with the part-made image, mounted.
    EXPECT_TRUE(fs::exists(snaps + uuid + ".img.tmp"));
    EXPECT_NE(read_text("/proc/self/mountinfo").find(snaps + uuid + ".mnt"), std::string::npos);
    if (std::string(next) == "migrate") {
      RunResult again = migrate(id);
      ASSERT_EQ(again.code, 0) << again.out << again.err;
      EXPECT_PRED2(matches, dst_status(id), "CTID " + id + " exist mounted running");
      EXPECT_TRUE(fs::is_regular_file(snaps + uuid + ".img"));
      RunResult sw = dst({"snapshot-switch", id, "--id", uuid});
      EXPECT_EQ(sw.code, 0) << sw.err;
      RunResult d = dst({"stop", id, "--fast"});
      EXPECT_EQ(d.code, 0) << d.err;
    } else {
      EXPECT_PRED2(contains, dst_status(id), "CTID " + id + " exist");
      RunResult d = dst({"destroy", id});
      EXPECT_EQ(d.code, 0) << d.err;
      EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/private/" + id));
      EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/migrate-in/" + id));
      ASSERT_EQ(berth({"stop", id, "--fast"}).code, 0);
    }
    EXPECT_FALSE(fs::exists(snaps + uuid + ".img.tmp"));
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(snaps + uuid + ".mnt"), std::string::npos);
    RunResult loops = run_process({"/usr/sbin/losetup", "-a"}, {}, {});
    EXPECT_FALSE(contains(loops.out, uuid + ".img.tmp")) << loops.out;
  }
}

// A fake source's snapshot names: only uuids, each of the index, once; nothing is kept.
TEST_F(MigrateTest, HostileSnapshotNamesRefused) {
  std::string id = "7194";
  std::string conf = "OSTEMPLATE=\"busybox\"\nVE_LAYOUT=\"overlay\"\n";
  const std::string u = "0b3c6a5e-1111-4222-8333-944445555666";
  std::string tree = make_tar({{"ve.conf", 'f', conf}, {"rootfs/", 'd', ""}});
  std::string snap = make_tar({{"rootfs/", 'd', ""}, {"rootfs/ok", 'f', "fine"}});
  std::string index = R"({"version":1,"current":")" + u + R"(","snapshots":[{"uuid":")" + u +
                      R"(","parent_uuid":"","name":"x","file":")" + u +
                      R"(","has_config":false}]})";
  std::string head = hello(id, "offline") + encode_frame(Frame::kConfig, conf) +
                     encode_frame(Frame::kData, tree) + encode_frame(Frame::kEnd, "") +
                     encode_frame(Frame::kSnapshots, index);
  for (const std::string& name : {std::string("../../../../../tmp/berth-mig-snap-evil"),
                                  std::string("0b3c6a5e-1111-4222-8333-94444555566/"),
                                  std::string("0b3c6a5e-1111-4222-8333-944445555667")}) {
    SCOPED_TRACE(name);
    RunResult r =
        dst({"_migrate-recv"},
            head + encode_frame(Frame::kSnapshot, name) + encode_frame(Frame::kData, snap) +
                encode_frame(Frame::kEnd, "") + encode_frame(Frame::kCommit, ""));
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_PRED2(contains, r.out, "bad stream");
    EXPECT_FALSE(fs::exists("/tmp/berth-mig-snap-evil"));
    EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf"));
    EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/private/" + id));
  }
  // An index naming a file that is not the snapshot's own.
  std::string evil = index;
  evil.replace(evil.find(R"("file":")") + 8, u.size(), "../../etc");
  RunResult r =
      dst({"_migrate-recv"}, hello(id, "offline") + encode_frame(Frame::kConfig, conf) +
                                 encode_frame(Frame::kData, tree) + encode_frame(Frame::kEnd, "") +
                                 encode_frame(Frame::kSnapshots, evil));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_FALSE(fs::exists(dst_ + "/var/lib/berth/private/" + id));
  // The good stream is taken, and committing without the snapshot is not.
  r = dst({"_migrate-recv"}, head + encode_frame(Frame::kCommit, ""));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_FALSE(fs::exists(dst_ + "/etc/berth/conf/" + id + ".conf"));
  r = dst({"_migrate-recv"}, head + encode_frame(Frame::kSnapshot, u) +
                                 encode_frame(Frame::kData, snap) + encode_frame(Frame::kEnd, "") +
                                 encode_frame(Frame::kCommit, ""));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dst_ + "/var/lib/berth/private/" + id + "/snapshots/" + u + "/upper/ok"));
  EXPECT_EQ(dst({"snapshot-list", id}).code, 0);
}

}  // namespace
}  // namespace berth::itest
