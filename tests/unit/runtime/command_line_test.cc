#include "runtime/command_line.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

using Words = std::vector<std::string>;

TEST(SimpleCommand, PlainWordsAreRunDirectly) {
  EXPECT_EQ(simple_command("/bin/true"), Words{"/bin/true"});
  EXPECT_EQ(simple_command("ls -la /etc"), (Words{"ls", "-la", "/etc"}));
  EXPECT_EQ(simple_command("  ip  -4 addr show dev eth0 "),
            (Words{"ip", "-4", "addr", "show", "dev", "eth0"}));
  EXPECT_EQ(simple_command("useradd -m -G users,adm alice@x.y"),
            (Words{"useradd", "-m", "-G", "users,adm", "alice@x.y"}));
  EXPECT_EQ(simple_command("date +%s"), (Words{"date", "+%s"}));
  EXPECT_EQ(simple_command("env A=1"), (Words{"env", "A=1"}));  // an argument, not an assignment
}

TEST(SimpleCommand, AnythingTheShellWouldInterpretGoesToTheShell) {
  for (const char* s :
       {"echo $HOME", "ls *",       "a; b",       "a && b",    "a | b",      "a > /tmp/x",
        "a < /x",     "echo 'x y'", "echo \"x\"", "echo `id`", "echo $(id)", "a &",
        "ls ~",       "ls ~/x",     "(a)",        "a\\ b",     "ls [ab]",    "ls a?",
        "echo a\tb",  "echo a\nb",  "x#y",        "!x",        "ls {a,b}"})
    EXPECT_EQ(simple_command(s), std::nullopt) << s;
}

TEST(SimpleCommand, ShellBuiltinsAndKeywordsAndAssignmentsGoToTheShell) {
  for (const char* s : {"cd /tmp", "exit 3", "export A=1", "A=1 env", "A=1", "source /etc/profile",
                        ". /etc/profile", "set -e", "ulimit -n", "umask", "time ls", "if",
                        "exec ls", "eval ls", "read x", "type ls", "-", "..", "--"})
    EXPECT_EQ(simple_command(s), std::nullopt) << s;
}

TEST(SimpleCommand, EmptyGoesToTheShell) {
  EXPECT_EQ(simple_command(""), std::nullopt);
  EXPECT_EQ(simple_command("   "), std::nullopt);
}

}  // namespace
}  // namespace berth::runtime
