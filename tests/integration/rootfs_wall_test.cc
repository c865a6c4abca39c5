// The wall between a CT's files and the host's users (docs/security/rootfs.md), and the refusal of
// privileged CTs (LOCAL_UID=0) the admin has not said to trust. Each test is an attack: a tenant
// (root inside) makes a setuid program and an unprivileged host user (nobody, via setpriv) runs
// it through the host's paths; a CLI call that makes a privileged CT.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.h"

namespace berth::itest {
namespace {

namespace fs = std::filesystem;

class RootfsWallTest : public BerthTest {
 protected:
  // argv run by host user nobody (uid and gid 65534, no groups).
  RunResult as_nobody(const std::vector<std::string>& argv) {
    std::vector<std::string> a{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                               "--clear-groups"};
    a.insert(a.end(), argv.begin(), argv.end());
    return run_process(a, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, {});
  }

  // Per-mount options of the mount at path in the host's mount table ("" when not a mount point).
  static std::string host_mount_options(const std::string& path) {
    std::string found;
    for (const auto& line : split_lines(read_text("/proc/self/mountinfo"))) {
      std::istringstream in(line);
      std::string id, parent, devno, root, point, opts;
      in >> id >> parent >> devno >> root >> point >> opts;
      if (point == path) found = opts;  // the last one is the top of the stack
    }
    return found;
  }

  static bool has_option(const std::string& opts, const std::string& opt) {
    return ("," + opts + ",").find("," + opt + ",") != std::string::npos;
  }

  // The tenant's setuid program, run on the host by nobody: through VE_ROOT and through the
  // private area. Either the path is closed to nobody or the program runs with nobody's ids; on
  // the old code it ran with the CT's root id (host uid LOCAL_UID).
  void expect_host_user_cannot_use(const std::string& path) {
    // Through a shell: setpriv, still root when it looks the program up, would find it anyway.
    RunResult r = as_nobody({"/bin/sh", "-c", "exec \"$0\" --ids", path});
    if (r.code == 0) {
      auto j = nlohmann::json::parse(r.out, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << r.out;
      ADD_FAILURE() << "host user nobody ran `" << path << "`: " << r.out;
      EXPECT_EQ(j["euid"], 65534) << "the CT's setuid program ran with another id on the host";
    } else {
      EXPECT_PRED2(contains, r.err, "Permission denied");
    }
  }

  void setuid_wall(const std::vector<std::string>& create_args, const std::string& private_copy) {
    std::string id = create_running_ct(create_args);
    install_probe(id);
    // The tenant: root inside makes a setuid copy of a program.
    RunResult r =
        berth({"exec", id, "cp /sbin/berth_probe /bin/suidprobe && chmod 4755 /bin/suidprobe"});
    ASSERT_EQ(r.code, 0) << r.err;
    // Inside, setuid still works (su, sudo): a user of the CT gets the CT's root as euid.
    r = berth({"exec", id, "su -s /bin/suidprobe nobody"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_EQ(j["uid"], 65534) << r.out.substr(0, 200);
    EXPECT_EQ(j["euid"], 0) << "setuid no longer works inside the CT";

    // The host's view of the CT's root is nosuid,nodev (even for host root).
    std::string opts = host_mount_options(ve_root(id));
    EXPECT_TRUE(has_option(opts, "nosuid")) << opts;
    EXPECT_TRUE(has_option(opts, "nodev")) << opts;
    // So is the host's mount of the CT's disk, when it has one.
    std::string disk = host_mount_options(ve_private(id) + "/disk");
    if (!disk.empty()) {
      EXPECT_TRUE(has_option(disk, "nosuid")) << disk;
      EXPECT_TRUE(has_option(disk, "nodev")) << disk;
    }
    // Host user nobody: neither the mounted root nor the private area's copy.
    expect_host_user_cannot_use(ve_root(id) + "/bin/suidprobe");
    expect_host_user_cannot_use(ve_private(id) + private_copy);
    // Nor can it list them.
    for (const auto& dir : {ve_root(id), ve_private(id)}) {
      RunResult ls = as_nobody({"/bin/ls", dir});
      EXPECT_NE(ls.code, 0) << "nobody lists " << dir << ": " << ls.out;
      EXPECT_PRED2(contains, ls.err, "Permission denied");
    }
  }
};

TEST_F(RootfsWallTest, HostUserCannotRunTheCtsSetuidFilesOverlay) {
  // The default sample's DISKSPACE gives the CT a disk: the upper layer lives in it.
  setuid_wall({}, "/disk/upper/bin/suidprobe");
}

TEST_F(RootfsWallTest, HostUserCannotRunTheCtsSetuidFilesOverlayWithoutDisk) {
  setuid_wall({"--diskspace", "unlimited"}, "/upper/bin/suidprobe");
}

TEST_F(RootfsWallTest, HostUserCannotRunTheCtsSetuidFilesImage) {
  setuid_wall({"--layout", "image", "--diskspace", "200M"}, "/disk/root/bin/suidprobe");
}

TEST_F(RootfsWallTest, HostUserCannotRunTheCtsSetuidFilesSimfs) {
  setuid_wall({"--layout", "simfs", "--diskspace", "unlimited", "--diskinodes", "unlimited"},
              "/bin/suidprobe");
}

// `berth mount` of a stopped CT gives the host the same view: nosuid,nodev, closed to nobody.
TEST_F(RootfsWallTest, MountedCtHasTheSameHostView) {
  std::string id = create_ct();
  ASSERT_EQ(berth({"mount", id}).code, 0);
  std::string opts = host_mount_options(ve_root(id));
  EXPECT_TRUE(has_option(opts, "nosuid")) << opts;
  EXPECT_TRUE(has_option(opts, "nodev")) << opts;
  RunResult ls = as_nobody({"/bin/ls", ve_root(id) + "/bin"});
  EXPECT_NE(ls.code, 0) << ls.out;
  // What runs in the mounted CT (set on a stopped CT) still gets its own root.
  EXPECT_EQ(berth({"set", id, "--userpasswd", "root:wall", "--save"}).code, 0);
  ASSERT_EQ(berth({"umount", id}).code, 0);
}

class PrivilegedTrustTest : public RootfsWallTest {};

// A privileged CT is host root (below): the admin must say so. Without the word, create refuses
// in one line with exit 12 and leaves nothing.
TEST_F(PrivilegedTrustTest, LocalUid0IsRefusedWithoutTrust) {
  std::string id = new_ctid();
  RunResult r =
      berth({"create", id, "--ostemplate", "busybox", "--local_uid", "0", "--local_gid", "0"});
  EXPECT_EQ(r.code, 12) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_PRED2(contains, r.err, "--i-trust-this-vps");
  EXPECT_FALSE(fs::exists(conf_path(id)));
  EXPECT_FALSE(fs::exists(ve_private(id)));
}

// A config edited by hand to LOCAL_UID=0 (or an OpenVZ one imported as it is) does not start
// until the trust is recorded in it.
TEST_F(PrivilegedTrustTest, HandEditedLocalUid0IsRefusedAtStart) {
  std::string id = create_ct();
  std::string conf = read_text(conf_path(id));
  conf = std::regex_replace(conf, std::regex("LOCAL_(UID|GID)=\"[0-9]+\""), "LOCAL_$1=\"0\"");
  std::ofstream(conf_path(id)) << conf;
  RunResult r = berth({"start", id});
  EXPECT_EQ(r.code, 12) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
  EXPECT_PRED2(contains, r.err, "PRIVILEGED_TRUSTED");
  EXPECT_EQ(status_line(id), "CTID " + id + " exist unmounted down");
  ASSERT_EQ(berth({"set", id, "--i-trust-this-vps", "--save"}).code, 0);
  EXPECT_PRED2(contains, read_text(conf_path(id)), "PRIVILEGED_TRUSTED=\"yes\"");
  r = berth({"start", id, "--wait"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// What --i-trust-this-vps gives away, shown: root of a privileged CT has CAP_SYS_ADMIN of the
// host, lifts the read-only mask over /proc/sys with a lazy umount, and can then open the host's
// kernel.core_pattern for writing (a program the host's kernel runs as root on every crash). The
// test only opens the file and closes it; it never writes.
TEST_F(PrivilegedTrustTest, TrustedPrivilegedCtCanLiftItsMasks) {
  std::string id =
      create_running_ct({"--local_uid", "0", "--local_gid", "0", "--i-trust-this-vps"});
  std::string probe = install_probe(id);
  RunResult before = berth({"exec3", id, probe, "--open-write", "/proc/sys/kernel/core_pattern"});
  ASSERT_EQ(before.code, 0) << before.err;
  EXPECT_EQ(before.out, "EROFS\n");
  // /proc/sys is a link into the real procfs when /proc is Berth's view.
  RunResult lift = berth({"exec", id, "umount -l $(readlink -f /proc/sys)"});
  ASSERT_EQ(lift.code, 0) << lift.err;
  RunResult after = berth({"exec3", id, probe, "--open-write", "/proc/sys/kernel/core_pattern"});
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(after.out, "ok\n") << "the mask held: update docs/security/rootfs.md";
}

}  // namespace
}  // namespace berth::itest
