// vzlist output: the `vzctl status` line, vzlist's field table, its text and JSON formats.
//
// Pure formatting over (CtConfig, CtStatus) pairs: no file or kernel access here, so everything
// is unit-tested. cmd_list.cc collects the rows (state::list_ctids, state::query_status) and
// prints what this module returns. Behaviour follows legacy vzlist (kolyshkin/vzctl src/vzlist.c,
// reference section 3): column widths and headers, `-` for unknown values, trimming of
// non-last columns, JSON field types.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"
#include "state/status.h"
#include "storage/disk.h"
#include "ubc/model.h"

namespace berth::cli {

// vzctl's status line, parsed by scripts: `CTID 101 exist mounted running`,
// `CTID 101 deleted unmounted down`, plus ` suspended` for a stopped CT with a dump file.
std::string format_status_line(std::string_view ctid, const state::CtStatus& st);

struct ListRow {
  CtConfig config;
  state::CtStatus status;
  std::optional<ubc::Block> ubc;           // beancounters of a running CT (ubc/collect.h)
  std::optional<storage::DiskUsage> disk;  // a CT with a disk, running or not (storage/disk.h)
};

// What the chosen columns (and the sort field) read beyond each CT's config and status: the
// beancounters and the disk's usage cost a dozen or more file reads per CT, which a listing of
// a thousand CTs must not pay for the default columns.
struct ListNeeds {
  bool ubc = false;       // ListRow::ubc
  bool disk = false;      // ListRow::disk
  bool laverage = false;  // ListRow::status.laverage
};

// vzlist's exit status for every usage error (unknown option, field or sort field, bad CTID):
// legacy vzlist returns 1 for all of them, not a vzctl code.
inline constexpr int kListUsageExit = 1;

struct ListOptions {
  bool all = false;                          // -a: every CT, not just running ones
  bool stopped = false;                      // -S: only CTs that are not running
  bool no_header = false;                    // -H
  bool no_trim = false;                      // -t
  bool json = false;                         // -j
  bool list_fields = false;                  // -L
  bool help = false;                         // --help
  std::string fields;                        // -o / -1 / -n (the last one given wins); "" = default
  std::string sort_field;                    // -s, without the leading '-'; "" = by CTID
  bool sort_reverse = false;                 // -s -field
  std::optional<std::string> hostname_glob;  // -h
  std::optional<std::string> name_glob;      // -N
  std::optional<std::string> description_glob;  // -d
  std::vector<std::string> ids;                 // CTID|name arguments, as given
};

// vzlist's command line (getopt-compatible short options: `-aH`, `-octid`, `-s -numproc`).
// Errors exit kListUsageExit.
Result<ListOptions> parse_list_options(const std::vector<std::string>& args);
std::string list_usage();

// `vzlist -L`: every field name with its header, one per line.
std::string format_field_names();

// Check the columns and the sort field before any CT is looked at: unknown field names and
// suffixed fields (numproc.b) with -j are errors (kListUsageExit), as vzlist's
// build_field_order() and -s parsing.
Status validate_list_options(const ListOptions& opts);
// What rows need for these options' columns and sort field (opts validated).
ListNeeds list_needs(const ListOptions& opts);

// Which rows the state options select: running CTs by default; every CT with -a or when CTIDs
// were named; CTs that are not running with -S.
bool selected_by_state(const ListRow& row, const ListOptions& opts);
// The -h/-N/-d glob filters (fnmatch); a CT with no value for a filtered field never matches.
bool matches_filters(const ListRow& row, const ListOptions& opts);

// Filter by -h/-N/-d, sort (-s; CTID order otherwise, reversed by a leading '-') and format as
// text (header unless -H) or as a JSON array. opts must have passed validate_list_options().
Result<std::string> render_list(std::vector<ListRow> rows, const ListOptions& opts);

}  // namespace berth::cli
