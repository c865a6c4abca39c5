// auth/tokens: token syntax, hashing, the store's file format, lookups by token and password.
#include "auth/tokens.h"

#include <gtest/gtest.h>

namespace berth::auth {
namespace {

TEST(Tokens, Sha256OfKnownInput) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// PBKDF2-HMAC-SHA256, 100000 rounds, over the salt's hex text: the value every earlier version
// stored (computed by Python's hashlib.pbkdf2_hmac), so stored password hashes still verify.
TEST(Tokens, PasswordHashIsPbkdf2HmacSha256) {
  EXPECT_EQ(password_hash("correct horse battery", "00112233445566778899aabbccddeeff"),
            "c30974cb420e18f3c3ff88586a436237fb206de996b1c6c6c16a46d32e7fc2f7");
}

// SHA-256 over more than one block, as the backup store's chunks are.
TEST(Tokens, Sha256OfLongInput) {
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Tokens, Syntax) {
  std::string good = "bt_" + std::string(64, 'a');
  EXPECT_TRUE(is_token_syntax(good));
  EXPECT_FALSE(is_token_syntax("bt_" + std::string(63, 'a')));
  EXPECT_FALSE(is_token_syntax("bt_" + std::string(65, 'a')));
  EXPECT_FALSE(is_token_syntax("xx_" + std::string(64, 'a')));
  EXPECT_FALSE(is_token_syntax("bt_" + std::string(63, 'a') + "G"));
  EXPECT_FALSE(is_token_syntax("bt_" + std::string(63, 'a') + "A")) << "lowercase only";
  EXPECT_FALSE(is_token_syntax(std::string("bt_") + std::string(63, 'a') + '\0'));
  EXPECT_FALSE(is_token_syntax(""));
}

TEST(Tokens, Names) {
  EXPECT_TRUE(is_valid_name("alice"));
  EXPECT_TRUE(is_valid_name("ops-2.a_b"));
  EXPECT_FALSE(is_valid_name(""));
  EXPECT_FALSE(is_valid_name("root")) << "the unix socket's principal";
  EXPECT_FALSE(is_valid_name("-x"));
  EXPECT_FALSE(is_valid_name("Alice"));
  EXPECT_FALSE(is_valid_name("a b"));
  EXPECT_FALSE(is_valid_name("a/b"));
  EXPECT_FALSE(is_valid_name(std::string(65, 'a')));
}

TEST(Tokens, CtLists) {
  auto l = parse_ct_list("101,102,101");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (std::vector<std::string>{"101", "102"}));
  EXPECT_FALSE(parse_ct_list("").ok());
  EXPECT_FALSE(parse_ct_list("101,").ok());
  EXPECT_FALSE(parse_ct_list("1").ok()) << "CTIDs below 101 are reserved";
  EXPECT_FALSE(parse_ct_list("101;102").ok());
  EXPECT_FALSE(parse_ct_list("0101").ok());
  EXPECT_EQ(parse_ct_list("x").error().exit_status(), 21);
}

TEST(Tokens, RandomHexIsFreshAndLongEnough) {
  auto a = random_hex(32), b = random_hex(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64U);
  EXPECT_NE(*a, *b);
}

TEST(Tokens, StoreAddFindRemoveRoundTrip) {
  TokenStore s;
  auto t1 = s.add("alice", false, {"101"}, std::string("correct horse"));
  ASSERT_TRUE(t1.ok());
  EXPECT_TRUE(is_token_syntax(*t1));
  auto t2 = s.add("ops", true, {"999"}, std::nullopt);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(s.add("alice", true, {}, std::nullopt).error().exit_status(), 21) << "exists";
  EXPECT_EQ(s.add("bob", false, {}, std::nullopt).error().exit_status(), 20) << "no scope";
  EXPECT_FALSE(s.add("bob", false, {"101"}, std::string("short")).ok());
  EXPECT_FALSE(s.add("Bad Name", true, {}, std::nullopt).ok());

  // Only hashes are stored; the token is nowhere in the file.
  std::string text = s.to_json();
  EXPECT_EQ(text.find(*t1), std::string::npos);
  EXPECT_NE(text.find(sha256_hex(*t1)), std::string::npos);
  EXPECT_EQ(text.find("correct horse"), std::string::npos);

  auto back = TokenStore::parse(text);
  ASSERT_TRUE(back.ok());
  const TokenEntry* a = back->by_token(*t1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "alice");
  EXPECT_EQ(a->cts, std::vector<std::string>{"101"});
  const TokenEntry* o = back->by_token(*t2);
  ASSERT_NE(o, nullptr);
  EXPECT_TRUE(o->admin);
  EXPECT_TRUE(o->cts.empty()) << "an admin token has no CT list";
  EXPECT_EQ(back->by_token("bt_" + std::string(64, '0')), nullptr);
  EXPECT_EQ(back->by_token(sha256_hex(*t1)), nullptr) << "the stored hash is no token";

  EXPECT_NE(back->by_password("alice", "correct horse"), nullptr);
  EXPECT_EQ(back->by_password("alice", "correct horsE"), nullptr);
  EXPECT_EQ(back->by_password("ops", ""), nullptr) << "no password set";
  EXPECT_EQ(back->by_password("nobody", "correct horse"), nullptr);

  EXPECT_TRUE(back->remove("alice"));
  EXPECT_FALSE(back->remove("alice"));
  EXPECT_EQ(back->by_token(*t1), nullptr);
}

TEST(Tokens, MalformedStoresAreErrors) {
  EXPECT_FALSE(TokenStore::parse("").ok());
  EXPECT_FALSE(TokenStore::parse("[]").ok());
  EXPECT_FALSE(TokenStore::parse(R"({"tokens":[{"name":"a","sha256":"xyz"}]})").ok());
  EXPECT_FALSE(
      TokenStore::parse(R"({"tokens":[{"name":"../x","sha256":")" + std::string(64, 'a') + "\"}]}")
          .ok());
  auto ok = TokenStore::parse(R"({"tokens":[]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->entries().empty());
}

TEST(Tokens, PrincipalScope) {
  Principal alice{"alice", false, {"101", "102"}};
  EXPECT_TRUE(alice.may_see("101"));
  EXPECT_FALSE(alice.may_see("103"));
  EXPECT_FALSE(alice.may_see("1010"));
  EXPECT_FALSE(alice.may_see(""));
  Principal ops{"ops", true, {}};
  EXPECT_TRUE(ops.may_see("4242"));
}

TEST(Tokens, ConstantTimeCompare) {
  EXPECT_TRUE(equal_const_time("abc", "abc"));
  EXPECT_FALSE(equal_const_time("abc", "abd"));
  EXPECT_FALSE(equal_const_time("abc", "ab"));
  EXPECT_TRUE(equal_const_time("", ""));
}

}  // namespace
}  // namespace berth::auth
