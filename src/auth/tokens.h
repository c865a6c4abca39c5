// auth/tokens: the instance's API credentials (berthd's tokens and panel users), shared by the
// `berth token` command and berthd.
//
// A token is "bt_" + 64 hex digits (256 random bits from getrandom). Only its SHA-256 is stored,
// in <etc>/berthd/tokens.json (0600, directory 0700); the token itself is printed once by
// `berth token create` and never again. A token is either admin (every CT, host endpoints) or
// scoped to a list of CTIDs. A token may also carry a password (PBKDF2-HMAC-SHA256, 16-byte salt,
// 100000 rounds), so the panel can log in with the token's name and that password instead of the
// token. Writers take an flock on <etc>/berthd/tokens.lock; the file is replaced atomically, so a
// reader (berthd, on every change of its mtime) never sees half of it.
//
// Pure except for load/save/random: parsing, hashing and checking are unit-tested.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"

namespace berth::auth {

struct TokenEntry {
  std::string name;              // [a-z0-9_.-]{1,64}, starts with a letter or digit
  std::string hash;              // hex SHA-256 of the token
  bool admin = false;            // every CT and the host endpoints
  std::vector<std::string> cts;  // CTIDs the token may see (admin: empty)
  std::string pw_salt, pw_hash;  // hex; empty: no password login
  int64_t created = 0;           // unix seconds
};

// Who a request acts as, once authenticated.
struct Principal {
  std::string user;  // token name; "root" for the unix socket
  bool admin = false;
  std::vector<std::string> cts;
  bool may_see(std::string_view ctid) const;
};

// "bt_" + 64 lowercase hex digits.
bool is_token_syntax(std::string_view token);
bool is_valid_name(std::string_view name);
// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);
// PBKDF2-HMAC-SHA256 of password with the hex salt, lowercase hex.
std::string password_hash(std::string_view password, std::string_view salt_hex);
// Compare two strings in time independent of where they differ.
bool equal_const_time(std::string_view a, std::string_view b);
// n random bytes as lowercase hex (getrandom).
Result<std::string> random_hex(size_t n);

// Parse a "--ct 101,102" list: CTIDs (core's rule), at least one, no duplicates kept.
Result<std::vector<std::string>> parse_ct_list(std::string_view list);

class TokenStore {
 public:
  // <etc>/berthd/tokens.json
  static std::string path(const HostConfig& host);
  // Read the store (absent: empty). A malformed file is an error (exit 3), never ignored.
  static Result<TokenStore> load(const std::string& path);
  static Result<TokenStore> parse(std::string_view json_text);
  std::string to_json() const;

  const std::vector<TokenEntry>& entries() const { return entries_; }
  const TokenEntry* find(std::string_view name) const;
  // The entry whose hash is that of token (constant-time compare per entry); nullptr otherwise.
  const TokenEntry* by_token(std::string_view token) const;
  // The entry named user whose password is password; nullptr otherwise.
  const TokenEntry* by_password(std::string_view user, std::string_view password) const;

  // Add an entry with a fresh token; returns the token. Exit 21 for a bad name or an existing one.
  Result<std::string> add(const std::string& name, bool admin, std::vector<std::string> cts,
                          const std::optional<std::string>& password);
  bool remove(std::string_view name);

 private:
  std::vector<TokenEntry> entries_;
};

// Lock the store, load it, apply fn, save it (0600). For the CLI.
Status modify_store(const HostConfig& host, const std::function<Status(TokenStore&)>& fn);

Principal principal_of(const TokenEntry& e);

}  // namespace berth::auth
