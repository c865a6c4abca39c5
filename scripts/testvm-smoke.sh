#!/usr/bin/env bash
# testvm-smoke.sh - run a suite of Berth's VM tests (tests/vm/suite.sh) in the qemu test VM, one
# boot per cgroup layout, and fail if any fails.
#
# Usage: scripts/testvm-smoke.sh [-c "v2 v1"] [-s SUITE] [-t SECONDS]
#   -c LAYOUTS  cgroup layouts to run, in order (default "v2 v1"; also: hybrid)
#   -s SUITE    lifecycle (default: tests/vm/lifecycle.sh), ci (lifecycle + resources.sh + the
#               integration binary's ResourcesTest.* but the fork bomb one), or full
#               (lifecycle + resources.sh + the integration binary's resource, containment,
#               lifecycle and isolation tests), or storage (the kernel- and v2-dependent part of the disk,
#               snapshot and clone tests; storage-all: all of them);
#               see tests/vm/suite.sh. VM_GTEST_FILTER=... replaces the gtest filter.
#   -t SECONDS  wall-clock limit per VM run (default 300; ci 900; full 2400: TCG runs 3-5x slower
#               on a host loaded 15-25x over its 2 cores: a v1 lifecycle run was cut at 150 s there)
# Env: BUILD_DIR (default build-vm; scripts/build.sh runs there first, incrementally),
#      TESTVM_MEM (guest memory in MB, default 2048),
#      TESTVM_DIR (image dir, default /var/tmp/berth-testvm; scripts/testvm/make-image.sh builds
#      it when missing or made by older scripts: Debian 12's kernel + an initramfs of host tools).
# Exit: 0 all passed, 1 a layout failed, 77 skipped (no qemu / test VM cannot be built), 2 usage.
#
# The VM is the repository's own: scripts/testvm/make-image.sh and scripts/testvm/run.sh (qemu
# TCG, the checkout shared at its own path over 9p). The guest image carries only the libraries
# of the programs it was built with, so the shared libraries berth links against are staged in
# $BUILD_DIR/vm-lib for tests/vm/common.sh to use.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LAYOUTS="v2 v1"
SUITE=lifecycle
TMO=""
while getopts "c:s:t:h" o; do
    case $o in
        c) LAYOUTS=$OPTARG ;; s) SUITE=$OPTARG ;; t) TMO=$OPTARG ;;
        *) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//p}' "$0"; exit 2 ;;
    esac
done
case $SUITE in lifecycle) TMO=${TMO:-300} ;; debian) TMO=${TMO:-900} ;; checkpoint) TMO=${TMO:-900} ;; ci) TMO=${TMO:-900} ;; storage) TMO=${TMO:-900} ;; storage-all) TMO=${TMO:-1200} ;; full) TMO=${TMO:-2400} ;; *) echo "testvm-smoke: unknown suite $SUITE" >&2; exit 2 ;; esac
BUILD=${BUILD_DIR:-build-vm}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VM=$ROOT/scripts/testvm
IMG=${TESTVM_DIR:-/var/tmp/berth-testvm}

skip() { echo "testvm-smoke: SKIP: $*" >&2; exit 77; }
log() { echo "testvm-smoke: $*" >&2; }

# ---- the VM must be available ----
[ "$(uname -m)" = x86_64 ] || skip "the test VM is x86_64 only"
# the image: built when missing, rebuilt when scripts/testvm changed (make-image.sh apt-gets
# qemu and what else it needs; run.sh would do the same, but a failure here is a skip)
want=$(cat "$VM/make-image.sh" "$VM/guest-init" | sha256sum | cut -c1-16)
if [ ! -s "$IMG/initrd.img" ] || ! grep -qx "TESTVM_RECIPE=$want" "$IMG/image.env" 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        log "building the test VM image in $IMG (scripts/testvm/make-image.sh)"
        "$VM/make-image.sh" "$IMG" || skip "scripts/testvm/make-image.sh failed"
    elif [ ! -s "$IMG/initrd.img" ]; then
        skip "no test VM image in $IMG and not root to build it"
    fi
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
qemu-system-x86_64 -version >/dev/null 2>&1 || skip "qemu-system-x86_64 does not run here ($(qemu-system-x86_64 -version 2>&1 | head -1))"

# ---- build what the guest runs (ninja is incremental: a no-op when nothing changed) ----
# Without a binary a failed build fails the run; with one (other work may have broken the tree
# for a moment) the old binary is used, with a warning. Only the suite's own targets: the unit
# tests are not needed here (scripts/test.sh builds everything before it gets here).
case $SUITE in lifecycle|debian|checkpoint) targets="berth" ;; *) targets="berth berth_probe berth_integration_tests" ;; esac
t0=$SECONDS
mkdir -p "$BUILD"
if BUILD_DIR=$BUILD scripts/build.sh $targets >"$BUILD/testvm-build.log" 2>&1; then
    [ $((SECONDS - t0)) -lt 5 ] || log "built $BUILD/berth in $((SECONDS - t0)) s"
elif [ -x "$BUILD/berth" ]; then
    log "WARNING: build failed (see $BUILD/testvm-build.log); testing the existing, possibly stale $BUILD/berth"
else
    tail -20 "$BUILD/testvm-build.log" >&2; log "build failed, no berth binary"; exit 1
fi

# ---- stage berth's shared libraries (not libc/libstdc++: the guest has the host's own) ----
mkdir -p "$BUILD/vm-lib"
{ ldd "$BUILD/berth"; case $SUITE in lifecycle|debian|checkpoint) ;; *) ldd "$BUILD/berth_integration_tests" ;; esac; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
    grep -vE '/(libc|libm|libstdc\+\+|libgcc_s)\.so' | while read -r lib; do
        dst=$BUILD/vm-lib/$(basename "$lib")
        [ "$dst" -nt "$lib" ] || cp -L "$lib" "$dst"
    done

# ---- stage the Debian template for tests/vm/debian.sh (a hard link or copy; absent: SKIPPED) ----
if [ -n "${BERTH_TEST_DEBIAN_TEMPLATE:-}" ] && [ -f "$BERTH_TEST_DEBIAN_TEMPLATE" ]; then
    mkdir -p "$BUILD/vm-template"
    dst=$BUILD/vm-template/debian-12-x86_64-minimal.tar.zst
    [ "$dst" -nt "$BERTH_TEST_DEBIAN_TEMPLATE" ] ||
        ln -f "$BERTH_TEST_DEBIAN_TEMPLATE" "$dst" 2>/dev/null || cp "$BERTH_TEST_DEBIAN_TEMPLATE" "$dst"
else
    rm -f "$BUILD/vm-template/debian-12-x86_64-minimal.tar.zst"
fi

# ---- run ----
rc=0
summary=""
for cg in $LAYOUTS; do
    log "=== cgroup $cg: tests/vm/suite.sh $SUITE ==="
    t0=$(date +%s.%N)
    # 2 GiB: the suites keep BERTH_ROOT on an ext4 image in a tmpfs (half the RAM) beside a copy
    # of the 150 MB berth binary; with 1 GiB the Debian guest's template, disk and CRIU dump
    # filled it (the image's writes failed and ext4 went read-only: EROFS).
    "$VM/run.sh" -d "$IMG" -s "$ROOT" -c "$cg" -t "$TMO" -m "${TESTVM_MEM:-2048}" \
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
