#!/bin/bash
# tests/vm/ubc.sh - beancounters INSIDE the test VM (cgroup v2 or v1): the rows that come from
# cgroup counters, the FUSE server and the CT's /run/berth/user_beancounters.
#
# Run from the host (build the tree first; stage libraries as scripts/testvm-smoke.sh does):
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/ubc.sh build
# Checks: a CT with --numproc 16 and --ram 64M: physpages limit 16384 and held > 0, numproc limit
# 16 and failcnt > 0 after a fork bomb, shmpages grows with a 16M file in /dev/shm, kmemsize held
# > 0, the same block inside the CT, the server gone after stop, nothing left mounted.
# Prints PASS/FAIL per check; exits 1 if any check failed, 2 on a setup problem.
set -u

CTID=101
WORK=/tmp/berth-vmubc
FAILS=0
grep -q 'testvm\.cgroup=' /proc/cmdline || { echo "ubc.sh: not in the test VM" >&2; exit 2; }
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac

pass() { echo "PASS: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
# row TEXT NAME FIELD: a number of a Version 2.5 row (FIELD 1 held .. 5 failcnt).
row() { echo "$1" | awk -v n="$2" -v f="$3" '{ if ($1 ~ /:$/) $1 = ""; $0 = $0 } $1 == n { print $(f + 1); exit }'; }

cleanup() {
    if [ -n "${B:-}" ]; then "$B" stop $CTID --fast >/dev/null 2>&1; "$B" destroy $CTID >/dev/null 2>&1; fi
    cd /
    mountpoint -q "$WORK/fs" && umount "$WORK/fs"
    mountpoint -q "$WORK" && umount "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK" && mount -t tmpfs -o mode=755 berth-vmubc "$WORK" || exit 2
mkdir -p "$WORK/bin" "$WORK/lib" "$WORK/fs"
cp "$BUILD/berth" "$WORK/bin/berth" || exit 2
[ -d "$BUILD/vm-lib" ] && cp "$BUILD"/vm-lib/* "$WORK/lib/" && export LD_LIBRARY_PATH=$WORK/lib
B=$WORK/bin/berth
[ -e /dev/fuse ] || mknod /dev/fuse c 10 229
truncate -s 512M "$WORK/ext4.img" && mkfs.ext4 -q -F "$WORK/ext4.img" && mount -o loop "$WORK/ext4.img" "$WORK/fs" || exit 2
export BERTH_ROOT=$WORK/fs/root
mkdir -p "$BERTH_ROOT/etc/berth" && chmod 755 "$WORK/fs" "$BERTH_ROOT"
echo 'CGROUP_PARENT="berth-vmubc"' >"$BERTH_ROOT/etc/berth/berth.conf"
echo "ubc.sh: kernel $(uname -r), $(sed -n 's/.*\(testvm\.cgroup=[a-z0-9]*\).*/\1/p' /proc/cmdline)"

"$B" template create busybox >/dev/null || exit 2
"$B" create $CTID --ostemplate busybox --numproc 16 --ram 64M --swap 0 >/dev/null || exit 2
"$B" start $CTID --wait >/dev/null && pass "start" || { fail "start"; exit 1; }
"$B" exec $CTID 'head -c 16777216 /dev/zero > /dev/shm/f; i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done 2>/dev/null' >/dev/null 2>&1
RAW=$("$B" ubc --raw $CTID); echo "$RAW" | sed 's/^/    /'
[ "$(row "$RAW" physpages 4)" = 16384 ] && pass "physpages limit 64M" || fail "physpages limit: $(row "$RAW" physpages 4)"
[ "$(row "$RAW" physpages 1)" -gt 4096 ] && pass "physpages held > 16M" || fail "physpages held $(row "$RAW" physpages 1)"
[ "$(row "$RAW" shmpages 1)" -ge 4000 ] && pass "shmpages held >= 16M" || fail "shmpages held $(row "$RAW" shmpages 1)"
[ "$(row "$RAW" kmemsize 1)" -gt 0 ] && pass "kmemsize held > 0" || fail "kmemsize held $(row "$RAW" kmemsize 1)"
[ "$(row "$RAW" numproc 4)" = 16 ] && pass "numproc limit 16" || fail "numproc limit $(row "$RAW" numproc 4)"
[ "$(row "$RAW" numproc 5)" -gt 0 ] && pass "numproc failcnt > 0" || fail "numproc failcnt $(row "$RAW" numproc 5)"
[ "$(row "$RAW" physpages 2)" -ge "$(row "$RAW" physpages 1)" ] && pass "physpages maxheld >= held" || fail "physpages maxheld"
IN=$("$B" exec $CTID cat /run/berth/user_beancounters 2>&1)
[ "$(echo "$IN" | grep -c ':  kmemsize')" = 1 ] && [ "$(row "$IN" numproc 5)" -gt 0 ] && pass "inside: own block, numproc failcnt" || fail "inside: $IN"
"$B" stop $CTID --fast >/dev/null && pass "stop" || fail "stop"
ps -eo args | grep -q '^berth ubc --serve' && fail "server still running" || pass "server gone"
grep -q "$BERTH_ROOT" /proc/self/mountinfo && fail "mounts left: $(grep "$BERTH_ROOT" /proc/self/mountinfo)" || pass "no mount left"
echo "ubc.sh: $FAILS failed"
[ $FAILS = 0 ]
