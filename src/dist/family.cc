// Distribution family detection.
#include "dist/family.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "core/conf_file.h"
#include "core/ct_config.h"
#include "sys/fs.h"

namespace berth::dist {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Distribution IDs (os-release ID / template prefix) of each family.
Family family_of_id(std::string_view id) {
  static constexpr std::string_view kDebian[] = {"debian",    "ubuntu", "devuan", "raspbian",
                                                 "linuxmint", "kali",   "pop",    "elementary"};
  static constexpr std::string_view kRedhat[] = {
      "centos", "rhel",       "redhat",     "fedora", "almalinux", "rocky",     "ol",
      "oracle", "scientific", "cloudlinux", "amzn",   "eurolinux", "virtuozzo", "vzlinux"};
  static constexpr std::string_view kBusybox[] = {"alpine", "busybox"};
  auto in = [&](const auto& list) {
    return std::find(std::begin(list), std::end(list), id) != std::end(list);
  };
  if (in(kDebian)) return Family::kDebian;
  if (in(kRedhat)) return Family::kRedhat;
  if (in(kBusybox)) return Family::kBusybox;
  return Family::kDefault;
}

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::string_view family_name(Family f) {
  switch (f) {
    case Family::kBusybox: return "busybox";
    case Family::kDebian: return "debian";
    case Family::kRedhat: return "redhat";
    case Family::kDefault: break;
  }
  return "default";
}

Family family_from_ostemplate(std::string_view ostemplate) {
  std::string t = lower(ostemplate);
  return family_of_id(std::string_view(t).substr(0, t.find('-')));
}

Family family_from_os_release(std::string_view text) {
  // os-release is shell-compatible KEY=value, the format ConfFile already parses.
  ConfFile f = ConfFile::parse(text);
  Family fam = family_of_id(lower(f.get_or("ID", "")));
  if (fam != Family::kDefault) return fam;
  for (const std::string& like : split_words(lower(f.get_or("ID_LIKE", "")))) {
    fam = family_of_id(like);
    if (fam != Family::kDefault) return fam;
  }
  return Family::kDefault;
}

Family detect_family(std::string_view ostemplate, const std::string& root) {
  Family fam = family_from_ostemplate(ostemplate);
  if (fam != Family::kDefault) return fam;
  for (const char* p : {"/etc/os-release", "/usr/lib/os-release"}) {
    // /etc/os-release is usually a relative symlink to ../usr/lib/os-release; reading through it
    // from the host would be unsafe for an absolute link, so only regular files count.
    if (!is_regular(root + p)) continue;
    auto text = sys::read_file(root + p);
    if (text.ok()) return family_from_os_release(*text);
  }
  if (is_regular(root + "/bin/busybox")) return Family::kBusybox;
  return Family::kDefault;
}

}  // namespace berth::dist
