#!/bin/bash
# tests/vm/migrate.sh - online migration (berth migrate --online) between two Berth instances in
# the qemu test VM, where CRIU runs. Run by tests/vm/suite.sh (suite "migrate"), or by hand:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/migrate.sh build
# The two "hosts": two BERTH_ROOTs and two cgroup instances, the destination's in network and
# mount namespaces of its own, reached through a stand-in for ssh (vm_second_host in common.sh
# says why each part). The source VPS has no disk image: the destination's mount namespace holds
# a copy of every mount of the source taken when it was made (a disk's loop device would stay
# held, as it should).
# Checks: a running busybox VPS with a routed address moves while a shell counts in memory and a
# TCP stream runs over the VPS's loopback; after it, the VPS runs on the destination only, the
# count went on from its value, the stream lost nothing, the frozen time is printed; nothing of
# the VPS is left on the source.
set -u

INST=berth-vmmig
WORK=/tmp/berth-vmmig
NS=bvm-host2
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard migrate.sh
cleanup() {
    if [ -n "${HOLD:-}" ]; then
        dst stop 301 --fast >/dev/null 2>&1
        dst destroy 301 >/dev/null 2>&1
    fi
    vm_second_host_cleanup
    vm_cleanup 301
}
trap cleanup EXIT
vm_setup migrate.sh "${1:-build}"
command -v criu >/dev/null || { fail "no criu in the VM image"; vm_result migrate.sh; exit; }

vm_second_host $NS

run_b template create busybox; expect_rc 0 "template create busybox (source)"
OUT=$(dst template create busybox 2>&1); RC=$?; expect_rc 0 "template create busybox (destination)"
run_b create 301 --ostemplate busybox --ipadd 198.18.7.2 --diskspace unlimited --diskinodes unlimited
expect_rc 0 "create 301"
run_b start 301 --wait; expect_rc 0 "start 301"
run_b exec 301 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /tmp/count; sleep 0.2; done" </dev/null >/dev/null 2>&1 &'
run_b exec 301 'sleep 100000 | nc -l -p 5000 >/tmp/recv 2>/dev/null &'
sleep 1
run_b exec 301 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i; sleep 0.1; done | nc 127.0.0.1 5000" </dev/null >/dev/null 2>&1 &'
sleep 2
run_b exec 301 'cat /tmp/count'; c0=$OUT
run_b exec 301 'tail -n 1 /tmp/recv'; r0=$OUT
echo "  before: count $c0, stream at $r0"

run_b migrate 301 root@host2 --online -t --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B"
expect_rc 0 "migrate --online"
echo "$OUT" | sed 's/^/    /'
case $OUT in *[Ff]rozen*) pass "the frozen time is printed" ;; *) fail "no frozen time in the output" ;; esac

run_b status 301
case $OUT in *"deleted"*|*"does not exist"*) pass "nothing of 301 on the source: $OUT" ;; *) fail "source status: $OUT" ;; esac
OUT=$(dst status 301 2>&1)
expect_eq "$OUT" "CTID 301 exist mounted running" "status on the destination"
sleep 2
OUT=$(dst exec 301 'cat /tmp/count' 2>&1); c1=$OUT
if [ "${c1:-0}" -gt "${c0:-0}" ] 2>/dev/null; then pass "the count went on in memory ($c0 -> $c1)"; else fail "count $c0 -> '$c1'"; fi
OUT=$(dst exec 301 'cat /tmp/recv' 2>&1)
seq_ok=1; n=0
while read -r l; do n=$((n + 1)); [ "$l" = "$n" ] || { seq_ok=0; break; }; done <<<"$OUT"
if [ $seq_ok = 1 ] && [ $n -gt "${r0:-0}" ]; then pass "the TCP stream went on, nothing lost (1..$n, was at $r0)"; else fail "stream broken at line $n"; fi
# (destroy keeps CTID.conf.destroyed, as vzctl does)
left=$(ls "$BERTH_ROOT/var/lib/berth/private" 2>/dev/null; ls "$BERTH_ROOT/etc/berth/conf" 2>/dev/null | grep 301 | grep -v '\.destroyed$')
expect_eq "${left:-none}" none "the source's private area and config are gone"
OUT=$(dst stop 301 2>&1); RC=$?; expect_rc 0 "stop on the destination"
OUT=$(dst destroy 301 2>&1); RC=$?; expect_rc 0 "destroy on the destination"
vm_result migrate.sh
