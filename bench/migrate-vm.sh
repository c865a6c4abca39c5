#!/bin/bash
# bench/migrate-vm.sh BUILD: the part of bench/migrate that runs inside the test VM. Prints
# "RESULT <key> <ms>" lines (bench/migrate reads them) and the usual progress.
set -u
INST=berth-bmig
WORK=/tmp/berth-bmig
NS=bbm-host2
VMT=$PWD/tests/vm
. "$VMT/common.sh"
vm_guard migrate-vm.sh
ROUNDS=${ROUNDS:-3}
IDS=()
cleanup() {
    local id
    for id in "${IDS[@]}"; do dst stop "$id" --fast >/dev/null 2>&1; dst destroy "$id" >/dev/null 2>&1; done
    vm_second_host_cleanup
    vm_cleanup 101 "${IDS[@]}"
}
trap cleanup EXIT
vm_setup migrate-vm.sh "${1:-build}"
BUILD_ABS=${1:-build}; case $BUILD_ABS in /*) ;; *) BUILD_ABS=$PWD/$BUILD_ABS ;; esac
now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
num() { sed -n "s/.*$1 \([0-9.]*\) ms.*/\1/p" | head -1; }

"$B" template create busybox >/dev/null 2>&1
"$B" create 101 --ostemplate busybox --ipadd 198.18.8.2 --diskspace unlimited --diskinodes unlimited >/dev/null
for r in $(seq "$ROUNDS"); do
    "$B" start 101 --wait >/dev/null || { echo "start failed"; exit 1; }
    sleep 1
    pid=$(for p in $(cat /sys/fs/cgroup/$INST/101/cgroup.procs); do
              [ "$(awk '/^NSpid/ {print $3}' /proc/$p/status)" = 1 ] && echo "$p"; done | head -1)
    con=/proc/$pid/root/dev/console
    key=$(printf 'tty[%x:%s]' $(( (0x$(stat -L -c %t $con) << 8) | 0x$(stat -L -c %T $con) )) "$(stat -L -c %D $con)")
    d=$WORK/bare-$r; mkdir -p "$d"
    t0=$(now)
    criu dump -t "$pid" -D "$d" -o dump.log --leave-running --tcp-established --file-locks \
        --ext-mount-map auto --enable-external-sharing --enable-external-masters \
        --network-lock nftables --manage-cgroups=soft \
        --external "mnt[/dev/console]:console" --external "$key" && echo "RESULT criu_dump $(ms "$t0" "$(now)")"
    rm -rf "$d"
    t0=$(now); out=$("$B" chkpnt 101 2>&1); t1=$(now)
    echo "$out" | tail -1
    echo "RESULT berth_chkpnt $(ms "$t0" "$t1")"
    echo "RESULT berth_chkpnt_criu $(echo "$out" | num 'CRIU dump')"
    t0=$(now); out=$("$B" restore 101 2>&1); t1=$(now)
    echo "$out" | tail -1
    echo "RESULT berth_restore $(ms "$t0" "$t1")"
    echo "RESULT berth_restore_criu $(echo "$out" | num 'CRIU restore')"
    "$B" stop 101 --fast >/dev/null
done

# Live migration: the destination instance as in tests/vm/migrate.sh.
vm_second_host $NS
dst template create busybox >/dev/null 2>&1
for r in $(seq "$ROUNDS"); do
    id=$((310 + r)); IDS+=("$id")
    "$B" create "$id" --ostemplate busybox --ipadd "198.18.8.$((10 + r))" --diskspace unlimited --diskinodes unlimited >/dev/null
    "$B" start "$id" --wait >/dev/null
    sleep 1
    out=$("$B" migrate "$id" root@host2 --online -t --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B" 2>&1)
    echo "$out" | tail -3
    echo "RESULT migrate_frozen $(echo "$out" | sed -n 's/.*frozen for \([0-9.]*\) ms.*/\1/p' | head -1)"
    echo "RESULT migrate_total $(echo "$out" | sed -n 's/^ *total *\([0-9.]*\) ms.*/\1/p' | head -1)"
done

# Debian 12 VPSs (systemd as PID 1, sshd): idle, and with a process writing to 256 MiB of its
# memory in a loop (every page, again and again: the pre-dumps cannot converge, the final dump
# carries what changed since the last one). Without a staged template: skipped.
TPL=$BUILD_ABS/vm-template/debian-12-x86_64-minimal.tar.zst
if [ -f "$TPL" ]; then
    "$B" template import "$TPL" >/dev/null 2>&1
    dst template import "$TPL" >/dev/null 2>&1
    n=0
    for kind in debian_idle debian_writer; do
        for r in $(seq "${DEBIAN_ROUNDS:-1}"); do
            n=$((n + 1)); id=$((330 + n)); IDS+=("$id")
            "$B" create "$id" --ostemplate debian-12-x86_64-minimal --ipadd "198.18.8.$((40 + n))" >/dev/null
            "$B" start "$id" --wait --timeout 600 >/dev/null || { echo "start $id failed"; continue; }
            if [ $kind = debian_writer ]; then
                "$B" exec "$id" 'setsid perl -e '"'"'$s = "x" x (256 << 20); while (1) { for ($i = 0; $i < length($s); $i += 4096) { substr($s, $i, 1) = chr(rand(256)) } }'"'"' </dev/null >/dev/null 2>&1 &'
            fi
            sleep 5
            out=$("$B" migrate "$id" root@host2 --online -t --ssh "-o SetEnv=BERTH_ROOT=$ROOT2" --remote-berth "$B" 2>&1)
            echo "$out" | tail -20
            echo "RESULT ${kind}_frozen $(echo "$out" | sed -n 's/.*frozen for \([0-9.]*\) ms.*/\1/p' | head -1)"
            echo "RESULT ${kind}_total $(echo "$out" | sed -n 's/^ *total *\([0-9.]*\) ms.*/\1/p' | head -1)"
            dst stop "$id" --fast >/dev/null 2>&1; dst destroy "$id" >/dev/null 2>&1
        done
    done
else
    echo "Debian VPSs: skipped (no template staged in $BUILD_ABS/vm-template)"
fi
