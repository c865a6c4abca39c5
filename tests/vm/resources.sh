#!/bin/bash
# tests/vm/resources.sh - Berth's resource limits on a real kernel, checked INSIDE the test VM
# (pure cgroup v2 by default; also v1/hybrid). scripts/testvm-smoke.sh runs it:
#   scripts/testvm-smoke.sh -c v2 -s ci           (CI: lifecycle.sh + this, cgroup v2)
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/resources.sh build
# Argument: the build dir holding a host-built `berth` (and vm-lib/, see common.sh).
#
# Checks, with busybox CTs 101 (the "attacker") and 102 (its neighbour):
#   - `set` of --ram --swap --cpuunits --cpulimit --cpus --cpumask --numproc --ioprio on the
#     running CT changes memory.max, memory.swap.max, cpu.weight, cpu.max, cpuset.cpus,
#     pids.max, io.weight (v1: limit_in_bytes, memsw, shares, cfs_quota_us, cpuset.cpus,
#     pids.max, blkio weights) at once, with the values convert.cc defines;
#   - a fork bomb at --numproc 32 stops at 32 (pids.events max > 0), `berth ubc` and `vzubc`
#     show a numproc failcnt, and the neighbour can still fork;
#   - a memory hog at --ram 64M --swap 0 is OOM-killed in the CT only (memory.events oom_kill
#     > 0), the CT's init survives and the neighbour answers;
#   - the CT sees its own cgroup as its root (cgroup namespace: /proc/self/cgroup is 0::/ on v2)
#     and, on v2, its subtree is delegated: owned by the CT's root uid, and root in the CT can
#     mount cgroup2 and make and remove a child group.
# Prints PASS/FAIL/SKIP per check; exits 1 if any check failed, 2 on a setup problem.
set -u

CT=101
NB=102
INST=berth-vmres
WORK=/tmp/berth-vmres
# When this script runs as a copy, find common.sh in the checkout (the current directory).
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard resources.sh
trap 'vm_cleanup $CT $NB' EXIT
vm_setup resources.sh "${1:-build}"

# cgpath CTRL V1NAME V2NAME: the CT's cgroup file (v1: in the hierarchy holding CTRL).
cgpath() {
    local mnt
    if [ $V2 = 1 ]; then echo "/sys/fs/cgroup/$INST/$CT/${3:-}"; return; fi
    mnt=$(echo "$HIER" | awk -v c="$1" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $1; exit } }')
    echo "$mnt/$INST/$CT/$2"
}
# cg CTRL V1NAME V2NAME: its content (one line, trailing space trimmed), or "<absent>".
cg() {
    local f
    f=$(cgpath "$@")
    if [ -e "$f" ]; then tr '\n' ' ' <"$f" | sed 's/ *$//'; else echo "<absent>"; fi
}
# keyed FILE KEY: the number after KEY in a "key value" file, or -1.
keyed() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print -1 }' "$1" 2>/dev/null || echo -1; }
alive() {  # alive ID WHAT
    run_b exec "$1" echo alive
    if [ "$RC" = 0 ] && [ "$OUT" = alive ]; then pass "$2: CT $1 answers"; else fail "$2: CT $1 does not answer (rc $RC): $OUT"; fi
}

# ---- two running CTs ----
run_b template create busybox;              expect_rc 0 "template create busybox"
for id in $CT $NB; do
    run_b create $id --ostemplate busybox;  expect_rc 0 "create $id"
    run_b start $id --wait;                 expect_rc 0 "start $id"
done
[ "$FAILS" = 0 ] || { vm_result resources.sh; exit 1; }

# ---- set, live: every value reaches the kernel at once ----
echo "before: memory $(cg memory memory.limit_in_bytes memory.max), cpu $(cg cpu cpu.cfs_quota_us cpu.max)," \
     "pids $(cg pids pids.max pids.max), cpuset '$(cg cpuset cpuset.cpus cpuset.cpus)'"
run_b set $CT --ram 256M --swap 512M --cpuunits 2000 --cpulimit 50 --cpus 1 --cpumask 0 --numproc 200 --ioprio 6
expect_rc 0 "set --ram --swap --cpuunits --cpulimit --cpus --cpumask --numproc --ioprio (running CT)"
expect_eq "$(cg memory memory.limit_in_bytes memory.max)" 268435456 "ram 256M"
if [ $V2 = 1 ]; then
    expect_eq "$(cg memory - memory.swap.max)" 536870912 "swap 512M -> memory.swap.max"
    expect_eq "$(cg cpu - cpu.max)" "50000 100000" "cpulimit 50 (cpus 1 is looser) -> cpu.max"
    expect_eq "$(cg cpu - cpu.weight)" 79 "cpuunits 2000 -> cpu.weight"
else
    if [ -e "$(cgpath memory memory.memsw.limit_in_bytes)" ]; then
        expect_eq "$(cg memory memory.memsw.limit_in_bytes)" 805306368 "ram+swap -> memory.memsw.limit_in_bytes"
    else
        skip "no memory.memsw.limit_in_bytes (kernel without swap accounting)"
    fi
    expect_eq "$(cg cpu cpu.cfs_quota_us)" 50000 "cpulimit 50 -> cpu.cfs_quota_us"
    expect_eq "$(cg cpu cpu.shares)" 2048 "cpuunits 2000 -> cpu.shares"
fi
expect_eq "$(cg cpuset cpuset.cpus cpuset.cpus)" 0 "cpumask 0 -> cpuset.cpus"
expect_eq "$(cg pids pids.max pids.max)" 200 "numproc 200 -> pids.max"
io_seen=0
if [ $V2 = 1 ]; then io_files="io.weight io.bfq.weight"; else io_files="blkio.weight blkio.bfq.weight"; fi
for n in $io_files; do
    f=$(cgpath blkio "$n" "$n")
    [ -e "$f" ] || continue
    io_seen=1
    v=$(tr '\n' ' ' <"$f")
    if echo " $v " | grep -qE '[ ]871 |default 871'; then pass "ioprio 6 -> $n ($v)"; else fail "ioprio 6 -> $n: '$v', want 871"; fi
done
[ $io_seen = 1 ] || skip "no io/blkio weight file in this kernel's cgroup (no iocost/BFQ)"

run_b set $CT --cpulimit 0 --cpus 1
expect_rc 0 "set --cpulimit 0 --cpus 1"
expect_eq "$(cg cpu cpu.cfs_quota_us cpu.max)" "$([ $V2 = 1 ] && echo '100000 100000' || echo 100000)" "cpus 1 alone -> one CPU of quota"

# ---- cgroup namespace and delegation ----
run_b exec $CT cat /proc/self/cgroup
if [ $V2 = 1 ]; then
    expect_eq "$OUT" "0::/" "v2: the CT sees its own cgroup as / (/proc/self/cgroup)"
elif [ "$RC" = 0 ] && [ -n "$OUT" ] && ! echo "$OUT" | grep -qv ':/$'; then
    pass "v1: the CT sees / in every hierarchy ($(echo "$OUT" | wc -l) lines)"
else
    fail "v1: /proc/self/cgroup in the CT: $OUT"
fi
run_b exec $CT cat /proc/self/uid_map
ct_uid=$(echo "$OUT" | awk '$1 == 0 { print $2 }')
if [ $V2 = 1 ]; then
    dir=/sys/fs/cgroup/$INST/$CT
    for f in "" /cgroup.procs /cgroup.subtree_control /cgroup.threads; do
        expect_eq "$(stat -c %u "$dir$f")" "$ct_uid" "v2 delegation: owner of $dir$f is the CT's root uid"
    done
    run_b exec $CT 'mkdir -p /tmp/cgd && mount -t cgroup2 none /tmp/cgd && mkdir /tmp/cgd/berth-sub && echo made && rmdir /tmp/cgd/berth-sub; umount /tmp/cgd; rmdir /tmp/cgd'
    if [ "$RC" = 0 ] && echo "$OUT" | grep -qx made; then pass "v2 delegation: root in the CT mounts cgroup2 and makes a child group"
    else fail "v2 delegation: root in the CT cannot make a child group (rc $RC): $OUT"; fi
else
    skip "delegation is checked on v2 only (v1 subtrees are chowned too, but systemd in a CT needs v2 or name=systemd)"
fi

# ---- fork bomb at --numproc 32 ----
run_b set $CT --numproc 32;                 expect_rc 0 "set --numproc 32"
ev=$(cgpath pids pids.events pids.events)
t0=$(now_ms)
run_b exec $CT 'i=0; while [ $i -lt 200 ]; do sleep 300 </dev/null >/dev/null 2>&1 & i=$((i + 1)); done; echo spawned $i'
echo "    fork bomb: rc $RC, $(echo "$OUT" | tail -1)"
cur=$(cat "$(cgpath pids pids.current pids.current)")
maxev=$(keyed "$ev" max)
[ "$cur" -le 32 ] && pass "fork bomb: pids.current $cur <= 32" || fail "fork bomb: pids.current $cur > 32"
[ "$maxev" -gt 0 ] 2>/dev/null && pass "fork bomb: pids.events max $maxev > 0" || fail "fork bomb: pids.events max '$maxev'"
run_b exec $NB 'sh -c "echo forked"'
[ "$RC" = 0 ] && [ "$OUT" = forked ] && pass "fork bomb: the neighbour $NB can still fork" || fail "fork bomb: neighbour cannot fork (rc $RC): $OUT"
# `berth ubc --raw` prints the Version 2.5 block (failcnt is the last column); vzubc its table
# ("numproc|  held ...|  FAIL", "-" for 0).
for cmd in "$B ubc --raw" "$WORK/bin/vzubc"; do
    OUT=$($cmd $CT 2>&1); RC=$?
    echo "$OUT" | sed 's/^/    /'
    fc=$(echo "$OUT" | awk '/\|/ { n = split($0, c, "|"); r = c[1]; gsub(/ /, "", r); f = c[n]; gsub(/ /, "", f); if (r == "numproc") { print f; exit } next }
                            { for (i = 1; i <= NF; i++) if ($i == "numproc") { print $NF; exit } }')
    [ "$RC" = 0 ] && [ "${fc:-0}" -gt 0 ] 2>/dev/null && pass "$(basename "${cmd%% *}") ${cmd#* }: numproc failcnt $fc > 0" ||
        fail "$(basename "${cmd%% *}"): numproc failcnt '${fc}' (rc $RC)"
done
run_b set $CT --numproc 200;                expect_rc 0 "set --numproc 200 (room to clean up)"
run_b exec $CT 'killall -9 sleep; true'
for i in $(seq 50); do  # the killed tasks take a moment to be reaped under TCG
    cur=$(cat "$(cgpath pids pids.current pids.current)")
    [ "$cur" -lt 8 ] && break
    sleep 0.2
done
[ "$cur" -lt 8 ] && pass "fork bomb cleaned up (pids.current $cur)" || fail "fork bomb: $cur tasks left after killall"
echo "    fork bomb part: $(( $(now_ms) - t0 )) ms"

# ---- memory hog at --ram 64M --swap 0 ----
run_b set $CT --ram 64M --swap 0;           expect_rc 0 "set --ram 64M --swap 0"
if [ $V2 = 1 ]; then
    expect_eq "$(cg memory - memory.swap.max)" 0 "swap 0 -> memory.swap.max"
    oomf=$(cgpath memory - memory.events)
else
    oomf=$(cgpath memory memory.oom_control)
fi
before=$(keyed "$oomf" oom_kill)
# busybox dd allocates its whole block, and one read of /dev/zero touches all of it.
run_b exec $CT 'dd if=/dev/zero of=/dev/null bs=200M count=1'
echo "    memory hog: rc $RC, $(echo "$OUT" | tail -1)"
[ "$RC" != 0 ] && pass "memory hog did not complete (rc $RC)" || fail "memory hog allocated 200M under --ram 64M"
after=$(keyed "$oomf" oom_kill)
[ "$after" -gt "$before" ] 2>/dev/null && pass "memory hog: oom_kill $before -> $after in the CT's group" ||
    fail "memory hog: oom_kill $before -> $after ($oomf)"
run_b status $CT
expect_eq "$OUT" "CTID $CT exist mounted running" "memory hog: CT still running"
alive $CT "memory hog: init survived"
alive $NB "memory hog: neighbour"
run_b ubc $CT
echo "$OUT" | sed 's/^/    /'

# ---- stop, destroy, nothing left ----
for id in $CT $NB; do
    run_b stop $id --fast;                  expect_rc 0 "stop $id --fast"
    run_b destroy $id;                      expect_rc 0 "destroy $id"
done
left=$(find /sys/fs/cgroup -maxdepth 3 -name "$INST" 2>/dev/null)
[ -z "$left" ] && pass "no $INST cgroup dir anywhere" || fail "cgroup dirs left: $left"
mnts=$(awk -v r="$BERTH_ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)
[ -z "$mnts" ] && pass "no mounts left under BERTH_ROOT" || fail "mounts left: $mnts"

vm_result resources.sh
