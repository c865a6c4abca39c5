#!/bin/bash
# tests/vm/migrate.sh - online migration (berth migrate --online) between two Berth instances in
# the qemu test VM, where CRIU runs. Run by tests/vm/suite.sh (suite "migrate"), or by hand:
#   scripts/testvm/run.sh -s "$PWD" -c v2 ./tests/vm/migrate.sh build
# The two "hosts": two BERTH_ROOTs and two cgroup instances; the destination's commands run in a
# network namespace of their own (the VPS's address is free there and its veth lands there) and a
# mount namespace of their own whose /etc/subuid and /etc/subgid are empty (a live migration keeps
# the VPS's host id range, which on one machine the source still holds in the real files). The
# source VPS has no disk image: the destination's mount namespace holds a copy of every mount of
# the source taken when it was made (a disk's loop device would stay held, as it should).
# The transport is a stand-in for OpenSSH's client (an `ssh` first on PATH that runs the remote
# command in the destination's namespace with the SetEnv variables): OpenSSH itself is covered by
# the host's MigrateTest with a real sshd; what runs here is everything on both sides of it.
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
    if [ -n "${B2:-}" ]; then
        dst stop 301 --fast >/dev/null 2>&1
        dst destroy 301 >/dev/null 2>&1
    fi
    ip netns del $NS 2>/dev/null
    [ -n "${HOLD:-}" ] && kill "$HOLD" 2>/dev/null
    vm_cleanup 301
}
trap cleanup EXIT
vm_setup migrate.sh "${1:-build}"
command -v criu >/dev/null || { fail "no criu in the VM image"; vm_result migrate.sh; exit; }

# The destination instance.
ROOT2=$WORK/fs/root2
mkdir -p "$ROOT2/etc/berth" && chmod 755 "$ROOT2"
echo "CGROUP_PARENT=\"$INST-dst\"" >"$ROOT2/etc/berth/berth.conf"
ip netns add $NS && ip -n $NS link set lo up
: >"$WORK/subuid"; : >"$WORK/subgid"; touch /etc/subuid /etc/subgid
unshare --mount --propagation private sh -c "mount --bind $WORK/subuid /etc/subuid && mount --bind $WORK/subgid /etc/subgid && exec sleep 100000" &
HOLD=$!
sleep 0.5
B2=1
# nsenter, not `ip netns exec`: that one makes a mount namespace of its own (a copy of every
# mount, the source VPS's disk included) and mounts a new /sys (no cgroup file system in it).
dst() { nsenter --mount=/proc/$HOLD/ns/mnt --net=/run/netns/$NS env BERTH_ROOT="$ROOT2" "$B" "$@"; }

# The stand-in for ssh: options skipped, SetEnv honoured, the command run in the namespace.
cat >"$WORK/bin/ssh" <<EOF
#!/bin/bash
envs=()
while [ \$# -gt 0 ]; do
    case \$1 in
        --) shift; break ;;
        -o) case \$2 in SetEnv=*) envs+=("\${2#SetEnv=}") ;; esac; shift 2 ;;
        -[pilFeJ]) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
shift  # the host
exec nsenter --mount=/proc/$HOLD/ns/mnt --net=/run/netns/$NS env "\${envs[@]}" sh -c "\$*"
EOF
chmod +x "$WORK/bin/ssh"
export PATH=$WORK/bin:$PATH

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
