// Distribution families: which set of inside-CT conventions a CT's OS follows.
//
// OpenVZ chose a dist script set from OSTEMPLATE (`/etc/vz/dists/<ostemplate>.conf`, stripping
// `-component`s down to `default`). Berth keeps the idea with four families and falls back to the
// CT's own /etc/os-release. Only detection lives here; the actions (net_config.h, network.h,
// users.h) look at files that exist rather than branching on the family wherever they can.
#pragma once

#include <string>
#include <string_view>

namespace berth::dist {

enum class Family { kDefault, kBusybox, kDebian, kRedhat };

std::string_view family_name(Family f);  // "default", "busybox", "debian", "redhat"

// From the template name's first component: "ubuntu-22.04-x86_64" -> kDebian. Pure.
Family family_from_ostemplate(std::string_view ostemplate);

// From os-release text: ID first, then each word of ID_LIKE. Pure.
Family family_from_os_release(std::string_view text);

// OSTEMPLATE first; if that says nothing, <root>/etc/os-release (or /usr/lib/os-release); then a
// bare busybox userland (<root>/bin/busybox with no os-release). Runs inside the CT (root "") or
// on a mounted root from the host (root = VE_ROOT; symlinks in it are not followed).
Family detect_family(std::string_view ostemplate, const std::string& root = "");

}  // namespace berth::dist
