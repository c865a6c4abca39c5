// A throwaway directory for the cgroups/ unit tests that stand a plain directory in for a
// hierarchy or the run directory; removed with everything in it at the end.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace berth::cgroups {

struct TestDir {
  std::string path;
  TestDir() {
    char tmpl[] = "/tmp/berth-cgroups-test.XXXXXX";
    path = ::mkdtemp(tmpl) ? tmpl : "";
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
  ~TestDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

}  // namespace berth::cgroups
