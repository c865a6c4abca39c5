// runtime/ct_limits: NUMFILE/LOCKEDPAGES -> rlimits (barrier = soft, limit = hard; pages in
// bytes; unlimited), SHMPAGES -> shmall/shmmax, clamping to a ceiling, bad values; and the notes
// for a value above this process's own hard limit.
#include "runtime/ct_limits.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <map>

#include "core/exit_codes.h"

namespace berth::runtime {
namespace {

cgroups::KeyLookup keys(std::map<std::string, std::string> m) {
  return [m = std::move(m)](std::string_view k) -> std::optional<std::string> {
    auto it = m.find(std::string(k));
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

ProcLimits from(std::map<std::string, std::string> m) {
  auto r = proc_limits_from(keys(std::move(m)));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : ProcLimits{};
}

TEST(CtLimits, NumfileIsNofile) {
  EXPECT_EQ(from({{"NUMFILE", "4096"}}).nofile, (Rlimit{4096, 4096}));
  EXPECT_EQ(from({{"NUMFILE", "1024:2048"}}).nofile, (Rlimit{1024, 2048}));
  EXPECT_EQ(from({{"NUMFILE", "unlimited"}}).nofile, (Rlimit{RLIM_INFINITY, RLIM_INFINITY}));
  EXPECT_FALSE(from({{"NUMFILE", "10"}}).memlock);
}

TEST(CtLimits, LockedpagesIsMemlockInBytes) {
  EXPECT_EQ(from({{"LOCKEDPAGES", "256"}}).memlock, (Rlimit{1 << 20, 1 << 20}));
  EXPECT_EQ(from({{"LOCKEDPAGES", "16:unlimited"}}).memlock, (Rlimit{65536, RLIM_INFINITY}));
}

TEST(CtLimits, ShmpagesIsShmallAndShmmax) {
  auto pl = from({{"SHMPAGES", "21504"}});
  EXPECT_EQ(pl.shmall, 21504u);
  EXPECT_EQ(pl.shmmax, 21504u * 4096);
  auto un = from({{"SHMPAGES", "unlimited"}});
  EXPECT_EQ(un.shmall, 18446744073692774399ULL);  // the kernel's default
  EXPECT_EQ(un.shmmax, 18446744073692774399ULL);
}

TEST(CtLimits, NumptyIsDevptsMax) {
  EXPECT_EQ(from({{"NUMPTY", "16"}}).pty_max, 16u);
  EXPECT_EQ(from({{"NUMPTY", "8:32"}}).pty_max, 32u);  // the limit part
  EXPECT_EQ(from({{"NUMPTY", "unlimited"}}).pty_max, 1u << 20);
}

TEST(CtLimits, InotifyKeysAreTheUserNamespaceSysctls) {
  auto pl = from({{"INOTIFY_INSTANCES", "16"}, {"INOTIFY_WATCHES", "1000"}});
  EXPECT_EQ(pl.inotify_instances, 16u);
  EXPECT_EQ(pl.inotify_watches, 1000u);
  EXPECT_EQ(from({{"INOTIFY_INSTANCES", "unlimited"}}).inotify_instances,
            2147483647u);  // a new userns's value
  for (const char* bad : {"0", "2147483648", "lots", ""}) {
    auto r = proc_limits_from(keys({{"INOTIFY_WATCHES", bad}}));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().exit_status(), exitcode::kBadValue);
    EXPECT_NE(r.error().message().find("INOTIFY_WATCHES"), std::string::npos)
        << r.error().message();
  }
}

TEST(CtLimits, NothingSetNothingPlanned) {
  EXPECT_EQ(from({{"PHYSPAGES", "0:100"}}), ProcLimits{});
}

TEST(CtLimits, BadValuesNameTheKey) {
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"NUMFILE", "many"}, {"NUMFILE", "20:10"}, {"LOCKEDPAGES", "1:x"}, {"SHMPAGES", ""}}) {
    auto r = proc_limits_from(keys({{k, v}}));
    ASSERT_FALSE(r.ok()) << k << "=" << v;
    EXPECT_EQ(r.error().exit_status(), exitcode::kBadValue);
    EXPECT_NE(r.error().message().find(k), std::string::npos) << r.error().message();
  }
}

TEST(CtLimits, ClampToCeiling) {
  EXPECT_EQ(clamp_rlimit({4096, 8192}, 20000), (Rlimit{4096, 8192}));
  EXPECT_EQ(clamp_rlimit({4096, 40000}, 20000), (Rlimit{4096, 20000}));
  EXPECT_EQ(clamp_rlimit({30000, 40000}, 20000), (Rlimit{20000, 20000}));
  EXPECT_EQ(clamp_rlimit({RLIM_INFINITY, RLIM_INFINITY}, 1024), (Rlimit{1024, 1024}));
}

TEST(CtLimits, NotesOnlyAboveOwnHardLimit) {
  struct rlimit self;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &self), 0);
  ProcLimits below;
  below.nofile = Rlimit{1, self.rlim_max};
  EXPECT_TRUE(rlimit_clamp_notes(below).empty());
  if (self.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "no hard limit on open files here";
  ProcLimits above;
  above.nofile = Rlimit{1, self.rlim_max + 1};
  auto notes = rlimit_clamp_notes(above);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("NUMFILE"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find(std::to_string(self.rlim_max)), std::string::npos) << notes[0];
}

}  // namespace
}  // namespace berth::runtime
