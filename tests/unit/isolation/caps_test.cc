#include "isolation/caps.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>

#include "core/exit_codes.h"
#include "child_util.h"

namespace berth::isolation {
namespace {

bool has(const std::vector<int>& v, int c) { return std::find(v.begin(), v.end(), c) != v.end(); }

TEST(IsolationCaps, DefaultSetMatchesVzctlUpstreamMask) {
  auto caps = default_ct_capabilities(CAP_CHECKPOINT_RESTORE);
  EXPECT_EQ(caps.size(), 27u);
  for (int c : {CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_NET_ADMIN, CAP_SETUID, CAP_SETPCAP, CAP_MKNOD,
                CAP_LINUX_IMMUTABLE, CAP_AUDIT_WRITE, CAP_SETFCAP})
    EXPECT_TRUE(has(caps, c)) << c;
  for (int c : {CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_SYS_PACCT, CAP_AUDIT_CONTROL,
                CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_SYSLOG, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND,
                CAP_BPF, CAP_PERFMON})
    EXPECT_FALSE(has(caps, c)) << c;
  EXPECT_TRUE(std::is_sorted(caps.begin(), caps.end()));
}

TEST(IsolationCaps, DefaultSetIsLimitedToTheKernel) {
  auto caps = default_ct_capabilities(CAP_NET_RAW);
  EXPECT_FALSE(caps.empty());
  EXPECT_LE(caps.back(), CAP_NET_RAW);
  EXPECT_FALSE(has(caps, CAP_SYS_ADMIN));
}

TEST(IsolationCaps, ParsesNamesCaseInsensitivelyWithOrWithoutPrefix) {
  EXPECT_EQ(parse_cap_name("net_admin").value(), CAP_NET_ADMIN);
  EXPECT_EQ(parse_cap_name("NET_ADMIN").value(), CAP_NET_ADMIN);
  EXPECT_EQ(parse_cap_name("Cap_Sys_Time").value(), CAP_SYS_TIME);
  EXPECT_EQ(parse_cap_name("ve_admin").value(), CAP_NET_ADMIN);
  EXPECT_EQ(parse_cap_name("SETVEID").value(), -1);
  for (const char* bad : {"nosuch", "", "12", "cap_", "net admin"}) {
    auto r = parse_cap_name(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), exitcode::kCapability) << bad;
  }
}

TEST(IsolationCaps, AppliesCapabilityKey) {
  auto base = default_ct_capabilities(CAP_LAST_CAP);
  auto r = apply_capability_setting(base, "SYS_TIME:on net_admin:off, sys_admin:off", CAP_LAST_CAP);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(has(*r, CAP_SYS_TIME));
  EXPECT_FALSE(has(*r, CAP_NET_ADMIN));
  EXPECT_FALSE(has(*r, CAP_SYS_ADMIN));
  EXPECT_TRUE(has(*r, CAP_CHOWN));
  EXPECT_TRUE(std::is_sorted(r->begin(), r->end()));
  // Turning on twice does not duplicate; unknown-to-kernel caps are left out.
  auto twice = apply_capability_setting(base, "chown:on chown:on", CAP_LAST_CAP);
  EXPECT_EQ(std::count(twice->begin(), twice->end(), CAP_CHOWN), 1);
  auto beyond =
      apply_capability_setting(default_ct_capabilities(CAP_SETFCAP), "bpf:on", CAP_SETFCAP);
  EXPECT_FALSE(has(*beyond, CAP_BPF));
}

TEST(IsolationCaps, RejectsBadCapabilityKey) {
  auto base = default_ct_capabilities(CAP_LAST_CAP);
  auto unknown = apply_capability_setting(base, "NET_ADMIN:on FOO:off", CAP_LAST_CAP);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().exit_status(), exitcode::kCapability);
  EXPECT_NE(unknown.error().message().find("FOO"), std::string::npos);
  for (const char* bad : {"NET_ADMIN", "NET_ADMIN:yes", ":on"}) {
    auto r = apply_capability_setting(base, bad, CAP_LAST_CAP);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), exitcode::kBadValue) << bad;
  }
}

TEST(IsolationCaps, CtCapabilitiesReadsTheConfig) {
  testing::TempDir tmp;
  auto host = HostConfig::load_at(tmp.path());
  ASSERT_TRUE(host.ok()) << host.error().message();
  CtConfig ct(*host, "101", ConfFile::parse("CAPABILITY=\"SYS_TIME:on SYS_ADMIN:off\"\n"));
  auto caps = ct_capabilities(ct);
  ASSERT_TRUE(caps.ok()) << caps.error().message();
  EXPECT_TRUE(has(*caps, CAP_SYS_TIME));
  EXPECT_FALSE(has(*caps, CAP_SYS_ADMIN));
  CtConfig bad(*host, "102", ConfFile::parse("CAPABILITY=\"WARP_DRIVE:on\"\n"));
  auto r = ct_capabilities(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_status(), exitcode::kCapability);
  EXPECT_NE(r.error().message().find("CT 102"), std::string::npos);
}

TEST(IsolationCaps, CapabilityNames) {
  EXPECT_EQ(capability_names({CAP_CHOWN, CAP_NET_ADMIN}), "chown net_admin");
}

// In a fresh user namespace the child holds every capability, as the CT's init does before its
// final step; drop_caps must leave exactly the kept set everywhere and keep securebits.
TEST(IsolationCaps, DropCapsInUserNamespace) {
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns([] {
    int securebits = prctl(PR_GET_SECUREBITS);
    if (cap_get_bound(CAP_SYS_ADMIN) != 1) return 1;
    std::vector<int> keep = {CAP_CHOWN, CAP_SETUID, CAP_SYS_BOOT};
    if (!drop_caps(keep).ok()) return 2;
    if (cap_get_bound(CAP_SYS_ADMIN) != 0 || cap_get_bound(CAP_SETPCAP) != 0) return 3;
    if (cap_get_bound(CAP_CHOWN) != 1 || cap_get_bound(CAP_SYS_BOOT) != 1) return 4;
    cap_t cur = cap_get_proc();
    for (int c = 0; c <= CAP_LAST_CAP; ++c) {
      bool want = std::find(keep.begin(), keep.end(), c) != keep.end();
      for (cap_flag_t f : {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE}) {
        cap_flag_value_t v = CAP_CLEAR;
        cap_get_flag(cur, c, f, &v);
        if ((v == CAP_SET) != want) return 5;
      }
    }
    cap_free(cur);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0) != 0) return 6;
    if (prctl(PR_GET_SECUREBITS) != securebits) return 7;
    return 0;
  }));
}

TEST(IsolationCaps, DropCapsFailsWithoutSetpcap) {
  BERTH_EXPECT_CHILD_OK(testing::run_in_userns([] {
    if (!drop_caps({CAP_CHOWN}).ok()) return 1;
    // CAP_SETPCAP is gone now: dropping more from the bounding set must fail with exit 13.
    auto st = drop_caps({});
    if (st.ok() || st.error().exit_status() != exitcode::kCapability) return 2;
    return 0;
  }));
}

}  // namespace
}  // namespace berth::isolation
