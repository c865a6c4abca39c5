// ubc (also run as vzubc): beancounters of running CTs, as vzubc(8) shows them (ubc/view.h), or
// as /proc/user_beancounters text (--raw). `berth ubc --serve` is the beancounter FUSE server
// that `berth start` runs (procsrv/client.h); it is not meant to be called by hand.
#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "runtime/vzubc.h"
#include "procsrv/server.h"
#include "ubc/view.h"

namespace berth::cli {
namespace {

// vzubc exits 1 on any error; `berth ubc` keeps vzctl's codes.
int fail(const Invocation& inv, Error err) {
  if (inv.prog == "vzubc") err = Error::with_status(exitcode::kVzubcFailed, err.message());
  return report(inv, err);
}

}  // namespace

int cmd_ubc(const Invocation& inv, const HostConfig& host) {
  auto opts = ubc::parse_vzubc_options(inv.args);
  if (!opts.ok())
    return inv.prog == "vzubc"
               ? report(inv, opts.error())
               : report(inv, Error::with_status(exitcode::kBadArgument, opts.error().message()));
  if (opts->help) {
    std::fputs(ubc::vzubc_usage(inv.prog == "vzubc" ? "vzubc" : inv.prog + " ubc").c_str(), stdout);
    return 0;
  }
  if (opts->serve) return procsrv::serve(host);
  runtime::vzubc_clear_stores(host, *opts);
  if (!opts->watch) {
    auto out = runtime::vzubc_render(host, *opts);
    if (!out.ok()) return fail(inv, out.error());
    std::fputs(out->c_str(), stdout);
    return 0;
  }
  // -w: redraw every interval until interrupted (SIGINT ends the process).
  std::string last;
  for (;;) {
    auto out = runtime::vzubc_render(host, *opts);
    if (!out.ok()) return fail(inv, out.error());
    std::string shown =
        opts->watch_diff && !last.empty() ? ubc::highlight_changes(last, *out) : *out;
    last = *out;
    std::string screen = "\033[H\033[2J";
    if (!opts->watch_no_title) {
      char when[64];
      time_t now = ::time(nullptr);
      struct tm tm;
      ::strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", ::localtime_r(&now, &tm));
      char title[128];
      std::snprintf(title, sizeof title, "Every %.1fs: vzubc\t%s\n\n", opts->watch_interval, when);
      screen += title;
    }
    std::fputs((screen + shown).c_str(), stdout);
    std::fflush(stdout);
    ::usleep(static_cast<useconds_t>(opts->watch_interval * 1e6));
  }
}

}  // namespace berth::cli
