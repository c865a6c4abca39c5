// token create|list|delete: berthd's API credentials (auth/tokens.h; docs/api.md).
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "auth/tokens.h"
#include "cli/cli.h"
#include "core/exit_codes.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) {
  return Error::with_status(exitcode::kBadArgument, what);
}

constexpr const char* kUsage =
    "token create NAME (--ct CTID[,CTID...] | --admin) [--password]   token list [-j]   "
    "token delete NAME";

// --password: the password is read from stdin (one line), never from argv (ps would show it).
Result<std::string> read_password() {
  if (::isatty(0)) std::fprintf(stderr, "Password: ");
  std::string line;
  if (!std::getline(std::cin, line))
    return usage_error("token create: --password: no password on stdin");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

int token_create(const Invocation& inv, const HostConfig& host) {
  if (inv.args.size() < 2) return report(inv, usage_error(kUsage));
  std::string name = inv.args[1];
  bool admin = false, with_password = false;
  std::vector<std::string> cts;
  for (size_t i = 2; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--admin") {
      admin = true;
    } else if (a == "--password") {
      with_password = true;
    } else if (a == "--ct" && i + 1 < inv.args.size()) {
      auto list = auth::parse_ct_list(inv.args[++i]);
      if (!list.ok()) return report(inv, list.error());
      cts.insert(cts.end(), list->begin(), list->end());
    } else {
      return report(inv, usage_error("token create: invalid option `" + a + "`"));
    }
  }
  if (admin && !cts.empty())
    return report(inv, usage_error("token create: --admin and --ct exclude each other"));
  std::optional<std::string> password;
  if (with_password) {
    auto pw = read_password();
    if (!pw.ok()) return report(inv, pw.error());
    password = *pw;
  }
  std::string token;
  auto st = auth::modify_store(host, [&](auth::TokenStore& s) -> Status {
    BERTH_ASSIGN_OR_RETURN(token, s.add(name, admin, cts, password));
    return {};
  });
  if (!st.ok()) return report(inv, Error(st.error()).context("token create " + name));
  // The only time the token is shown: only its hash is kept.
  std::printf("%s\n", token.c_str());
  return 0;
}

int token_list(const Invocation& inv, const HostConfig& host) {
  bool json = inv.args.size() == 2 && inv.args[1] == "-j";
  if (inv.args.size() > 1 && !json)
    return report(inv, usage_error("token list: invalid option `" + inv.args[1] + "`"));
  auto store = auth::TokenStore::load(auth::TokenStore::path(host));
  if (!store.ok()) return report(inv, store.error());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : store->entries())
      out.push_back({{"name", e.name},
                     {"admin", e.admin},
                     {"cts", e.cts},
                     {"password", !e.pw_hash.empty()},
                     {"created", e.created}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-20s %-6s %-9s %s\n", "NAME", "ADMIN", "PASSWORD", "CTS");
  for (const auto& e : store->entries()) {
    std::string cts;
    for (const auto& c : e.cts) cts += (cts.empty() ? "" : ",") + c;
    std::printf("%-20s %-6s %-9s %s\n", e.name.c_str(), e.admin ? "yes" : "no",
                e.pw_hash.empty() ? "no" : "yes", e.admin ? "*" : cts.c_str());
  }
  return 0;
}

int token_delete(const Invocation& inv, const HostConfig& host) {
  if (inv.args.size() != 2) return report(inv, usage_error(kUsage));
  const std::string& name = inv.args[1];
  auto st = auth::modify_store(host, [&](auth::TokenStore& s) -> Status {
    if (!s.remove(name)) {
      std::string shown = name.size() > 64 ? name.substr(0, 64) : name;
      return Error::with_status(exitcode::kBadValue, "no token named `" + shown + "`");
    }
    return {};
  });
  if (!st.ok()) return report(inv, Error(st.error()).context("token delete"));
  say(inv, "Token " + name + " deleted");
  return 0;
}

}  // namespace

int cmd_token(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty()) return report(inv, usage_error(kUsage));
  if (inv.args[0] == "create") return token_create(inv, host);
  if (inv.args[0] == "list") return token_list(inv, host);
  if (inv.args[0] == "delete") return token_delete(inv, host);
  return report(inv, usage_error(kUsage));
}

}  // namespace berth::cli
