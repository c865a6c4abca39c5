#!/bin/bash
# tests/vm/debian.sh - a Debian 12 VPS boots systemd as PID 1 INSIDE the test VM (Debian 12's own
# 6.1 kernel, cgroup v2 or v1 as the VM was booted), as a new user would run it:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/debian.sh build
# The template is <build>/vm-template/debian-12-x86_64-minimal.tar.zst, staged by
# scripts/testvm-smoke.sh from $BERTH_TEST_DEBIAN_TEMPLATE (tests/tools/debian-template); without
# it every check is SKIPPED (the busybox suites still run).
# Checks: start --wait returns when systemd reports the boot done; `systemctl is-system-running`
# says running and `systemctl --failed` is empty; systemd has moved itself into init.scope and
# Berth still reports the VPS running (its state comes from its whole cgroup subtree); destroy and
# umount are refused while it runs; stop is systemd's own shutdown; nothing is left afterwards.
set -u

CTID=201
INST=berth-vmtest
WORK=/tmp/berth-vmtest
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard debian.sh
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
TPL=$BUILD/vm-template/debian-12-x86_64-minimal.tar.zst
if [ ! -f "$TPL" ]; then
    skip "Debian boot: SKIPPED: no Debian template staged in $BUILD/vm-template"
    vm_result debian.sh
    exit 0
fi
export VM_EXT4_SIZE=${VM_EXT4_SIZE:-1200M}
trap 'vm_cleanup $CTID' EXIT
vm_setup debian.sh "$BUILD"

run_b template import "$TPL";                expect_rc 0 "template import (Debian 12)"
run_b create $CTID --ostemplate debian-12-x86_64-minimal --hostname vmdeb --userpasswd root:vmpass
expect_rc 0 "create $CTID from the Debian template"
run_b start $CTID --wait --timeout 600;      expect_rc 0 "start --wait returns when systemd says the boot is done"
run_b exec $CTID systemctl is-system-running
expect_eq "$OUT" running "systemctl is-system-running"
run_b exec $CTID systemctl --failed --plain --no-legend
expect_eq "$OUT" "" "systemctl --failed"
run_b exec $CTID cat /proc/1/cgroup
case "$OUT" in
    *init.scope*) pass "systemd moved itself into init.scope: $OUT" ;;
    *) fail "systemd's own cgroup: '$OUT' (want init.scope)" ;;
esac
run_b status $CTID
expect_eq "$OUT" "CTID $CTID exist mounted running" "status with init in init.scope"
run_b exec $CTID pgrep -x sshd
[ "$RC" = 0 ] && pass "sshd runs" || fail "sshd does not run: $OUT"
run_b exec $CTID stat -f -c %T /proc
expect_eq "$OUT" proc "/proc is procfs"
run_b destroy $CTID;                          expect_rc 32 "destroy refused while it runs"
run_b umount $CTID;                           expect_rc 32 "umount refused while it runs"
run_b stop $CTID;                             expect_rc 0 "stop (systemd's own shutdown)"
run_b status $CTID
expect_eq "$OUT" "CTID $CTID exist unmounted down" "status after stop"
left=""
for m in $(hierarchies | awk '{ print $1 }'); do
    [ -d "$m/$INST/$CTID" ] && left+=" $m/$INST/$CTID"
done
expect_eq "${left:-none}" none "cgroups left after stop"
run_b destroy $CTID;                          expect_rc 0 "destroy"
vm_result debian.sh
