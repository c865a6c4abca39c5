#!/bin/bash
# tests/vm/common.sh - shared by the scripts that run INSIDE the qemu test VM (lifecycle.sh,
# resources.sh): PASS/FAIL bookkeeping, a timed `berth` runner, and the setup every script needs
# (local copies of berth and its libraries, BERTH_ROOT on a loop-mounted ext4, an instance
# config). Source it, then call `vm_setup NAME BUILD_DIR`; `vm_cleanup` undoes it.
#
# Why the ext4: the 6.1 guest kernel refuses idmapped mounts on both tmpfs (supported from 6.3)
# and 9p (EINVAL), and the template cache is the overlay's idmapped lower.

FAILS=0
PASSES=0
SKIPS=0

pass() { PASSES=$((PASSES + 1)); echo "PASS: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
skip() { SKIPS=$((SKIPS + 1)); echo "SKIP: $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run_b ARGS...: run berth, keep stdout+stderr in $OUT, rc in $RC, print the time taken.
run_b() {
    local t0 t1
    t0=$(now_ms)
    OUT=$("$B" "$@" 2>&1)
    RC=$?
    t1=$(now_ms)
    printf '  [%5d ms] berth %s -> rc %d\n' $((t1 - t0)) "$*" "$RC"
}
# expect_rc WANT DESCRIPTION: judge the last run_b.
expect_rc() {
    if [ "$RC" = "$1" ]; then pass "$2"; else fail "$2 (rc $RC, want $1): $(echo "$OUT" | tail -3)"; fi
}
# expect_eq GOT WANT DESCRIPTION
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3: '$1'"; else fail "$3: '$1', want '$2'"; fi
}

# stream_grows MAXSEC CMD...: CMD prints how many lines a stream's receiver has; wait up to MAXSEC
# seconds (one read a second) for the number to grow. N1 and N2 hold the first and last reads;
# 0 when it grew. After a checkpoint or migration the sender's TCP is in retransmission back-off
# (its timeout doubles while the receiver is frozen, 200 ms upwards, more under emulation's long
# round trips): a receiver down for ~15 s may hear the next retransmission ~30 s after it is back.
stream_grows() {
    local max=$1 i; shift
    N1=$("$@" 2>&1); N2=$N1
    for ((i = 0; i < max; i++)); do
        sleep 1; N2=$("$@" 2>&1)
        [ "${N2:-0}" -gt "${N1:-0}" ] 2>/dev/null && return 0
    done
    return 1
}

# Refuse to run on a host: these scripts reconfigure cgroups and mount things.
vm_guard() {
    if ! grep -q 'testvm\.cgroup=' /proc/cmdline && [ "${LIFECYCLE_ALLOW_HOST:-0}" != 1 ]; then
        echo "$1: not in the test VM (no testvm.cgroup= on the kernel command line);" \
             "run it through scripts/testvm/run.sh, or set LIFECYCLE_ALLOW_HOST=1" >&2
        exit 2
    fi
}

# Cgroup hierarchies: "MOUNT OPTIONS" lines (v2: the cgroup2 mount; v1: every v1 mount).
hierarchies() {
    awk '{ sep = 0; for (i = 1; i <= NF; i++) if ($i == "-") { sep = i; break }
           if ($4 != "/") next
           if ($(sep + 1) == "cgroup2") v2 = v2 $5 " -\n"
           else if ($(sep + 1) == "cgroup") v1 = v1 $5 " " $(sep + 3) "\n" }
         END { printf "%s", (v1 != "" ? v1 : v2) }' /proc/self/mountinfo
}

# vm_tools BUILD: host tools staged in BUILD/vm-bin, if any, that the guest lacks (the image has
# what the tests use; see scripts/testvm/make-image.sh and TESTVM_EXTRA_BINS), put in
# the guest's /usr/bin (the VM is thrown away).
vm_tools() {
    local t
    for t in "$1"/vm-bin/*; do
        [ -f "$t" ] && [ ! -e "/usr/bin/${t##*/}" ] && cp "$t" /usr/bin/
    done
    return 0
}

# vm_setup NAME BUILD: sets B (berth binary), BERTH_ROOT, WORK, INST, CGMODE, HIER, V2.
vm_setup() {
    local name=$1 build=$2 missing
    case $build in /*) ;; *) build=$PWD/$build ;; esac
    [ -x "$build/berth" ] || { echo "$name: no berth binary in $build" >&2; exit 2; }
    CGMODE=$(sed -n 's/.*testvm\.cgroup=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
    echo "$name: kernel $(uname -r), cgroup layout ${CGMODE:-unknown}, build $build"
    mkdir -p "$WORK" && mount -t tmpfs -o mode=755 berth-vmtest "$WORK" || { echo "setup: tmpfs on $WORK failed" >&2; exit 2; }
    mkdir -p "$WORK/bin" "$WORK/lib" "$WORK/fs"
    cp "$build/berth" "$WORK/bin/berth" || exit 2
    for n in vzctl vzlist vzubc; do ln -s berth "$WORK/bin/$n"; done
    if [ -d "$build/vm-lib" ]; then
        cp "$build"/vm-lib/* "$WORK/lib/" 2>/dev/null
        export LD_LIBRARY_PATH=$WORK/lib
    fi
    B=$WORK/bin/berth
    vm_tools "$build"
    # No ldd in the guest: ask the dynamic loader directly.
    if missing=$(/lib64/ld-linux-x86-64.so.2 --list "$B" 2>&1 | grep 'not found'); then
        echo "setup: berth needs libraries the VM lacks (stage them in $build/vm-lib;" \
             "scripts/testvm-smoke.sh does):" >&2
        echo "$missing" >&2
        exit 2
    fi
    truncate -s "${VM_EXT4_SIZE:-512M}" "$WORK/ext4.img" && mkfs.ext4 -q -F "$WORK/ext4.img" &&
        mount -o loop "$WORK/ext4.img" "$WORK/fs" || { echo "setup: ext4 loop mount failed" >&2; exit 2; }
    export BERTH_ROOT=$WORK/fs/root
    mkdir -p "$BERTH_ROOT/etc/berth" && chmod 755 "$WORK/fs" "$BERTH_ROOT"
    echo "CGROUP_PARENT=\"$INST\"" >"$BERTH_ROOT/etc/berth/berth.conf"
    HIER=$(hierarchies)
    [ -n "$HIER" ] || { echo "setup: no cgroup hierarchy mounted" >&2; exit 2; }
    echo "hierarchies:"; echo "$HIER" | sed 's/^/  /'
    if [ -e /sys/fs/cgroup/cgroup.controllers ]; then V2=1; else V2=0; fi
}

# vm_cleanup CTID...: stop and destroy the CTs, unmount the setup.
vm_cleanup() {
    local id
    if [ -n "${B:-}" ] && [ -n "${BERTH_ROOT:-}" ]; then
        for id in "$@"; do
            "$B" stop "$id" --fast >/dev/null 2>&1
            "$B" destroy "$id" >/dev/null 2>&1
        done
    fi
    cd /
    mountpoint -q "$WORK/fs" && umount "$WORK/fs"
    mountpoint -q "$WORK" && umount "$WORK"
}

# vm_result NAME: the summary line and the exit status.
vm_result() {
    echo "$1: $PASSES passed, $FAILS failed, $SKIPS skipped (cgroup ${CGMODE:-?})"
    [ $FAILS = 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
    [ $FAILS = 0 ]
}

# vm_second_host NS: a second Berth instance standing for another host, for migration: its own
# BERTH_ROOT ($ROOT2, instance "$INST-dst"), network namespace NS (made here) and mount namespace
# (held by $HOLD) whose /etc/subuid and /etc/subgid are empty (a live migration keeps the VPS's
# id range, which the source still holds in the real files on this one machine). dst ARGS... runs
# berth there; an `ssh` first on PATH stands in for OpenSSH's client: it runs the remote command
# there with the -o SetEnv=... variables (OpenSSH itself is covered on the host by MigrateTest).
# vm_second_host_cleanup removes the namespaces.
vm_second_host() {
    NS2=$1
    ROOT2=$WORK/fs/root2
    mkdir -p "$ROOT2/etc/berth" && chmod 755 "$ROOT2"
    echo "CGROUP_PARENT=\"$INST-dst\"" >"$ROOT2/etc/berth/berth.conf"
    ip netns add "$NS2" && ip -n "$NS2" link set lo up
    # Its /etc: a copy whose subuid and subgid are empty, bound as a directory (berth replaces
    # those files by a rename, which a file bound on its own would refuse with EBUSY, or escape
    # once the source's berth renamed its own file over the mount point).
    mkdir -p "$WORK/etc2" && cp -a /etc/. "$WORK/etc2/" && : >"$WORK/etc2/subuid" && : >"$WORK/etc2/subgid"
    # The second host sees nothing mounted of the first: the copies of the source instance's
    # mounts (a VPS's disk, its root) its new mount namespace starts with are detached there. A
    # copy would hold the source's disk (its file system and loop device) after the source
    # unmounted it: the source could not free the loop device of a VPS migrated away.
    cat >"$WORK/host2-ns.sh" <<NS
#!/bin/sh
mount --bind "$WORK/etc2" /etc || exit 1
awk -v r="$BERTH_ROOT/" 'index(\$5, r) == 1 { print \$5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "\$m"; done
exec sleep 100000
NS
    unshare --mount --propagation private sh "$WORK/host2-ns.sh" &
    HOLD=$!
    sleep 0.5
    cat >"$WORK/bin/ssh" <<SSH
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
exec nsenter --mount=/proc/$HOLD/ns/mnt --net=/run/netns/$NS2 env "\${envs[@]}" sh -c "\$*"
SSH
    chmod +x "$WORK/bin/ssh"
    export PATH=$WORK/bin:$PATH
}
# nsenter, not `ip netns exec`: that one makes a mount namespace of its own (a copy of every
# mount, the source VPS's disk included) and mounts a new /sys (no cgroup file system in it).
dst() { nsenter --mount=/proc/$HOLD/ns/mnt --net=/run/netns/$NS2 env BERTH_ROOT="$ROOT2" "$B" "$@"; }
vm_second_host_cleanup() {
    [ -n "${NS2:-}" ] && ip netns del "$NS2" 2>/dev/null
    [ -n "${HOLD:-}" ] && kill "$HOLD" 2>/dev/null
    return 0
}
