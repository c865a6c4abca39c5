#!/bin/bash
# tests/vm/checkpoint.sh - checkpoint and restore with CRIU, in the qemu test VM (Debian 12's 6.1
# kernel, where Debian's CRIU 3.17 runs; the host's kernel cannot run it). Run by
# tests/vm/suite.sh (suite "checkpoint"), or by hand:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/checkpoint.sh build
# For an unprivileged (user namespace) and a privileged busybox CT with a routed address, and an
# unprivileged one with a disk image and a bridged veth (NETIF) whose address it set itself:
#   - a shell in the CT counts in memory (a variable, written out each 0.2 s) and a TCP stream
#     from a peer (the host's namespace) into a listener in the CT carries a sequence of numbers;
#   - chkpnt: the CT is down and "suspended", its dump is in DUMPDIR/Dump.<CTID>;
#   - restore: the CT runs again; the count goes on from where it was (not from 0), the TCP
#     stream goes on with no number lost or repeated and still flows after it, the peer never saw
#     the connection end, the VPS answers ping; exec works; /proc/user_beancounters (the /proc view) and the console log work again;
#   - suspend / resume (the same under vzctl's other names), then stop and destroy.
set -u

INST=berth-vmckpt
WORK=/tmp/berth-vmckpt
VMT=$(dirname "$0"); [ -e "$VMT/common.sh" ] || VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard checkpoint.sh
PEERS=()
cleanup() {
    local p
    for p in "${PEERS[@]}"; do kill -- -"$p" 2>/dev/null; done
    vm_cleanup 101 102 103 104
    ip link del bvmbr0 2>/dev/null
}
trap cleanup EXIT
vm_setup checkpoint.sh "${1:-build}"
command -v criu >/dev/null || { fail "no criu in the VM image"; vm_result checkpoint.sh; exit; }

run_b template create busybox; expect_rc 0 "template create busybox"

# read_count CTID: the counter the CT's loop keeps in /tmp/count, in OUT. The loop's `echo $i >
# /tmp/count` truncates before it writes, so a read (or a checkpoint) can fall between the two:
# an empty read is tried again (a few times, 0.3 s apart).
read_count() {
    local k
    for k in 1 2 3 4 5 6 7 8 9 10; do
        run_b exec "$1" 'cat /tmp/count'
        [ -n "$OUT" ] && return
        sleep 0.3
    done
}

# ct_round_trip CTID IP [--bridged] [create options...]
# --bridged: no routed address; a veth eth0 in the bridge bvmbr0 (NETIF), its address IP/24
# given from inside (as a VPS configures its bridged interface itself).
ct_round_trip() {
    local id=$1 ip=$2; shift 2
    local what="CT $id ($*)" net=(--ipadd "$ip") bridged=0
    if [ "${1:-}" = --bridged ]; then
        shift; bridged=1; net=(--netif_add eth0,,,,bvmbr0); what="CT $id (bridged veth in bvmbr0 $*)"
    fi
    run_b create "$id" --ostemplate busybox "${net[@]}" "$@"; expect_rc 0 "$what: create"
    run_b start "$id" --wait; expect_rc 0 "$what: start"
    if [ $bridged = 1 ]; then
        run_b exec "$id" "ip addr add $ip/24 dev eth0 && ip route add default via 198.18.12.1"
        expect_rc 0 "$what: its address on eth0, given inside"
    fi
    # The counter: its value lives in the shell's memory.
    run_b exec "$id" 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.2; done" </dev/null >/dev/null 2>&1 &'
    # The stream's listener in the CT, and the peer on the host writing 1, 2, 3, ... into it.
    run_b exec "$id" 'sleep 100000 | nc -l -p 5000 >/tmp/recv 2>/dev/null &'
    sleep 1
    local out=$WORK/peer-$id.out
    # Its own process group (setsid), so that the whole pipeline goes with one kill.
    setsid bash -c 'i=0; while :; do i=$((i + 1)); echo "$i"; sleep 0.1; done | nc "$1" 5000 >"$2" 2>&1; echo "peer exit $?" >>"$2"' peer "$ip" "$out" &
    local peer=$!
    PEERS+=("$peer")
    sleep 2
    read_count "$id"; local c0=$OUT
    run_b exec "$id" 'tail -n 1 /tmp/recv'; local r0=$OUT
    echo "  before: count $c0, stream at $r0"

    run_b chkpnt "$id"; expect_rc 0 "$what: chkpnt"
    echo "$OUT" | sed 's/^/    /'
    run_b status "$id"
    expect_eq "$OUT" "CTID $id exist unmounted down suspended" "$what: status after chkpnt"
    [ -s "$BERTH_ROOT/var/lib/berth/dump/Dump.$id/inventory.img" ] && pass "$what: dump in DUMPDIR/Dump.$id" || fail "$what: no dump in DUMPDIR/Dump.$id"
    sleep 1
    run_b restore "$id"; expect_rc 0 "$what: restore"
    echo "$OUT" | sed 's/^/    /'
    [ "$RC" = 0 ] || { tail -20 "$BERTH_ROOT/var/lib/berth/dump/Dump.$id/restore.log" 2>/dev/null; }
    run_b status "$id"
    expect_eq "$OUT" "CTID $id exist mounted running" "$what: status after restore"
    sleep 2
    read_count "$id"; local c1=$OUT
    if [ "$RC" = 0 ] && [ "${c1:-0}" -gt "${c0:-0}" ] 2>/dev/null; then pass "$what: the count went on in memory ($c0 -> $c1)"; else fail "$what: count $c0 -> '$c1'"; fi
    run_b exec "$id" 'cat /tmp/recv'
    local seq_ok=1 n=0 l
    while read -r l; do n=$((n + 1)); [ "$l" = "$n" ] || { seq_ok=0; break; }; done <<<"$OUT"
    if [ $seq_ok = 1 ] && [ $n -gt "${r0:-0}" ]; then pass "$what: the TCP stream went on, nothing lost or repeated (1..$n, was at $r0)"; else fail "$what: stream broken at line $n (got '$l')"; fi
    if kill -0 "$peer" 2>/dev/null && ! grep -q "peer exit" "$out"; then pass "$what: the peer's connection never ended"; else fail "$what: the peer's nc ended: $(cat "$out")"; fi
    if [ $bridged = 1 ]; then
        # The same veth, as the CT had configured it: the host end by its NETIF name in the
        # bridge, the address the CT gave eth0 still there; a new connection through it works.
        OUT=$(ip -o link show "veth$id.0" 2>&1)
        case $OUT in *"master bvmbr0"*"state UP"*|*"state UP"*"master bvmbr0"*) pass "$what: veth$id.0 is up in bvmbr0 again" ;; *) fail "$what: host end after restore: $OUT" ;; esac
        run_b exec "$id" 'ip -4 -o addr show eth0'
        case $OUT in *"inet $ip/24"*) pass "$what: eth0 kept the address the CT gave it" ;; *) fail "$what: eth0 after restore: $OUT" ;; esac
    fi
    # The network works after the restore (not only what arrived before the dump): the VPS
    # answers ping, and the peer's stream still comes in.
    OUT=$(ping -c 1 -W 5 "$ip" 2>&1); RC=$?
    expect_rc 0 "$what: the VPS answers ping after restore"
    # The peer's TCP may be in retransmission back-off after the frozen seconds (stream_grows).
    if stream_grows 60 "$B" exec "$id" 'wc -l </tmp/recv'; then pass "$what: the peer's stream still arrives after restore ($N1 -> $N2 lines)"
    else fail "$what: the stream stalled after restore ($N1 -> $N2 lines) for 60 s; the peer's socket: $(ss -tnoi dst "$ip" 2>&1 | tr -s ' 
' ' ')"; fi
    run_b exec "$id" 'head -n 3 /proc/user_beancounters | tail -n 1'
    case $OUT in *uid*resource*|*"$id":*kmemsize*) pass "$what: /proc/user_beancounters after restore" ;; *) fail "$what: /proc/user_beancounters after restore: '$OUT'" ;; esac
    run_b exec "$id" 'echo hello-console > /dev/console'
    sleep 0.5
    grep -q hello-console "$BERTH_ROOT/var/log/berth/$id.console.log" 2>/dev/null && pass "$what: the console (log) works after restore" || fail "$what: console log has no hello-console"

    run_b suspend "$id"; expect_rc 0 "$what: suspend"
    run_b resume "$id"; expect_rc 0 "$what: resume"
    read_count "$id"; local c2=$OUT
    if [ "${c2:-0}" -ge "${c1:-0}" ] 2>/dev/null; then pass "$what: count after suspend/resume ($c2)"; else fail "$what: count after resume '$c2'"; fi
    kill -- -"$peer" 2>/dev/null
    run_b stop "$id" --fast; expect_rc 0 "$what: stop"
    run_b destroy "$id"; expect_rc 0 "$what: destroy"
}

ct_round_trip 101 198.18.5.2 --diskspace unlimited --diskinodes unlimited
ct_round_trip 102 198.18.5.3 --local_uid 0 --i-trust-this-vps
ip link add bvmbr0 type bridge && ip addr add 198.18.12.1/24 dev bvmbr0 && ip link set bvmbr0 up
ct_round_trip 103 198.18.12.3 --bridged --diskspace 64M

# vzctl's staged checkpoint: --suspend, --dump (the CT stays frozen, its network locked: what a
# peer sends now must not be acknowledged past the images), then --resume (it goes on, the lock
# gone), and again --suspend, --dump, --kill, and a restore: the stream goes on, nothing lost, and
# still flows.
staged() {
    local id=104 ip=198.18.5.4 what="CT 104 (staged chkpnt)"
    run_b create $id --ostemplate busybox --ipadd $ip --diskspace unlimited; expect_rc 0 "$what: create"
    run_b start $id --wait; expect_rc 0 "$what: start"
    run_b exec $id 'sleep 100000 | nc -l -p 5000 >/tmp/recv 2>/dev/null &'
    sleep 1
    local out=$WORK/peer-$id.out
    setsid bash -c 'i=0; while :; do i=$((i + 1)); echo "$i"; sleep 0.1; done | nc "$1" 5000 >"$2" 2>&1; echo "peer exit $?" >>"$2"' peer "$ip" "$out" &
    local peer=$!
    PEERS+=("$peer")
    sleep 2
    local step init p
    for p in $(cat "/sys/fs/cgroup/$INST/$id/cgroup.procs" "/sys/fs/cgroup/pids/$INST/$id/cgroup.procs" 2>/dev/null); do
        [ "$(awk '/^NSpid/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] && init=$p
    done
    for step in --suspend --dump; do run_b chkpnt $id $step; expect_rc 0 "$what: chkpnt $step"; done
    OUT=$(nsenter -t "${init:-0}" -n nft list tables 2>&1)
    case $OUT in *berth-checkpoint-lock*) pass "$what: its network is locked while the dump waits" ;; *) fail "$what: no network lock after --dump: $OUT" ;; esac
    run_b chkpnt $id --resume; expect_rc 0 "$what: chkpnt --resume"
    OUT=$(nsenter -t "${init:-0}" -n nft list tables 2>&1)
    case $OUT in *berth-checkpoint-lock*) fail "$what: the lock outlived --resume: $OUT" ;; *) pass "$what: no lock after --resume" ;; esac
    if stream_grows 60 "$B" exec $id 'wc -l </tmp/recv'; then pass "$what: the stream flows after --resume ($N1 -> $N2)"
    else fail "$what: the stream stalled after --resume ($N1 -> $N2)"; fi
    for step in --suspend --dump --kill; do run_b chkpnt $id $step; expect_rc 0 "$what: chkpnt $step"; done
    sleep 1
    run_b restore $id; expect_rc 0 "$what: restore"
    run_b exec $id 'cat /tmp/recv'
    local seq_ok=1 n=0 l
    while read -r l; do n=$((n + 1)); [ "$l" = "$n" ] || { seq_ok=0; break; }; done <<<"$OUT"
    if [ $seq_ok = 1 ] && [ $n -gt 0 ]; then pass "$what: the stream went on, nothing lost or repeated (1..$n)"; else fail "$what: stream broken at line $n (got '$l')"; fi
    if stream_grows 60 "$B" exec $id 'wc -l </tmp/recv'; then pass "$what: the stream flows after the restore ($N1 -> $N2)"
    else fail "$what: the stream stalled after the restore ($N1 -> $N2): $(ss -tnoi dst "$ip" 2>&1 | tr -s ' \n' ' ')"; fi
    # The kill's resets must not have reached the peer (the network goes before the kill).
    if kill -0 "$peer" 2>/dev/null && ! grep -q "peer exit" "$out"; then pass "$what: the peer's connection never ended"; else fail "$what: the peer's nc ended: $(cat "$out")"; fi
    kill -- -"$peer" 2>/dev/null
    run_b stop $id --fast; expect_rc 0 "$what: stop"
    run_b destroy $id; expect_rc 0 "$what: destroy"
}
staged

vm_result checkpoint.sh
