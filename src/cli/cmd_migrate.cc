// migrate (berth's grammar: `migrate CTID [user@]HOST [opts]`) and vzmigrate (its own:
// `vzmigrate [opts] DEST CTID`), and the hidden receiver `_migrate-recv` ssh starts on the
// destination (runtime/migrate.h).
#include <unistd.h>

#include <cstdio>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "runtime/migrate.h"
#include "runtime/migrate_proto.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) { return Error::with_status(exitcode::kMigUsage, what); }

void migrate_usage(FILE* out, const Invocation& inv) {
  if (inv.prog == "vzmigrate")
    std::fprintf(out,
                 "Usage: vzmigrate [-r|--remove-area yes|no] [--ssh=OPTS] [--keep-dst] "
                 "[--online|--live]\n"
                 "                 [--check-only|--dry-run] [-t|--times] [--remote-berth PATH]\n"
                 "                 <[user@]destination> <CTID>\n");
  else
    std::fprintf(out,
                 "Usage: %s migrate CTID [user@]HOST [--online] [--keep-dst] "
                 "[--remove-area yes|no]\n"
                 "       [--ssh \"OPTS\"] [--check-only|--dry-run] [-t|--times] "
                 "[--remote-berth PATH]\n",
                 inv.prog.c_str());
}

}  // namespace

int cmd_migrate(const Invocation& inv, const HostConfig& host) {
  runtime::MigrateOptions o;
  std::vector<std::string> pos;
  const auto& a = inv.args;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string s = a[i];
    auto value = [&](const std::string& name) -> Result<std::string> {
      if (s.size() > name.size() && s.compare(0, name.size() + 1, name + "=") == 0)
        return s.substr(name.size() + 1);
      if (i + 1 >= a.size()) return usage_error(name + " needs a value");
      return a[++i];
    };
    auto is = [&](const std::string& name) {
      return s == name || s.compare(0, name.size() + 1, name + "=") == 0;
    };
    if (s == "-h" || s == "--help" || s == "--usage") {
      migrate_usage(stdout, inv);
      return exitcode::kOk;
    } else if (s == "--online" || s == "--live") {
      o.online = true;
    } else if (s == "--keep-dst") {
      o.keep_dst = true;
    } else if (s == "--check-only" || s == "--dry-run") {
      o.check_only = true;
    } else if (s == "-t" || s == "--times") {
      o.times = true;
    } else if (s == "-v" || s == "--verbose") {
      o.times = true;
    } else if (is("-r") || is("--remove-area")) {
      auto v = value(s.starts_with("-r") && !s.starts_with("--") ? "-r" : "--remove-area");
      if (!v.ok()) return report(inv, v.error());
      if (*v != "yes" && *v != "no")
        return report(inv, usage_error("--remove-area: yes or no, not `" + *v + "`"));
      o.remove_area = *v == "yes";
    } else if (is("--ssh")) {
      auto v = value("--ssh");
      if (!v.ok()) return report(inv, v.error());
      auto words = runtime::mig::split_words(*v);
      if (!words.ok()) return report(inv, Error(words.error()).status(exitcode::kMigUsage));
      o.ssh_opts.insert(o.ssh_opts.end(), words->begin(), words->end());
    } else if (is("--remote-berth")) {
      auto v = value("--remote-berth");
      if (!v.ok()) return report(inv, v.error());
      o.remote_berth = *v;
    } else if (!s.empty() && s[0] == '-') {
      return report(inv, usage_error("invalid option `" + s + "`"));
    } else {
      pos.push_back(s);
    }
  }
  if (pos.size() != 2) {
    migrate_usage(stderr, inv);
    return exitcode::kMigUsage;
  }
  std::string ct_arg = inv.prog == "vzmigrate" ? pos[1] : pos[0];
  o.dest = inv.prog == "vzmigrate" ? pos[0] : pos[1];
  o.progress = ::isatty(2) != 0;
  auto ctid = resolve_ctid(host, ct_arg);
  if (!ctid.ok()) return report(inv, Error(ctid.error()).status(exitcode::kMigNoSource));
  auto st = runtime::migrate(host, *ctid, o, [&](const std::string& l) { say(inv, l); });
  if (!st.ok()) {
    Error e = std::move(st).error();
    e.context("migrate CT " + *ctid + " to " + o.dest);
    return report(inv, e);
  }
  return exitcode::kOk;
}

int cmd_migrate_recv(const Invocation& inv, const HostConfig& host) {
  if (!inv.args.empty()) {
    std::fprintf(stderr, "%s: _migrate-recv takes no arguments (it reads its stream)\n",
                 inv.prog.c_str());
    return exitcode::kMigUsage;
  }
  return runtime::migrate_receive(host, 0, 1);
}

}  // namespace berth::cli
