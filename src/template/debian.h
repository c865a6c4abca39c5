// The built Debian OS templates: `berth template create debian-12` (and debian-11, debian-13)
// makes <cache_dir>/debian-<N>-<arch>-minimal.tar.zst with mmdebstrap from the host's Debian
// mirror.
//
// Owns the recipe (package list, masked units, the first-boot host key unit and the other
// per-machine files left empty), the mirror choice (TEMPLATE_MIRROR in berth.conf, else the host's
// apt sources), and the build: mmdebstrap into a hidden temp file in the cache dir, renamed into
// place when complete; a killed or interrupted build leaves no file under a template's name. The
// cache logic (lookup, unpack, listing) is cache.h's; the busybox template is busybox.h's.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/host_config.h"

namespace berth::tmpl {

// One buildable Debian release, for the host's architecture.
struct DebianSpec {
  std::string version;     // "12"
  std::string suite;       // "bookworm"
  std::string deb_arch;    // Debian's name of the architecture: "amd64"
  std::string cache_name;  // "debian-12-x86_64-minimal"
};

// The spec for a template name: "debian-12" or the full cache name "debian-12-<arch>-minimal"
// where <arch> must be host_arch (uname's machine: "x86_64"). nullopt when name is no Debian
// recipe of ours (another version, another arch or variant). Pure.
std::optional<DebianSpec> debian_spec(std::string_view name, std::string_view host_arch);

// This host's architecture as uname says it ("x86_64"), the <arch> of OpenVZ's cache names.
std::string host_machine();

// The Debian versions with a recipe, as "11 12 13".
std::string debian_versions();

// The Debian mirror of the host's apt sources: the first `deb` entry whose suite is a plain
// release (no "-security", "-updates", "-backports") and whose URI is not a security archive,
// from the deb822 texts (*.sources) first, then sources.list lines. Trailing '/' dropped. Pure.
std::optional<std::string> mirror_from_apt_sources(std::string_view sources_list,
                                                   const std::vector<std::string>& deb822);
// Same rule for the security archive (a URI holding "security" with a "-security" suite).
std::optional<std::string> security_mirror_from_apt_sources(std::string_view sources_list,
                                                            const std::vector<std::string>& deb822);

// TEMPLATE_MIRROR of berth.conf, else the mirror of <apt_dir>/sources.list and
// <apt_dir>/sources.list.d/*.sources and *.list. Error 3 when there is none.
Result<std::string> debian_mirror(const HostConfig&, const std::string& apt_dir = "/etc/apt");

// The recipe, printed by `berth template recipe`: packages, masked units, customize script.
// Its hash keys the test cache (tests/tools/debian-template).
std::string debian_recipe_text(const DebianSpec&);

// Extra packages over mmdebstrap's minbase variant.
extern const std::vector<std::string> kDebianPackages;
// Units masked in the image (README.md, "Templates", says why).
extern const std::vector<std::string> kDebianMaskedUnits;

struct BuildOptions {
  bool force = false;
  std::string mirror;  // empty: debian_mirror()
  // Progress: a phase line (new line) or a transient status line (overwritten on a terminal).
  // Not set: silent.
  std::function<void(std::string_view line, bool transient)> progress;
};

// Builds <cache_dir>/<spec.cache_name>.tar.zst. Without force, an existing archive of that name
// (any suffix) is kept and false is returned ("up to date"); true when built. Runs mmdebstrap
// (must be installed: package mmdebstrap) with a customize hook, into
// <cache_dir>/.tmp-<name>-XXXXXX.tar.zst, then rename(2); the temp file is removed on any
// failure, on SIGINT/SIGTERM/SIGHUP (mmdebstrap is stopped first) and, if this process was
// killed, by the next build. mmdebstrap dies with this process (PR_SET_PDEATHSIG). Errors: 3 (no
// mmdebstrap, no mirror, build failed: with the last lines of its output), 91 (the mirror has no
// such suite), 9 (another build of the same template runs).
Result<bool> build_debian_template(const HostConfig&, const DebianSpec&, const BuildOptions&);

// Condense one line of mmdebstrap's output: "I: ..." phases become phase lines (prefix dropped);
// apt's and dpkg's chatter becomes a transient status; empty lines are dropped. Pure.
struct ProgressLine {
  std::string text;
  bool transient = false;
  bool keep = true;
};
ProgressLine condense_mmdebstrap_line(std::string_view line);

}  // namespace berth::tmpl
