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
// A CT name: letters, digits, '-', '_', '.'; at most 64 chars. Digits only is allowed, as in
// vzctl; such a name is reached as resolve_ctid() says.
Status validate_ct_name(std::string_view s);

// image: the whole tree in an ext4 image of its own (storage/disk.h). ploop (OpenVZ's image
// layout, VE_PRIVATE/root.hdd) is recognised only to refuse it clearly.
enum class Layout { kOverlay, kSimfs, kPloop, kImage };
// VE_LAYOUT's value: "simfs", "image", "ploop[:mode]", anything else overlay.
Layout parse_layout(std::string_view s);
const char* layout_name(Layout l);

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
  // VE_LAYOUT of the CT's own file; without it (an OpenVZ CTID.conf) the layout vzctl would
  // guess from the private area: root.hdd/ -> ploop, else simfs (Berth's overlay areas are
  // recognised too); no private area yet: the global VE_LAYOUT, default overlay.
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
// As in vzctl, an argument that is a valid CTID is always the CTID, also when some CT has that
// digits-only name (reach such a CT by its own CTID); a digits-only argument that is no valid
// CTID (0..100, a leading 0, too large) is looked up as a name.
Result<std::string> resolve_ctid(const HostConfig& host, std::string_view id_or_name);
// The CTID the names/<name> link points to. Error exit 14 when there is none.
Result<std::string> ctid_by_name(const HostConfig& host, std::string_view name);

// Split on blanks.
std::vector<std::string> split_words(std::string_view s);

}  // namespace berth
