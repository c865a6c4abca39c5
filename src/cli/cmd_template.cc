// `berth template list|create|import|remove`: the OS template cache from the command line.
// Thin: parses options and calls template/ (cache.h, busybox.h, debian.h, info.h); the build
// progress display (phase lines, one status line overwritten on a terminal) is here.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "template/busybox.h"
#include "template/cache.h"
#include "template/debian.h"
#include "template/info.h"

namespace berth::cli {
namespace {

constexpr char kUsage[] =
    "usage: template list [-H] [-j] | create busybox|debian-N[-ARCH-minimal] [--force] | "
    "import FILE [--name N] | remove NAME | recipe debian-N";

int usage_error(const Invocation& inv, const std::string& what) {
  return report(inv,
                Error::invalid("template: " + what + " (" + kUsage + ")", exitcode::kBadArgument));
}

int template_list(const Invocation& inv, const HostConfig& host) {
  bool header = true, json = false;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    if (inv.args[i] == "-H" || inv.args[i] == "--no-header")
      header = false;
    else if (inv.args[i] == "-j" || inv.args[i] == "--json")
      json = true;
    else
      return usage_error(inv, "list: invalid option `" + inv.args[i] + "`");
  }
  auto rows = tmpl::template_rows(host);
  if (!rows.ok()) return report(inv, rows.error());
  std::fputs(tmpl::format_template_list(*rows, header, json).c_str(), stdout);
  return 0;
}

// Progress of a build: phase lines, and on a terminal one status line overwritten in place.
class BuildDisplay {
 public:
  explicit BuildDisplay(bool quiet) : quiet_(quiet), tty_(isatty(STDOUT_FILENO) == 1) {}
  ~BuildDisplay() { clear(); }
  BuildDisplay(const BuildDisplay&) = delete;
  BuildDisplay& operator=(const BuildDisplay&) = delete;
  void operator()(std::string_view line, bool transient) {
    if (quiet_) return;
    if (transient) {
      if (!tty_) return;
      std::printf("\r\033[K  %.*s", static_cast<int>(line.size()), line.data());
      status_ = true;
    } else {
      clear();
      std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    }
    std::fflush(stdout);
  }
  void clear() {
    if (!status_) return;
    std::printf("\r\033[K");
    std::fflush(stdout);
    status_ = false;
  }

 private:
  bool quiet_, tty_;
  bool status_ = false;
};

int create_debian(const Invocation& inv, const HostConfig& host, const tmpl::DebianSpec& spec,
                  bool force, bool quiet) {
  BuildDisplay display(quiet);
  tmpl::BuildOptions opt;
  opt.force = force;
  opt.progress = [&](std::string_view line, bool transient) { display(line, transient); };
  auto built = tmpl::build_debian_template(host, spec, opt);
  display.clear();
  if (!built.ok()) return report(inv, built.error());
  auto path = tmpl::find_cache_archive(host, spec.cache_name);
  const std::string where = path.ok() ? *path : host.paths().cache_dir;
  if (quiet) return 0;
  if (!*built)
    say(inv, "OS template " + spec.cache_name + " is up to date: " + where +
                 " (use --force to rebuild)");
  else
    say(inv, "OS template " + spec.cache_name + " written to " + where);
  return 0;
}

int template_recipe(const Invocation& inv) {
  if (inv.args.size() != 2) return usage_error(inv, "recipe: exactly one template name required");
  auto spec = tmpl::debian_spec(inv.args[1], tmpl::host_machine());
  if (!spec)
    return report(inv, Error::with_status(exitcode::kTemplateNotFound,
                                          "template recipe: no recipe for `" + inv.args[1] + "`"));
  std::printf("%s", tmpl::debian_recipe_text(*spec).c_str());
  return 0;
}

int template_create(const Invocation& inv, const HostConfig& host) {
  std::optional<std::string> name;
  bool force = false, quiet = inv.quiet;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--force" || a == "-f")
      force = true;
    else if (a == "--quiet" || a == "-q")
      quiet = true;
    else if (!a.empty() && a.front() == '-')
      return usage_error(inv, "create: invalid option `" + a + "`");
    else if (!name)
      name = a;
    else
      return usage_error(inv, "create: unexpected argument `" + a + "`");
  }
  if (!name) return usage_error(inv, "create: template name required");
  if (auto spec = tmpl::debian_spec(*name, tmpl::host_machine()))
    return create_debian(inv, host, *spec, force, quiet);
  if (*name != tmpl::kBusyboxTemplate)
    return report(inv, Error::with_status(exitcode::kTemplateNotFound,
                                          "template create: no built-in OS template `" + *name +
                                              "` (built in: busybox, debian-" +
                                              tmpl::debian_versions() + " as debian-N)"));
  auto existing = tmpl::find_cache_archive(host, *name);
  if (existing.ok() && !force) {
    say(inv, "OS template busybox exists already: " + *existing + " (use --force to rebuild)");
    return 0;
  }
  auto st = tmpl::build_busybox_template(host, force);
  if (!st.ok()) return report(inv, st.error());
  say(inv, "OS template busybox written to " + tmpl::busybox_archive_path(host));
  return 0;
}

int template_import(const Invocation& inv, const HostConfig& host) {
  std::optional<std::string> file, name;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--name") {
      if (i + 1 >= inv.args.size()) return usage_error(inv, "import: --name needs a value");
      name = inv.args[++i];
    } else if (a.starts_with("--name=")) {
      name = a.substr(7);
    } else if (!a.empty() && a.front() == '-') {
      return usage_error(inv, "import: invalid option `" + a + "`");
    } else if (!file) {
      file = a;
    } else {
      return usage_error(inv, "import: unexpected argument `" + a + "`");
    }
  }
  if (!file) return usage_error(inv, "import: archive file required");
  auto st = tmpl::import_template(host, *file, name);
  if (!st.ok()) return report(inv, st.error());
  if (!name) name = tmpl::split_archive_name(file->substr(file->rfind('/') + 1))->first;
  auto path = tmpl::find_cache_archive(host, *name);
  say(inv, "OS template " + *name + " imported to " + (path.ok() ? *path : host.paths().cache_dir));
  return 0;
}

int template_remove(const Invocation& inv, const HostConfig& host) {
  if (inv.args.size() != 2 || inv.args[1].empty() || inv.args[1].front() == '-')
    return usage_error(inv, "remove: exactly one template name required");
  auto st = tmpl::remove_template(host, inv.args[1]);
  if (!st.ok()) return report(inv, st.error());
  say(inv, "OS template " + inv.args[1] + " removed");
  return 0;
}

}  // namespace

int cmd_template(const Invocation& inv, const HostConfig& host) {
  if (inv.args.empty()) return usage_error(inv, "subcommand required");
  std::string_view sub = inv.args[0];
  if (sub == "list") return template_list(inv, host);
  if (sub == "create") return template_create(inv, host);
  if (sub == "import") return template_import(inv, host);
  if (sub == "remove" || sub == "delete") return template_remove(inv, host);
  if (sub == "recipe") return template_recipe(inv);
  return usage_error(inv, "invalid subcommand `" + std::string(sub) + "`");
}

}  // namespace berth::cli
