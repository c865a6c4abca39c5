// detect_backend()'s cache of the host's cgroup layout: what it writes is what a later detection
// reads back, and a cache that does not fit (damaged, another boot or mount namespace, a mount
// that changed) is not used.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "cgroups/backend.h"
#include "test_dir.h"

namespace berth::cgroups {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string describe(const Backend& b) {
  std::string out = b.name();
  for (const auto& h : b.hierarchies()) out += " " + h.mount + "=" + h.options;
  return out;
}

TEST(DetectCache, WrittenThenReadGivesTheSameLayout) {
  auto plain = detect_backend();
  if (!plain.ok()) GTEST_SKIP() << "no cgroup file system here: " << plain.error().message();
  TestDir d;
  ASSERT_FALSE(d.path.empty());
  std::string cache = d.path + "/layout";
  auto first = detect_backend(cache);
  ASSERT_TRUE(first.ok());
  std::string text = slurp(cache);
  ASSERT_EQ(text.rfind("berth-cgroup-layout 1\nkey ", 0), 0u) << text;
  auto second = detect_backend(cache);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(describe(**plain), describe(**first));
  EXPECT_EQ(describe(**plain), describe(**second));
}

TEST(DetectCache, AnUnfitCacheIsNotUsed) {
  auto plain = detect_backend();
  if (!plain.ok()) GTEST_SKIP() << "no cgroup file system here: " << plain.error().message();
  TestDir d;
  ASSERT_FALSE(d.path.empty());
  std::string cache = d.path + "/layout";
  ASSERT_TRUE(detect_backend(cache).ok());
  std::string good = slurp(cache);
  size_t key_end = good.find('\n', good.find('\n') + 1);
  std::string body = good.substr(key_end + 1);
  const std::string bad[] = {
      "garbage\n",
      // Another boot or mount namespace.
      "berth-cgroup-layout 1\nkey 00000000-0000-0000-0000-000000000000 1\n" + body,
      // A mount that is not a cgroup file system (or not on the recorded device).
      good.substr(0, key_end + 1) + "1\t/tmp\t1\tmemory\n",
      good.substr(0, key_end + 1) + "2\t/sys/fs/cgroup/does-not-exist\t1\n",
  };
  for (const auto& text : bad) {
    std::ofstream(cache) << text;
    auto b = detect_backend(cache);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(describe(**b), describe(**plain)) << text;
    EXPECT_EQ(slurp(cache), good) << "the cache is written again from mountinfo";
  }
}

}  // namespace
}  // namespace berth::cgroups
