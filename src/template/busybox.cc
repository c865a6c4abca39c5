// build_busybox_template(): writes the busybox template archive straight from memory and from
// /bin/busybox with libarchive; the entry list is built first, then streamed.
#include "template/busybox.h"

#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <set>
#include <string_view>

#include "core/unique_fd.h"
#include "sys/run.h"
#include "template/busybox_files.h"
#include "template/cache.h"

namespace berth::tmpl {
namespace {

namespace files = busybox_files;

struct Entry {
  std::string path;  // relative, without "./"
  mode_t type;       // AE_IFDIR, AE_IFREG, AE_IFLNK
  unsigned perm;
  std::string data;           // file content or symlink target
  bool from_busybox = false;  // content streamed from the busybox binary
};

// Run argv (no shell), return its stdout. Used only for /bin/busybox's own listing and version.
Result<std::string> run_capture(const std::vector<std::string>& args) {
  BERTH_ASSIGN_OR_RETURN(sys::ToolOutput r, sys::run_tool(args, false));
  if (r.status != 0)
    return Error::invalid("`" + args[0] + " " + (args.size() > 1 ? args[1] : "") + "` failed");
  return std::move(r.out);
}

// A dynamically linked busybox (Debian package `busybox`) would find no loader in the CT.
Status check_static_elf(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  Elf64_Ehdr eh;
  if (pread(fd.get(), &eh, sizeof eh, 0) != sizeof eh ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    return Error::invalid("`" + path + "` is not a 64-bit ELF binary");
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (pread(fd.get(), &ph, sizeof ph, eh.e_phoff + i * eh.e_phentsize) != sizeof ph)
      return Error::invalid("`" + path + "`: truncated ELF program headers");
    if (ph.p_type == PT_INTERP)
      return Error::invalid("`" + path +
                            "` is dynamically linked; install Debian package busybox-static");
  }
  return {};
}

Result<std::string> read_host_file(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open `" + path + "`");
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read `" + path + "`");
    if (n == 0) break;
    data.append(buf, n);
  }
  return data;
}

// "BusyBox v1.35.0 (Debian ...) multi-call binary." -> "1.35.0"
std::string parse_version(std::string_view help) {
  size_t v = help.find(" v");
  if (v == std::string_view::npos) return "";
  size_t end = help.find_first_of(" \n", v + 2);
  return std::string(help.substr(v + 2, end == std::string_view::npos ? end : end - v - 2));
}

std::string os_release(const std::string& version) {
  std::string s =
      "NAME=\"BusyBox\"\n"
      "ID=busybox\n";
  if (!version.empty()) s += "VERSION_ID=\"" + version + "\"\n";
  s += "PRETTY_NAME=\"BusyBox " + version + " (Berth built-in template)\"\n";
  s += "HOME_URL=\"https://busybox.net/\"\n";
  return s;
}

// Host programs worth having in a VPS that busybox lacks, with the libraries ldd names (and the
// loader): `nft`, so a VPS can manage its own firewall. Skipped when the host has none.
Result<std::vector<Entry>> host_extras() {
  std::vector<Entry> out;
  std::set<std::string> seen;
  for (const char* prog : kHostExtras) {
    if (access(prog, X_OK) != 0) continue;
    // An extra is a convenience: without ldd (or if it fails) the template is made without it.
    if (access("/usr/bin/ldd", X_OK) != 0) continue;
    auto ldd = run_capture({"/usr/bin/ldd", prog});
    if (!ldd.ok()) continue;
    std::vector<std::string> files = parse_ldd(*ldd);
    files.insert(files.begin(), prog);
    for (const auto& f : files) {
      if (!seen.insert(f).second) continue;
      BERTH_ASSIGN_OR_RETURN(std::string data, read_host_file(f));
      out.push_back({f.substr(1), AE_IFREG, 0755, std::move(data)});
    }
  }
  return out;
}

std::vector<Entry> template_entries(const std::vector<std::string>& applets,
                                    const std::string& version, std::vector<Entry> extras) {
  std::vector<Entry> v;
  std::set<std::string> dirs = {"bin",        "sbin",      "usr",
                                "usr/bin",    "usr/sbin",  "etc",
                                "etc/init.d", "etc/berth", "etc/berth/start.d",
                                "proc",       "sys",       "dev",
                                "run",        "tmp",       "root",
                                "var",        "var/log",   "var/tmp",
                                "home",       "mnt",       "etc/udhcpc"};
  for (const auto& a : applets)
    for (size_t s = a.find('/'); s != std::string::npos; s = a.find('/', s + 1))
      dirs.insert(a.substr(0, s));
  for (const auto& e : extras)
    for (size_t s = e.path.find('/'); s != std::string::npos; s = e.path.find('/', s + 1))
      dirs.insert(e.path.substr(0, s));
  v.push_back({"", AE_IFDIR, 0755, ""});
  for (const auto& d : dirs) {  // sorted: parents come before their children
    unsigned perm = d == "tmp" || d == "var/tmp" ? 01777 : d == "root" ? 0700 : 0755;
    v.push_back({d, AE_IFDIR, perm, ""});
  }
  v.push_back({"bin/busybox", AE_IFREG, 0755, "", true});
  auto file = [&v](const char* p, unsigned perm, std::string_view text) {
    v.push_back({p, AE_IFREG, perm, std::string(text)});
  };
  file("etc/inittab", 0644, files::kInittab);
  file("etc/init.d/rcS", 0755, files::kRcS);
  file("etc/init.d/rcK", 0755, files::kRcK);
  file("etc/passwd", 0644, files::kPasswd);
  file("etc/group", 0644, files::kGroup);
  file("etc/shadow", 0600, files::kShadow);
  file("etc/hostname", 0644, files::kHostname);
  file("etc/hosts", 0644, files::kHosts);
  file("etc/resolv.conf", 0644, "");
  file("etc/profile", 0644, files::kProfile);
  file("etc/udhcpc/default.script", 0755, files::kUdhcpcScript);
  v.push_back({"etc/os-release", AE_IFREG, 0644, os_release(version)});
  v.push_back({"etc/mtab", AE_IFLNK, 0777, "../proc/self/mounts"});
  v.push_back({"var/run", AE_IFLNK, 0777, "../run"});
  for (const auto& a : applets) v.push_back({a, AE_IFLNK, 0777, applet_link_target(a)});
  std::set<std::string> taken(applets.begin(), applets.end());
  for (auto& e : extras)
    if (!taken.count(e.path)) v.push_back(std::move(e));
  return v;
}

Status write_entries(struct archive* a, const std::vector<Entry>& entries, int busybox_fd,
                     const struct stat& busybox_st) {
  struct archive_entry* e = archive_entry_new();
  if (!e) return Error::from_errno(ENOMEM, "archive_entry_new");
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> guard(e,
                                                                               archive_entry_free);
  for (const auto& en : entries) {
    archive_entry_clear(e);
    std::string path = en.path.empty() ? "./" : "./" + en.path + (en.type == AE_IFDIR ? "/" : "");
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, en.type);
    archive_entry_set_perm(e, en.perm);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    archive_entry_set_mtime(e, busybox_st.st_mtim.tv_sec, 0);
    if (en.type == AE_IFLNK) archive_entry_set_symlink(e, en.data.c_str());
    if (en.type == AE_IFREG)
      archive_entry_set_size(
          e, en.from_busybox ? busybox_st.st_size : static_cast<la_int64_t>(en.data.size()));
    if (archive_write_header(a, e) != ARCHIVE_OK)
      return Error::invalid("write entry `" + path + "`: " + archive_error_string(a));
    if (en.type != AE_IFREG) continue;
    if (!en.from_busybox) {
      if (!en.data.empty() && archive_write_data(a, en.data.data(), en.data.size()) < 0)
        return Error::invalid("write `" + path + "`: " + archive_error_string(a));
      continue;
    }
    char buf[1 << 16];
    off_t off = 0;
    while (off < busybox_st.st_size) {
      ssize_t n = pread(busybox_fd, buf, sizeof buf, off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno(errno, std::string("read `") + kBusyboxBinary + "`");
      if (n == 0)
        return Error::invalid(std::string("`") + kBusyboxBinary + "` shrank while reading");
      if (archive_write_data(a, buf, n) < 0)
        return Error::invalid("write `" + path + "`: " + archive_error_string(a));
      off += n;
    }
  }
  return {};
}

Status write_archive(const std::string& tmp_path, int out_fd, const std::vector<Entry>& entries,
                     int busybox_fd, const struct stat& busybox_st) {
  struct archive* a = archive_write_new();
  if (!a) return Error::from_errno(ENOMEM, "archive_write_new");
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_write_free);
  archive_write_add_filter_gzip(a);
  // No gzip header timestamp: the same busybox gives the same archive bytes.
  archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
  // Fast: the template is built on the spot (every new BERTH_ROOT), and level 1 takes 0.35 s
  // instead of 1.1 s here.
  archive_write_set_filter_option(a, "gzip", "compression-level", "1");
  archive_write_set_format_pax_restricted(a);
  if (archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
    return Error::invalid("open `" + tmp_path + "`: " + archive_error_string(a));
  BERTH_RETURN_IF_ERROR(write_entries(a, entries, busybox_fd, busybox_st));
  if (archive_write_close(a) != ARCHIVE_OK)
    return Error::invalid("finish `" + tmp_path + "`: " + archive_error_string(a));
  return {};
}

}  // namespace

std::vector<std::string> parse_ldd(std::string_view out) {
  std::vector<std::string> paths;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string_view line =
        out.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? out.size() : nl + 1;
    // "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "\t/lib64/ld-linux-x86-64.so.2
    // (0x...)"
    size_t arrow = line.find("=> ");
    size_t start = arrow != std::string_view::npos ? arrow + 3 : line.find_first_not_of(" \t");
    if (start == std::string_view::npos || start >= line.size() || line[start] != '/') continue;
    size_t end = line.find(' ', start);
    std::string path(
        line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (path.find("/../") == std::string::npos) paths.push_back(path);
  }
  return paths;
}

std::vector<std::string> parse_applet_list(std::string_view out) {
  std::set<std::string> applets;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string_view::npos) nl = out.size();
    std::string_view line = out.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '/' || line.find('/') == std::string_view::npos) continue;
    if (line == "bin/busybox" || line.find("..") != std::string_view::npos) continue;
    if (line.find_first_of(" \t\\") != std::string_view::npos) continue;
    applets.emplace(line);
  }
  return {applets.begin(), applets.end()};
}

std::string applet_link_target(std::string_view applet_path) {
  size_t slash = applet_path.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? "" : applet_path.substr(0, slash);
  if (dir == "bin") return "busybox";
  std::string up;
  for (char c : applet_path)
    if (c == '/') up += "../";
  return up + "bin/busybox";
}

std::string busybox_archive_path(const HostConfig& host) {
  return host.paths().cache_dir + "/" + kBusyboxTemplate + ".tar.gz";
}

Status build_busybox_template(const HostConfig& host, bool force) {
  const std::string what = "build OS template `busybox`";
  if (!force && find_cache_archive(host, kBusyboxTemplate).ok()) return {};

  UniqueFd bb(open(kBusyboxBinary, O_RDONLY | O_CLOEXEC));
  if (!bb)
    return Error::from_errno(errno, std::string("open `") + kBusyboxBinary +
                                        "` (install Debian package busybox-static)")
        .context(what);
  struct stat bb_st;
  if (fstat(bb.get(), &bb_st) != 0)
    return Error::from_errno(errno, "stat `/bin/busybox`").context(what);
  BERTH_RETURN_IF_ERROR(check_static_elf(kBusyboxBinary).context(what));
  BERTH_ASSIGN_OR_RETURN(std::string list,
                         std::move(run_capture({kBusyboxBinary, "--list-full"})).context(what));
  BERTH_ASSIGN_OR_RETURN(std::string help,
                         std::move(run_capture({kBusyboxBinary, "--help"})).context(what));
  auto applets = parse_applet_list(list);
  if (applets.empty())
    return Error::invalid("`busybox --list-full` listed no applets").context(what);
  BERTH_ASSIGN_OR_RETURN(std::vector<Entry> extras, host_extras().context(what));
  auto entries = template_entries(applets, parse_version(help), std::move(extras));

  const std::string& cache = host.paths().cache_dir;
  BERTH_RETURN_IF_ERROR(make_dirs(cache, 0755).context(what));
  const std::string final_path = busybox_archive_path(host);
  std::string tmp = cache + "/.busybox.tar.gz.tmp-XXXXXX";
  UniqueFd out(mkostemp(tmp.data(), O_CLOEXEC));
  if (!out) return Error::from_errno(errno, "create temp file in `" + cache + "`").context(what);
  ScopeExit cleanup([&] { unlink(tmp.c_str()); });
  BERTH_RETURN_IF_ERROR(write_archive(tmp, out.get(), entries, bb.get(), bb_st).context(what));
  if (fchmod(out.get(), 0644) != 0)
    return Error::from_errno(errno, "chmod `" + tmp + "`").context(what);
  if (fsync(out.get()) != 0) return Error::from_errno(errno, "fsync `" + tmp + "`").context(what);
  if (rename(tmp.c_str(), final_path.c_str()) != 0)
    return Error::from_errno(errno, "rename `" + tmp + "` to `" + final_path + "`").context(what);
  cleanup.dismiss();
  for (std::string_view suffix : kArchiveSuffixes) {
    std::string other = cache + "/" + kBusyboxTemplate + std::string(suffix);
    if (other != final_path && unlink(other.c_str()) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "unlink `" + other + "`").context(what);
  }
  return {};
}

}  // namespace berth::tmpl
