// ConfFile edge cases: round trips, comments, duplicates, malformed lines, atomic save, symlinks,
// and expand_veid().
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/conf_file.h"

namespace berth {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth_conf_test.XXXXXX";
    char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) { std::ofstream(path) << data; }

TEST(ConfFileParse, RoundTripIsExact) {
  const std::string text =
      "# Copyright header\n"
      "#\n"
      "\n"
      "ONBOOT=\"yes\"\n"
      "  # indented comment\n"
      "PHYSPAGES=\"0:262144\"\n"
      "VE_ROOT=\"/vz/root/$VEID\"\n"
      "WEIRD = \"spaced\"\n"
      "this line is not a key\n";
  auto f = ConfFile::parse(text);
  EXPECT_EQ(f.text(), text);
  EXPECT_EQ(f.get("ONBOOT"), "yes");
  EXPECT_EQ(f.get("VE_ROOT"), "/vz/root/$VEID");
  EXPECT_EQ(f.get("WEIRD"), "spaced");
}

TEST(ConfFileParse, MissingTrailingNewlineIsAdded) {
  auto f = ConfFile::parse("A=\"1\"");
  EXPECT_EQ(f.get("A"), "1");
  EXPECT_EQ(f.text(), "A=\"1\"\n");
}

TEST(ConfFileParse, CrLfIsTolerated) {
  auto f = ConfFile::parse("A=\"1\"\r\nB=2\r\n");
  EXPECT_EQ(f.get("A"), "1");
  EXPECT_EQ(f.get("B"), "2");
}

TEST(ConfFileParse, EmptyFile) {
  auto f = ConfFile::parse("");
  EXPECT_TRUE(f.keys().empty());
  EXPECT_EQ(f.text(), "");
  f.set("A", "b");
  EXPECT_EQ(f.text(), "A=\"b\"\n");
}

TEST(ConfFileParse, UnquotedValues) {
  auto f = ConfFile::parse("A=plain\nB=\nC=\"\"\nD=val # comment\nE=a#b\n");
  EXPECT_EQ(f.get("A"), "plain");
  EXPECT_EQ(f.get("B"), "");
  EXPECT_EQ(f.get("C"), "");
  EXPECT_EQ(f.get("D"), "val");
  // As in the shell (and vzctl, which takes the rest of the line), `#` inside a word is no comment.
  EXPECT_EQ(f.get("E"), "a#b");
}

TEST(ConfFileParse, QuotedValueRunsToLastQuote) {
  auto f = ConfFile::parse("D=\"a \"b\" c\" # trailing\nE=\"x # not a comment\"\n");
  EXPECT_EQ(f.get("D"), "a \"b\" c");
  EXPECT_EQ(f.get("E"), "x # not a comment");
}

TEST(ConfFileParse, DuplicateKeysFirstWins) {
  auto f = ConfFile::parse("A=\"1\"\nB=\"x\"\nA=\"2\"\nA=\"3\"\n");
  EXPECT_EQ(f.get("A"), "1");
  EXPECT_EQ(f.duplicate_keys(), std::vector<std::string>{"A"});
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"A", "B"}));
}

TEST(ConfFileParse, SetReplacesFirstAndDropsLaterDuplicates) {
  auto f = ConfFile::parse("A=\"1\"\nB=\"x\"\nA=\"2\"\n");
  f.set("A", "9");
  EXPECT_EQ(f.text(), "A=\"9\"\nB=\"x\"\n");
  EXPECT_TRUE(f.duplicate_keys().empty());
}

TEST(ConfFileParse, MalformedLinesKeptVerbatim) {
  const std::string text = "=novalue\nNOEQUALS\nBAD KEY=\"x\"\nQ=\"unterminated\nK-Y=1\nOK=\"1\"\n";
  auto f = ConfFile::parse(text);
  EXPECT_EQ(f.malformed_lines(), (std::vector<std::string>{"=novalue", "NOEQUALS", "BAD KEY=\"x\"",
                                                           "Q=\"unterminated", "K-Y=1"}));
  EXPECT_FALSE(f.has("Q"));
  EXPECT_EQ(f.get("OK"), "1");
  f.set("OK", "2");
  EXPECT_EQ(f.text(), "=novalue\nNOEQUALS\nBAD KEY=\"x\"\nQ=\"unterminated\nK-Y=1\nOK=\"2\"\n");
}

TEST(ConfFileParse, CommentedOutKeyIsNotAKey) {
  auto f = ConfFile::parse("#A=\"1\"\n");
  EXPECT_FALSE(f.has("A"));
  f.set("A", "2");
  EXPECT_EQ(f.text(), "#A=\"1\"\nA=\"2\"\n");
}

TEST(ConfFileParse, EraseRemovesAllLinesOfKeyOnly) {
  auto f = ConfFile::parse("# c\nA=\"1\"\nB=\"2\"\nA=\"3\"\n");
  f.erase("A");
  EXPECT_EQ(f.text(), "# c\nB=\"2\"\n");
  f.erase("MISSING");
  EXPECT_EQ(f.text(), "# c\nB=\"2\"\n");
}

TEST(ConfFileParse, GetOr) {
  auto f = ConfFile::parse("A=\"\"\n");
  EXPECT_EQ(f.get_or("A", "x"), "");
  EXPECT_EQ(f.get_or("B", "x"), "x");
}

TEST(ConfFileParse, FormatLine) { EXPECT_EQ(format_conf_line("K", "a b"), "K=\"a b\""); }

TEST(ConfFileSave, AtomicSaveLeavesNoTmp) {
  TempDir d;
  std::string path = d.path() + "/101.conf";
  write_file(path, "# keep me\nA=\"1\"\n");
  auto f = ConfFile::load(path);
  ASSERT_TRUE(f.ok());
  f->set("A", "2");
  ASSERT_TRUE(f->save(path).ok());
  EXPECT_EQ(read_file(path), "# keep me\nA=\"2\"\n");
  EXPECT_EQ(d.entries(), std::vector<std::string>{"101.conf"});
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(ConfFileSave, ModeIsApplied) {
  TempDir d;
  std::string path = d.path() + "/x.conf";
  ASSERT_TRUE(ConfFile::parse("A=1\n").save(path, 0600).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(ConfFileSave, SaveThroughSymlinkKeepsTheLink) {
  TempDir d;
  std::string real = d.path() + "/real.conf", link = d.path() + "/101.conf";
  write_file(real, "A=\"1\"\n");
  ASSERT_EQ(::symlink("real.conf", link.c_str()), 0);
  auto f = ConfFile::load(link);
  ASSERT_TRUE(f.ok());
  f->set("A", "2");
  ASSERT_TRUE(f->save(link).ok());
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(read_file(real), "A=\"2\"\n");
  EXPECT_EQ(d.entries(), (std::vector<std::string>{"101.conf", "real.conf"}));
}

TEST(ConfFileSave, SaveIntoMissingDirectoryFails) {
  TempDir d;
  auto st = ConfFile::parse("A=1\n").save(d.path() + "/nope/x.conf");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ENOENT);
  EXPECT_NE(st.error().message().find("nope/x.conf.tmp"), std::string::npos);
}

TEST(ConfFileSave, StaleTmpIsReplaced) {
  TempDir d;
  std::string path = d.path() + "/x.conf";
  write_file(path + ".tmp", "garbage from a crash\n");
  ASSERT_TRUE(ConfFile::parse("A=1\n").save(path).ok());
  EXPECT_EQ(read_file(path), "A=1\n");
  EXPECT_EQ(d.entries(), std::vector<std::string>{"x.conf"});
}

TEST(ConfFileLoad, MissingFileIsEnoent) {
  TempDir d;
  auto f = ConfFile::load(d.path() + "/missing.conf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), ENOENT);
}

TEST(ConfFileLoad, LoadSaveRoundTripOfASample) {
  TempDir d;
  const std::string text =
      "# This config is only valid for decent VSwap-enabled kernel\n\n"
      "# RAM\nPHYSPAGES=\"0:65536\"\n\n# Swap\nSWAPPAGES=\"0:131072\"\n";
  std::string path = d.path() + "/ve-x.conf-sample";
  write_file(path, text);
  auto f = ConfFile::load(path);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->save(path).ok());
  EXPECT_EQ(read_file(path), text);
}

TEST(WriteFileAtomic, WritesExactBytes) {
  TempDir d;
  std::string path = d.path() + "/f";
  std::string data("a\0b\n", 4);
  ASSERT_TRUE(write_file_atomic(path, data).ok());
  EXPECT_EQ(read_file(path), data);
}

TEST(WriteRunFile, ReplacesWithModeAndLeavesNoTemporary) {
  TempDir d;
  std::string path = d.path() + "/state";
  ASSERT_TRUE(write_run_file(path, "old\n", 0600).ok());
  ASSERT_TRUE(write_run_file(path, "new\n", 0600).ok());
  EXPECT_EQ(read_file(path), "new\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  // A symlink at the temporary name is not followed (O_NOFOLLOW): the write fails instead.
  ASSERT_EQ(::symlink((d.path() + "/elsewhere").c_str(), (path + ".tmp").c_str()), 0);
  EXPECT_FALSE(write_run_file(path, "x\n").ok());
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/elsewhere"));
  EXPECT_EQ(read_file(path), "new\n");
}

TEST(ExpandVeid, Forms) {
  EXPECT_EQ(expand_veid("/vz/root/$VEID", "101"), "/vz/root/101");
  EXPECT_EQ(expand_veid("/vz/root/${VEID}", "101"), "/vz/root/101");
  EXPECT_EQ(expand_veid("/vz/$VEID/x/$VEID", "7"), "/vz/7/x/7");
  EXPECT_EQ(expand_veid("/vz/root/$VEIDX", "101"), "/vz/root/$VEIDX");  // another variable
  EXPECT_EQ(expand_veid("/vz/root/$VEID.d", "101"), "/vz/root/101.d");
  EXPECT_EQ(expand_veid("/vz/private/", "101"), "/vz/private");
  EXPECT_EQ(expand_veid("/vz//", "101"), "/vz");
  EXPECT_EQ(expand_veid("/", "101"), "/");
  EXPECT_EQ(expand_veid("", "101"), "");
  EXPECT_EQ(expand_veid("$VEID", "101"), "101");
  EXPECT_EQ(expand_veid("${VEID", "101"), "${VEID");
}

}  // namespace
}  // namespace berth
