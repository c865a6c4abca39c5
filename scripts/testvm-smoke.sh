#!/usr/bin/env bash
# testvm-smoke.sh - run a suite of Berth's VM tests (tests/vm/suite.sh) in the qemu test VM, one
# boot per cgroup layout, and fail if any fails.
#
# Usage: scripts/testvm-smoke.sh [-c "v2 v1"] [-s SUITE] [-t SECONDS]
#   -c LAYOUTS  cgroup layouts to run, in order (default "v2 v1"; also: hybrid)
#   -s SUITE    lifecycle (default: tests/vm/lifecycle.sh), ci (lifecycle + resources.sh + the
#               integration binary's ResourcesTest.* but the fork bomb one), or full
#               (lifecycle + resources.sh + the integration binary's resource, containment,
#               lifecycle and isolation tests);
#               see tests/vm/suite.sh. VM_GTEST_FILTER=... replaces the gtest filter.
#   -t SECONDS  wall-clock limit per VM run (default 150; ci 480; full 1200)
# Env: BUILD_DIR (default build-vm; scripts/build.sh runs there first, incrementally),
#      TESTVM (default /work/shared/testvm: run-in-testvm.sh, make-testvm.sh),
#      TESTVM_DIR (image dir, default /var/tmp/testvm; built with make-testvm.sh when missing).
# Exit: 0 all passed, 1 a layout failed, 77 skipped (no qemu / test VM cannot be built), 2 usage.
#
# The guest image carries only the libraries of the programs it was built with, so the shared
# libraries berth links against are staged in $BUILD_DIR/vm-lib for lifecycle.sh to use.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LAYOUTS="v2 v1"
SUITE=lifecycle
TMO=""
while getopts "c:s:t:h" o; do
    case $o in
        c) LAYOUTS=$OPTARG ;; s) SUITE=$OPTARG ;; t) TMO=$OPTARG ;;
        *) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
done
case $SUITE in lifecycle) TMO=${TMO:-150} ;; ci) TMO=${TMO:-480} ;; full) TMO=${TMO:-1200} ;; *) echo "testvm-smoke: unknown suite $SUITE" >&2; exit 2 ;; esac
BUILD=${BUILD_DIR:-build-vm}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
TESTVM=${TESTVM:-/work/shared/testvm}
IMG=${TESTVM_DIR:-/var/tmp/testvm}

skip() { echo "testvm-smoke: SKIP: $*" >&2; exit 77; }
log() { echo "testvm-smoke: $*" >&2; }

# ---- the VM must be available ----
[ -x "$TESTVM/run-in-testvm.sh" ] || skip "no $TESTVM/run-in-testvm.sh"
[ "$(uname -m)" = x86_64 ] || skip "the test VM is x86_64 only"
if [ ! -s "$IMG/initrd.cpio.gz" ]; then
    [ "$(id -u)" = 0 ] || skip "no test VM image in $IMG and not root to build it"
    log "no test VM image in $IMG: building it with make-testvm.sh (apt-gets what it needs)"
    TESTVM_DIR=$IMG "$TESTVM/make-testvm.sh" "$IMG" >&2 || skip "make-testvm.sh failed"
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
qemu-system-x86_64 -version >/dev/null 2>&1 || skip "qemu-system-x86_64 does not run here ($(qemu-system-x86_64 -version 2>&1 | head -1))"

# ---- build berth (ninja is incremental: a no-op when nothing changed) ----
# Without a binary a failed build fails the run; with one (other work may have broken the tree
# for a moment) the old binary is used, with a warning.
t0=$SECONDS
mkdir -p "$BUILD"
if BUILD_DIR=$BUILD scripts/build.sh >"$BUILD/testvm-build.log" 2>&1; then
    [ $((SECONDS - t0)) -lt 5 ] || log "built $BUILD/berth in $((SECONDS - t0)) s"
elif [ -x "$BUILD/berth" ]; then
    log "WARNING: build failed (see $BUILD/testvm-build.log); testing the existing, possibly stale $BUILD/berth"
else
    tail -20 "$BUILD/testvm-build.log" >&2; log "build failed, no berth binary"; exit 1
fi

# ---- stage berth's shared libraries (not libc/libstdc++: the guest has the host's own) ----
mkdir -p "$BUILD/vm-lib"
{ ldd "$BUILD/berth"; [ "$SUITE" = lifecycle ] || ldd "$BUILD/berth_integration_tests"; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
    grep -vE '/(libc|libm|libstdc\+\+|libgcc_s)\.so' | while read -r lib; do
        dst=$BUILD/vm-lib/$(basename "$lib")
        [ "$dst" -nt "$lib" ] || cp -L "$lib" "$dst"
    done

# ---- host tools the guest image lacks and berth runs: ldd (the busybox template runs it on the
# host programs it carries, e.g. nft). Staged in $BUILD/vm-bin; common.sh puts them in the guest.
mkdir -p "$BUILD/vm-bin"
for t in /usr/bin/ldd; do [ -e "$t" ] && cp "$t" "$BUILD/vm-bin/"; done

# ---- run ----
rc=0
summary=""
for cg in $LAYOUTS; do
    log "=== cgroup $cg: tests/vm/suite.sh $SUITE ==="
    t0=$(date +%s.%N)
    "$TESTVM/run-in-testvm.sh" -d "$IMG" -s "$ROOT" -c "$cg" -t "$TMO" \
        ${VM_GTEST_FILTER:+-e "VM_GTEST_FILTER=$VM_GTEST_FILTER"} ./tests/vm/suite.sh "$SUITE" "$BUILD"
    r=$?
    t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    case $r in
        0) res=PASS ;; 124) res="FAIL (timeout)" ;; 125) res="FAIL (VM gave no result)" ;; *) res="FAIL (rc $r)" ;;
    esac
    [ "$r" = 0 ] || rc=1
    summary+="testvm-smoke: cgroup $cg, suite $SUITE: $res in ${t}s"$'\n'
done
printf '%s' "$summary"
exit $rc
