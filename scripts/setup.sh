#!/usr/bin/env bash
# README command 1: install what Berth needs (Debian bookworm packages), build it, install it
# into /usr/local/sbin (berth, plus vzctl/vzlist/vzubc/vzmigrate links, and berthd with the panel's
# files in /usr/local/share/berth/panel), install and start berthd's systemd unit (when systemd
# runs; its TLS certificate is made on its first start), make the built-in busybox template, then
# create and start a demo VPS, show it working, and remove it again.
# Needs root. BERTH_ROOT (default /) chooses where Berth keeps its state.
# --openvz-paths (or BERTH_PATH_LAYOUT=openvz): keep OpenVZ's paths (/etc/vz/vz.conf,
# /etc/vz/conf, /vz/private, /vz/root, /vz/template/cache), docs/openvz.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
layout=${BERTH_PATH_LAYOUT:-}
for arg in "$@"; do
  case $arg in
    --openvz-paths) layout=openvz ;;
    *) echo "setup.sh: unknown option $arg (only --openvz-paths)" >&2; exit 1 ;;
  esac
done
root=${BERTH_ROOT:-/}
root=${root%/}
if [ "$layout" = openvz ]; then
  mkdir -p "$root/etc/berth" "$root/etc/vz/conf" "$root/etc/vz/names" "$root/vz/template/cache" \
    "$root/vz/lock" "$root/vz/dump"
  mkdir -p -m 0700 "$root/vz/private" "$root/vz/root"
  conf=$root/etc/berth/berth.conf
  if ! grep -qs '^PATH_LAYOUT=' "$conf"; then echo 'PATH_LAYOUT="openvz"' >>"$conf"; fi
  # An OpenVZ host's own vz.conf is kept as it is; a new one gets OpenVZ's path keys.
  [ -e "$root/etc/vz/vz.conf" ] || cat >"$root/etc/vz/vz.conf" <<'VZCONF'
## Global parameters (Berth, OpenVZ path layout: docs/openvz.md)
LOCKDIR=/vz/lock
DUMPDIR=/vz/dump
TEMPLATE=/vz/template
VE_ROOT=/vz/root/$VEID
VE_PRIVATE=/vz/private/$VEID
VE_LAYOUT=overlay
VZCONF
  echo "== OpenVZ path layout: $root/etc/vz/vz.conf, $root/etc/vz/conf, $root/vz/private, $root/vz/root"
  export BERTH_PATH_LAYOUT=openvz
fi
scripts/install-deps.sh
scripts/build.sh
# The web panel's third-party files (xterm.js from Debian's packages) into panel/vendor/, so that
# the install below copies them with panel/ to /usr/local/share/berth/panel (docs/panel.md).
scripts/panel-vendor.sh >/dev/null
cmake --install build --prefix /usr/local >/dev/null
berth=/usr/local/sbin/berth
echo "== installed: $($berth --version) in /usr/local/sbin (also as vzctl, vzlist, vzubc, vzmigrate)"

# berthd (docs/api.md): a systemd unit when systemd runs, else how to run it in the foreground.
unit=/etc/systemd/system/berthd.service
if [ -d /run/systemd/system ]; then
  if [ "$root" = "" ]; then
    install -m 0644 etc/systemd/berthd.service "$unit"
  else
    sed "s|^Environment=BERTH_PANEL_DIR=|Environment=BERTH_ROOT=$root\nEnvironment=BERTH_PANEL_DIR=|" \
      etc/systemd/berthd.service >"$unit"
  fi
  systemctl daemon-reload
  systemctl enable berthd.service >/dev/null 2>&1
  systemctl restart berthd.service
  echo "== berthd: $(systemctl is-active berthd.service) (unix socket ${root}/run/berth/berthd.sock, https on :8443)"
else
  echo "== berthd: no systemd here; run it in the foreground: BERTH_ROOT=${root:-/} /usr/local/sbin/berthd --foreground"
fi

$berth template create busybox
demo=${BERTH_DEMO_CTID:-1000000}
if $berth status "$demo" | grep -q ' exist '; then
  $berth stop "$demo" --fast >/dev/null 2>&1 || true
  $berth destroy "$demo" >/dev/null
fi
cleanup() { $berth stop "$demo" --fast >/dev/null 2>&1 || true; $berth destroy "$demo" >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "== demo: a VPS from the built-in busybox template"
set -x
$berth create "$demo" --ostemplate busybox --hostname demo.berth.local
$berth start "$demo" --wait
$berth status "$demo"
$berth exec "$demo" 'hostname; id; ps ax; cat /proc/self/uid_map'
$berth set "$demo" --ram 128M --numproc 100
$berth exec "$demo" 'head -8 /proc/user_beancounters; grep MemTotal /proc/meminfo; uptime'
$berth list -a
set +x
echo "== demo done; the demo VPS is removed again. Make your own with:"
echo "   berth create 101 --ostemplate busybox --hostname ct101 && berth start 101 && berth enter 101"
