// Debian OS templates built with mmdebstrap: recipe, mirror choice, build.
#include "template/debian.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "core/conf_file.h"
#include "core/exit_codes.h"
#include "core/unique_fd.h"
#include "sys/fs.h"
#include "template/cache.h"

namespace berth::tmpl {

const std::vector<std::string> kDebianPackages = {
    "systemd-sysv", "openssh-server",  "iproute2", "ifupdown", "procps",
    "less",         "ca-certificates", "dbus",     "netbase",  "iputils-ping"};

const std::vector<std::string> kDebianMaskedUnits = {
    // A VPS has no devices to manage, loads no kernel modules and mounts none of the host kernel's
    // own file systems. On a Berth host these units are skipped by their own conditions today
    // (/sys read-only, no CAP_SYS_MODULE, ...); masked so that they stay off whatever a later
    // mount or capability change makes of those conditions.
    "systemd-udevd.service",        "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service", "systemd-udev-settle.service",  "systemd-modules-load.service",
    "sys-kernel-config.mount",      "sys-kernel-debug.mount",       "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount"};

namespace {

struct Release {
  const char* version;
  const char* suite;
};
constexpr Release kReleases[] = {{"11", "bullseye"}, {"12", "bookworm"}, {"13", "trixie"}};

struct ArchName {
  const char* machine;
  const char* deb;
};
constexpr ArchName kArches[] = {{"x86_64", "amd64"},   {"aarch64", "arm64"},   {"i686", "i386"},
                                {"armv7l", "armhf"},   {"ppc64le", "ppc64el"}, {"s390x", "s390x"},
                                {"riscv64", "riscv64"}};

// The customize hook (sh, "$1" is the new root). Per-machine files left empty or removed; the
// first-boot host key unit; masks; apt lists dropped; neutral hostname; root may log in over ssh
// with a password (set by `berth set --userpasswd`), as on OpenVZ's templates.
std::string customize_script(const std::string& mirror, const std::string& security,
                             const DebianSpec& spec) {
  std::string s =
      "set -e\n"
      "r=\"$1\"\n"
      ": > \"$r/etc/machine-id\"\n"
      "rm -f \"$r/var/lib/dbus/machine-id\"\n"
      "ln -s /etc/machine-id \"$r/var/lib/dbus/machine-id\"\n"
      "rm -f \"$r\"/etc/ssh/ssh_host_*\n"
      "echo localhost > \"$r/etc/hostname\"\n"
      ": > \"$r/etc/resolv.conf\"\n"
      "chmod 644 \"$r/etc/hostname\" \"$r/etc/resolv.conf\"\n"
      "rm -f \"$r/var/lib/systemd/random-seed\"\n"
      "cat > \"$r/etc/systemd/system/berth-ssh-hostkeys.service\" <<'EOF'\n"
      "[Unit]\n"
      "Description=SSH host keys of this VPS (made on its first boot; Berth template)\n"
      "Before=ssh.service\n"
      "\n"
      "[Service]\n"
      "Type=oneshot\n"
      "ExecStart=/usr/bin/ssh-keygen -A\n"
      "RemainAfterExit=yes\n"
      "\n"
      "[Install]\n"
      "WantedBy=ssh.service\n"
      "EOF\n"
      "mkdir -p \"$r/etc/systemd/system/ssh.service.wants\"\n"
      "ln -sf ../berth-ssh-hostkeys.service "
      "\"$r/etc/systemd/system/ssh.service.wants/berth-ssh-hostkeys.service\"\n"
      // CRIU (3.17, Debian 12's) cannot dump a nested UTS namespace, which every service with
      // ProtectHostname=yes (logind, timesyncd, resolved...) has: without this no Debian VPS can
      // be checkpointed or migrated live (docs/checkpoint.md). The hostname is the VPS's own
      // anyway; the services keep their other sandboxing.
      "mkdir -p \"$r/etc/systemd/system/service.d\"\n"
      "printf '[Service]\\nProtectHostname=no\\n' > "
      "\"$r/etc/systemd/system/service.d/berth-checkpoint.conf\"\n"
      "mkdir -p \"$r/etc/ssh/sshd_config.d\"\n"
      "echo 'PermitRootLogin yes' > \"$r/etc/ssh/sshd_config.d/berth.conf\"\n";
  for (const auto& u : kDebianMaskedUnits)
    s += "ln -sf /dev/null \"$r/etc/systemd/system/" + u + "\"\n";
  s += "cat > \"$r/etc/apt/sources.list\" <<'EOF'\n";
  s += "deb " + mirror + " " + spec.suite + " main\n";
  s += "deb " + mirror + " " + spec.suite + "-updates main\n";
  if (!security.empty()) s += "deb " + security + " " + spec.suite + "-security main\n";
  s += "EOF\n";
  s += "rm -rf \"$r\"/var/lib/apt/lists/* \"$r\"/var/cache/apt/*.bin\n"
       "mkdir -p \"$r/var/lib/apt/lists/partial\"\n"
       "rm -f \"$r\"/var/log/*.log \"$r\"/var/log/apt/*\n";
  s += "cat > \"$r/etc/berth-template\" <<'EOF'\n";
  s += "# Made by `berth template create debian-" + spec.version +
       "` (mmdebstrap, variant minbase)\n";
  s += "TEMPLATE=\"" + spec.cache_name + "\"\n";
  std::string pk;
  for (const auto& p : kDebianPackages) pk += (pk.empty() ? "" : " ") + p;
  std::string mk;
  for (const auto& u : kDebianMaskedUnits) mk += (mk.empty() ? "" : " ") + u;
  s += "PACKAGES=\"" + pk + "\"\n";
  s += "MASKED=\"" + mk + "\"\n";
  s += "EOF\n";
  return s;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// One `deb` source: its URIs and suites.
struct Source {
  std::vector<std::string> uris;
  std::vector<std::string> suites;
};

// deb822 stanzas (blank-line separated "Key: value" fields, '#' comments, continuation lines
// ignored) whose Types hold "deb" and that are not Enabled: no.
std::vector<Source> parse_deb822(std::string_view text) {
  std::vector<Source> out;
  Source cur;
  bool is_deb = false, enabled = true, any = false;
  auto flush = [&] {
    if (any && is_deb && enabled && !cur.uris.empty()) out.push_back(cur);
    cur = {};
    is_deb = false;
    enabled = true;
    any = false;
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (trim(line).empty()) {
      flush();
      if (nl == text.size()) break;
      continue;
    }
    if (line.front() == '#' || line.front() == ' ' || line.front() == '\t') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    any = true;
    if (key == "types") {
      for (const auto& w : words(value)) is_deb = is_deb || w == "deb";
    } else if (key == "uris") {
      cur.uris = words(value);
    } else if (key == "suites") {
      cur.suites = words(value);
    } else if (key == "enabled") {
      enabled = value != "no" && value != "false";
    }
    if (nl == text.size()) {
      flush();
      break;
    }
  }
  return out;
}

// One-line format: "deb [opts] URI suite component...".
std::vector<Source> parse_sources_list(std::string_view text) {
  std::vector<Source> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    if (size_t open = line.find('['); open != std::string::npos) {
      size_t close = line.find(']', open);
      if (close == std::string::npos) continue;
      line.erase(open, close - open + 1);
    }
    auto w = words(line);
    if (w.size() < 3 || w[0] != "deb") continue;
    out.push_back({{w[1]}, {w[2]}});
  }
  return out;
}

std::vector<Source> all_sources(std::string_view sources_list,
                                const std::vector<std::string>& deb822) {
  std::vector<Source> all;
  for (const auto& t : deb822)
    for (auto& s : parse_deb822(t)) all.push_back(std::move(s));
  for (auto& s : parse_sources_list(sources_list)) all.push_back(std::move(s));
  return all;
}

std::string strip_slash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool plain_suite(const std::string& suite) { return suite.find('-') == std::string::npos; }

std::optional<std::string> pick(const std::vector<Source>& sources, bool security) {
  for (const auto& s : sources) {
    bool suite_ok = std::any_of(s.suites.begin(), s.suites.end(), [&](const std::string& x) {
      return security ? x.ends_with("-security") : plain_suite(x);
    });
    if (!suite_ok) continue;
    for (const auto& u : s.uris) {
      bool sec = u.find("security") != std::string::npos;
      if (sec == security) return strip_slash(u);
    }
  }
  return std::nullopt;
}

Result<std::string> read_text(const std::string& path) {
  auto t = sys::read_file(path);
  if (!t.ok() && t.error().code() == ENOENT) return std::string();
  return t;
}

// sources.list plus every sources.list.d/*.list appended; the *.sources texts apart.
Status read_apt_sources(const std::string& apt_dir, std::string& list,
                        std::vector<std::string>& deb822) {
  BERTH_ASSIGN_OR_RETURN(list, read_text(apt_dir + "/sources.list"));
  const std::string d = apt_dir + "/sources.list.d";
  DIR* dir = opendir(d.c_str());
  if (!dir) return {};
  std::vector<std::string> names;
  while (struct dirent* de = readdir(dir)) names.emplace_back(de->d_name);
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (n.ends_with(".sources")) {
      BERTH_ASSIGN_OR_RETURN(std::string t, read_text(d + "/" + n));
      deb822.push_back(std::move(t));
    } else if (n.ends_with(".list")) {
      BERTH_ASSIGN_OR_RETURN(std::string t, read_text(d + "/" + n));
      list += "\n" + t;
    }
  }
  return {};
}

// Signals that end a build early; the handler only records which one came.
volatile sig_atomic_t g_stop_signal = 0;
volatile sig_atomic_t g_stop_count = 0;
void on_stop_signal(int sig) {
  g_stop_signal = sig;
  g_stop_count = g_stop_count + 1;
}

// SIGINT, SIGTERM and SIGHUP caught while alive (no SA_RESTART: a blocking read returns EINTR);
// the old actions are back on destruction.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    g_stop_signal = 0;
    g_stop_count = 0;
    for (size_t i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~StopSignals() {
    for (size_t i = 0; i < 3; ++i) sigaction(kSignals[i], &old_[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction old_[3];
};

// Is the suite on the mirror? curl for <mirror>/dists/<suite>/InRelease (HEAD); only http(s)
// mirrors are probed, and a missing curl skips the probe (mmdebstrap then says what is wrong).
Status probe_suite(const std::string& mirror, const DebianSpec& spec) {
  if (!mirror.starts_with("http://") && !mirror.starts_with("https://")) return {};
  if (access("/usr/bin/curl", X_OK) != 0) return {};
  const std::string url = mirror + "/dists/" + spec.suite + "/InRelease";
  pid_t pid = fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);  // dup2 clears it on 1 and 2
    dup2(null, 1);
    dup2(null, 2);
    execl("/usr/bin/curl", "curl", "-fsI", "--max-time", "20", "-o", "/dev/null", url.c_str(),
          static_cast<char*>(nullptr));
    _exit(exitcode::kCommandNotFound);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for curl");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 22)  // HTTP error: the suite is not there
    return Error::with_status(exitcode::kTemplateNotFound,
                              "the mirror `" + mirror + "` does not carry Debian " + spec.version +
                                  " (" + spec.suite + "): no " + url);
  return Error::invalid("cannot reach the mirror `" + mirror + "` (curl " + url + " failed)",
                        exitcode::kSystem);
}

// Removes <cache>/.tmp-<name>-* files (left by a killed build; called under the build lock).
void remove_stale_builds(const std::string& cache, const std::string& name) {
  DIR* d = opendir(cache.c_str());
  if (!d) return;
  const std::string prefix = ".tmp-" + name + "-";
  std::vector<std::string> stale;
  while (struct dirent* de = readdir(d))
    if (std::string_view(de->d_name).starts_with(prefix)) stale.emplace_back(de->d_name);
  closedir(d);
  for (const auto& n : stale) unlink((cache + "/" + n).c_str());
}

// Runs argv in its own process group with stdout+stderr into one pipe, each line to on_line;
// stops the group (SIGTERM; SIGKILL on a second signal) when a stop signal comes, then waits.
// Returns the wait status; the error names the signal.
Result<int> run_lines(const std::vector<std::string>& args,
                      const std::function<void(std::string_view)>& on_line) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(fds[0]), wr(fds[1]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) {
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop it in order.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(exitcode::kCommandNotFound);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);  // dup2 clears it on 0
    dup2(null, 0);
    dup2(wr.get(), 1);
    dup2(wr.get(), 2);
    execv(argv[0], argv.data());
    _exit(exitcode::kCommandNotFound);
  }
  wr.reset();
  std::string buf;
  char chunk[4096];
  int stops_sent = 0;
  for (;;) {
    // mmdebstrap acts on its own SIGTERM only between phases (minutes), so the whole group gets
    // it: apt and dpkg end, mmdebstrap then unmounts and removes its temp dir. A second signal
    // kills the group outright.
    if (g_stop_count > stops_sent) {
      kill(-pid, stops_sent == 0 ? SIGTERM : SIGKILL);
      stops_sent = g_stop_count;
    }
    ssize_t n = read(rd.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, n);
    size_t nl;
    while ((nl = buf.find_first_of("\r\n")) != std::string::npos) {
      on_line(std::string_view(buf).substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  if (!buf.empty()) on_line(buf);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error::from_errno(errno, "wait for `" + args[0] + "`");
  if (g_stop_signal)
    return Error::invalid(std::string("interrupted by ") + strsignal(g_stop_signal),
                          exitcode::kSystem);
  return status;
}

}  // namespace

std::optional<DebianSpec> debian_spec(std::string_view name, std::string_view host_arch) {
  const ArchName* arch = nullptr;
  for (const auto& a : kArches)
    if (host_arch == a.machine) arch = &a;
  if (!arch) return std::nullopt;
  for (const auto& r : kReleases) {
    const std::string short_name = std::string("debian-") + r.version;
    const std::string full = short_name + "-" + arch->machine + "-minimal";
    if (name == short_name || name == full) return DebianSpec{r.version, r.suite, arch->deb, full};
  }
  return std::nullopt;
}

std::string debian_versions() {
  std::string s;
  for (const auto& r : kReleases) s += (s.empty() ? "" : " ") + std::string(r.version);
  return s;
}

std::optional<std::string> mirror_from_apt_sources(std::string_view sources_list,
                                                   const std::vector<std::string>& deb822) {
  return pick(all_sources(sources_list, deb822), false);
}

std::optional<std::string> security_mirror_from_apt_sources(
    std::string_view sources_list, const std::vector<std::string>& deb822) {
  return pick(all_sources(sources_list, deb822), true);
}

Result<std::string> debian_mirror(const HostConfig& host, const std::string& apt_dir) {
  if (auto m = host.global().get("TEMPLATE_MIRROR"); m && !m->empty()) return strip_slash(*m);
  std::string list;
  std::vector<std::string> deb822;
  BERTH_RETURN_IF_ERROR(read_apt_sources(apt_dir, list, deb822));
  if (auto m = mirror_from_apt_sources(list, deb822)) return *m;
  return Error::invalid(
      "no Debian mirror: set TEMPLATE_MIRROR in berth.conf (no `deb` source in `" + apt_dir +
          "/sources.list` or `" + apt_dir + "/sources.list.d/`)",
      exitcode::kSystem);
}

std::string debian_recipe_text(const DebianSpec& spec) {
  std::string s = "template " + spec.cache_name + "\nsuite " + spec.suite + "\narch " +
                  spec.deb_arch + "\nvariant minbase\npackages";
  for (const auto& p : kDebianPackages) s += " " + p;
  s += "\nmasked";
  for (const auto& u : kDebianMaskedUnits) s += " " + u;
  s += "\ncustomize:\n" + customize_script("MIRROR", "SECURITY", spec);
  return s;
}

ProgressLine condense_mmdebstrap_line(std::string_view line) {
  std::string t = trim(line);
  if (t.empty()) return {"", false, false};
  if (t.starts_with("I: ")) return {t.substr(3), false, true};
  if (t.starts_with("E: ") || t.starts_with("W: ")) return {t, false, true};
  // apt's and dpkg's own lines ("Get:1 ...", "Unpacking ...", "Setting up ..."): a status line.
  if (t.size() > 100) t = t.substr(0, 97) + "...";
  return {t, true, true};
}

Result<bool> build_debian_template(const HostConfig& host, const DebianSpec& spec,
                                   const BuildOptions& opt) {
  const std::string what = "create OS template `" + spec.cache_name + "`";
  auto say = [&](std::string_view line, bool transient) {
    if (opt.progress) opt.progress(line, transient);
  };
  const std::string cache = host.paths().cache_dir;
  BERTH_RETURN_IF_ERROR(make_dirs(cache, 0755).context(what));
  // One build of a name at a time; the lock file is hidden (never a template name).
  const std::string lock_path = cache + "/.create-" + spec.cache_name + ".lock";
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return Error::from_errno(errno, "open `" + lock_path + "`").context(what);
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
    return Error::with_status(exitcode::kLocked,
                              "another `berth template create " + spec.cache_name + "` is running")
        .context(what);
  if (!opt.force && find_cache_archive(host, spec.cache_name).ok()) return false;
  remove_stale_builds(cache, spec.cache_name);

  const std::string mmdebstrap = "/usr/bin/mmdebstrap";
  if (access(mmdebstrap.c_str(), X_OK) != 0)
    return Error::invalid("mmdebstrap is not installed (apt-get install mmdebstrap)",
                          exitcode::kSystem)
        .context(what);
  std::string mirror = opt.mirror;
  if (mirror.empty()) {
    BERTH_ASSIGN_OR_RETURN(mirror, std::move(debian_mirror(host)).context(what));
  }
  std::string security;
  {
    std::string list;
    std::vector<std::string> deb822;
    if (read_apt_sources("/etc/apt", list, deb822).ok())
      security = security_mirror_from_apt_sources(list, deb822).value_or("");
  }
  say("Debian " + spec.version + " (" + spec.suite + ", " + spec.deb_arch + ") from " + mirror,
      false);
  BERTH_RETURN_IF_ERROR(probe_suite(mirror, spec).context(what));

  std::string tmp = cache + "/.tmp-" + spec.cache_name + "-XXXXXX.tar.zst";
  UniqueFd tmp_fd(mkostemps(tmp.data(), 8, O_CLOEXEC));
  if (!tmp_fd) return Error::from_errno(errno, "create temp file in `" + cache + "`").context(what);
  tmp_fd.reset();
  ScopeExit cleanup([&] { unlink(tmp.c_str()); });

  std::string include;
  for (const auto& p : kDebianPackages) include += (include.empty() ? "" : ",") + p;
  std::vector<std::string> args = {mmdebstrap,
                                   "--variant=minbase",
                                   "--mode=root",
                                   "--format=tar",
                                   "--architectures=" + spec.deb_arch,
                                   "--include=" + include,
                                   "--customize-hook=" + customize_script(mirror, security, spec),
                                   spec.suite,
                                   tmp,
                                   mirror};
  std::deque<std::string> tail;  // the last lines, shown when the build fails
  StopSignals signals;
  BERTH_ASSIGN_OR_RETURN(int status, std::move(run_lines(args, [&](std::string_view l) {
                                       if (trim(l).empty()) return;
                                       tail.emplace_back(l);
                                       if (tail.size() > 15) tail.pop_front();
                                       ProgressLine p = condense_mmdebstrap_line(l);
                                       if (p.keep) say(p.text, p.transient);
                                     })).context(what));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string last;
    for (const auto& l : tail) last += "\n  " + l;
    return Error::invalid("mmdebstrap failed (status " +
                              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                                               : 128 + WTERMSIG(status)) +
                              "); its last lines:" + last,
                          exitcode::kSystem)
        .context(what);
  }
  if (chmod(tmp.c_str(), 0644) != 0)
    return Error::from_errno(errno, "chmod `" + tmp + "`").context(what);
  {
    UniqueFd fd(open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || fsync(fd.get()) != 0)
      return Error::from_errno(errno, "fsync `" + tmp + "`").context(what);
  }
  // Other suffixes of the same name would shadow the new archive in lookup (cache.h's order).
  for (std::string_view suffix : kArchiveSuffixes)
    if (suffix != ".tar.zst") unlink((cache + "/" + spec.cache_name + std::string(suffix)).c_str());
  const std::string final_path = cache + "/" + spec.cache_name + ".tar.zst";
  if (rename(tmp.c_str(), final_path.c_str()) != 0)
    return Error::from_errno(errno, "rename `" + tmp + "` to `" + final_path + "`").context(what);
  cleanup.dismiss();
  return true;
}

std::string host_machine() {
  struct utsname u {};
  uname(&u);
  return u.machine;
}

}  // namespace berth::tmpl
