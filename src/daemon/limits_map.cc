#include "daemon/limits_map.h"

#include <algorithm>

#include "core/exit_codes.h"

namespace berth::daemon {
namespace {

Error bad(const std::string& what, int status = exitcode::kBadValue) {
  return Error::with_status(status, what);
}

bool printable(const std::string& s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

Result<std::string> string_field(const Json& v, const std::string& name, size_t max) {
  if (!v.is_string()) return bad(name + ": a string expected", exitcode::kBadArgument);
  std::string s = v.get<std::string>();
  if (s.empty() || s.size() > max || !printable(s))
    return bad(name + ": empty, too long or not printable");
  return s;
}

Result<std::string> scalar_field(const Json& v, const std::string& name) {
  if (v.is_number_unsigned() || v.is_number_integer()) {
    if (v.is_number_integer() && v.get<int64_t>() < 0) return bad(name + ": negative");
    return std::to_string(v.get<int64_t>());
  }
  return string_field(v, name, 64);
}

Status list_field(const Json& body, const char* key, const char* option, size_t max_items,
                  Changes& out) {
  if (!body.contains(key)) return {};
  const Json& v = body[key];
  if (!v.is_array()) return bad(std::string(key) + ": an array expected", exitcode::kBadArgument);
  if (v.size() > max_items) return bad(std::string(key) + ": too many items");
  for (const auto& item : v) {
    BERTH_ASSIGN_OR_RETURN(std::string s, string_field(item, key, 64));
    out.emplace_back(option, s);
  }
  return {};
}

}  // namespace

Status only_keys(const Json& obj, std::initializer_list<const char*> allowed,
                 const std::string& what) {
  if (!obj.is_object())
    return Error::with_status(exitcode::kBadArgument, what + ": a JSON object expected");
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* k) { return it.key() == k; });
    if (!known) {
      std::string shown = it.key().size() > 40 ? it.key().substr(0, 40) : it.key();
      return Error::with_status(exitcode::kBadArgument, what + ": unknown field `" + shown + "`");
    }
  }
  return {};
}

Result<Changes> limits_changes(const Json& limits) {
  static constexpr const char* kKeys[] = {"cpus", "cpulimit",  "cpuunits",   "ram",
                                          "swap", "diskspace", "diskinodes", "numproc"};
  BERTH_RETURN_IF_ERROR(only_keys(
      limits, {"cpus", "cpulimit", "cpuunits", "ram", "swap", "diskspace", "diskinodes", "numproc"},
      "limits"));
  Changes out;
  for (const char* k : kKeys) {
    if (!limits.contains(k)) continue;
    BERTH_ASSIGN_OR_RETURN(std::string v, scalar_field(limits[k], std::string("limits.") + k));
    out.emplace_back(k, v);
  }
  return out;
}

Result<Changes> create_changes(const Json& body) {
  BERTH_RETURN_IF_ERROR(only_keys(
      body, {"ctid", "ostemplate", "hostname", "name", "ipadd", "nameserver", "limits", "start"},
      "create"));
  Changes out;
  if (!body.contains("ostemplate"))
    return bad("create: ostemplate is required", exitcode::kBadArgument);
  BERTH_ASSIGN_OR_RETURN(std::string t, string_field(body["ostemplate"], "ostemplate", 255));
  out.emplace_back("ostemplate", t);
  for (const char* k : {"hostname", "name"}) {
    if (!body.contains(k)) continue;
    BERTH_ASSIGN_OR_RETURN(std::string v, string_field(body[k], k, 255));
    out.emplace_back(k, v);
  }
  BERTH_RETURN_IF_ERROR(list_field(body, "ipadd", "ipadd", 64, out));
  BERTH_RETURN_IF_ERROR(list_field(body, "nameserver", "nameserver", 8, out));
  if (body.contains("start") && !body["start"].is_boolean())
    return bad("start: true or false expected", exitcode::kBadArgument);
  if (body.contains("limits")) {
    BERTH_ASSIGN_OR_RETURN(Changes l, limits_changes(body["limits"]));
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

Result<Changes> patch_changes(const Json& body) {
  BERTH_RETURN_IF_ERROR(only_keys(body, {"hostname", "ipadd", "nameserver", "limits"}, "patch"));
  Changes out;
  if (body.contains("hostname")) {
    BERTH_ASSIGN_OR_RETURN(std::string v, string_field(body["hostname"], "hostname", 255));
    out.emplace_back("hostname", v);
  }
  if (body.contains("ipadd")) {
    // The list replaces the CT's addresses: vzctl's --ipdel all, then each --ipadd.
    if (!body["ipadd"].is_array()) return bad("ipadd: an array expected", exitcode::kBadArgument);
    out.emplace_back("ipdel", "all");
    BERTH_RETURN_IF_ERROR(list_field(body, "ipadd", "ipadd", 64, out));
  }
  BERTH_RETURN_IF_ERROR(list_field(body, "nameserver", "nameserver", 8, out));
  if (body.contains("limits")) {
    BERTH_ASSIGN_OR_RETURN(Changes l, limits_changes(body["limits"]));
    out.insert(out.end(), l.begin(), l.end());
  }
  if (out.empty()) return bad("patch: nothing to change", exitcode::kBadArgument);
  return out;
}

Result<Changes> password_changes(const Json& body) {
  BERTH_RETURN_IF_ERROR(only_keys(body, {"user", "password"}, "password"));
  std::string user = "root";
  if (body.contains("user")) {
    BERTH_ASSIGN_OR_RETURN(user, string_field(body["user"], "user", 32));
  }
  bool user_ok =
      std::all_of(user.begin(), user.end(),
                  [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                  }) &&
      user[0] != '-';
  if (!user_ok) return bad("user: not a user name");
  if (!body.contains("password")) return bad("password is required", exitcode::kBadArgument);
  BERTH_ASSIGN_OR_RETURN(std::string pw, string_field(body["password"], "password", 256));
  if (pw.size() < 8) return bad("password: at least 8 characters");
  if (pw.find(':') != std::string::npos) return bad("password: no ':'");
  return Changes{{"userpasswd", user + ":" + pw}};
}

namespace {

// An optional free-text field: "" when missing or empty, else string_field's checks.
Result<std::string> text_field(const Json& body, const char* key, size_t max) {
  if (!body.contains(key)) return std::string();
  if (body[key].is_string() && body[key].get<std::string>().empty()) return std::string();
  return string_field(body[key], key, max);
}

Result<bool> bool_field(const Json& body, const char* key, bool fallback) {
  if (!body.contains(key)) return fallback;
  if (!body[key].is_boolean())
    return bad(std::string(key) + ": true or false expected", exitcode::kBadArgument);
  return body[key].get<bool>();
}

bool destination_ok(const std::string& d) {
  auto is = [](char c, std::string_view extra) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  };
  size_t at = d.find('@');
  std::string user = at == std::string::npos ? "" : d.substr(0, at);
  std::string host = at == std::string::npos ? d : d.substr(at + 1);
  if (at != std::string::npos &&
      (user.empty() || user.size() > 32 || user[0] == '-' ||
       !std::all_of(user.begin(), user.end(), [&](char c) { return is(c, "._-"); })))
    return false;
  if (host.empty() || host.size() > 255 || host[0] == '-' || host[0] == '.') return false;
  return std::all_of(host.begin(), host.end(), [&](char c) { return is(c, ".-:[]"); });
}

}  // namespace

Result<Json> snapshot_params(const Json& body) {
  BERTH_RETURN_IF_ERROR(only_keys(body, {"name", "description"}, "snapshot"));
  BERTH_ASSIGN_OR_RETURN(std::string name, text_field(body, "name", 64));
  BERTH_ASSIGN_OR_RETURN(std::string desc, text_field(body, "description", 1024));
  return Json{{"name", name}, {"description", desc}};
}

Status confirmed(const Json& body, const std::string& what) {
  BERTH_RETURN_IF_ERROR(only_keys(body, {"confirm"}, what));
  if (!body.contains("confirm") || body["confirm"] != true)
    return bad(what + " replaces the CT's files: send \"confirm\": true", exitcode::kBadArgument);
  return {};
}

Result<Json> migrate_params(const Json& body) {
  BERTH_RETURN_IF_ERROR(
      only_keys(body, {"destination", "online", "keep_dst", "remove_area"}, "migrate"));
  if (!body.contains("destination"))
    return bad("migrate: destination is required", exitcode::kBadArgument);
  BERTH_ASSIGN_OR_RETURN(std::string dest, string_field(body["destination"], "destination", 300));
  if (!destination_ok(dest)) return bad("destination: `[user@]host` expected");
  BERTH_ASSIGN_OR_RETURN(bool online, bool_field(body, "online", false));
  BERTH_ASSIGN_OR_RETURN(bool keep_dst, bool_field(body, "keep_dst", false));
  BERTH_ASSIGN_OR_RETURN(bool remove_area, bool_field(body, "remove_area", true));
  return Json{{"destination", dest},
              {"online", online},
              {"keep_dst", keep_dst},
              {"remove_area", remove_area}};
}

}  // namespace berth::daemon
