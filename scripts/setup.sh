#!/usr/bin/env bash
# README command 1: install what Berth needs (Debian bookworm packages), build it, install it
# into /usr/local/sbin (berth, plus vzctl/vzlist/vzubc/vzmigrate links), make the built-in busybox
# template, then create and start a demo VPS, show it working, and remove it again.
# Needs root. BERTH_ROOT (default /) chooses where Berth keeps its state.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
scripts/install-deps.sh
scripts/build.sh
cmake --install build --prefix /usr/local >/dev/null
berth=/usr/local/sbin/berth
echo "== installed: $($berth --version) in /usr/local/sbin (also as vzctl, vzlist, vzubc, vzmigrate)"

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
