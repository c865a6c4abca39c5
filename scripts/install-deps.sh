#!/usr/bin/env bash
# Installs the Debian bookworm packages Berth needs to build, test and run (see README.md).
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config git
  libseccomp-dev libcap-dev libarchive-dev liblz4-dev libacl1-dev libzstd-dev nettle-dev libssl-dev libcrypt-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev googletest libnl-route-3-dev libfuse3-dev fuse3 libnftables-dev
  criu libprotobuf-c-dev protobuf-c-compiler iptables
  busybox-static nftables iproute2 util-linux procps e2fsprogs xz-utils zstd
  qemu-system-x86 cpio
  mmdebstrap debian-archive-keyring curl openssh-client openssh-server sshpass
  clang-format-14 clang-tidy-14
  ccache
  libboost1.81-dev libsqlite3-dev wrk
  # the web panel (docs/panel.md): xterm.js for its console, and its browser tests
  libjs-xterm node-xterm chromium chromium-driver python3-selenium
)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
