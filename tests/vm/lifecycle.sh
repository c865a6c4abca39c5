#!/bin/bash
# tests/vm/lifecycle.sh - Berth's core CT lifecycle, checked INSIDE the test VM (cgroup v2 or v1).
#
# Run from the host (scripts/testvm-smoke.sh does this for v2 and v1):
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/lifecycle.sh build-vm
# Argument: the build dir (relative to the checkout or absolute) holding a host-built `berth`.
# Shared libraries the guest image lacks are taken from <build dir>/vm-lib when present
# (scripts/testvm-smoke.sh stages them there).
#
# berth and its libraries are copied to a local tmpfs, and BERTH_ROOT lives on an ext4 image
# loop-mounted from that tmpfs: the 6.1 guest kernel refuses idmapped mounts on both tmpfs
# (supported from 6.3) and 9p (EINVAL), and the template cache is the overlay's idmapped lower.
#
# Checks: template create, create, start, status line, PID 1 is init, exec2 exit status, CT
# processes (init and a process started by exec) sit in <mount>/<instance>/101 of every
# hierarchy and see it as "/", stop (leftover exec'ed processes killed, groups removed),
# a second start/stop cycle, destroy, and that no cgroup dir or mount is left.
# Prints PASS/FAIL per check; exits 1 if any check failed, 2 on a setup problem.
set -u

CTID=101
INST=berth-vmtest
WORK=/tmp/berth-vmtest
# When this script runs as a copy, find common.sh in the checkout (the current directory).
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard lifecycle.sh
trap 'vm_cleanup $CTID' EXIT
vm_setup lifecycle.sh "${1:-build}"

# ---- template create, create ----
run_b template create busybox;               expect_rc 0 "template create busybox"
run_b create $CTID --ostemplate busybox;     expect_rc 0 "create $CTID --ostemplate busybox"
run_b status $CTID
[ "$OUT" = "CTID $CTID exist unmounted down" ] && pass "status after create: $OUT" || fail "status after create: '$OUT'"

# ---- start, status ----
run_b start $CTID --wait;                    expect_rc 0 "start $CTID"
run_b status $CTID
[ "$OUT" = "CTID $CTID exist mounted running" ] && pass "status: $OUT" || fail "status: '$OUT' (want 'CTID $CTID exist mounted running')"

# ---- exec ----
run_b exec $CTID ps ax
echo "$OUT" | sed 's/^/    /'
if [ "$RC" = 0 ] && echo "$OUT" | awk '$1 == 1 && /init/ { f = 1 } END { exit !f }'; then
    pass "exec ps ax: PID 1 is init"
else
    fail "exec ps ax: no init at PID 1 (rc $RC)"
fi
run_b exec2 $CTID false;                     expect_rc 1 "exec2 false gives 1"
# vzctl semantics: exec's arguments are joined into one line for the CT's /bin/sh -c.
run_b exec2 $CTID 'exit 7';                  expect_rc 7 "exec2 'exit 7' gives 7"

# ---- cgroups: where the CT's processes are, and what they see ----
# A long-lived process started by exec must land in the CT's group, and stop must kill it.
run_b exec $CTID 'sleep 1000 </dev/null >/dev/null 2>&1 &'
expect_rc 0 "exec a background sleep"
# v2: every controller the kernel has (root's cgroup.controllers) must be on in the instance
# group's subtree_control and so available in the CT's group; no process in the instance group.
check_v2_controllers() {
    local mnt=$1 want sc cc c ok=1
    want=$(cat "$mnt/cgroup.controllers")
    sc=$(cat "$mnt/$INST/cgroup.subtree_control")
    cc=$(cat "$mnt/$INST/$CTID/cgroup.controllers")
    for c in $want; do
        case " $sc " in *" $c "*) ;; *) fail "v2: controller $c not on in $mnt/$INST/cgroup.subtree_control ('$sc')"; ok=0 ;; esac
        case " $cc " in *" $c "*) ;; *) fail "v2: controller $c missing from $mnt/$INST/$CTID/cgroup.controllers ('$cc')"; ok=0 ;; esac
    done
    [ $ok = 1 ] && pass "v2: all controllers ($want) available in the CT's group"
    if [ -n "$(cat "$mnt/$INST/cgroup.procs")" ]; then
        fail "v2: processes in $mnt/$INST/cgroup.procs (no-internal-process rule)"; ok=0
    fi
    [ $ok = 1 ]
}
check_groups() {  # $1: "present" (init + sleep inside) or "absent"
    local mnt opts dir pids p nsinit nsleep ok=1
    while read -r mnt opts; do
        dir=$mnt/$INST/$CTID
        if [ "$1" = absent ]; then
            if [ -e "$dir" ] || [ -e "$mnt/$INST" ]; then
                fail "cgroup $dir (or its instance dir) left after stop (procs: $(cat "$dir/cgroup.procs" 2>/dev/null | tr '\n' ' '))"
                ok=0
            fi
            continue
        fi
        [ -d "$dir" ] || { fail "no CT cgroup $dir ($opts)"; ok=0; continue; }
        pids=$(cat "$dir/cgroup.procs")
        nsinit=0 nsleep=0
        for p in $pids; do
            # The CT's init: second NSpid field is 1 (PID 1 of the CT's PID namespace).
            awk '$1 == "NSpid:" && NF == 3 && $3 == 1 { f = 1 } END { exit !f }' "/proc/$p/status" 2>/dev/null && nsinit=$((nsinit + 1))
            [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 1000 " ] && nsleep=$((nsleep + 1))
            if ! awk '$1 == "NSpid:" && NF >= 3 { f = 1 } END { exit !f }' "/proc/$p/status" 2>/dev/null; then
                fail "pid $p in $dir is not in a child PID namespace"; ok=0
            fi
        done
        if [ "$nsinit" = 1 ] && [ "$nsleep" = 1 ]; then
            pass "cgroup $dir ($opts) holds the CT's init and the exec'ed sleep (procs: $(echo $pids))"
        else
            fail "cgroup $dir ($opts): init found $nsinit, sleep found $nsleep (procs: $(echo $pids))"; ok=0
        fi
        [ "$opts" = - ] && { check_v2_controllers "$mnt" || ok=0; }
    done <<<"$HIER"
    [ $ok = 1 ]
}
check_groups present

run_b exec $CTID cat /proc/self/cgroup
echo "$OUT" | sed 's/^/    /'
if [ "$RC" = 0 ] && [ -n "$OUT" ] && ! echo "$OUT" | grep -qv ':/$'; then
    if [ $V2 = 1 ] && [ "$OUT" != "0::/" ]; then
        fail "CT's /proc/self/cgroup is not exactly '0::/' on v2"
    else
        pass "CT sees its cgroup as / ($(echo "$OUT" | wc -l) line(s))"
    fi
else
    fail "CT's /proc/self/cgroup does not show / everywhere (rc $RC)"
fi
run_b exec $CTID cat /proc/self/mountinfo   # informational: does the CT get a cgroup fs?
cgm=$(echo "$OUT" | awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { print $5 " " $(i + 1); break } }' | grep -w 'cgroup2\|cgroup')
echo "  NOTE: cgroup mounts inside the CT: ${cgm:-none}"

# ---- stop --fast ----
SLEEP_PID=$(for p in $(cat "$(echo "$HIER" | head -1 | cut -d' ' -f1)/$INST/$CTID/cgroup.procs" 2>/dev/null); do
    [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 1000 " ] && echo "$p"; done)
run_b stop $CTID --fast;                     expect_rc 0 "stop $CTID --fast"
run_b status $CTID
[ "$OUT" = "CTID $CTID exist unmounted down" ] && pass "status after stop: $OUT" || fail "status after stop: '$OUT'"
check_groups absent && pass "no CT cgroup dirs left after stop"
if [ -n "$SLEEP_PID" ] && [ -e "/proc/$SLEEP_PID" ]; then fail "exec'ed sleep (pid $SLEEP_PID) survived stop"
elif [ -n "$SLEEP_PID" ]; then pass "exec'ed sleep (pid $SLEEP_PID) is gone"; fi

# ---- second cycle: the groups are made again from scratch; plain (clean) stop ----
# On v2, make the host harder first (the VM is disposable): turn every controller off in the
# root, as on a host without systemd (start must turn them on down the path again), and mount a
# controller-less v1 name=systemd hierarchy, as hosts running CentOS 7 containers do (Berth must
# still pick v2).
LEGACY=/run/berth-vmtest-systemd
if [ $V2 = 1 ]; then
    for c in $(cat /sys/fs/cgroup/cgroup.subtree_control); do echo "-$c" >/sys/fs/cgroup/cgroup.subtree_control; done
    echo "  root cgroup.subtree_control now: '$(cat /sys/fs/cgroup/cgroup.subtree_control)'"
    mkdir -p $LEGACY && mount -t cgroup -o none,name=systemd berth-vmtest $LEGACY &&
        echo "  mounted a v1 name=systemd hierarchy on $LEGACY"
fi
run_b start $CTID --wait;                    expect_rc 0 "start $CTID again"
if [ $V2 = 1 ]; then
    check_v2_controllers /sys/fs/cgroup
    if mountpoint -q $LEGACY; then
        [ -e $LEGACY/$INST ] && fail "v2 host with a name=systemd v1 mount: berth used the v1 hierarchy ($LEGACY/$INST)" \
            || pass "v2 host with a name=systemd v1 mount: berth still uses v2"
    fi
fi
run_b exec2 $CTID true;                      expect_rc 0 "exec2 true after restart"
run_b stop $CTID;                            expect_rc 0 "stop $CTID (clean, init halts itself)"
run_b status $CTID
[ "$OUT" = "CTID $CTID exist unmounted down" ] && pass "status after clean stop: $OUT" || fail "status after clean stop: '$OUT'"

# ---- destroy, nothing left ----
run_b destroy $CTID;                         expect_rc 0 "destroy $CTID"
run_b status $CTID
[ "$OUT" = "CTID $CTID deleted unmounted down" ] && pass "status after destroy: $OUT" || fail "status after destroy: '$OUT'"
left=$(find /sys/fs/cgroup -maxdepth 3 -name "$INST" 2>/dev/null)
[ -z "$left" ] && pass "no $INST cgroup dir anywhere" || fail "cgroup dirs left: $left"
mnts=$(awk -v r="$BERTH_ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)
[ -z "$mnts" ] && pass "no mounts left under BERTH_ROOT" || fail "mounts left: $mnts"
if mountpoint -q $LEGACY; then rmdir $LEGACY/$INST/$CTID $LEGACY/$INST 2>/dev/null; umount $LEGACY; fi
[ ! -e "$BERTH_ROOT/var/lib/berth/private/$CTID" ] && pass "private area removed" || fail "private area still there"

vm_result lifecycle.sh
