// Template cache lookup, listing, shared unpacked roots, removal and import.
#include "template/cache.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "template/debian.h"

namespace berth::tmpl {
namespace {

constexpr std::string_view kTmpPrefix = ".tmp-";
constexpr std::string_view kBusyboxName = "busybox";  // busybox.h's kBusyboxTemplate

std::string rootfs_dir(const HostConfig& host) { return host.paths().template_dir + "/rootfs"; }

Error not_found(std::string_view name) {
  return Error::with_status(exitcode::kTemplateNotFound,
                            "OS template `" + std::string(name) + "` not found");
}

// Version of the rules unpack_archive() applies (entry_policy.h). Part of the unpacked root's id,
// so a root unpacked under older, weaker rules (device nodes, host ids, trusted.* xattrs taken
// as they were) is never reused for a new CT: the archive is unpacked again.
constexpr uint64_t kUnpackRulesVersion = 2;

// Identifies one version of an archive file: replacing it (rename: new inode) or rewriting it
// (new mtime/size) gives a new id, and so does a new kUnpackRulesVersion. FNV-1a over the raw
// numbers; 16 hex digits.
std::string archive_id(const struct stat& st) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ULL;
    }
  };
  mix(st.st_ino);
  mix(static_cast<uint64_t>(st.st_size));
  mix(static_cast<uint64_t>(st.st_mtim.tv_sec));
  mix(static_cast<uint64_t>(st.st_mtim.tv_nsec));
  mix(kUnpackRulesVersion);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string unpacked_path(const HostConfig& host, std::string_view name, const struct stat& st) {
  return rootfs_dir(host) + "/" + std::string(name) + "@" + archive_id(st);
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// The exclusive flock on rootfs/.lock, held while unpacking or removing. Released on destruction.
Result<UniqueFd> lock_rootfs(const HostConfig& host) {
  const std::string dir = rootfs_dir(host);
  // 0700: the unpacked trees keep their setuid files; only host root (who mounts the overlays)
  // may reach them. CTs see them only through their overlay.
  BERTH_RETURN_IF_ERROR(make_dirs(dir, 0700));
  if (chmod(dir.c_str(), 0700) != 0) return Error::from_errno(errno, "chmod `" + dir + "`");
  const std::string path = dir + "/.lock";
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  while (flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return Error::from_errno(errno, "lock `" + path + "`");
  return fd;
}

// Names in dir (without "." and ".."). A missing dir is an empty list.
Result<std::vector<std::string>> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return names;
    return Error::from_errno(errno, "opendir `" + dir + "`");
  }
  while (struct dirent* de = readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Called with the rootfs lock held: no unpack is in progress, so every temp dir is stale.
Status remove_stale_temp_dirs(const HostConfig& host) {
  const std::string dir = rootfs_dir(host);
  BERTH_ASSIGN_OR_RETURN(auto names, list_dir(dir));
  for (const auto& n : names)
    if (n.starts_with(kTmpPrefix)) BERTH_RETURN_IF_ERROR(remove_tree(dir + "/" + n));
  return {};
}

Status check_readable_archive(const std::string& path) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  struct archive_entry* e;
  int r = archive_read_open_filename(a, path.c_str(), 1 << 16);
  if (r == ARCHIVE_OK) r = archive_read_next_header(a, &e);
  std::string msg = archive_error_string(a) ? archive_error_string(a) : "no entries";
  archive_read_free(a);
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    return Error::invalid("`" + path + "` is not a readable tar archive: " + msg,
                          exitcode::kBadValue);
  return {};
}

Status copy_file(const std::string& from, const std::string& to_dir, const std::string& to) {
  UniqueFd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Error::from_errno(errno, "open `" + from + "`");
  std::string tmp = to_dir + "/.import-XXXXXX";
  UniqueFd out(mkostemp(tmp.data(), O_CLOEXEC));
  if (!out) return Error::from_errno(errno, "create temp file in `" + to_dir + "`");
  ScopeExit cleanup([&] { unlink(tmp.c_str()); });
  for (;;) {
    ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n == 0) break;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
      return Error::from_errno(errno, "copy `" + from + "`");
    // Fallback for filesystems copy_file_range does not handle; continue from where it stopped.
    char buf[1 << 16];
    for (;;) {
      ssize_t r = read(in.get(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Error::from_errno(errno, "read `" + from + "`");
      if (r == 0) break;
      for (ssize_t off = 0; off < r;) {
        ssize_t w = write(out.get(), buf + off, r - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Error::from_errno(errno, "write `" + tmp + "`");
        off += w;
      }
    }
    break;
  }
  if (fchmod(out.get(), 0644) != 0) return Error::from_errno(errno, "chmod `" + tmp + "`");
  if (fsync(out.get()) != 0) return Error::from_errno(errno, "fsync `" + tmp + "`");
  if (rename(tmp.c_str(), to.c_str()) != 0)
    return Error::from_errno(errno, "rename `" + tmp + "` to `" + to + "`");
  cleanup.dismiss();
  return {};
}

}  // namespace

Result<std::vector<std::string>> template_users(const HostConfig& host, std::string_view name) {
  std::vector<std::string> users;
  BERTH_ASSIGN_OR_RETURN(auto names, list_dir(host.paths().conf_dir));
  for (const auto& n : names) {
    if (!n.ends_with(".conf")) continue;
    auto conf = ConfFile::load(host.paths().conf_dir + "/" + n);
    if (!conf.ok()) continue;  // vanished or unreadable: not ours to judge here
    if (conf->get("OSTEMPLATE").value_or("") == name) users.push_back(n.substr(0, n.size() - 5));
  }
  return users;
}

Status validate_template_name(std::string_view name) {
  auto bad = [&](const char* why) {
    return Error::invalid("invalid OS template name `" + std::string(name) + "`: " + why,
                          exitcode::kBadValue);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 200) return bad("longer than 200 characters");
  if (name.front() == '.') return bad("starts with '.'");
  if (name.find("..") != std::string_view::npos) return bad("contains \"..\"");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return bad("only letters, digits, '.', '_' and '-' are allowed");
  }
  return {};
}

std::optional<std::pair<std::string, std::string>> split_archive_name(std::string_view file_name) {
  if (file_name.size() > 4 && file_name.ends_with(".tgz"))
    return std::pair{std::string(file_name.substr(0, file_name.size() - 4)),
                     std::string(".tar.gz")};
  // Longest suffix first so that "x.tar.gz" is not read as "x.tar" + ".gz".
  std::string_view best;
  for (std::string_view s : kArchiveSuffixes)
    if (file_name.size() > s.size() && file_name.ends_with(s) && s.size() > best.size()) best = s;
  if (best.empty()) return std::nullopt;
  return std::pair{std::string(file_name.substr(0, file_name.size() - best.size())),
                   std::string(best)};
}

Result<std::string> find_cache_archive(const HostConfig& host, std::string_view name) {
  BERTH_RETURN_IF_ERROR(validate_template_name(name));
  for (std::string_view suffix : kArchiveSuffixes) {
    std::string path = host.paths().cache_dir + "/" + std::string(name) + std::string(suffix);
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
  }
  return not_found(name);
}

Result<std::optional<std::string>> pick_template_name(const std::vector<std::string>& names,
                                                      std::string_view name,
                                                      std::string_view host_arch) {
  if (std::find(names.begin(), names.end(), name) != names.end())
    return std::optional<std::string>(name);
  const std::string stem = std::string(name) + "-" + std::string(host_arch);
  std::vector<std::string> found;
  for (const auto& n : names) {
    if (!n.starts_with(stem)) continue;
    std::string_view rest = std::string_view(n).substr(stem.size());
    if (rest.empty() || (rest.size() > 1 && rest.front() == '-')) found.push_back(n);
  }
  if (found.empty()) return std::optional<std::string>();
  if (found.size() == 1) return std::optional<std::string>(found.front());
  for (const auto& n : found)
    if (n == stem + "-minimal") return std::optional<std::string>(n);
  std::string list;
  for (const auto& n : found) list += (list.empty() ? "" : ", ") + n;
  return Error::invalid(
      "OS template `" + std::string(name) + "` is ambiguous: " + list + " (give the full name)",
      exitcode::kBadValue);
}

Result<std::string> resolve_template_name(const HostConfig& host, std::string_view name,
                                          std::string_view host_arch) {
  BERTH_RETURN_IF_ERROR(validate_template_name(name));
  if (find_cache_archive(host, name).ok()) return std::string(name);
  BERTH_ASSIGN_OR_RETURN(auto list, list_templates(host));
  std::vector<std::string> names;
  for (const auto& t : list) names.push_back(t.name);
  BERTH_ASSIGN_OR_RETURN(auto picked, pick_template_name(names, name, host_arch));
  if (picked) return *picked;
  std::string msg = "OS template `" + std::string(name) + "` not found (no `" + std::string(name) +
                    "` nor `" + std::string(name) + "-" + std::string(host_arch) +
                    "[-VARIANT]` in `" + host.paths().cache_dir + "`)";
  if (debian_spec(name, host_arch) || name == kBusyboxName)
    msg += "; `berth template create " + std::string(name) + "` makes it";
  else
    msg += "; `berth template list` shows the templates there are";
  return Error::with_status(exitcode::kTemplateNotFound, msg);
}

Result<std::vector<TemplateEntry>> list_templates(const HostConfig& host) {
  BERTH_ASSIGN_OR_RETURN(auto files, list_dir(host.paths().cache_dir));
  std::map<std::string, bool> names;
  for (const auto& f : files) {
    auto split = split_archive_name(f);
    if (!split || f.ends_with(".tgz") || !validate_template_name(split->first).ok()) continue;
    names[split->first] = true;
  }
  std::vector<TemplateEntry> out;
  for (const auto& [name, _] : names) {
    auto path = find_cache_archive(host, name);
    if (!path.ok()) continue;  // a directory or dangling symlink with an archive's name
    struct stat st;
    if (stat(path->c_str(), &st) != 0) continue;
    out.push_back(
        {name, *path, static_cast<uint64_t>(st.st_size), exists(unpacked_path(host, name, st))});
  }
  return out;
}

Result<std::string> ensure_unpacked(const HostConfig& host, std::string_view name) {
  const std::string what = "unpack OS template `" + std::string(name) + "`";
  BERTH_ASSIGN_OR_RETURN(std::string archive, find_cache_archive(host, name));
  struct stat st;
  if (stat(archive.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat `" + archive + "`").context(what);
  const std::string final_dir = unpacked_path(host, name, st);
  // Fast path without the lock: the final name only ever appears complete (rename below).
  if (exists(final_dir)) return final_dir;

  BERTH_ASSIGN_OR_RETURN(UniqueFd lock, std::move(lock_rootfs(host)).context(what));
  if (exists(final_dir)) return final_dir;  // unpacked by whoever held the lock before us
  BERTH_RETURN_IF_ERROR(remove_stale_temp_dirs(host).context(what));

  std::string tmp =
      rootfs_dir(host) + "/" + std::string(kTmpPrefix) + std::string(name) + "-XXXXXX";
  if (!mkdtemp(tmp.data()))
    return Error::from_errno(errno, "mkdtemp in `" + rootfs_dir(host) + "`").context(what);
  ScopeExit cleanup([&] { (void)remove_tree(tmp); });
  // mkdtemp makes 0700; a template without a "./" entry still needs a usable root dir.
  if (chmod(tmp.c_str(), 0755) != 0)
    return Error::from_errno(errno, "chmod `" + tmp + "`").context(what);
  BERTH_RETURN_IF_ERROR(unpack_archive(archive, tmp, 0, 0).context(what));
  // The final name promises a complete tree even after a power loss, so the data goes to disk
  // before the rename. syncfs once is far cheaper than an fsync per file.
  {
    UniqueFd dfd(open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd || syncfs(dfd.get()) != 0)
      return Error::from_errno(errno, "sync `" + tmp + "`").context(what);
  }
  if (rename(tmp.c_str(), final_dir.c_str()) != 0)
    return Error::from_errno(errno, "rename `" + tmp + "` to `" + final_dir + "`").context(what);
  cleanup.dismiss();
  return final_dir;
}

Status remove_template(const HostConfig& host, std::string_view name) {
  const std::string what = "remove OS template `" + std::string(name) + "`";
  BERTH_RETURN_IF_ERROR(validate_template_name(name).context(what));
  BERTH_ASSIGN_OR_RETURN(auto users, std::move(template_users(host, name)).context(what));
  if (!users.empty()) {
    std::string list;
    for (const auto& u : users) list += (list.empty() ? "" : " ") + u;
    return Error::invalid("it is used by CT " + list, exitcode::kBadValue).context(what);
  }
  BERTH_ASSIGN_OR_RETURN(UniqueFd lock, std::move(lock_rootfs(host)).context(what));
  bool found = false;
  for (std::string_view suffix : kArchiveSuffixes) {
    std::string path = host.paths().cache_dir + "/" + std::string(name) + std::string(suffix);
    const std::string side = host.paths().cache_dir + "/." + std::string(name) +
                             std::string(suffix) + ".dist";  // info.h's sidecar
    for (const std::string& p : {path, path + ".asc", side}) {
      if (unlink(p.c_str()) == 0) {
        found = found || p == path;
      } else if (errno != ENOENT) {
        return Error::from_errno(errno, "unlink `" + p + "`").context(what);
      }
    }
  }
  const std::string dir = rootfs_dir(host);
  BERTH_ASSIGN_OR_RETURN(auto roots, std::move(list_dir(dir)).context(what));
  const std::string prefix = std::string(name) + "@";
  for (const auto& r : roots) {
    if (!r.starts_with(prefix)) continue;
    BERTH_RETURN_IF_ERROR(remove_tree(dir + "/" + r).context(what));
    found = true;
  }
  if (!found) return not_found(name);
  return {};
}

Status import_template(const HostConfig& host, const std::string& file,
                       std::optional<std::string> name) {
  const std::string what = "import OS template from `" + file + "`";
  std::string_view base = file;
  if (size_t slash = base.rfind('/'); slash != std::string_view::npos)
    base.remove_prefix(slash + 1);
  auto split = split_archive_name(base);
  if (!split)
    return Error::invalid(
               "unknown archive type (expected .tar, .tar.gz, .tgz, .tar.xz, .tar.zst or .tar.bz2)",
               exitcode::kBadValue)
        .context(what);
  const std::string tname = name ? *name : split->first;
  BERTH_RETURN_IF_ERROR(validate_template_name(tname).context(what));
  struct stat st;
  if (stat(file.c_str(), &st) != 0)
    return Error::from_errno(errno, "stat `" + file + "`").context(what);
  if (!S_ISREG(st.st_mode))
    return Error::invalid("`" + file + "` is not a regular file", exitcode::kBadValue)
        .context(what);
  BERTH_RETURN_IF_ERROR(check_readable_archive(file).context(what));
  if (auto existing = find_cache_archive(host, tname); existing.ok())
    return Error::invalid(
               "OS template `" + tname + "` exists already (`" + *existing + "`); remove it first",
               exitcode::kBadValue)
        .context(what);
  const std::string& cache = host.paths().cache_dir;
  BERTH_RETURN_IF_ERROR(make_dirs(cache, 0755).context(what));
  return copy_file(file, cache, cache + "/" + tname + split->second).context(what);
}

}  // namespace berth::tmpl
