// Users and passwords inside a CT: vzctl's SET_USERPASS dist action (`vzctl set --userpasswd`).
//
// Pure transforms of /etc/passwd, /etc/group, /etc/gshadow and /etc/shadow text (unit-tested), the
// crypt hashing (libxcrypt) with the CT's own method (yescrypt on Debian 11+), and
// set_userpasswd(), which runs INSIDE the CT (files.h) and does what `useradd -m` + `chpasswd` did
// in vzctl's script, without needing either in the CT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace berth::dist {

// A portable POSIX user name: letters, digits, '.', '_', '-', not starting with '-', not all
// digits, 1..32 chars. Error exit 74. Pure.
Status validate_user_name(std::string_view user);
// Not empty, no ':' or newline or NUL (they would break /etc/shadow). Error exit 74. Pure.
Status validate_password(std::string_view password);

// The crypt(3) method prefix the CT's own passwd(1) and chpasswd(8) would hash with: pam_unix's
// method option on the `password` line of /etc/pam.d/common-password (Debian 11+: yescrypt,
// "$y$"; sha512 "$6$", sha256 "$5$", blowfish "$2b$"), else login.defs' ENCRYPT_METHOD (YESCRYPT,
// SHA512, SHA256, BCRYPT); "$6$" (SHA-512) when neither says (busybox, old systems) or they name
// something weaker (MD5, DES). Pure.
std::string hash_prefix_for(std::string_view pam_common_password, std::string_view login_defs);

// "<prefix><salt>$<hash>" with a fresh random salt (crypt_gensalt_rn + crypt_rn); a prefix this
// libcrypt cannot make falls back to "$6$". Error exit 74.
Result<std::string> hash_password(std::string_view password, std::string_view prefix = "$6$");
// crypt_rn(password, hash) == hash.
bool password_matches(std::string_view password, std::string_view hash);

// The ranges useradd takes ids from, from login.defs (UID_MIN/UID_MAX/GID_MIN/GID_MAX/HOME_MODE).
struct LoginDefs {
  uint32_t uid_min = 1000, uid_max = 60000, gid_min = 1000, gid_max = 60000;
  unsigned home_mode = 0700;
};
LoginDefs parse_login_defs(std::string_view text);

// Field 3 of name's line in a passwd or group file, or nullopt. Pure.
std::optional<uint32_t> find_id(std::string_view file, std::string_view name);

// The id useradd would choose: one above the highest in [min, max], or the lowest free one when
// the highest is max; nullopt when the range is full. ids_file is /etc/passwd (uids) or
// /etc/group (gids). Pure.
std::optional<uint32_t> next_free_id(std::string_view ids_file, uint32_t min, uint32_t max);

struct NewUser {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool new_group = true;  // false: a group of that name exists and becomes the primary group
  std::string home;       // "/home/<name>"
  std::string shell;
};
// Plan `useradd -m <name>` with a user-private group (USERGROUPS_ENAB): the uid is the next free
// one; the gid equals the uid when that gid is free, else the next free gid. Error exit 74 if a
// range is full. Pure.
Result<NewUser> plan_new_user(std::string_view passwd, std::string_view group,
                              std::string_view name, const LoginDefs& defs, std::string shell);

// passwd with the user's line appended ("name:x:uid:gid::home:shell"); password_field is "x" when
// the hash goes to /etc/shadow. Pure.
std::string passwd_with_user(std::string_view passwd, const NewUser& u,
                             std::string_view password_field = "x");
// group with "name:x:gid:" appended (if new_group). Pure.
std::string group_with_user(std::string_view group, const NewUser& u);
// gshadow with "name:!::" appended (if new_group). Pure.
std::string gshadow_with_user(std::string_view gshadow, const NewUser& u);

// shadow with the user's hash set and "last change" set to days; other fields and other users
// kept. A user without a line gets "name:hash:days:0:99999:7:::". Pure.
std::string shadow_with_password(std::string_view shadow, std::string_view user,
                                 std::string_view hash, long days);
// passwd with field 2 of the user's line set to hash (systems without /etc/shadow). Pure.
std::string passwd_with_password(std::string_view passwd, std::string_view user,
                                 std::string_view hash);

// Inside the CT: set user's password, creating the user as `useradd -m` would if missing (passwd,
// group, gshadow, shadow entries; /home/<user> owned by the new ids, filled from /etc/skel).
// The hash uses hash_prefix_for the CT's own files. Holds /etc/.pwd.lock while writing. Each file
// is replaced atomically, keeping mode and owner. Every failure has exit status 74.
Status set_userpasswd(const std::string& user, const std::string& password,
                      const std::string& root = "");

}  // namespace berth::dist
