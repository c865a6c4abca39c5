// SET_USERPASS inside a CT: passwd/group/shadow transforms, SHA-512 crypt, useradd -m.
#include "dist/users.h"

#include <crypt.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <set>
#include <vector>

#include "core/exit_codes.h"
#include "core/host_config.h"
#include "core/unique_fd.h"
#include "core/values/text.h"
#include "dist/files.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

Error fail(std::string what) { return Error::invalid(std::move(what), exitcode::kPasswordFailed); }

// Fields and lines keep their empty members (passwd's empty fields, a trailing newline).
std::vector<std::string> split(std::string_view s, char sep) { return values::split_keep(s, sep); }

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out = split(text, '\n');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

std::string text_of(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::set<uint32_t> ids_in(std::string_view file) {
  std::set<uint32_t> ids;
  for (const auto& line : lines_of(file)) {
    auto f = split(line, ':');
    if (f.size() >= 3)
      if (auto id = parse_u32(f[2])) ids.insert(*id);
  }
  return ids;
}

std::string append_line(std::string_view text, const std::string& line) {
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out + line + "\n";
}

// A copy of /etc/skel into a new home, owned by the new user (useradd -m).
Status copy_skel(const std::string& src, const std::string& dst, uid_t uid, gid_t gid) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(src.c_str()), ::closedir);
  if (!dir) return errno == ENOENT ? Status{} : Error::from_errno(errno, "open `" + src + "`");
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string from = src + "/" + name, to = dst + "/" + name;
    struct stat st {};
    if (::lstat(from.c_str(), &st) != 0) return Error::from_errno(errno, "stat `" + from + "`");
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(to.c_str(), st.st_mode & 07777) != 0)
        return Error::from_errno(errno, "mkdir `" + to + "`");
      BERTH_RETURN_IF_ERROR(copy_skel(from, to, uid, gid));
    } else if (S_ISREG(st.st_mode)) {
      BERTH_ASSIGN_OR_RETURN(std::string data, sys::read_file(from));
      UniqueFd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         st.st_mode & 07777));
      if (!fd) return Error::from_errno(errno, "create `" + to + "`");
      if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
        return Error::from_errno(errno, "write `" + to + "`");
    } else if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = ::readlink(from.c_str(), buf, sizeof(buf) - 1);
      if (n < 0) return Error::from_errno(errno, "readlink `" + from + "`");
      if (::symlink(std::string(buf, static_cast<size_t>(n)).c_str(), to.c_str()) != 0)
        return Error::from_errno(errno, "symlink `" + to + "`");
    } else {
      continue;  // sockets, fifos, devices: useradd skips them too
    }
    if (::lchown(to.c_str(), uid, gid) != 0) return Error::from_errno(errno, "chown `" + to + "`");
  }
  return {};
}

Status make_home(const std::string& root, const NewUser& u, unsigned mode) {
  std::string home = root + u.home;
  BERTH_RETURN_IF_ERROR(make_dirs(home.substr(0, home.rfind('/')), 0755));
  if (::mkdir(home.c_str(), mode) != 0) {
    if (errno == EEXIST) return {};  // useradd -m leaves an existing home alone
    return Error::from_errno(errno, "mkdir `" + home + "`");
  }
  if (::chmod(home.c_str(), mode) != 0 || ::chown(home.c_str(), u.uid, u.gid) != 0)
    return Error::from_errno(errno, "set owner of `" + home + "`");
  return copy_skel(root + "/etc/skel", home, u.uid, u.gid);
}

Status create_user(const std::string& root, const std::string& user, const std::string& passwd,
                   const std::optional<std::string>& shadow, const std::string& hash) {
  BERTH_ASSIGN_OR_RETURN(auto group, read_if_exists(root + "/etc/group"));
  BERTH_ASSIGN_OR_RETURN(auto gshadow, read_if_exists(root + "/etc/gshadow"));
  BERTH_ASSIGN_OR_RETURN(auto login_defs, read_if_exists(root + "/etc/login.defs"));
  LoginDefs defs = parse_login_defs(login_defs.value_or(""));
  std::string shell = ::access((root + "/bin/bash").c_str(), X_OK) == 0 ? "/bin/bash" : "/bin/sh";
  BERTH_ASSIGN_OR_RETURN(NewUser u, plan_new_user(passwd, group.value_or(""), user, defs, shell));

  // useradd's order: the group exists before a passwd line refers to it.
  if (u.new_group) {
    BERTH_RETURN_IF_ERROR(
        replace_file(root + "/etc/group", group_with_user(group.value_or(""), u)));
    if (gshadow)
      BERTH_RETURN_IF_ERROR(replace_file(root + "/etc/gshadow", gshadow_with_user(*gshadow, u)));
  }
  BERTH_RETURN_IF_ERROR(
      replace_file(root + "/etc/passwd", passwd_with_user(passwd, u, shadow ? "x" : hash)));
  if (shadow)
    BERTH_RETURN_IF_ERROR(replace_file(
        root + "/etc/shadow", shadow_with_password(*shadow, user, hash, days_since_epoch())));
  return make_home(root, u, defs.home_mode);
}

}  // namespace

Status validate_user_name(std::string_view user) {
  bool chars_ok = std::all_of(user.begin(), user.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  bool all_digits = std::all_of(user.begin(), user.end(),
                                [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (user.empty() || user.size() > 32 || !chars_ok || all_digits || user.front() == '-' ||
      user == "." || user == "..")
    return fail("invalid user name `" + std::string(user) + "`");
  return {};
}

Status validate_password(std::string_view password) {
  if (password.empty()) return fail("empty password");
  if (password.find_first_of(std::string_view(":\n\0", 3)) != std::string_view::npos)
    return fail("password contains ':', a newline or NUL");
  return {};
}

std::string hash_prefix_for(std::string_view pam_common_password, std::string_view login_defs) {
  // pam_unix's own method words, and login.defs' ENCRYPT_METHOD values (upper case).
  static constexpr std::pair<std::string_view, std::string_view> kPam[] = {
      {"yescrypt", "$y$"}, {"sha512", "$6$"}, {"sha256", "$5$"}, {"blowfish", "$2b$"}};
  static constexpr std::pair<std::string_view, std::string_view> kDefs[] = {
      {"YESCRYPT", "$y$"}, {"SHA512", "$6$"}, {"SHA256", "$5$"}, {"BCRYPT", "$2b$"}};
  for (const auto& line : lines_of(pam_common_password)) {
    // "password <control> pam_unix.so <options...>"; the control may be "[a=b c=d]", with blanks.
    auto w = values::split_any(line, " \t");
    if (w.empty() || w[0] != "password") continue;
    auto module = std::find_if(w.begin(), w.end(), [](const std::string& x) {
      return x.size() >= 11 && x.compare(x.size() - 11, 11, "pam_unix.so") == 0;
    });
    std::string_view found;  // the last method word wins, as in pam_unix
    for (auto it = module; it != w.end(); ++it)
      for (const auto& [word, prefix] : kPam)
        if (*it == word) found = prefix;
    if (!found.empty()) return std::string(found);
  }
  for (const auto& line : lines_of(login_defs)) {
    auto w = values::split_any(line, " \t");
    if (w.size() < 2 || w[0] != "ENCRYPT_METHOD") continue;
    for (const auto& [word, prefix] : kDefs)
      if (w[1] == word) return std::string(prefix);
  }
  return "$6$";
}

Result<std::string> hash_password(std::string_view password, std::string_view prefix) {
  BERTH_RETURN_IF_ERROR(validate_password(password));
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // count 0: the method's default cost; rbytes nullptr: libxcrypt reads the OS random source.
  if (!crypt_gensalt_rn(std::string(prefix).c_str(), 0, nullptr, 0, salt, sizeof(salt)) &&
      !crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof(salt)))
    return Error::from_errno(errno, "generate password salt").status(exitcode::kPasswordFailed);
  auto data = std::make_unique<crypt_data>();
  const char* h = crypt_rn(std::string(password).c_str(), salt, data.get(), sizeof(crypt_data));
  if (!h || h[0] == '*')
    return Error::from_errno(errno ? errno : EINVAL, "hash password")
        .status(exitcode::kPasswordFailed);
  return std::string(h);
}

bool password_matches(std::string_view password, std::string_view hash) {
  auto data = std::make_unique<crypt_data>();
  const char* h = crypt_rn(std::string(password).c_str(), std::string(hash).c_str(), data.get(),
                           sizeof(crypt_data));
  return h && h[0] != '*' && hash == h;
}

LoginDefs parse_login_defs(std::string_view text) {
  LoginDefs d;
  for (const auto& line : lines_of(text)) {
    std::vector<std::string> w;
    for (auto& part : split(line, ' '))
      for (auto& p : split(part, '\t'))
        if (!p.empty()) w.push_back(p);
    if (w.size() < 2 || w[0][0] == '#') continue;
    if (w[0] == "HOME_MODE") {
      unsigned m = 0;
      auto [p, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), m, 8);
      if (ec == std::errc() && p == w[1].data() + w[1].size() && m <= 07777) d.home_mode = m;
      continue;
    }
    auto v = parse_u32(w[1]);
    if (!v) continue;
    if (w[0] == "UID_MIN")
      d.uid_min = *v;
    else if (w[0] == "UID_MAX")
      d.uid_max = *v;
    else if (w[0] == "GID_MIN")
      d.gid_min = *v;
    else if (w[0] == "GID_MAX")
      d.gid_max = *v;
  }
  return d;
}

std::optional<uint32_t> find_id(std::string_view file, std::string_view name) {
  for (const auto& line : lines_of(file)) {
    auto f = split(line, ':');
    if (f.size() >= 3 && f[0] == name) return parse_u32(f[2]);
  }
  return std::nullopt;
}

std::optional<uint32_t> next_free_id(std::string_view ids_file, uint32_t min, uint32_t max) {
  if (min > max) return std::nullopt;
  std::set<uint32_t> used = ids_in(ids_file);
  auto hi = used.upper_bound(max);
  uint32_t highest = 0;
  bool any = false;
  if (hi != used.begin()) {
    --hi;
    if (*hi >= min) {
      highest = *hi;
      any = true;
    }
  }
  if (!any) return min;
  if (highest < max) return highest + 1;
  for (uint32_t id = min; id <= max; ++id)
    if (!used.count(id)) return id;
  return std::nullopt;
}

Result<NewUser> plan_new_user(std::string_view passwd, std::string_view group,
                              std::string_view name, const LoginDefs& defs, std::string shell) {
  NewUser u;
  u.name = std::string(name);
  u.home = "/home/" + u.name;
  u.shell = std::move(shell);
  auto uid = next_free_id(passwd, defs.uid_min, defs.uid_max);
  if (!uid) return fail("no free uid for `" + u.name + "`");
  u.uid = *uid;
  if (auto gid = find_id(group, name)) {
    u.gid = *gid;
    u.new_group = false;
    return u;
  }
  if (!ids_in(group).count(u.uid)) {
    u.gid = u.uid;
    return u;
  }
  auto gid = next_free_id(group, defs.gid_min, defs.gid_max);
  if (!gid) return fail("no free gid for `" + u.name + "`");
  u.gid = *gid;
  return u;
}

std::string passwd_with_user(std::string_view passwd, const NewUser& u,
                             std::string_view password_field) {
  return append_line(passwd, u.name + ":" + std::string(password_field) + ":" +
                                 std::to_string(u.uid) + ":" + std::to_string(u.gid) +
                                 "::" + u.home + ":" + u.shell);
}

std::string group_with_user(std::string_view group, const NewUser& u) {
  if (!u.new_group) return std::string(group);
  return append_line(group, u.name + ":x:" + std::to_string(u.gid) + ":");
}

std::string gshadow_with_user(std::string_view gshadow, const NewUser& u) {
  if (!u.new_group) return std::string(gshadow);
  return append_line(gshadow, u.name + ":!::");
}

std::string shadow_with_password(std::string_view shadow, std::string_view user,
                                 std::string_view hash, long days) {
  auto lines = lines_of(shadow);
  bool found = false;
  for (auto& line : lines) {
    auto f = split(line, ':');
    if (f[0] != user) continue;
    if (f.size() < 9) f.resize(9);
    f[1] = std::string(hash);
    f[2] = std::to_string(days);
    line = join(f, ':');
    found = true;
  }
  if (!found)
    lines.push_back(std::string(user) + ":" + std::string(hash) + ":" + std::to_string(days) +
                    ":0:99999:7:::");
  return text_of(lines);
}

std::string passwd_with_password(std::string_view passwd, std::string_view user,
                                 std::string_view hash) {
  auto lines = lines_of(passwd);
  for (auto& line : lines) {
    auto f = split(line, ':');
    if (f[0] != user || f.size() < 2) continue;
    f[1] = std::string(hash);
    line = join(f, ':');
  }
  return text_of(lines);
}

Status set_userpasswd(const std::string& user, const std::string& password,
                      const std::string& root) {
  auto run = [&]() -> Status {
    BERTH_RETURN_IF_ERROR(validate_user_name(user));
    BERTH_ASSIGN_OR_RETURN(auto pam, read_if_exists(root + "/etc/pam.d/common-password"));
    BERTH_ASSIGN_OR_RETURN(auto defs, read_if_exists(root + "/etc/login.defs"));
    BERTH_ASSIGN_OR_RETURN(
        std::string hash,
        hash_password(password, hash_prefix_for(pam.value_or(""), defs.value_or(""))));
    BERTH_ASSIGN_OR_RETURN(PasswdLock lock, PasswdLock::acquire(root));
    BERTH_ASSIGN_OR_RETURN(std::string passwd, sys::read_file(root + "/etc/passwd"));
    BERTH_ASSIGN_OR_RETURN(auto shadow, read_if_exists(root + "/etc/shadow"));
    if (!find_id(passwd, user)) return create_user(root, user, passwd, shadow, hash);
    if (shadow)
      return replace_file(root + "/etc/shadow",
                          shadow_with_password(*shadow, user, hash, days_since_epoch()));
    return replace_file(root + "/etc/passwd", passwd_with_password(passwd, user, hash));
  };
  return run().context("set password of `" + user + "`").status(exitcode::kPasswordFailed);
}

}  // namespace berth::dist
