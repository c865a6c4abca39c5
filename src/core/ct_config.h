// CtConfig: one container's configuration, CTID.conf over berth.conf defaults.
//
// Typed accessors for the keys the runtime needs; the ConfFile itself stays the source of truth
// (comments and unknown keys are kept when saving). CTID syntax and name lookup live here too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/conf_file.h"
#include "core/error.h"
#include "core/host_config.h"

namespace berth {

inline constexpr uint32_t kIdRangeSize = 65536;
inline constexpr uint32_t kDefaultLocalUid = 100000;

// A CTID: decimal 101..2147483644 (0..100 are reserved, as vzctl). Error exit 20 otherwise.
Result<std::string> validate_ctid(std::string_view s);
// A CT name: letters, digits, '-', '_', '.'; not all digits; at most 64 chars.
Status validate_ct_name(std::string_view s);

enum class Layout { kOverlay, kSimfs };

class CtConfig {
 public:
  CtConfig(const HostConfig& host, std::string ctid, ConfFile conf)
      : host_(&host), ctid_(std::move(ctid)), conf_(std::move(conf)) {}

  // Reads <conf_dir>/<ctid>.conf. Missing: error exit 14? No: caller decides; code ENOENT.
  static Result<CtConfig> load(const HostConfig& host, std::string_view ctid);

  const std::string& ctid() const { return ctid_; }
  const HostConfig& host() const { return *host_; }
  ConfFile& conf() { return conf_; }
  const ConfFile& conf() const { return conf_; }
  std::string conf_path() const { return host_->ct_conf_path(ctid_); }

  // CT file first, then berth.conf.
  std::optional<std::string> get(std::string_view key) const;
  std::string get_or(std::string_view key, std::string fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;  // yes/no

  std::string ve_root() const;     // $VEID expanded
  std::string ve_private() const;  // $VEID expanded
  Layout layout() const;
  std::string ostemplate() const;
  std::string hostname() const { return get_or("HOSTNAME", ""); }
  std::string name() const { return conf_.get_or("NAME", ""); }
  // LOCAL_UID/LOCAL_GID; 0 means a privileged CT (no user namespace).
  uint32_t local_uid() const;
  uint32_t local_gid() const;
  bool is_privileged() const { return local_uid() == 0; }
  unsigned stop_timeout() const;                              // seconds, STOP_TIMEOUT, default 120
  std::vector<std::string> list(std::string_view key) const;  // space-separated values

 private:
  const HostConfig* host_;
  std::string ctid_;
  ConfFile conf_;
};

// Resolve a CTID or a name (names/<name> symlink) to a CTID. Error exit 14 for an unknown name.
Result<std::string> resolve_ctid(const HostConfig& host, std::string_view id_or_name);

// Split on blanks.
std::vector<std::string> split_words(std::string_view s);

}  // namespace berth
