// The scalar rules every config value is built from: plain decimal numbers, word lists, Linux
// interface names and host names. Exactly one rule per kind lives here; cli/, net/, cgroups/,
// isolation/ and dist/ call these instead of keeping their own. Pure; unit-tested
// (tests/unit/core/values/text_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::values {

// A plain decimal number: digits only (no sign, blank or suffix), no overflow.
std::optional<uint64_t> parse_u64(std::string_view s);
// As parse_u64, and at most max.
std::optional<uint64_t> parse_u64_max(std::string_view s, uint64_t max);

// Split on any of seps, dropping empty pieces.
std::vector<std::string> split_any(std::string_view s, std::string_view seps);
// Split on sep, keeping empty pieces ("a,,b" -> a, "", b).
std::vector<std::string> split_keep(std::string_view s, char sep);
std::string join(const std::vector<std::string>& v, std::string_view sep);
// s with control characters escaped (\n, \t, \xNN), for one-line messages.
std::string printable(std::string_view s);

// A Linux interface name: 1..15 characters (IFNAMSIZ - 1), not "." or "..", none of
// '/', ':', ',', ';', '=', '*', '"', '$', blanks or control characters (the separators of NETIF,
// RATE and the config file's quoting, and what the kernel's dev_valid_name() refuses).
bool is_valid_ifname(std::string_view s);

// RFC 1123 host name: dot-separated labels of 1..63 letters, digits and '-', not starting or
// ending with '-'; at most 253 characters. Also the rule of search domains.
bool is_valid_hostname(std::string_view s);

}  // namespace berth::values
