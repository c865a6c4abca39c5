// daemon/limits_map: the JSON bodies of create, PATCH and password turned into the changes of
// core/edit, and the bodies of the snapshot, backup and migrate endpoints checked (the same grammar
// and parsers as `berth create` / `berth set` options), with the API's own checks first: only the
// listed fields, each of the expected JSON type, strings bounded and free of control characters.
// Values are never put into a command line or a shell. Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "daemon/http.h"

namespace berth::daemon {

using Changes = std::vector<std::pair<std::string, std::string>>;

// "limits": {"cpus":1,"cpulimit":50,"cpuunits":1000,"ram":"512M","swap":"0","diskspace":"2G",
// "diskinodes":200000,"numproc":200}: numbers or strings (vzctl units).
Result<Changes> limits_changes(const Json& limits);
// POST /v1/cts: ostemplate (required), hostname, name, ipadd (array), nameserver (array),
// limits, start (bool, read by the job). ctid is checked by the caller.
Result<Changes> create_changes(const Json& body);
// PATCH /v1/cts/{ctid}: hostname, ipadd (array: replaces the CT's addresses), nameserver,
// limits. At least one.
Result<Changes> patch_changes(const Json& body);
// POST .../password: {"user":"root","password":"..."}: user a Unix name, password 8-256
// printable characters without ':'.
Result<Changes> password_changes(const Json& body);

// POST .../snapshots: {"name" (<= 64 characters), "description" (<= 1024)}, both optional,
// free of control characters. Returns {"name","description"} (missing ones "").
Result<Json> snapshot_params(const Json& body);
// A body that may hold only "confirm", which must be true (switch, restore): what says what
// the operation erases.
Status confirmed(const Json& body, const std::string& what);
// POST .../migrate: {"destination":"[user@]host" (required), "online", "keep_dst",
// "remove_area" (booleans; remove_area defaults to true)}. The destination is a user of
// letters, digits, . _ - and a host name or address (letters, digits, . - : and [..]), never
// starting with '-' (it becomes an ssh argument). Returns the params with every field set.
Result<Json> migrate_params(const Json& body);

// Reject keys of obj that are not in allowed (exit 20, naming the first).
Status only_keys(const Json& obj, std::initializer_list<const char*> allowed,
                 const std::string& what);

}  // namespace berth::daemon
