// What a template archive holds: its distribution, read from the archive's own os-release, and
// the table `berth template list` prints (name, size, date, distribution, CTs using it).
//
// The distribution comes from the archive, never from its name: an OpenVZ cache `foo.tar.gz`
// holding Debian is Debian. Reading a large compressed archive takes seconds, so the answer is
// kept in a hidden sidecar next to it (<cache_dir>/.<file>.dist), valid while the archive's size
// and mtime are unchanged. The listing logic of cache.h is reused; this module only adds to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"
#include "template/cache.h"

namespace berth::tmpl {

// The text of the archive's /etc/os-release: a regular file or hard link, or, when that is a
// symlink (Debian: ../usr/lib/os-release), the file it names; /usr/lib/os-release when there is
// no /etc/os-release. nullopt when the archive has none. Errors: 3 (unreadable archive).
Result<std::optional<std::string>> os_release_of_archive(const std::string& archive);

// "debian 12" from os-release text: ID and VERSION_ID (just ID when there is no version); "-"
// when there is no ID. Pure.
std::string distribution_label(std::string_view os_release);

// os-release text of a template, through the sidecar; nullopt when the archive has none.
Result<std::optional<std::string>> template_os_release(const TemplateEntry&);

struct TemplateRow {
  TemplateEntry entry;
  int64_t mtime = 0;               // archive mtime, seconds
  std::string distribution;        // distribution_label(), "-" when unknown
  std::vector<std::string> users;  // CTIDs with OSTEMPLATE=name
};

// Every template with its distribution and users.
Result<std::vector<TemplateRow>> template_rows(const HostConfig&);

// The table: NAME SIZE DATE DISTRIBUTION IN USE (header unless !header; SIZE human, DATE
// "YYYY-MM-DD HH:MM" local time, IN USE the CTIDs comma-separated or "-"), or a JSON array
// of objects {name, file, size, mtime, distribution, in_use, unpacked} when json. Pure.
std::string format_template_list(const std::vector<TemplateRow>&, bool header, bool json);

}  // namespace berth::tmpl
