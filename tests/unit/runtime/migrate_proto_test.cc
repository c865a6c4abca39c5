#include "runtime/migrate_proto.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace berth::runtime::mig {
namespace {

TEST(MigrateProto, FrameEncoding) {
  std::string f = encode_frame(Frame::kData, "abc");
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0], 'D');
  EXPECT_EQ(f.substr(1, 4), std::string("\0\0\0\3", 4));
  EXPECT_EQ(f.substr(5), "abc");
}

TEST(MigrateProto, FramesRoundTripThroughAPipe) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_TRUE(write_frame(p[1], Frame::kReply, encode_reply(9, "CT 7 exists")).ok());
  ASSERT_TRUE(write_frame(p[1], Frame::kEnd, "").ok());
  ::close(p[1]);
  auto r = read_frame(p[0]);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, Frame::kReply);
  auto [code, msg] = parse_reply(r->payload);
  EXPECT_EQ(code, 9);
  EXPECT_EQ(msg, "CT 7 exists");
  r = read_frame(p[0]);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, Frame::kEnd);
  r = read_frame(p[0]);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ECONNRESET);
  ::close(p[0]);
}

TEST(MigrateProto, HostileFramesRefused) {
  for (std::string bad : {std::string("Z\0\0\0\0", 5), std::string("D\x7f\xff\xff\xff", 5),
                          std::string("D\0\0\0\x09"
                                      "abc",
                                      8)}) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    ASSERT_EQ(::write(p[1], bad.data(), bad.size()), static_cast<ssize_t>(bad.size()));
    ::close(p[1]);
    auto r = read_frame(p[0]);
    EXPECT_FALSE(r.ok()) << bad;
    ::close(p[0]);
  }
}

TEST(MigrateProto, HelloRoundTripAndRefusals) {
  Hello h{kProtocol, "0.1.0", "7101", "offline", true};
  auto back = parse_hello(encode_hello(h));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->ctid, "7101");
  EXPECT_EQ(back->mode, "offline");
  EXPECT_TRUE(back->keep_dst);
  EXPECT_FALSE(parse_hello("protocol=1\nctid=../etc\nmode=offline\n").ok());
  EXPECT_FALSE(parse_hello("protocol=1\nctid=7101\nmode=rm -rf\n").ok());
  EXPECT_FALSE(parse_hello("protocol=1\nctid=7101\n").ok());
  EXPECT_FALSE(parse_hello("protocol=x\nctid=7101\nmode=check\n").ok());
  EXPECT_FALSE(parse_hello("protocol=1\nctid=7101\nmode=check").ok());
}

TEST(MigrateProto, DumpFileNames) {
  EXPECT_TRUE(is_dump_file_name("pre1/pages-1.img"));
  EXPECT_TRUE(is_dump_file_name("final/inventory.img"));
  EXPECT_FALSE(is_dump_file_name("../x"));
  EXPECT_FALSE(is_dump_file_name("pre1/../../etc/passwd"));
  EXPECT_FALSE(is_dump_file_name("pre1/.hidden"));
  EXPECT_FALSE(is_dump_file_name("/abs/x"));
  EXPECT_FALSE(is_dump_file_name("onlyname"));
  EXPECT_FALSE(is_dump_file_name("a/b/c"));
  EXPECT_EQ(parse_reply("garbage").first, -1);
}

TEST(MigrateProto, SshWordsSplitLikeAShell) {
  auto w = split_words("-p 2222  -o \"SetEnv=A=1 B=2\" -i 'my key' a\\ b");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(
      *w, (std::vector<std::string>{"-p", "2222", "-o", "SetEnv=A=1 B=2", "-i", "my key", "a b"}));
  EXPECT_TRUE(split_words("")->empty());
  EXPECT_EQ(*split_words("''"), std::vector<std::string>{""});
  EXPECT_FALSE(split_words("-o 'open").ok());
}

}  // namespace
}  // namespace berth::runtime::mig
