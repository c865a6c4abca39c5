#!/usr/bin/env bash
# setup-peers.sh: installs the peer runtimes bench/lifecycle compares Berth with (Debian bookworm
# packages only, through apt-get). Safe to run again. No services are started: this VM has no
# systemd as PID 1, so LXC's lxc-net (lxcbr0) stays down, which the benchmark does not need.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "setup-peers.sh: run as root" >&2; exit 1; }
pkgs=(crun runc lxc systemd-container busybox-static util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} = 0 ]; then echo "setup-peers.sh: all peers installed"; exit 0; fi
echo "setup-peers.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" || {
  apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
