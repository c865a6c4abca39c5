// Template archive contents (os-release) and the `template list` table.
#include "template/info.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/units.h"
#include "sys/fs.h"

namespace berth::tmpl {
namespace {

// "./etc/os-release" and "/etc/os-release" -> "etc/os-release".
std::string normal_path(std::string_view p) {
  while (p.starts_with("./")) p.remove_prefix(2);
  while (p.starts_with("/")) p.remove_prefix(1);
  return std::string(p);
}

// A symlink target of etc/os-release resolved to an archive path: "../usr/lib/os-release" ->
// "usr/lib/os-release", "/usr/lib/os-release" -> "usr/lib/os-release".
std::string resolve_from_etc(std::string_view target) {
  if (target.starts_with("/")) return normal_path(target);
  std::vector<std::string> parts = {"etc"};
  size_t i = 0;
  while (i <= target.size()) {
    size_t j = target.find('/', i);
    if (j == std::string_view::npos) j = target.size();
    std::string_view part = target.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

constexpr la_int64_t kMaxOsRelease = 64 * 1024;

std::string sidecar_path(const TemplateEntry& t) {
  size_t slash = t.archive_path.rfind('/');
  return t.archive_path.substr(0, slash + 1) + "." + t.archive_path.substr(slash + 1) + ".dist";
}

std::string stamp_of(const struct stat& st) {
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

Result<std::optional<std::string>> os_release_of_archive(const std::string& archive) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  ScopeExit free_archive([&] { archive_read_free(a); });
  if (archive_read_open_filename(a, archive.c_str(), 1 << 16) != ARCHIVE_OK)
    return Error::invalid("read `" + archive + "`: " + archive_error_string(a), exitcode::kSystem);
  std::map<std::string, std::string> files;  // archive path -> content, for the candidates
  std::map<std::string, std::string> links;  // symlink or hard link path -> its target path
  std::string wanted_etc = "etc/os-release", wanted_usr = "usr/lib/os-release";
  struct archive_entry* e;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return Error::invalid("read `" + archive + "`: " + archive_error_string(a),
                            exitcode::kSystem);
    std::string path = normal_path(archive_entry_pathname(e));
    if (path != wanted_etc && path != wanted_usr && !links.count("etc/os-release")) continue;
    if (const char* hl = archive_entry_hardlink(e)) {
      links[path] = normal_path(hl);
      continue;
    }
    if (archive_entry_filetype(e) == AE_IFLNK) {
      if (path == wanted_etc) links[path] = resolve_from_etc(archive_entry_symlink(e));
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) > kMaxOsRelease) continue;
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    la_ssize_t n = archive_read_data(a, data.data(), data.size());
    if (n < 0)
      return Error::invalid("read `" + archive + "`: " + archive_error_string(a),
                            exitcode::kSystem);
    data.resize(static_cast<size_t>(n));
    files[path] = std::move(data);
    if (path == wanted_etc)
      return std::optional<std::string>(files[path]);  // the usual regular file: done early
    // A symlinked /etc/os-release whose target we now have: done too.
    if (auto l = links.find(wanted_etc); l != links.end() && l->second == path)
      return std::optional<std::string>(files[path]);
  }
  // Follow at most a few links from etc/os-release, then fall back to usr/lib/os-release.
  std::string p = wanted_etc;
  for (int hops = 0; hops < 4; ++hops) {
    if (auto f = files.find(p); f != files.end()) return std::optional<std::string>(f->second);
    auto l = links.find(p);
    if (l == links.end()) break;
    p = l->second;
  }
  if (auto f = files.find(wanted_usr); f != files.end())
    return std::optional<std::string>(f->second);
  return std::optional<std::string>();
}

std::string distribution_label(std::string_view os_release) {
  ConfFile f = ConfFile::parse(os_release);
  std::string id = f.get_or("ID", "");
  if (id.empty()) return "-";
  std::string version = f.get_or("VERSION_ID", "");
  return version.empty() ? id : id + " " + version;
}

Result<std::optional<std::string>> template_os_release(const TemplateEntry& t) {
  struct stat st;
  if (stat(t.archive_path.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat `" + t.archive_path + "`");
  const std::string stamp = stamp_of(st);
  const std::string side = sidecar_path(t);
  // Sidecar: "<size> <mtime>\n" then "-\n" (no os-release) or "+\n" and the os-release text.
  if (auto text = sys::read_file(side); text.ok()) {
    size_t nl = text->find('\n');
    if (nl != std::string::npos && text->substr(0, nl) == stamp && text->size() >= nl + 3) {
      if ((*text)[nl + 1] == '-') return std::optional<std::string>();
      return std::optional<std::string>(text->substr(nl + 3));
    }
  }
  BERTH_ASSIGN_OR_RETURN(auto os, os_release_of_archive(t.archive_path));
  // Best effort: a cache dir we cannot write (not root) only costs a re-read next time.
  std::string tmp = side + ".XXXXXX";
  UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (fd) {
    std::string body = stamp + "\n" + (os ? "+\n" + *os : "-\n");
    bool ok = write(fd.get(), body.data(), body.size()) == static_cast<ssize_t>(body.size()) &&
              fchmod(fd.get(), 0644) == 0;
    if (!ok || rename(tmp.c_str(), side.c_str()) != 0) unlink(tmp.c_str());
  }
  return os;
}

Result<std::vector<TemplateRow>> template_rows(const HostConfig& host) {
  BERTH_ASSIGN_OR_RETURN(auto list, list_templates(host));
  std::vector<TemplateRow> rows;
  for (auto& t : list) {
    TemplateRow row;
    struct stat st;
    if (stat(t.archive_path.c_str(), &st) == 0) row.mtime = st.st_mtim.tv_sec;
    auto os = template_os_release(t);
    row.distribution = os.ok() && *os ? distribution_label(**os) : "-";
    BERTH_ASSIGN_OR_RETURN(row.users, template_users(host, t.name));
    row.entry = std::move(t);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string format_template_list(const std::vector<TemplateRow>& rows, bool header, bool json) {
  auto in_use = [](const TemplateRow& r) {
    std::string s;
    for (const auto& u : r.users) s += (s.empty() ? "" : ",") + u;
    return s.empty() ? std::string("-") : s;
  };
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : rows)
      arr.push_back({{"name", r.entry.name},
                     {"file", r.entry.archive_path},
                     {"size", r.entry.size},
                     {"mtime", r.mtime},
                     {"distribution",
                      r.distribution == "-" ? nlohmann::json() : nlohmann::json(r.distribution)},
                     {"in_use", r.users},
                     {"unpacked", r.entry.unpacked}});
    return arr.dump(2) + "\n";
  }
  auto date = [](int64_t t) {
    char buf[32];
    time_t tt = static_cast<time_t>(t);
    struct tm tm {};
    localtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return std::string(buf);
  };
  size_t wn = 4, wd = 12;
  for (const auto& r : rows) {
    wn = std::max(wn, r.entry.name.size());
    wd = std::max(wd, r.distribution.size());
  }
  std::string out;
  auto line = [&](const std::string& n, const std::string& s, const std::string& d,
                  const std::string& dist, const std::string& use) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-*s %6s %-16s %-*s %s\n", static_cast<int>(wn), n.c_str(),
                  s.c_str(), d.c_str(), static_cast<int>(wd), dist.c_str(), use.c_str());
    out += buf;
  };
  if (header) line("NAME", "SIZE", "DATE", "DISTRIBUTION", "IN USE");
  for (const auto& r : rows)
    line(r.entry.name, units::human_bytes(r.entry.size), date(r.mtime), r.distribution, in_use(r));
  return out;
}

}  // namespace berth::tmpl
