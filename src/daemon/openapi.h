// daemon/openapi: the OpenAPI document berthd serves at GET /v1/openapi.json, compiled in from
// docs/openapi.json (CMake generates its definition), so the served document is the file.
#pragma once

#include <string_view>

namespace berth::daemon {

std::string_view openapi_document();

}  // namespace berth::daemon
