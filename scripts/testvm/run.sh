#!/usr/bin/env bash
# scripts/testvm/run.sh - boots Berth's test VM (scripts/testvm/make-image.sh), runs one command in
# it as root, prints the command's output (stdout and stderr, one stream, live), powers the VM off
# and exits with the command's status.
#
# Usage: scripts/testvm/run.sh [options] COMMAND [ARGS...]
#        scripts/testvm/run.sh [options] -i                 a shell on the guest console
# Options:
#   -s DIR[:GUESTDIR]  share host DIR read-write into the guest over 9p at GUESTDIR (default: the
#                      same path). Repeatable. When the current directory lies in a share mounted
#                      at its own path, COMMAND runs there (so `-s "$PWD" ./tests/vm/x.sh` works);
#                      otherwise in the job dir. A COMMAND that is a host file outside every share
#                      is copied into the job dir and run from there.
#   -c v2|v1|hybrid|none  cgroup layout of the guest (default v2: cgroup2 on /sys/fs/cgroup, every
#                      controller on in the root's subtree_control; v1: one hierarchy per
#                      controller plus name=systemd; hybrid: v1 plus cgroup2 on .../unified)
#   -e NAME=VALUE      environment for COMMAND. Repeatable.
#   -t SECONDS         wall-clock limit of the whole run (default 600); the VM is killed, exit 124
#   -m MB              guest memory (default 1024)      -p N  vCPUs (default 1)
#   -d DIR             image dir (default $TESTVM_DIR or /var/tmp/berth-testvm); the image is built
#                      (make-image.sh, as root) when missing or made by older scripts
#   -v                 also show the guest console (kernel messages)
#   -K                 keep the job dir (job.sh, output.log, console.log) and print its path
# Env: TESTVM_APPEND (more kernel parameters), TESTVM_BOOT_TIMEOUT (seconds from qemu start to the
#      job start, default 240 (the boot takes 5-20 s, but over 60 s on a host loaded 10x over); a
#      rare early-boot hang of a TCG guest is killed and booted once more),
#      TESTVM_ACCEL (tcg (default) or kvm; this machine's /dev/kvm is PVM, which cannot run a stock
#      kernel, so kvm is only used when asked for).
# Exit: COMMAND's status; 124 timeout; 125 the VM gave no status; 2 usage or no image.
#
# The guest has no network device. Each run has its own job dir under DIR/jobs, so runs may go
# in parallel (each qemu under TCG keeps about one host core busy).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMG=${TESTVM_DIR:-/var/tmp/berth-testvm}
CG=v2 MEM=1024 CPUS=1 LIMIT=600 VERBOSE=0 KEEP=0 CONSOLE=0
SHARES=() ENVS=()
usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
note() { echo "testvm: $*" >&2; }
while getopts "s:c:e:t:m:p:d:vKih" o; do
    case $o in
        s) SHARES+=("$OPTARG") ;; c) CG=$OPTARG ;; e) ENVS+=("$OPTARG") ;; t) LIMIT=$OPTARG ;;
        m) MEM=$OPTARG ;; p) CPUS=$OPTARG ;; d) IMG=$OPTARG ;; v) VERBOSE=1 ;; K) KEEP=1 ;;
        i) CONSOLE=1 ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $CONSOLE = 1 ] || [ $# -ge 1 ] || usage
case $CG in v2|v1|hybrid|none) ;; *) note "bad cgroup layout '$CG'"; usage ;; esac

# ---- the image: build it when missing, rebuild it when the scripts changed ----
want=$(cat "$HERE/make-image.sh" "$HERE/guest-init" | sha256sum | cut -c1-16)
have=$(sed -n 's/^TESTVM_RECIPE=//p' "$IMG/image.env" 2>/dev/null)
if [ ! -s "$IMG/initrd.img" ] || [ "$have" != "$want" ]; then
    if [ "$(id -u)" = 0 ]; then
        note "building the image in $IMG ($([ -s "$IMG/initrd.img" ] && echo "made by older scripts" || echo missing))"
        "$HERE/make-image.sh" "$IMG" || { note "make-image.sh failed"; exit 2; }
    elif [ -s "$IMG/initrd.img" ]; then
        note "warning: $IMG was made by older scripts; rebuild it as root with scripts/testvm/make-image.sh"
    else
        note "no image in $IMG; build it as root with scripts/testvm/make-image.sh"; exit 2
    fi
fi
KERNEL=$IMG/vmlinux
[ -s "$KERNEL" ] || KERNEL=$IMG/vmlinuz
command -v qemu-system-x86_64 >/dev/null || { note "qemu-system-x86_64 is not installed"; exit 2; }

case ${TESTVM_ACCEL:-tcg} in
    tcg) ACCEL=(-accel tcg,thread=multi -cpu max) ;;
    kvm) ACCEL=(-accel kvm -cpu host) ;;
    *) note "TESTVM_ACCEL must be tcg or kvm"; exit 2 ;;
esac
# mitigations=off etc.: nothing to protect in a throwaway guest, and TCG pays for every barrier
APPEND="console=ttyS0 panic=-1 mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nokbd i8042.nopnp"
APPEND+=" testvm.cgroup=$CG"
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot -M pc "${ACCEL[@]}" -m "$MEM" -smp "$CPUS"
      -kernel "$KERNEL" -initrd "$IMG/initrd.img" -nic none -display none -monitor none)

# ---- shares ----
RUNDIR="" shares="" n=0
for s in "${SHARES[@]}"; do
    h=${s%%:*} g=""
    case $s in *:*) g=${s#*:} ;; esac
    h=$(cd "$h" 2>/dev/null && pwd -P) || { note "no directory ${s%%:*}"; exit 2; }
    g=${g:-$h}
    case $g in /*) ;; *) note "guest path must be absolute: $g"; exit 2 ;; esac
    # multidevs=remap: the share may span several host file systems (inode numbers stay unique)
    QEMU+=(-fsdev "local,id=share$n,path=$h,security_model=none,multidevs=remap"
           -device "virtio-9p-pci,fsdev=share$n,mount_tag=share$n")
    shares+="${shares:+,}share$n:$g"
    here=$(pwd -P)
    case $here/ in "$h"/*) [ "$g" = "$h" ] && [ -z "$RUNDIR" ] && RUNDIR=$here ;; esac
    n=$((n + 1))
done
[ -n "$shares" ] && APPEND+=" testvm.shares=$shares"

if [ $CONSOLE = 1 ]; then
    note "console: Ctrl-A X quits qemu"
    exec "${QEMU[@]}" -serial mon:stdio -append "$APPEND quiet testvm.console=1 ${TESTVM_APPEND:-}"
fi

# ---- the job dir: job.sh (what the guest runs), output.log and status (what it writes back) ----
mkdir -p "$IMG/jobs"
JOB=$(mktemp -d "$IMG/jobs/run.XXXXXX")
chmod 755 "$JOB"
QPID="" FPID=""
finish() {
    [ -n "$FPID" ] && kill "$FPID" 2>/dev/null
    [ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
    if [ $KEEP = 1 ]; then note "job dir kept: $JOB"; else rm -rf "$JOB"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

CMD=$1; shift
if [ -f "$CMD" ]; then
    real=$(cd "$(dirname "$CMD")" && pwd -P)/${CMD##*/}
    inshare=0
    for s in ${shares//,/ }; do
        g=${s#*:}
        case $real in "$g"/*) [ -n "$RUNDIR" ] && inshare=1 ;; esac
    done
    if [ $inshare = 0 ]; then cp "$CMD" "$JOB/cmd"; chmod 755 "$JOB/cmd"; CMD=/run/testvm-job/cmd; fi
fi
{
    echo "# written by scripts/testvm/run.sh"
    for e in "${ENVS[@]}"; do printf 'export %q\n' "$e"; done
    printf 'cd %q || exit 125\n' "${RUNDIR:-/run/testvm-job}"
    printf 'exec %q' "$CMD"; printf ' %q' "$@"; echo
} >"$JOB/job.sh"
APPEND+=" testvm.job=job ${TESTVM_APPEND:-}"
[ $VERBOSE = 1 ] || APPEND+=" quiet"
QEMU+=(-fsdev "local,id=job,path=$JOB,security_model=none" -device "virtio-9p-pci,fsdev=job,mount_tag=job"
       -serial "file:$JOB/console.log")

# ---- boot, follow, time out ----
T0=$EPOCHREALTIME S0=$SECONDS   # (no date(1) in the polling loop: forks are dear on a busy host)
BOOT_LIMIT=${TESTVM_BOOT_TIMEOUT:-240}
rc=""
for try in 1 2; do
    : >"$JOB/console.log"; : >"$JOB/output.log"; rm -f "$JOB/status"
    "${QEMU[@]}" -append "$APPEND" </dev/null >"$JOB/qemu.log" 2>&1 &
    QPID=$!
    if [ $VERBOSE = 1 ]; then tail -n +1 -F --pid=$QPID "$JOB/console.log" 2>/dev/null | sed 's/^/[console] /' >&2 & fi
    started=0 boot0=$SECONDS
    while kill -0 $QPID 2>/dev/null; do
        if [ $started = 0 ] && grep -q TESTVM-JOB-START "$JOB/console.log"; then
            started=1
            tail -n +1 -f --pid=$QPID "$JOB/output.log" & FPID=$!
        fi
        if [ $started = 0 ] && [ $((SECONDS - boot0)) -ge "$BOOT_LIMIT" ]; then
            note "the job did not start within ${BOOT_LIMIT}s of boot (try $try); killing the VM"
            tail -n 5 "$JOB/console.log" >&2
            kill $QPID; break
        fi
        if [ $((SECONDS - S0)) -ge "$LIMIT" ]; then
            note "time limit of ${LIMIT}s reached; killing the VM"
            kill $QPID; rc=124; break
        fi
        sleep 0.5
    done
    wait $QPID 2>/dev/null; QPID=""
    [ -n "$rc" ] || [ $started = 1 ] || [ -s "$JOB/status" ] && break
    [ $try = 1 ] && continue
    rc=125
done
if [ -n "$FPID" ]; then wait "$FPID" 2>/dev/null; FPID=""
elif [ -s "$JOB/output.log" ]; then cat "$JOB/output.log"; fi   # the job was over before the first poll
if [ -z "$rc" ]; then
    if [ -s "$JOB/status" ]; then rc=$(cat "$JOB/status")
    else
        rc=125
        note "the VM gave no status; the end of its console and of qemu's output:"
        tail -n 30 "$JOB/console.log" "$JOB/qemu.log" >&2
    fi
fi
sed -n 's/.*TESTVM-JOB-START uptime=\([0-9.]*\).*/testvm: job started at guest uptime \1 s/p' "$JOB/console.log" >&2
note "exit $rc, cgroup $CG, $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s wall"
exit "$rc"
