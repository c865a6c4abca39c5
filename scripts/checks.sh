#!/usr/bin/env bash
# The conventions CI holds (docs/ci.md), in one place; scripts/test.sh runs it after the unit tests.
# Every check runs even when an earlier one failed, so one run shows everything; cheapest first:
#   1. scripts/check-paths.sh       nothing outside the repository is named
#   2. scripts/check-exit-codes.sh  exit statuses only by their exitcode:: names
#   3. scripts/format.sh --check    the C++ sources are formatted with .clang-format
#   4. scripts/tidy.sh              clang-tidy's checks of .clang-tidy over src/ (cached)
#   5. scripts/test-sanitize.sh     the unit tests built with ASan + UBSan (build-asan/)
# Env: SKIP_TIDY=1, SKIP_SANITIZE=1 leave out the two slow ones (not in CI); BUILD_DIR as test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
failed=()
run() {
  local name=$1 t0=$SECONDS
  shift
  echo "== $name"
  if "$@"; then
    echo "-- $name: ok ($((SECONDS - t0)) s)"
  else
    echo "-- $name: FAILED ($((SECONDS - t0)) s)"
    failed+=("$name")
    status=1
  fi
}
run paths scripts/check-paths.sh
run exit-codes scripts/check-exit-codes.sh
run format scripts/format.sh --check
if [ "${SKIP_TIDY:-0}" = 1 ]; then echo "== tidy skipped (SKIP_TIDY=1)"; else run tidy scripts/tidy.sh; fi
if [ "${SKIP_SANITIZE:-0}" = 1 ]; then
  echo "== sanitizer unit tests skipped (SKIP_SANITIZE=1)"
else
  run sanitize env BUILD_DIR="${SANITIZE_BUILD_DIR:-build-asan}" scripts/test-sanitize.sh
fi
((status == 0)) || echo "checks failed: ${failed[*]}" >&2
exit $status
