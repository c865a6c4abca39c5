#include "openapi_check.h"

#include <algorithm>

namespace berth::itest {
namespace {

using nlohmann::json;

const json& resolve(const json& doc, const json& schema) {
  if (!schema.is_object() || !schema.contains("$ref")) return schema;
  std::string ref = schema["$ref"];
  const std::string prefix = "#/components/schemas/";
  static const json kNone = json::object();
  if (ref.rfind(prefix, 0) != 0) return kNone;
  const json& all = doc["components"]["schemas"];
  auto it = all.find(ref.substr(prefix.size()));
  return it == all.end() ? kNone : resolve(doc, *it);
}

bool type_matches(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  return false;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 1;
  while (i <= path.size()) {
    size_t s = path.find('/', i);
    if (s == std::string::npos) s = path.size();
    out.push_back(path.substr(i, s - i));
    i = s + 1;
  }
  return out;
}

}  // namespace

std::string schema_errors(const json& doc, const json& raw, const json& v,
                          const std::string& where) {
  const json& s = resolve(doc, raw);
  if (v.is_null()) {
    if (s.value("nullable", false) || !s.contains("type")) return "";
    return where + ": null where " + s["type"].get<std::string>() + " is expected";
  }
  if (s.contains("oneOf")) {
    int matched = 0;
    for (const auto& alt : s["oneOf"]) matched += schema_errors(doc, alt, v, where).empty();
    return matched == 1 ? "" : where + ": matches " + std::to_string(matched) + " of oneOf";
  }
  if (s.contains("type") && !type_matches(s["type"], v))
    return where + ": " + v.dump().substr(0, 80) + " is not " + s["type"].get<std::string>();
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end())
    return where + ": " + v.dump() + " is not in the enum";
  if (v.is_number()) {
    if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>())
      return where + ": below the minimum";
    if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>())
      return where + ": above the maximum";
  }
  if (v.is_string()) {
    size_t n = v.get<std::string>().size();
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return where + ": too short";
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return where + ": too long";
  }
  if (v.is_object()) {
    if (s.contains("required"))
      for (const auto& r : s["required"])
        if (!v.contains(r.get<std::string>()))
          return where + ": required `" + r.get<std::string>() + "` missing";
    const json props = s.value("properties", json::object());
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string at = where + "." + it.key();
      if (props.contains(it.key())) {
        if (auto e = schema_errors(doc, props[it.key()], it.value(), at); !e.empty()) return e;
      } else if (s.contains("additionalProperties")) {
        const json& ap = s["additionalProperties"];
        if (ap.is_boolean() && !ap.get<bool>()) return at + ": not in the schema";
        if (ap.is_object())
          if (auto e = schema_errors(doc, ap, it.value(), at); !e.empty()) return e;
      }
    }
  }
  if (v.is_array() && s.contains("items")) {
    for (size_t i = 0; i < v.size(); ++i)
      if (auto e = schema_errors(doc, s["items"], v[i], where + "[" + std::to_string(i) + "]");
          !e.empty())
        return e;
  }
  return "";
}

std::string path_template(const json& doc, const std::string& path) {
  auto xs = split(path);
  for (auto it = doc["paths"].begin(); it != doc["paths"].end(); ++it) {
    auto ps = split(it.key());
    if (ps.size() != xs.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < ps.size() && ok; ++i)
      ok = (ps[i].size() > 2 && ps[i][0] == '{') ? !xs[i].empty() : ps[i] == xs[i];
    if (ok) return it.key();
  }
  return "";
}

std::string check_response(const json& doc, const std::string& method, const std::string& path,
                           int status, const std::string& content_type, const std::string& body) {
  std::string p = path.substr(0, path.find('?'));
  std::string tmpl = path_template(doc, p);
  std::string what = method + " " + path + " -> " + std::to_string(status);
  if (tmpl.empty()) {
    // An unknown path cannot be documented: its answer is still the Error.
    auto v = json::parse(body, nullptr, false);
    if (status != 404 || v.is_discarded()) return what + ": path not documented";
    auto e = schema_errors(doc, json{{"$ref", "#/components/schemas/Error"}}, v);
    return e.empty() ? "" : what + ": " + e;
  }
  std::string m = method;
  std::transform(m.begin(), m.end(), m.begin(), ::tolower);
  const json& ops = doc["paths"][tmpl];
  if (!ops.contains(m)) return what + ": method not documented";
  const json& responses = ops[m]["responses"];
  std::string code = std::to_string(status);
  if (!responses.contains(code)) return what + ": status not documented";
  const json& r = responses[code];
  if (!r.contains("content")) return body.empty() ? "" : what + ": a body where none is documented";
  std::string ct = content_type.substr(0, content_type.find(';'));
  if (!r["content"].contains(ct)) return what + ": content type " + ct + " not documented";
  if (ct != "application/json") return "";
  auto v = json::parse(body, nullptr, false);
  if (v.is_discarded()) return what + ": body is not JSON";
  auto e = schema_errors(doc, r["content"][ct]["schema"], v);
  return e.empty() ? "" : what + ": " + e;
}

}  // namespace berth::itest
