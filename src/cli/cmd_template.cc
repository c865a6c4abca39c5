// `berth template list|create|import|remove`: the OS template cache from the command line.
// Thin: parses options and calls template/ (cache.h, busybox.h).
#include <sys/stat.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "template/busybox.h"
#include "template/cache.h"

namespace berth::cli {
namespace {

constexpr char kUsage[] =
    "usage: template list [-H] | create busybox [--force] | import FILE [--name N] | remove NAME";

int usage_error(const Invocation& inv, const std::string& what) {
  return report(inv,
                Error::invalid("template: " + what + " (" + kUsage + ")", exitcode::kBadArgument));
}

int template_list(const Invocation& inv, const HostConfig& host) {
  bool header = true;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    if (inv.args[i] == "-H" || inv.args[i] == "--no-header")
      header = false;
    else
      return usage_error(inv, "list: invalid option `" + inv.args[i] + "`");
  }
  auto list = tmpl::list_templates(host);
  if (!list.ok()) return report(inv, list.error());
  size_t width = 4;
  for (const auto& t : *list) width = std::max(width, t.name.size());
  if (header) std::printf("%-*s %10s %s\n", static_cast<int>(width), "NAME", "SIZE", "UNPACKED");
  for (const auto& t : *list)
    std::printf("%-*s %10llu %s\n", static_cast<int>(width), t.name.c_str(),
                static_cast<unsigned long long>(t.size), t.unpacked ? "yes" : "no");
  return 0;
}

int template_create(const Invocation& inv, const HostConfig& host) {
  std::optional<std::string> name;
  bool force = false;
  for (size_t i = 1; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--force" || a == "-f")
      force = true;
    else if (!a.empty() && a.front() == '-')
      return usage_error(inv, "create: invalid option `" + a + "`");
    else if (!name)
      name = a;
    else
      return usage_error(inv, "create: unexpected argument `" + a + "`");
  }
  if (!name) return usage_error(inv, "create: template name required");
  if (*name == "debian-12-x86_64-minimal")
    return report(inv, Error::with_status(exitcode::kTemplateNotFound,
                                          "template create: `" + *name + "` is not built in yet"));
  if (*name != tmpl::kBusyboxTemplate)
    return report(inv, Error::with_status(exitcode::kTemplateNotFound,
                                          "template create: no built-in OS template `" + *name +
                                              "` (built in: busybox)"));
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
  return usage_error(inv, "invalid subcommand `" + std::string(sub) + "`");
}

}  // namespace berth::cli
