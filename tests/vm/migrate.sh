#!/bin/bash
# tests/vm/migrate.sh - online migration (berth migrate --online) between two Berth instances in
# the qemu test VM, where CRIU runs. Run by tests/vm/suite.sh (suite "migrate"), or by hand:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/migrate.sh build
# The two "hosts": two BERTH_ROOTs and two cgroup instances, the destination's in network and
# mount namespaces of its own, reached through a stand-in for ssh (vm_second_host in common.sh
# says why each part). The source VPS has no disk image (tests/vm/migrate_disk.sh moves one).
# The LAN: a bridge (in a namespace of its own) joins host 1 (the VM's namespace), host 2 and a
# third machine, the client (namespaces), on 198.18.9.0/24; each host lists its uplink in
# NEIGHBOUR_DEVS (proxy ARP, announcements) and forwards what arrives on it, as a hosting
# provider's host would. The VPS's routed address 198.18.9.50 is on that LAN.
# Checks: a running busybox VPS moves while a shell counts in memory, a TCP stream runs over the
# VPS's loopback and another comes from the client; after it, the VPS runs on the destination
# only, the count went on from its value, both streams lost nothing and the client's never ended,
# the client's neighbour cache names host 2 (the destination announced the address), the frozen
# time is printed; nothing of the VPS is left on the source. A snapshot taken before comes along
# and snapshot-switch to it works on the destination. Files changed, made and removed
# after the first copy (some before the live delta, some before the freeze) arrive as they were
# at the freeze, and the frozen copy is a small delta of the first.
set -u

INST=berth-vmmig
WORK=/tmp/berth-vmmig
NS=bvm-host2
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard migrate.sh
LAN=bvm-lan
CLIENT=bvm-client
PEERS=()
cleanup() {
    local p
    for p in "${PEERS[@]}"; do kill -- -"$p" 2>/dev/null; done
    [ -n "${MIG:-}" ] && kill "$MIG" 2>/dev/null
    if [ -n "${HOLD:-}" ]; then
        dst stop 301 --fast >/dev/null 2>&1
        dst destroy 301 >/dev/null 2>&1
    fi
    vm_second_host_cleanup
    ip netns del $CLIENT 2>/dev/null
    ip netns del $LAN 2>/dev/null  # its veth ends take h1up with them
    vm_cleanup 301
}
trap cleanup EXIT
vm_setup migrate.sh "${1:-build}"
command -v criu >/dev/null || { fail "no criu in the VM image"; vm_result migrate.sh; exit; }

vm_second_host $NS
ip netns add $LAN && ip -n $LAN link add lanbr type bridge && ip -n $LAN link set lanbr up
ip netns add $CLIENT && ip -n $CLIENT link set lo up
ip link add h1up type veth peer name l1 netns $LAN
ip link add h2up netns $NS type veth peer name l2 netns $LAN
ip link add cl0 netns $CLIENT type veth peer name l3 netns $LAN
for l in l1 l2 l3; do ip -n $LAN link set $l master lanbr up; done
ip addr add 198.18.9.1/24 dev h1up && ip link set h1up up
ip -n $NS addr add 198.18.9.2/24 dev h2up && ip -n $NS link set h2up up
ip -n $CLIENT addr add 198.18.9.10/24 dev cl0 && ip -n $CLIENT link set cl0 up
echo 1 >/proc/sys/net/ipv4/conf/h1up/forwarding
nsenter --net=/run/netns/$NS sh -c 'echo 1 >/proc/sys/net/ipv4/conf/h2up/forwarding'
echo 'NEIGHBOUR_DEVS="h1up"' >>"$BERTH_ROOT/etc/berth/berth.conf"
echo 'NEIGHBOUR_DEVS="h2up"' >>"$ROOT2/etc/berth/berth.conf"

run_b template create busybox; expect_rc 0 "template create busybox (source)"
OUT=$(dst template create busybox 2>&1); RC=$?; expect_rc 0 "template create busybox (destination)"
run_b create 301 --ostemplate busybox --ipadd 198.18.9.50 --diskspace unlimited --diskinodes unlimited
expect_rc 0 "create 301"
run_b start 301 --wait; expect_rc 0 "start 301"
run_b exec 301 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.2; done" </dev/null >/dev/null 2>&1 &'
run_b exec 301 'sleep 100000 | nc -l -p 5000 >/tmp/recv 2>/dev/null &'
sleep 1
run_b exec 301 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i; sleep 0.1; done | nc 127.0.0.1 5000" </dev/null >/dev/null 2>&1 &'
# The client's stream, from the third machine through host 1's uplink.
run_b exec 301 'sleep 100000 | nc -l -p 5001 >/tmp/recv-lan 2>/dev/null &'
sleep 1
setsid bash -c 'i=0; while :; do i=$((i + 1)); echo "$i"; sleep 0.1; done | nsenter --net=/run/netns/'$CLIENT' nc 198.18.9.50 5001 >"$1" 2>&1; echo "peer exit $?" >>"$1"' peer "$WORK/client.out" &
PEERS+=($!)
sleep 2
run_b exec 301 'cat /tmp/count'; c0=$OUT
run_b exec 301 'tail -n 1 /tmp/recv'; r0=$OUT
run_b exec 301 'tail -n 1 /tmp/recv-lan'; l0=$OUT
[ "${l0:-0}" -gt 0 ] 2>/dev/null && pass "the client's stream reaches the VPS through host 1 ($l0)" || fail "no client stream before the migration: '$l0'"
echo "  before: count $c0, stream at $r0, client's stream at $l0"

# Files the copies after the first must carry: changed, made, removed between the first copy and
# the live delta (live-*), and between the live delta and the freeze (the rest, in the frozen
# delta): content (same-size too, its mtime put back: only the ctime tells), mode, a new hardlink
# and symlink, a removed file and a removed directory tree.
run_b exec 301 'mkdir -p /srv/t/dir/sub /srv/t/keep && echo r >/srv/t/ref && echo old >/srv/t/changed && echo x >/srv/t/deleted && echo y >/srv/t/dir/sub/f && echo aaaa >/srv/t/samesize && touch -r /srv/t/ref /srv/t/samesize && echo m >/srv/t/mode && chmod 644 /srv/t/mode && echo k >/srv/t/keep/k && echo g >/srv/t/live-gone'
expect_rc 0 "the test's files in the VPS"
# A snapshot comes along (sent after the first copy, while the VPS runs): switched to on the
# destination at the end, it gives back the files as they were here.
run_b snapshot 301 --name before-move; expect_rc 0 "snapshot of 301"
SNAP=$(echo "$OUT" | sed -n 's/.*Snapshot \([0-9a-f-]\{36\}\) of CT.*/\1/p')
PAUSE=$WORK/pause
mkdir -p "$PAUSE"
# Wait for the migration to reach a pause point (BERTH_TEST_PAUSE_DIR, runtime/migrate.cc).
at_pause() {
    local i
    for i in $(seq 1 1200); do
        [ -e "$PAUSE/$1.waiting" ] && return 0
        kill -0 "$MIG" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
# At pause point $1: run $2 in the VPS (checked as $3), then let the migration go on.
pause_step() {
    if at_pause "$1"; then
        OUT=$("$B" exec 301 "$2" 2>&1); RC=$?
        expect_rc 0 "$3"
    else
        fail "migrate never paused at $1"
    fi
    : >"$PAUSE/$1.go"
}
t0=$(now_ms)
BERTH_TEST_PAUSE_DIR=$PAUSE "$B" migrate 301 root@host2 --online -t --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B" >"$WORK/migrate.out" 2>&1 &
MIG=$!
pause_step copied 'echo live >/srv/t/live-new && rm /srv/t/live-gone' "files changed after the first copy"
pause_step freeze 'echo new content >/srv/t/changed && echo bbbb >/srv/t/samesize && touch -r /srv/t/ref /srv/t/samesize && chmod 600 /srv/t/mode && echo made >/srv/t/created && ln /srv/t/changed /srv/t/hardlink && ln -s keep/k /srv/t/symlink && rm /srv/t/deleted && rm -r /srv/t/dir' "files changed before the freeze"
wait "$MIG"; RC=$?
OUT=$(cat "$WORK/migrate.out")
printf '  [%5d ms] berth migrate 301 --online -> rc %d\n' $(($(now_ms) - t0)) "$RC"
expect_rc 0 "migrate --online"
echo "$OUT" | sed 's/^/    /'
case $OUT in *[Ff]rozen*) pass "the frozen time is printed" ;; *) fail "no frozen time in the output" ;; esac
# Bytes of a phase line ("  copy (running)   123.4 ms  1.2 MiB ...").
phase_bytes() {
    echo "$OUT" | awk -v p="$1" 'index($0, p) { for (i = 1; i < NF; i++) if ($(i+1) == "KiB" || $(i+1) == "MiB") { m = $(i+1) == "MiB" ? 1048576 : 1024; printf "%d\n", $i * m; exit } }'
}
first=$(phase_bytes "copy (running)"); frozen=$(phase_bytes "delta (frozen)")
if [ -n "$first" ] && [ -n "$frozen" ] && [ "$frozen" -lt $((first / 20)) ]; then
    pass "the frozen copy is a delta: $frozen bytes, the first copy $first"
else
    fail "frozen copy '$frozen' bytes, first copy '$first'"
fi

run_b status 301
case $OUT in *"deleted"*|*"does not exist"*) pass "nothing of 301 on the source: $OUT" ;; *) fail "source status: $OUT" ;; esac
OUT=$(dst status 301 2>&1)
expect_eq "$OUT" "CTID 301 exist mounted running" "status on the destination"
sleep 2
OUT=$(dst exec 301 'cat /tmp/count' 2>&1); c1=$OUT
if [ "${c1:-0}" -gt "${c0:-0}" ] 2>/dev/null; then pass "the count went on in memory ($c0 -> $c1)"; else fail "count $c0 -> '$c1'"; fi
OUT=$(dst exec 301 'cd /srv/t && for f in changed samesize created live-new hardlink keep/k; do echo "$f=$(cat $f)"; done; stat -c "mode=%a" mode; readlink symlink; stat -c "links=%h" changed; ls deleted dir live-gone 2>&1 | sed "s/.*No such.*/gone/" | sort -u' 2>&1)
want='changed=new content
samesize=bbbb
created=made
live-new=live
hardlink=new content
keep/k=k
mode=600
keep/k
links=2
gone'
expect_eq "$OUT" "$want" "the files changed after the first copy arrived as they were at the freeze"
OUT=$(dst exec 301 'cat /tmp/recv' 2>&1)
seq_ok=1; n=0
while read -r l; do n=$((n + 1)); [ "$l" = "$n" ] || { seq_ok=0; break; }; done <<<"$OUT"
if [ $seq_ok = 1 ] && [ $n -gt "${r0:-0}" ]; then pass "the TCP stream went on, nothing lost (1..$n, was at $r0)"; else fail "stream broken at line $n"; fi
sleep 2
OUT=$(dst exec 301 'cat /tmp/recv-lan' 2>&1)
seq_ok=1; n=0
while read -r l; do n=$((n + 1)); [ "$l" = "$n" ] || { seq_ok=0; break; }; done <<<"$OUT"
if [ $seq_ok = 1 ] && [ $n -gt "${l0:-0}" ]; then pass "the client's stream went on through host 2, nothing lost (1..$n, was at $l0)"; else fail "client's stream broken at line $n (was at $l0)"; fi
if grep -q "peer exit" "$WORK/client.out" 2>/dev/null; then fail "the client saw its connection end: $(cat "$WORK/client.out")"; else pass "the client never saw its connection end"; fi
# The sender's TCP may be in retransmission back-off after the frozen seconds (stream_grows).
if stream_grows 60 dst exec 301 'wc -l </tmp/recv-lan'; then pass "the client's stream still arrives on host 2 ($N1 -> $N2 lines)"
else fail "the client's stream stalled on host 2 ($N1 -> $N2 lines) for 60 s"; fi
mac2=$(ip -n $NS -br link show h2up | awk '{ print $3 }')
neigh=$(ip -n $CLIENT neigh show 198.18.9.50)
case $neigh in *"$mac2"*) pass "the client's neighbour cache names host 2 ($neigh)" ;; *) fail "client's neighbour entry '$neigh', host 2's uplink is $mac2" ;; esac
ip neigh show proxy 198.18.9.50 | grep -q . && fail "host 1 still answers ARP for the VPS's address" || pass "host 1 no longer answers ARP for the VPS's address"
# (destroy keeps CTID.conf.destroyed, as vzctl does)
left=$(ls "$BERTH_ROOT/var/lib/berth/private" 2>/dev/null; ls "$BERTH_ROOT/etc/berth/conf" 2>/dev/null | grep 301 | grep -v '\.destroyed$')
expect_eq "${left:-none}" none "the source's private area and config are gone"
OUT=$(dst snapshot-list 301 2>&1)
case $OUT in *"$SNAP"*before-move*) pass "the snapshot is listed on the destination" ;; *) fail "snapshot $SNAP not on the destination: $OUT" ;; esac
OUT=$(dst snapshot-switch 301 --id "$SNAP" 2>&1); RC=$?; expect_rc 0 "snapshot-switch on the destination"
OUT=$(dst exec 301 'cat /srv/t/changed /srv/t/deleted' 2>&1)
expect_eq "$OUT" "old
x" "the snapshot's files on the destination"
OUT=$(dst stop 301 2>&1); RC=$?; expect_rc 0 "stop on the destination"
OUT=$(dst destroy 301 2>&1); RC=$?; expect_rc 0 "destroy on the destination"
vm_result migrate.sh
