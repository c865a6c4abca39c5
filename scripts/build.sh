#!/usr/bin/env bash
# Configures and builds Berth into build/ (or $BUILD_DIR). Arguments: ninja targets (default: all).
# CMAKE_ARGS: extra configure options (e.g. -DBERTH_SANITIZE=ON, see scripts/test-sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
launcher=()
# A compiler cache when the machine has one (not required): rebuilds of other checkouts reuse objects.
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Paths relative to this checkout in what ccache hashes, so a fresh clone elsewhere (CI) hits the
# objects another checkout compiled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# With -g ccache also hashes the working directory (it goes into the debug information); without
# this a fresh clone in another directory misses every object. Its debug info then names the
# directory of the checkout that compiled it first.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "${launcher[@]}" \
  ${CMAKE_ARGS:-} >/dev/null
ninja -C "$build" "$@"
