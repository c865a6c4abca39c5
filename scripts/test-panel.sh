#!/usr/bin/env bash
# The panel's browser tests (docs/panel.md): Debian's chromium, driven by chromium-driver through
# python3-selenium, against a real berthd with real busybox VPSs under a temporary BERTH_ROOT.
# Root only. Exits 77 (skipped, with the reason) when root, chromium, chromedriver or selenium
# is missing. BUILD_DIR (default build) holds berth and berthd.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
skip() { echo "panel browser tests SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "they need root"
for f in /usr/bin/chromium /usr/bin/chromedriver; do [ -x "$f" ] || skip "$f missing (scripts/install-deps.sh)"; done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || skip "python3-selenium missing (scripts/install-deps.sh)"
[ -x "$build/berth" ] && [ -x "$build/berthd" ] || { echo "panel: $build/berth or $build/berthd not built" >&2; exit 1; }
scripts/panel-vendor.sh >/dev/null
exec /usr/bin/python3 tests/panel/test_panel.py --berth "$build/berth" --berthd "$build/berthd" "$@"
