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
# umount are refused while it runs; suspend and resume (CRIU): the same processes (a counter in a
# shell's memory, sshd) come back and systemd stays healthy (no failed unit, it restarts a service
# and starts a transient one, journald logs, the /proc view is served), and a tree this CRIU cannot
# restore is refused in one line while the CT keeps running; stop is systemd's own shutdown;
# nothing is left afterwards.
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
run_b create $CTID --ostemplate debian-12-x86_64-minimal --hostname vmdeb --userpasswd root:vmpass \
    --ipadd 198.18.40.2
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

# Suspend and resume with CRIU (which runs on this kernel): the same processes come back, and
# systemd is still healthy after it.
dumpdir=$BERTH_ROOT/var/lib/berth/dump/Dump.$CTID
show_log() { tail -n 25 "$dumpdir/$1" 2>/dev/null | sed 's/^/    | /'; }
if command -v criu >/dev/null; then
    # The counter leads its own session (setsid): see the refusal below for one that does not.
    run_b exec $CTID 'setsid sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /run/count; sleep 0.2; done" </dev/null >/dev/null 2>&1 &'
    # A process whose session leader (exec's shell) has exited, beside systemd's named sockets:
    # CRIU before 4.2 dumps such a tree but cannot restore it (its session helper shares PID 1's
    # fs_struct, so PID 1 cannot enter a mount namespace to bind /run/systemd/notify). chkpnt refuses
    # it in one line before anything changes, and the CT keeps running.
    run_b exec $CTID 'cp /bin/sleep /run/orphan-sleeper; /run/orphan-sleeper 1000 </dev/null >/dev/null 2>&1 &'
    sleep 1
    criu_v=$(criu --version 2>/dev/null | sed -n 's/^Version: *//p')
    case $criu_v in
        3.*|4.0*|4.1|4.1.*)
            run_b suspend $CTID
            expect_rc 16 "suspend refused with CRIU $criu_v: a process whose session leader exited"
            case "$OUT" in *orphan-sleep*setsid*) pass "the refusal names the process and the way out" ;;
                           *) fail "refusal message: $OUT" ;; esac
            run_b status $CTID
            expect_eq "$OUT" "CTID $CTID exist mounted running" "the CT keeps running after the refusal"
            run_b exec $CTID systemctl is-system-running
            expect_eq "$OUT" running "systemd unharmed by the refused checkpoint"
            [ -e "$dumpdir/inventory.img" ] && fail "a refused checkpoint left a dump" || pass "no dump left by the refusal" ;;
        *) skip "CRIU $criu_v restores orphaned sessions: no refusal to test" ;;
    esac
    run_b exec $CTID pkill -x orphan-sleeper
    run_b exec $CTID systemd-run --unit=berth-ckpt-probe0 --wait /bin/true
    expect_rc 0 "systemd starts a transient unit (before suspend)"
    sleep 2
    run_b exec $CTID cat /run/count; c0=$OUT
    run_b exec $CTID stat -c %Z /proc/1; init0=$OUT
    run_b exec $CTID pgrep -x sshd; sshd0=$OUT

    run_b suspend $CTID;                         expect_rc 0 "suspend the Debian guest"
    [ "$RC" = 0 ] || { echo "$OUT" | tail -n 8; show_log dump.log; }
    run_b status $CTID
    expect_eq "$OUT" "CTID $CTID exist unmounted down suspended" "status after suspend"
    run_b resume $CTID;                          expect_rc 0 "resume the Debian guest"
    [ "$RC" = 0 ] || { echo "$OUT" | tail -n 8; show_log restore.log; }
    sleep 1
    run_b exec $CTID cat /run/count
    if [ "$RC" = 0 ] && [ "$OUT" -gt "${c0:-0}" ] 2>/dev/null; then
        pass "the in-memory counter went on ($c0 -> $OUT)"
    else
        fail "the in-memory counter: before $c0, after '$OUT'"
    fi
    run_b exec $CTID pgrep -x sshd
    expect_eq "$OUT" "$sshd0" "the same sshd process (PID $sshd0) after resume"
    run_b exec $CTID systemctl is-system-running
    expect_eq "$OUT" running "systemctl is-system-running after resume"
    run_b exec $CTID systemctl --failed --plain --no-legend
    expect_eq "$OUT" "" "systemctl --failed after resume"
    run_b exec $CTID systemctl restart ssh
    expect_rc 0 "systemd restarts a service after resume (ssh)"
    run_b exec $CTID systemctl is-active ssh
    expect_eq "$OUT" active "ssh active after its restart"
    run_b exec $CTID systemd-run --unit=berth-ckpt-probe --wait /bin/true
    expect_rc 0 "systemd starts a new transient unit after resume"
    [ "$RC" = 0 ] || { run_b exec $CTID journalctl -u berth-ckpt-probe --no-pager -o cat; echo "$OUT" | tail -n 12; }
    run_b exec $CTID 'logger -t berthck after-resume; sleep 1; journalctl -t berthck --no-pager -o cat'
    case "$OUT" in *after-resume*) pass "journald logs after resume" ;; *) fail "journald after resume: $OUT" ;; esac
    # A systemd guest keeps procfs at /proc (the view's files mode): its beancounters are at
    # /run/berth/user_beancounters and /proc/meminfo is the view's, both served again after resume.
    run_b exec $CTID cat /run/berth/user_beancounters
    case "$OUT" in *kmemsize*) pass "beancounters served after resume" ;; *) fail "beancounters after resume: $OUT" ;; esac
    run_b exec $CTID 'grep " /proc/meminfo " /proc/self/mountinfo'
    case "$OUT" in *fuse.berth-ubc*) pass "/proc/meminfo is the view's after resume" ;; *) fail "/proc/meminfo after resume: $OUT" ;; esac
else
    skip "suspend/resume: no criu in the VM image"
fi
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
