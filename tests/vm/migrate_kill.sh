#!/bin/bash
# tests/vm/migrate_kill.sh - an online migration killed (SIGKILL of `berth migrate` on the source)
# at each of its phases leaves the VPS running on one host only, and the next command finishes or
# undoes it. In the qemu test VM (CRIU runs there), with the two-host set-up of migrate.sh
# (vm_second_host in common.sh). Run by tests/vm/suite.sh (suites "checkpoint" and "ci"), or:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/migrate_kill.sh build
# One busybox VPS counting in memory goes through every phase in turn:
#   migrate_checked, migrate_copied_running, migrate_predumped: it never stopped: it runs on the
#     source, the destination drops its partial copy when the link ends;
#   migrate_dumped (its processes only in the final dump), migrate_restored (the destination had
#     restored it, uncommitted): the destination drops its copy; the source says "suspended", and
#     `start` brings the VPS back from the dump with its count going on;
#   migrate_committed: it runs on the destination; `start` on the source is refused (no second
#     copy), `migrate` again finishes, and nothing is left on the source.
set -u

INST=berth-vmmigk
WORK=/tmp/berth-vmmigk
NS=bvm-host2k
CTID=311
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard migrate_kill.sh
cleanup() {
    if [ -n "${HOLD:-}" ]; then
        dst stop $CTID --fast >/dev/null 2>&1
        dst destroy $CTID >/dev/null 2>&1
    fi
    vm_second_host_cleanup
    vm_cleanup $CTID
}
trap cleanup EXIT
vm_setup migrate_kill.sh "${1:-build}"
command -v criu >/dev/null || { fail "no criu in the VM image"; vm_result migrate_kill.sh; exit; }
vm_second_host $NS

mig() { run_b migrate $CTID root@host2 --online --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B" "$@"; }
# The destination drops an uncommitted copy when the link ends: wait for it.
dst_gone() {
    local i
    for i in $(seq 1 60); do
        case $(dst status $CTID 2>&1) in *"deleted"*|*"does not exist"*) return 0 ;; esac
        sleep 0.5
    done
    return 1
}
count() { "$B" exec $CTID 'cat /tmp/count' 2>&1; }

run_b template create busybox; expect_rc 0 "template create busybox (source)"
OUT=$(dst template create busybox 2>&1); RC=$?; expect_rc 0 "template create busybox (destination)"
run_b create $CTID --ostemplate busybox --ipadd 198.18.11.2 --diskspace unlimited --diskinodes unlimited
expect_rc 0 "create $CTID"
run_b start $CTID --wait; expect_rc 0 "start $CTID"
run_b exec $CTID 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.2; done" </dev/null >/dev/null 2>&1 &'
sleep 1

for phase in migrate_checked migrate_copied_running migrate_predumped migrate_dumped migrate_restored; do
    c0=$(count)
    export BERTH_KILL_AT=$phase; mig; unset BERTH_KILL_AT
    expect_rc 137 "$phase: migrate killed there"
    dst_gone && pass "$phase: the destination dropped its copy" || fail "$phase: the destination kept CT $CTID: $(dst status $CTID 2>&1)"
    run_b status $CTID
    case $phase in
        migrate_dumped|migrate_restored)
            expect_eq "$OUT" "CTID $CTID exist unmounted down suspended" "$phase: the source holds the VPS in its final dump"
            run_b start $CTID; expect_rc 0 "$phase: start brings it back from the dump"
            [ "$RC" = 0 ] || { ls -lnR "$BERTH_ROOT/var/lib/berth/dump" | head -40; grep -n -B5 "Error" "$BERTH_ROOT/var/lib/berth/dump/Dump.$CTID-migrate/final/restore.log" | head -40; }
            case $OUT in *"runs again on this host"*) pass "$phase: start says where it runs" ;; *) fail "$phase: start said: $OUT" ;; esac ;;
        *)
            expect_eq "$OUT" "CTID $CTID exist mounted running" "$phase: it never stopped on the source" ;;
    esac
    sleep 1
    c1=$(count)
    if [ "${c1:-0}" -gt "${c0:-0}" ] 2>/dev/null; then pass "$phase: the count goes on in memory ($c0 -> $c1)"; else fail "$phase: count $c0 -> '$c1'"; fi
done

export BERTH_KILL_AT=migrate_committed; mig; unset BERTH_KILL_AT
expect_rc 137 "migrate_committed: migrate killed there"
OUT=$(dst status $CTID 2>&1)
expect_eq "$OUT" "CTID $CTID exist mounted running" "migrate_committed: it runs on the destination"
run_b start $CTID
expect_rc 105 "migrate_committed: start on the source refused (no second copy)"
case $OUT in *"migrated to"*) pass "migrate_committed: the refusal says where it went" ;; *) fail "refusal: $OUT" ;; esac
mig; expect_rc 0 "migrate again finishes on the source"
run_b status $CTID
case $OUT in *"deleted"*|*"does not exist"*) pass "nothing of $CTID on the source: $OUT" ;; *) fail "source status: $OUT" ;; esac
OUT=$(dst exec $CTID 'cat /tmp/count' 2>&1)
[ "${OUT:-0}" -gt "${c1:-0}" ] 2>/dev/null && pass "the count went on on the destination ($c1 -> $OUT)" || fail "count on the destination: '$OUT'"
left=$(ls "$BERTH_ROOT/var/lib/berth/dump" "$BERTH_ROOT/var/lib/berth/private" 2>/dev/null | grep -v '^$\|:$')
expect_eq "${left:-none}" none "no dump or private area left on the source"
OUT=$(dst stop $CTID 2>&1); RC=$?; expect_rc 0 "stop on the destination"
OUT=$(dst destroy $CTID 2>&1); RC=$?; expect_rc 0 "destroy on the destination"
left=$(ls "$ROOT2/var/lib/berth/dump" 2>/dev/null)
expect_eq "${left:-none}" none "no dump left on the destination"
vm_result migrate_kill.sh
