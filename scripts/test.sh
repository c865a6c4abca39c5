#!/usr/bin/env bash
# Runs Berth's whole test suite (the README's test command; .ci/run calls it):
#   0. the include direction of src/ (scripts/check-layers.sh, no build needed),
#   1. builds (scripts/build.sh, into build/ or $BUILD_DIR),
#   2. unit tests (ctest -L unit), then the conventions CI holds (scripts/checks.sh, docs/ci.md),
#   3. the cached Debian template (tests/tools/debian-template: BERTH_TEST_DEBIAN_TEMPLATE), then
#      root integration tests (ctest -L root, two at a time: every test has its own BERTH_ROOT
#      and cgroup instance name, so they are independent); skipped with a note when not root,
#   4. the web panel's browser tests (scripts/test-panel.sh: headless chromium against a real
#      berthd and busybox VPSs; skipped with a note when chromium or selenium is missing),
#   5. the cgroup v2 suite in the qemu test VM (scripts/testvm-ci.sh, 7-9 min: CRIU, the Debian
#      guest, migration, and the disk, snapshot and clone tests on Debian's 6.1 kernel; as root
#      only; skipped with a note when qemu cannot run here, or when SKIP_VM=1); it runs in the
#      background beside 3 and 4 (its output is printed when it ends),
#   6. the host leak check (tests/tools/leakcheck), which fails the run if anything of a Berth
#      instance is left on the machine.
# Environment: BUILD_DIR (default build), JOBS (integration parallelism, default 2),
# SKIP_BUILD=1 to test an existing build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
jobs=${JOBS:-2}
start=$(date +%s)
status=0
# A section's header says when it began (seconds since the start): where the time goes.
section() { echo "== $* (at $(( $(date +%s) - start )) s)"; }

section "layers (scripts/check-layers.sh)"
scripts/check-layers.sh || status=1

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  section "build ($build)"
  BUILD_DIR=$build scripts/build.sh
fi

section "unit tests"
ctest --test-dir "$build" -L unit --output-on-failure -j "$jobs" --timeout 120 || status=1

section "conventions (scripts/checks.sh: paths, exit codes, format, clang-tidy, ASan+UBSan unit tests)"
BUILD_DIR=$build scripts/checks.sh || status=1

if [ "$(id -u)" = 0 ]; then
  leakcheck=$PWD/tests/tools/leakcheck
  # What was on the machine before the tests (another Berth instance, another user's work).
  baseline=""
  [ -n "$leakcheck" ] && baseline=$("$leakcheck" 2>&1 | grep '^leftover' || true)

  # The Debian template the Debian tests use: built once (cached in /var/cache/berth-test, rebuilt
  # when a week old or when the recipe changes); without apt sources those tests say SKIPPED.
  if [ -z "${BERTH_TEST_DEBIAN_TEMPLATE:-}" ]; then
    section "Debian template (tests/tools/debian-template)"
    if debian=$(BERTH=$PWD/$build/berth tests/tools/debian-template); then
      export BERTH_TEST_DEBIAN_TEMPLATE=$debian
      echo "Debian template: $debian"
    else
      echo "Debian template tests ${debian:-SKIPPED: tests/tools/debian-template failed}"
    fi
  fi

  # The VM suite runs in qemu on its own kernel (it makes nothing on this host but the qemu
  # process and files in its own directory) and spends most of its time in one vCPU's emulation,
  # so it runs beside the integration and panel tests, whose commands wait more than they compute.
  vm_pid="" vm_log="" vm_rc_file=""
  if [ "${SKIP_VM:-0}" != 1 ]; then
    section "cgroup v2 suite in the test VM (scripts/testvm-ci.sh), in the background"
    vm_log=$(mktemp /tmp/berth-testvm-ci.XXXXXX.log)
    vm_rc_file=$vm_log.rc
    ( rc=0; BUILD_DIR=$build scripts/testvm-ci.sh >"$vm_log" 2>&1 || rc=$?; echo "$rc" >"$vm_rc_file" ) &
    vm_pid=$!
  fi

  section "integration tests (root)"
  ctest --test-dir "$build" -L root --output-on-failure -j "$jobs" --timeout 300 || status=1

  section "panel browser tests (scripts/test-panel.sh: chromium against a real berthd)"
  panel_rc=0
  BUILD_DIR=$build scripts/test-panel.sh || panel_rc=$?
  case $panel_rc in
    0|77) ;;
    *) status=1 ;;
  esac

  if [ "${SKIP_VM:-0}" = 1 ]; then
    section "cgroup v2 suite in the test VM skipped (SKIP_VM=1)"
  else
    section "cgroup v2 suite in the test VM: waiting for it"
    wait "$vm_pid" || true
    cat "$vm_log"
    vm_rc=$(cat "$vm_rc_file" 2>/dev/null || echo 1)
    rm -f "$vm_log" "$vm_rc_file"
    case $vm_rc in
      0) ;;
      77) echo "cgroup v2 suite SKIPPED: the test VM cannot run here (reason above)" ;;
      *) status=1 ;;
    esac
  fi

  if [ -n "$leakcheck" ]; then
    section "leak check ($leakcheck)"
    after=$("$leakcheck" 2>&1 | grep '^leftover' || true)
    # A CT's init that was just killed can stay in its cgroup until the machine's PID 1 reaps it:
    # give such processes a few seconds before calling them leaked.
    for _ in 1 2 3 4 5; do
      [ -n "$after" ] || break
      sleep 2
      after=$("$leakcheck" 2>&1 | grep '^leftover' || true)
    done
    new=$(comm -13 <(printf '%s\n' "$baseline" | sort) <(printf '%s\n' "$after" | sort) | grep . || true)
    if [ -z "$after" ]; then
      echo "leak check: nothing left over"
    elif [ -z "$baseline" ]; then
      # A clean machine before the run: everything left now is the tests' doing.
      printf '%s\n' "$after"
      echo "leak check: the tests left the above behind" >&2
      status=1
    else
      # A shared machine: blame the tests only for what names their roots (/tmp/berth-it-*) or
      # instances (berth-test-*), or for processes in those instances' cgroups.
      ours=""
      while IFS= read -r line; do
        [ -n "$line" ] || continue
        pid=$(printf '%s' "$line" | sed -n 's/^leftover process: \([0-9]*\).*/\1/p')
        if printf '%s' "$line" | grep -qE 'berth-it-|berth-test-' ||
           { [ -n "$pid" ] && grep -qE 'berth-test-' "/proc/$pid/cgroup" 2>/dev/null; }; then
          ours+="$line"$'\n'
        fi
      done <<< "$new"
      if [ -n "$ours" ]; then
        printf '%s' "$ours"
        echo "leak check: the tests left the above behind" >&2
        status=1
      else
        echo "leak check: nothing left by the tests ($(printf '%s\n' "$after" | grep -c .) objects of other Berth instances ignored)"
      fi
    fi
  fi
else
  section "integration tests skipped: they need root"
fi

echo "== done in $(( $(date +%s) - start )) s: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
