// vzubc's command line and its human-readable table (vzubc(8), reference section 4.3). Pure.
//
// Table per block: pages converted to bytes, sizes with K/M/G, `-` for 0 and unlimited, held and
// maxheld as % of barrier and limit. Rows with both barrier and limit unlimited (and no failures)
// are hidden unless -v; dummies never show. -q keeps only rows that failed or come near their
// limit (held/limit >= -qh, default 0.5; maxheld/limit >= -qm, default 0.8). -r shows failcnt
// as the change since the last -r run (store: one file per CT in -rd DIR); -i adds a dHELD
// column, held's change since the last -i run (store in -id DIR). -wd highlights changes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "ubc/model.h"

namespace berth::ubc {

struct VzubcOptions {
  bool quiet = false;
  double quiet_held = 0.5, quiet_maxheld = 0.8;
  bool verbose = false;
  bool relative = false;
  std::string relative_dir;  // "" = default under BERTH_ROOT
  bool relative_clear = false;
  bool incremental = false;        // -i: a column with held's change since the last -i run
  std::string incremental_dir;     // -id DIR; "" = default under BERTH_ROOT
  bool incremental_clear = false;  // -ic
  bool watch = false;
  bool watch_diff = false;  // -wd: highlight what changed since the last redraw
  double watch_interval = 2.0;
  bool watch_no_title = false;
  bool color = false;
  std::optional<std::string> file;  // -f file|-
  bool raw = false;                 // berth ubc --raw: the Version 2.5 text
  bool serve = false;               // internal: run the beancounter FUSE server
  bool help = false;
  std::vector<std::string> ids;
};

// Errors: exit status 1 (vzubc's), one line.
Result<VzubcOptions> parse_vzubc_options(const std::vector<std::string>& args);
std::string vzubc_usage(const std::string& prog);

// failcnt (or held, for -i) per row name, as kept by -r (-i).
using FailCounts = std::map<std::string, uint64_t>;
std::string format_fail_counts(const Block& b);
std::string format_held_counts(const Block& b);
FailCounts parse_fail_counts(std::string_view text);

// One block as vzubc's table. previous: the failcnts of the last -r run (nullopt without -r);
// previous_held: the helds of the last -i run (nullopt without -i: no dHELD column).
std::string format_table(const Block& b, const VzubcOptions& opts,
                         const std::optional<FailCounts>& previous,
                         const std::optional<FailCounts>& previous_held = std::nullopt);

// -wd: `now` with every character that differs from the same place in `before` in reverse
// video (as watch -d). Escape sequences of `now` (-c colors) are copied, not compared.
std::string highlight_changes(std::string_view before, std::string_view now);

// Human value of a row's number: bytes with K/M/G for pages and bytes rows, items as numbers;
// "-" for 0 and unlimited.
std::string human_value(const std::string& row, uint64_t v);
// "12%", "0.5%", "-" (no finite, non-zero base).
std::string percent(uint64_t part, uint64_t base);

}  // namespace berth::ubc
