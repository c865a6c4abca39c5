// The OpenAPI check of the berthd tests: every response a test gets is validated against the
// schema the served OpenAPI document gives for its path, method and status. The validator knows
// the subset of JSON Schema docs/openapi.json uses: type, nullable, properties, required,
// additionalProperties (false or a schema), items, enum, oneOf, minimum, maximum, minLength,
// maxLength and local $ref.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace berth::itest {

// "" when value matches schema (refs resolved in doc), else where and why it does not.
std::string schema_errors(const nlohmann::json& doc, const nlohmann::json& schema,
                          const nlohmann::json& value, const std::string& where = "$");

// The documented path template of a concrete path ("/v1/cts/101/start" ->
// "/v1/cts/{ctid}/start"); "" when none.
std::string path_template(const nlohmann::json& doc, const std::string& path);

// Check one response: documented status, and for JSON content the body against the schema.
// "" when it conforms.
std::string check_response(const nlohmann::json& doc, const std::string& method,
                           const std::string& path, int status, const std::string& content_type,
                           const std::string& body);

}  // namespace berth::itest
