// The OS template cache: OpenVZ-style archives in <template_dir>/cache and their shared unpacked
// roots in <template_dir>/rootfs.
//
// A template is named by its cache archive, `<name>.tar[.gz|.xz|.zst|.bz2]`, exactly as OpenVZ's
// `$TEMPLATE/cache`, so existing caches work. For the overlay layout each archive version is
// unpacked once into `rootfs/<name>@<id>/` (host ids, read-only by convention) and shared by every
// CT as the lower layer. This module does not create CTs and does not build templates (busybox.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"
#include "template/unpack.h"

namespace berth::tmpl {

struct TemplateEntry {
  std::string name;
  std::string archive_path;
  uint64_t size = 0;      // of the archive, bytes
  bool unpacked = false;  // the current archive version has an unpacked root
};

// Archive suffixes in lookup order (vzctl checks none, .gz, .bz2, .xz; we add .zst, bz2 last).
inline constexpr std::string_view kArchiveSuffixes[] = {".tar", ".tar.gz", ".tar.xz", ".tar.zst",
                                                        ".tar.bz2"};

// Validates a template name: not empty, at most 200 chars, only letters, digits, '.', '_', '-',
// not starting with '.' (hidden names are ours: temp files and dirs), no "..". Error exit 21.
Status validate_template_name(std::string_view name);

// Every template of the cache dir, sorted by name; a name present with several suffixes is listed
// once, with the archive find_cache_archive() picks. A missing cache dir is an empty list.
Result<std::vector<TemplateEntry>> list_templates(const HostConfig&);

// Path of the cache archive for name, checked in order .tar, .tar.gz, .tar.xz, .tar.zst, .tar.bz2.
// Invalid name: exit 21. Missing: Error with exit status 91 ("OS template `x` not found").
Result<std::string> find_cache_archive(const HostConfig&, std::string_view name);

// The cache name an `--ostemplate` value means: name itself when its archive exists, else the
// OpenVZ-style names `<name>-<host_arch>` and `<name>-<host_arch>-<variant>`; of several, the
// `-minimal` one, else an error listing them (exit 21). None: exit 91, saying which names were
// looked for (and, for a Debian recipe name, that `berth template create NAME` makes it).
Result<std::string> resolve_template_name(const HostConfig&, std::string_view name,
                                          std::string_view host_arch);

// Pure part of resolve_template_name(): the pick among the cache's names; nullopt when none
// matches, an error when several match and none is `-minimal`.
Result<std::optional<std::string>> pick_template_name(const std::vector<std::string>& names,
                                                      std::string_view name,
                                                      std::string_view host_arch);

// The shared read-only unpacked root of a template for the overlay layout: the absolute path of
// <template_dir>/rootfs/<name>@<id>, where <id> (16 hex digits) hashes the archive's inode, size
// and mtime, so it changes whenever the archive is replaced or rewritten. Unpacks once, with the
// archive's numeric ids (host ids, not shifted), under an flock on <template_dir>/rootfs/.lock,
// into rootfs/.tmp-<name>-XXXXXX and then rename(2): a crash never leaves a half-unpacked dir under
// the final name, and stale .tmp-* dirs are removed by the next unpack. Roots of older archive
// versions are kept (CTs may still use them as their lower layer); remove_template() removes them.
// Host side, needs root to keep ownership. Errors: 21 bad name, 91 no archive, 3 unpack failed.
Result<std::string> ensure_unpacked(const HostConfig&, std::string_view name);

// Remove every cache archive of name (all suffixes, and a `.asc` signature next to one) and every
// unpacked root rootfs/<name>@*. Refused with exit 21 when a CT config in conf_dir has
// OSTEMPLATE=name (an overlay CT would lose its lower layer; we do not look at the layout).
// Nothing of the template found: exit 91. Takes the rootfs lock while removing.
Status remove_template(const HostConfig&, std::string_view name);

// CTIDs whose <conf_dir>/<CTID>.conf says OSTEMPLATE=name (unreadable configs skipped), sorted.
Result<std::vector<std::string>> template_users(const HostConfig&, std::string_view name);

// Import: copy an existing archive file into the cache as <name><suffix>, where the suffix is the
// file's (.tar, .tar.gz/.tgz, .tar.xz, .tar.zst, .tar.bz2; .tgz is stored as .tar.gz) and name is
// the explicit one or the file name minus the suffix. The file must be readable as an archive.
// Errors: 21 bad name, unknown suffix, unreadable archive, or a template of that name exists
// already (remove it first); 3 for I/O. Atomic: temp file in the cache dir, then rename(2).
Status import_template(const HostConfig&, const std::string& file, std::optional<std::string> name);

// Split "x.tar.gz" into ("x", ".tar.gz"); nullopt when the name has no archive suffix (.tgz is
// reported as ".tar.gz").
std::optional<std::pair<std::string, std::string>> split_archive_name(std::string_view file_name);

}  // namespace berth::tmpl
