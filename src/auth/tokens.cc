#include "auth/tokens.h"

#include <nettle/pbkdf2.h>
#include <nettle/sha2.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/conf_file.h"
#include "core/ct_config.h"
#include "core/exit_codes.h"
#include "sys/fs.h"
#include "sys/lock.h"

namespace berth::auth {
namespace {

constexpr int kPbkdf2Rounds = 100000;
constexpr size_t kShownMax = 64;  // of a bad value quoted in a message
constexpr std::string_view kPrefix = "bt_";

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[p[i] >> 4]);
    s.push_back(kDigits[p[i] & 15]);
  }
  return s;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Error bad_store(const std::string& why) {
  return Error::with_status(exitcode::kSystem, "token store: " + why);
}

}  // namespace

bool Principal::may_see(std::string_view ctid) const {
  return admin || std::find(cts.begin(), cts.end(), ctid) != cts.end();
}

bool is_token_syntax(std::string_view token) {
  return token.size() == kPrefix.size() + 64 && token.substr(0, kPrefix.size()) == kPrefix &&
         is_hex(token.substr(kPrefix.size()));
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return false;
  }
  return name != "root";  // the unix socket's principal
}

std::string sha256_hex(std::string_view data) {
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t md[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof md, md);
  return to_hex(md, sizeof md);
}

std::string password_hash(std::string_view password, std::string_view salt_hex) {
  uint8_t out[32];
  pbkdf2_hmac_sha256(password.size(), reinterpret_cast<const uint8_t*>(password.data()),
                     kPbkdf2Rounds, salt_hex.size(),
                     reinterpret_cast<const uint8_t*>(salt_hex.data()), sizeof out, out);
  return to_hex(out, sizeof out);
}

bool equal_const_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Result<std::string> random_hex(size_t n) {
  std::string buf(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(buf.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "getrandom");
    }
    got += static_cast<size_t>(r);
  }
  return to_hex(reinterpret_cast<const unsigned char*>(buf.data()), n);
}

Result<std::vector<std::string>> parse_ct_list(std::string_view list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(pos, comma - pos);
    auto id = validate_ctid(item);
    if (!id.ok()) {
      std::string shown(item.substr(0, kShownMax));
      return Error::with_status(exitcode::kBadValue, "--ct: invalid CTID `" + shown + "`");
    }
    if (std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(*id);
    pos = comma + 1;
  }
  if (out.empty()) return Error::with_status(exitcode::kBadValue, "--ct: no CTID");
  return out;
}

std::string TokenStore::path(const HostConfig& host) {
  return host.paths().etc + "/berthd/tokens.json";
}

Result<TokenStore> TokenStore::parse(std::string_view text) {
  TokenStore s;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("tokens") || !j["tokens"].is_array())
    return bad_store("not a token list");
  for (const auto& t : j["tokens"]) {
    if (!t.is_object()) return bad_store("entry is not an object");
    TokenEntry e;
    auto str = [&](const char* k) {
      return t.contains(k) && t[k].is_string() ? t[k].get<std::string>() : std::string();
    };
    e.name = str("name");
    e.hash = str("sha256");
    e.pw_salt = str("pw_salt");
    e.pw_hash = str("pw_hash");
    e.admin = t.value("admin", false);
    e.created =
        t.contains("created") && t["created"].is_number_integer() ? t["created"].get<int64_t>() : 0;
    if (t.contains("cts") && t["cts"].is_array())
      for (const auto& c : t["cts"])
        if (c.is_string() && validate_ctid(c.get<std::string>()).ok())
          e.cts.push_back(c.get<std::string>());
    if (!is_valid_name(e.name) || e.hash.size() != 64 || !is_hex(e.hash))
      return bad_store("bad entry `" + e.name.substr(0, 64) + "`");
    if (e.admin) e.cts.clear();
    s.entries_.push_back(std::move(e));
  }
  return s;
}

std::string TokenStore::to_json() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : entries_) {
    nlohmann::json t{{"name", e.name},
                     {"sha256", e.hash},
                     {"admin", e.admin},
                     {"cts", e.cts},
                     {"created", e.created}};
    if (!e.pw_hash.empty()) {
      t["pw_salt"] = e.pw_salt;
      t["pw_hash"] = e.pw_hash;
    }
    arr.push_back(std::move(t));
  }
  return nlohmann::json{{"tokens", arr}}.dump(2) + "\n";
}

Result<TokenStore> TokenStore::load(const std::string& path) {
  auto text = sys::read_file(path);
  if (!text.ok()) {
    if (text.error().code() == ENOENT) return TokenStore();
    return std::move(text).error();
  }
  return parse(*text);
}

const TokenEntry* TokenStore::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const TokenEntry* TokenStore::by_token(std::string_view token) const {
  if (!is_token_syntax(token)) return nullptr;
  std::string h = sha256_hex(token);
  const TokenEntry* found = nullptr;
  for (const auto& e : entries_)
    if (equal_const_time(e.hash, h)) found = &e;
  return found;
}

const TokenEntry* TokenStore::by_password(std::string_view user, std::string_view password) const {
  const TokenEntry* e = find(user);
  if (!e || e->pw_hash.empty()) {
    // The same work for an unknown user, so timing does not tell which users exist.
    (void)password_hash(password, "0000000000000000");
    return nullptr;
  }
  return equal_const_time(password_hash(password, e->pw_salt), e->pw_hash) ? e : nullptr;
}

Result<std::string> TokenStore::add(const std::string& name, bool admin,
                                    std::vector<std::string> cts,
                                    const std::optional<std::string>& password) {
  if (!is_valid_name(name)) {
    std::string shown = name.substr(0, kShownMax);
    return Error::with_status(exitcode::kBadValue, "invalid token name `" + shown +
                                                       "` (a-z, 0-9, '_', '.', '-', at most " +
                                                       "64 characters, not `root`)");
  }
  if (find(name)) return Error::with_status(exitcode::kBadValue, "token `" + name + "` exists");
  if (!admin && cts.empty())
    return Error::with_status(exitcode::kBadArgument, "a token needs --ct LIST or --admin");
  if (password && (password->size() < 8 || password->size() > 1024))
    return Error::with_status(exitcode::kBadValue, "a password needs 8 to 1024 characters");
  BERTH_ASSIGN_OR_RETURN(std::string raw, random_hex(32));
  std::string token = std::string(kPrefix) + raw;
  TokenEntry e;
  e.name = name;
  e.hash = sha256_hex(token);
  e.admin = admin;
  if (!admin) e.cts = std::move(cts);
  e.created = static_cast<int64_t>(std::time(nullptr));
  if (password) {
    BERTH_ASSIGN_OR_RETURN(e.pw_salt, random_hex(16));
    e.pw_hash = password_hash(*password, e.pw_salt);
  }
  entries_.push_back(std::move(e));
  return token;
}

bool TokenStore::remove(std::string_view name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const TokenEntry& e) { return e.name == name; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

Status modify_store(const HostConfig& host, const std::function<Status(TokenStore&)>& fn) {
  std::string file = TokenStore::path(host);
  std::string dir = file.substr(0, file.rfind('/'));
  BERTH_RETURN_IF_ERROR(make_dirs(dir, 0700));
  if (::chmod(dir.c_str(), 0700) != 0) return Error::from_errno(errno, "chmod `" + dir + "`");
  BERTH_ASSIGN_OR_RETURN(auto lock, sys::FileLock::acquire(dir + "/tokens.lock", true, "tokens"));
  BERTH_ASSIGN_OR_RETURN(TokenStore store, TokenStore::load(file));
  BERTH_RETURN_IF_ERROR(fn(store));
  return write_file_atomic(file, store.to_json(), 0600);
}

Principal principal_of(const TokenEntry& e) { return Principal{e.name, e.admin, e.cts}; }

}  // namespace berth::auth
