#!/bin/bash
# tests/vm/migrate_disk.sh - online migration (berth migrate --online) of a VPS with its own disk
# image (DISKSPACE set: a loop-backed ext4 at VE_PRIVATE/disk.img), between two Berth instances in
# the qemu test VM (CRIU runs there), with the two-host set-up of migrate.sh (vm_second_host in
# common.sh). Run by tests/vm/suite.sh (suites "checkpoint" and "ci"), or by hand:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/migrate_disk.sh build
# (MIGDISK_LAYOUT=image: layout image, the whole tree in the image; by hand, not in a suite.
# MIGDISK_HELD=1 (tests/vm/migrate_held.sh, suite "checkpoint"): first a migration whose checkpoint
# cannot free the source's disk (a copy of its mount is held): the VPS stays on the source.)
# Checks: a running busybox VPS with a disk moves while a shell counts in memory and a TCP stream
# runs over its loopback; its first copy is read from a temporary snapshot of the image (no
# "not consistent" warning); after it, it runs on the destination only, on a disk image of its own
# there (mounted from the destination's loop device), the count went on, the stream lost nothing
# and still flows, a file written before is there; on the source no private area, no mount and no
# loop device of the VPS's image are left. The second host's mount namespace is made while the
# source's disk is mounted (vm_second_host must leave it nothing of the source's mounts).
set -u

INST=berth-vmmigd
WORK=/tmp/berth-vmmigd
NS=bvm-host2d
CTID=321
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard migrate_disk.sh
cleanup() {
    [ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null
    if [ -n "${HOLD:-}" ]; then
        dst stop $CTID --fast >/dev/null 2>&1
        dst destroy $CTID >/dev/null 2>&1
    fi
    vm_second_host_cleanup
    vm_cleanup $CTID
}
trap cleanup EXIT
vm_setup migrate_disk.sh "${1:-build}"
command -v criu >/dev/null || { fail "no criu in the VM image"; vm_result migrate_disk.sh; exit; }

run_b template create busybox; expect_rc 0 "template create busybox (source)"
# MIGDISK_LAYOUT=image: the whole tree in the image (default: overlay, its upper layer there).
LAYOUT=${MIGDISK_LAYOUT:-overlay}
run_b create $CTID --ostemplate busybox --layout "$LAYOUT" --diskspace 64M --diskinodes 20000
expect_rc 0 "create $CTID (layout $LAYOUT) with a 64M disk"
SRC_IMG=$BERTH_ROOT/var/lib/berth/private/$CTID/disk.img
[ -f "$SRC_IMG" ] && pass "the VPS has a disk image" || fail "no $SRC_IMG"
run_b start $CTID --wait; expect_rc 0 "start $CTID"
# The second host's mount namespace is made while the source's disk is mounted: it must not keep
# a copy of that mount (its loop device could then never be freed on the source).
vm_second_host $NS
OUT=$(dst template create busybox 2>&1); RC=$?; expect_rc 0 "template create busybox (destination)"
run_b exec $CTID 'echo on-disk >/root/note && sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.2; done" </dev/null >/dev/null 2>&1 &'
run_b exec $CTID 'sleep 100000 | nc -l -p 5000 >/tmp/recv 2>/dev/null &'
sleep 1
run_b exec $CTID 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i; sleep 0.1; done | nc 127.0.0.1 5000" </dev/null >/dev/null 2>&1 &'
sleep 2
count_now() { "$B" exec $CTID 'cat /tmp/count' 2>&1; }
run_b exec $CTID 'cat /tmp/count'; c0=$OUT
run_b exec $CTID 'tail -n 1 /tmp/recv'; r0=$OUT
echo "  before: count $c0, stream at $r0"

if [ "${MIGDISK_HELD:-0}" = 1 ]; then
    # A process of the source host that copied its mounts while the disk was mounted (a mount
    # namespace of its own, as a service with private mounts has) holds the disk's file system
    # and loop device after the source unmounts it: the checkpoint's teardown cannot free the
    # loop device. The migration fails after the dump; the VPS must not be lost: restored here
    # from its dump, or (the disk cannot be mounted again either) kept in the dump, `suspended`,
    # and brought back by `start` once the holder is gone.
    unshare --mount --propagation private sleep 100000 &
    HOLDER=$!
    sleep 0.5
    run_b migrate $CTID root@host2 --online --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B"
    [ "$RC" != 0 ] && pass "migrate fails while a copy of the disk's mount is held ($(echo "$OUT" | tail -1))" || fail "migrate succeeded with the disk held"
    OUT=$(dst status $CTID 2>&1)
    case $OUT in *"deleted"*|*"does not exist"*) pass "the destination dropped its copy" ;; *) fail "destination: $OUT" ;; esac
    run_b status $CTID
    case $OUT in *running*) pass "the VPS runs on the source again: $OUT" ;;
        *suspended*) pass "the VPS is kept in its dump on the source: $OUT" ;;
        *) fail "the VPS is lost on the source: $OUT" ;; esac
    kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
    case $OUT in *suspended*)
        run_b start $CTID; expect_rc 0 "start restores it from the dump once the holder is gone"
        case $OUT in *"runs again on this host"*) pass "start says where it runs" ;; *) fail "start said: $OUT" ;; esac ;;
    esac
    c0h=$(count_now)
    if [ "${c0h:-0}" -gt "${c0:-0}" ] 2>/dev/null; then pass "the count went on in memory on the source ($c0 -> $c0h)"; else fail "count on the source $c0 -> '$c0h'"; fi
    run_b exec $CTID 'tail -n 1 /tmp/recv'; r0=$OUT
fi

run_b migrate $CTID root@host2 --online -t --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B"
expect_rc 0 "migrate --online of the disk VPS"
echo "$OUT" | sed 's/^/    /'
case $OUT in *"not consistent"*) fail "the first copy was read live: $OUT" ;; *) pass "the first copy came from a snapshot of the image" ;; esac

run_b status $CTID
case $OUT in *"deleted"*|*"does not exist"*) pass "nothing of $CTID on the source: $OUT" ;; *) fail "source status: $OUT" ;; esac
OUT=$(dst status $CTID 2>&1)
expect_eq "$OUT" "CTID $CTID exist mounted running" "status on the destination"
DST_IMG=$ROOT2/var/lib/berth/private/$CTID/disk.img
[ -f "$DST_IMG" ] && pass "the destination has a disk image of its own" || fail "no $DST_IMG"
loops=$(losetup -j "$DST_IMG" 2>/dev/null)
[ -n "$loops" ] && pass "the destination's image is on a loop device ($loops)" || fail "no loop device for $DST_IMG"
sleep 1
OUT=$(dst exec $CTID 'cat /tmp/count' 2>&1); c1=$OUT
if [ "${c1:-0}" -gt "${c0:-0}" ] 2>/dev/null; then pass "the count went on in memory ($c0 -> $c1)"; else fail "count $c0 -> '$c1'"; fi
OUT=$(dst exec $CTID 'cat /tmp/recv' 2>&1)
seq_ok=1; n=0
while read -r l; do n=$((n + 1)); [ "$l" = "$n" ] || { seq_ok=0; break; }; done <<<"$OUT"
if [ $seq_ok = 1 ] && [ $n -gt "${r0:-0}" ]; then pass "the TCP stream went on, nothing lost (1..$n, was at $r0)"; else fail "stream broken at line $n"; fi
# The sender's TCP may be in retransmission back-off after the frozen seconds (stream_grows).
if stream_grows 60 dst exec $CTID 'wc -l </tmp/recv'; then pass "the stream still flows on the destination ($N1 -> $N2 lines)"
else fail "the stream stalled on the destination ($N1 -> $N2 lines) for 60 s"; fi
OUT=$(dst exec $CTID 'cat /root/note; df -P / | tail -1 | awk "{ print \$2 }"' 2>&1)
case $OUT in on-disk*) pass "the file on the disk arrived" ;; *) fail "note: $OUT" ;; esac
size=$(echo "$OUT" | tail -1)
if [ "${size:-0}" -gt 40000 ] 2>/dev/null && [ "$size" -lt 70000 ] 2>/dev/null; then pass "the VPS sees its 64M disk there (${size}K)"; else fail "df in the VPS: '$OUT'"; fi
left=$(ls "$BERTH_ROOT/var/lib/berth/private" "$BERTH_ROOT/var/lib/berth/dump" 2>/dev/null | grep -v '^$\|:$')
expect_eq "${left:-none}" none "no private area or dump left on the source"
left=$(grep -c " $BERTH_ROOT/var/lib/berth/" /proc/self/mountinfo)
expect_eq "$left" 0 "no mount of the VPS left on the source"
left=$(losetup -a | grep -c "$BERTH_ROOT/")
expect_eq "$left" 0 "no loop device of the source's image left"
OUT=$(dst stop $CTID 2>&1); RC=$?; expect_rc 0 "stop on the destination"
OUT=$(dst destroy $CTID 2>&1); RC=$?; expect_rc 0 "destroy on the destination"
left=$(losetup -a | grep -c "$ROOT2/")
expect_eq "$left" 0 "no loop device left on the destination after destroy"
vm_result migrate_disk.sh
