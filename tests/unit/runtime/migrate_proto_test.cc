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

// A snapshot's header (kSnapshot): a lower-case uuid and its config; any other name is refused
// (it becomes a path on the destination).
TEST(MigrateProto, SnapshotHeaders) {
  const std::string u = "0b3c6a5e-1111-4222-8333-944445555666";
  auto plain = parse_snapshot_header(encode_snapshot_header({u, "", false}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->uuid, u);
  EXPECT_FALSE(plain->has_config);
  auto with = parse_snapshot_header(encode_snapshot_header({u, "A=\"1\"\nB=\"2\"\n", true}));
  ASSERT_TRUE(with.ok());
  EXPECT_TRUE(with->has_config);
  EXPECT_EQ(with->conf, "A=\"1\"\nB=\"2\"\n");
  auto empty_conf = parse_snapshot_header(u + "\n");
  ASSERT_TRUE(empty_conf.ok());
  EXPECT_TRUE(empty_conf->has_config);
  for (const std::string& bad :
       {std::string(""), std::string(".."), std::string("../../etc/passwd"), u + ".img",
        std::string("0B3C6A5E-1111-4222-8333-944445555666"), u.substr(0, 35) + "/",
        std::string("{") + u + "}", u + "/x\nA=1"}) {
    auto r = parse_snapshot_header(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().exit_status(), 1);
    }
  }
  EXPECT_FALSE(parse_snapshot_header(u + "\n" + std::string((1u << 20) + 1, 'x')).ok());
  // A disk image's: its size and inodes, bounded.
  SnapshotHeader img{u, "X=1\n", true, 256u << 20, 65536};
  auto back = parse_snapshot_header(encode_snapshot_header(img));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->uuid, u);
  EXPECT_EQ(back->image_bytes, 256u << 20);
  EXPECT_EQ(back->image_inodes, 65536u);
  EXPECT_EQ(back->conf, "X=1\n");
  for (const std::string& bad :
       {u + ".img", u + ".img 1048576", u + " 1048576 10", u + ".img 1024 10",
        u + ".img 1048576 -1", u + ".img 99999999999999999999 1", u + ".img 1048576 4294967297",
        u + ".img 1048576 1 2", std::string("../x.img 1048576 1")})
    EXPECT_FALSE(parse_snapshot_header(bad).ok()) << bad;
}

}  // namespace
}  // namespace berth::runtime::mig
