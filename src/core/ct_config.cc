#include "core/ct_config.h"

#include "core/safe_defaults.h"
#include "core/values/text.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>

namespace berth {

Result<std::string> validate_ctid(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || s.front() == '0')
    return Error::invalid("invalid CTID `" + std::string(s) + "`", exitcode::kBadArgument);
  if (v <= 100)
    return Error::invalid("CTID " + std::string(s) + " is reserved (0..100)",
                          exitcode::kBadArgument);
  if (v > 2147483644ULL)
    return Error::invalid("CTID `" + std::string(s) + "` is too large", exitcode::kBadArgument);
  return std::string(s);
}

Status validate_ct_name(std::string_view s) {
  // Names made only of digits are accepted, as vzctl accepts them (its check_name() allows
  // digits); resolve_ctid() says how such a name is reached.
  bool chars_ok = std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
  });
  if (s.empty() || s.size() > 64 || !chars_ok || s.front() == '.' || s.front() == '-')
    return Error::invalid("invalid name `" + std::string(s) + "`", exitcode::kName);
  return {};
}

Result<CtConfig> CtConfig::load(const HostConfig& host, std::string_view ctid) {
  BERTH_ASSIGN_OR_RETURN(ConfFile f, ConfFile::load(host.ct_conf_path(ctid)));
  return CtConfig(host, std::string(ctid), std::move(f));
}

std::optional<std::string> safe_default(std::string_view key) {
  static constexpr std::pair<std::string_view, std::string_view> kDefaults[] = {
      {"PHYSPAGES", "0:65536"}, {"SWAPPAGES", "0:131072"},    {"NUMPROC", "512"},
      {"NUMPTY", "64"},         {"INOTIFY_INSTANCES", "128"}, {"INOTIFY_WATCHES", "65536"},
  };
  for (const auto& [k, v] : kDefaults)
    if (k == key) return std::string(v);
  return std::nullopt;
}

std::optional<std::string> CtConfig::get(std::string_view key) const {
  if (auto v = conf_.get(key)) return v;
  if (auto v = host_->global().get(key)) return v;
  return safe_default(key);
}

std::string CtConfig::get_or(std::string_view key, std::string fallback) const {
  auto v = get(key);
  return v ? *v : std::move(fallback);
}

bool CtConfig::get_bool(std::string_view key, bool fallback) const {
  auto v = get(key);
  if (!v) return fallback;
  if (*v == "yes") return true;
  if (*v == "no") return false;
  return fallback;
}

std::string CtConfig::ve_root() const {
  return host_->host_path(expand_veid(get_or("VE_ROOT", host_->default_ve_root()), ctid_));
}

std::string CtConfig::ve_private() const {
  return host_->host_path(expand_veid(get_or("VE_PRIVATE", host_->default_ve_private()), ctid_));
}

Layout parse_layout(std::string_view s) {
  if (s == "simfs") return Layout::kSimfs;
  if (s == "image") return Layout::kImage;
  if (s == "ploop" || s.substr(0, 6) == "ploop:") return Layout::kPloop;
  return Layout::kOverlay;
}

Layout CtConfig::layout() const {
  // The CT's own key. vz.conf's or berth.conf's VE_LAYOUT is the default for new CTs only: an
  // existing CT without the key (an OpenVZ config) has the layout of its private area.
  if (auto v = conf_.get("VE_LAYOUT")) return parse_layout(*v);
  std::string priv = ve_private();
  struct stat st;
  if (::lstat(priv.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return parse_layout(get_or("VE_LAYOUT", "overlay"));
  // vzctl's guess: root.hdd/ holds a ploop image, anything else is simfs. Berth's own overlay
  // areas (upper/ and a lower link) always have the key; they are recognised all the same, but
  // only by entries host root made: a simfs area is the tenant's own tree, where its root could
  // plant a `lower` link to any host directory or a `disk.img` for the host to mount.
  if (::lstat((priv + "/root.hdd").c_str(), &st) == 0) return Layout::kPloop;
  struct stat up, low, img;
  bool disk =
      ::lstat((priv + "/disk.img").c_str(), &img) == 0 && S_ISREG(img.st_mode) && img.st_uid == 0;
  if (::lstat((priv + "/lower").c_str(), &low) == 0 && S_ISLNK(low.st_mode) && low.st_uid == 0 &&
      (disk ||
       (::lstat((priv + "/upper").c_str(), &up) == 0 && S_ISDIR(up.st_mode) && up.st_uid == 0)))
    return Layout::kOverlay;
  if (disk) return Layout::kImage;
  return Layout::kSimfs;
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kSimfs: return "simfs";
    case Layout::kPloop: return "ploop";
    case Layout::kImage: return "image";
    case Layout::kOverlay: break;
  }
  return "overlay";
}

std::string CtConfig::ostemplate() const { return get_or("OSTEMPLATE", ""); }

static uint32_t parse_u32(const std::optional<std::string>& v, uint32_t fallback) {
  auto n = v ? values::parse_u64_max(*v, UINT32_MAX) : std::nullopt;
  return n ? static_cast<uint32_t>(*n) : fallback;
}

uint32_t CtConfig::local_uid() const { return parse_u32(conf_.get("LOCAL_UID"), kDefaultLocalUid); }
uint32_t CtConfig::local_gid() const { return parse_u32(conf_.get("LOCAL_GID"), local_uid()); }

unsigned CtConfig::stop_timeout() const {
  uint32_t v = parse_u32(get("STOP_TIMEOUT"), 0);
  return v == 0 ? 120 : v;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace((unsigned char)s[j])) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string> CtConfig::list(std::string_view key) const {
  return split_words(get_or(key, ""));
}

Result<std::string> resolve_ctid(const HostConfig& host, std::string_view id_or_name) {
  bool all_digits =
      !id_or_name.empty() && std::all_of(id_or_name.begin(), id_or_name.end(),
                                         [](char c) { return std::isdigit((unsigned char)c); });
  // As vzctl: an argument that reads as a number is a CTID, even when a CT has that name. A
  // digits-only name that cannot be a CTID ("42", "0123") is looked up as a name.
  if (!id_or_name.empty() && std::isdigit((unsigned char)id_or_name.front())) {
    auto id = validate_ctid(id_or_name);
    if (id.ok() || !all_digits) return id;
    auto named = ctid_by_name(host, id_or_name);
    return named.ok() ? std::move(named) : std::move(id);
  }
  BERTH_RETURN_IF_ERROR(
      validate_ct_name(id_or_name).context("bad CT ID or name").status(exitcode::kBadArgument));
  return ctid_by_name(host, id_or_name);
}

Result<std::string> ctid_by_name(const HostConfig& host, std::string_view name) {
  std::string link = host.paths().names_dir + "/" + std::string(name);
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return Error::invalid("no CT named `" + std::string(name) + "`", exitcode::kNoConfig);
  std::string target(buf, static_cast<size_t>(n));
  size_t slash = target.rfind('/');
  std::string file = slash == std::string::npos ? target : target.substr(slash + 1);
  if (file.size() < 6 || file.substr(file.size() - 5) != ".conf")
    return Error::invalid("bad name link `" + link + "`", exitcode::kNoConfig);
  return validate_ctid(file.substr(0, file.size() - 5));
}

}  // namespace berth
