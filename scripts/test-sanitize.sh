#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer (-DBERTH_SANITIZE=ON,
# into build-asan/ or $BUILD_DIR) and runs them. Any finding aborts its test, so the run fails.
# Only the unit test target is built (the compiler cache keeps rebuilds cheap); the integration
# tests and the static in-CT binaries are not instrumented.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-asan}
jobs=${JOBS:-2}
echo "== sanitizer build of the unit tests ($build)"
BUILD_DIR=$build CMAKE_ARGS="-DBERTH_SANITIZE=ON" scripts/build.sh -j "$jobs" berth_unit_tests
echo "== unit tests under ASan + UBSan"
# halt_on_error: a UBSan report is a failure, not a warning. detect_leaks: LeakSanitizer at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" -L unit --output-on-failure -j "$jobs" --timeout 300
