// The beancounter server's paths: the per-CT files and the CTs' /proc views.
#include "ubc/proc_view.h"

#include <gtest/gtest.h>

namespace berth::ubc {
namespace {

TEST(ProcViewTest, ParsesEveryKindOfPath) {
  EXPECT_EQ(parse_node("/").kind, Node::kRoot);
  Node f = parse_node("/101");
  EXPECT_EQ(f.kind, Node::kCtFile);
  EXPECT_EQ(f.ctid, "101");
  EXPECT_EQ(parse_node("/.proc").kind, Node::kProcTop);
  Node r = parse_node("/.proc/web");
  EXPECT_EQ(r.kind, Node::kProcRoot);
  EXPECT_EQ(r.ctid, "web");
  EXPECT_EQ(parse_node("/.proc/101/user_beancounters").kind, Node::kProcUbc);
  EXPECT_EQ(parse_node("/.proc/101/.real").kind, Node::kProcReal);
  Node l = parse_node("/.proc/101/uptime");
  EXPECT_EQ(l.kind, Node::kProcLink);
  EXPECT_EQ(l.ctid, "101");
  EXPECT_EQ(l.name, "uptime");
  EXPECT_EQ(parse_node("/.proc/101/4242").name, "4242");
}

TEST(ProcViewTest, RefusesWhatIsNotThere) {
  for (const char* p :
       {"", "101", "/.hidden", "/.proc/.x", "/.proc/101/self/fd", "/.proc/101/.real/1", "/101/x",
        "//", "/.proc//x", "/.proc/101/", "/.proc/101/.."}) {
    Node n = parse_node(p);
    EXPECT_EQ(n.kind, Node::kNone) << p;
    EXPECT_TRUE(n.ctid.empty()) << p;
  }
}

TEST(ProcViewTest, PidNamesAreDecimalWithoutLeadingZero) {
  EXPECT_TRUE(is_pid_name("1"));
  EXPECT_TRUE(is_pid_name("4194304"));
  for (const char* s : {"", "0", "01", "1a", "self", "-1", "12345678901"})
    EXPECT_FALSE(is_pid_name(s)) << s;
}

TEST(ProcViewTest, LinksPointIntoTheRealProcfs) {
  EXPECT_EQ(link_target("self"), ".real/self");
  EXPECT_EQ(link_target("17"), ".real/17");
  EXPECT_EQ(proc_view_dir("/run/berth/ubcfs", "101"), "/run/berth/ubcfs/.proc/101");
}

}  // namespace
}  // namespace berth::ubc
