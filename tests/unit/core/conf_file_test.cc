#include "core/conf_file.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(ConfFile, KeepsCommentsAndReplacesInPlace) {
  auto f = ConfFile::parse("# header\nONBOOT=\"yes\"\n\nHOSTNAME=\"a\"\n");
  f.set("HOSTNAME", "b");
  f.set("NEW", "x y");
  EXPECT_EQ(f.text(), "# header\nONBOOT=\"yes\"\n\nHOSTNAME=\"b\"\nNEW=\"x y\"\n");
}

TEST(ConfFile, ValueRunsToLastQuote) {
  auto f = ConfFile::parse("DESCRIPTION=\"a \"quoted\" word\"\n");
  EXPECT_EQ(f.get("DESCRIPTION").value(), "a \"quoted\" word");
}

TEST(ConfFile, ExpandVeid) {
  EXPECT_EQ(expand_veid("/vz/root/$VEID", "101"), "/vz/root/101");
  EXPECT_EQ(expand_veid("/vz/${VEID}/x/", "101"), "/vz/101/x");
}

}  // namespace
}  // namespace berth
