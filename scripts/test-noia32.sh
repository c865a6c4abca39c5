#!/usr/bin/env bash
# Runs the unit tests on a kernel without IA32 emulation (not part of scripts/test.sh; docs/ci.md).
#
# No Debian 12 kernel package lacks IA32 emulation (linux-image-amd64 and -cloud-amd64 are 6.1
# with CONFIG_IA32_EMULATION=y, and 6.1 has no ia32_emulation=0 parameter), but Debian's
# user-mode-linux package is a 6.1 kernel for x86-64 that has no IA32 emulation at all: there a
# 64-bit process's `int $0x80` raises SIGSEGV, as on an amd64 kernel built without it. This script
# fetches that package (`apt-get download`, unpacked with `dpkg -x` into $UML_DIR, default
# /var/tmp/berth-uml; nothing is installed), boots it with the host's / as its read-only root
# (hostfs), mounts fresh proc, sysfs, devtmpfs, tmpfs and cgroup2, runs the unit test binary, and
# powers off. Exits with the tests' status.
#
# Usage: scripts/test-noia32.sh [GTEST_FILTER]     (e.g. 'IsolationSeccomp.*'; default: all)
# Env: BUILD_DIR (default build; the unit tests must be built), UML_DIR, UML_MEM (default 1G).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${BUILD_DIR:-build}" && pwd)
tests=$build/berth_unit_tests
[ -x "$tests" ] || { echo "noia32: build the unit tests first ($tests)" >&2; exit 2; }
dir=${UML_DIR:-/var/tmp/berth-uml}
mkdir -p "$dir"
uml=$dir/root/usr/bin/linux.uml
if [ ! -x "$uml" ]; then
  echo "noia32: apt-get download user-mode-linux (into $dir)"
  (cd "$dir" && rm -f user-mode-linux_*.deb && apt-get download user-mode-linux >/dev/null 2>&1 ||
     { apt-get update -qq && apt-get download user-mode-linux >/dev/null; })
  dpkg -x "$dir"/user-mode-linux_*.deb "$dir/root"
fi
# The guest's init: a file of the host (the guest sees the host's files read-only).
init=$dir/init.sh
cat >"$init" <<'INIT'
#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc && mount -t sysfs sys /sys && mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp && mount -t tmpfs run /run && mount -t cgroup2 none /sys/fs/cgroup
echo "noia32: guest kernel $(uname -r), IA32 emulation options set: $(zcat /proc/config.gz 2>/dev/null | grep -c '^CONFIG_IA32_EMULATION=y')"
cd /tmp
"$BERTH_UNIT_TESTS" --gtest_color=no ${BERTH_FILTER:+--gtest_filter=$BERTH_FILTER}
echo "noia32: status $?"
echo o > /proc/sysrq-trigger
sleep 10
INIT
chmod 755 "$init"
# The guest's memory is a file in TMPDIR; the console is this script's stdout. Kernel command-line
# words of the form NAME=VALUE that the kernel does not know become init's environment.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
TMPDIR=$dir timeout "${UML_TIMEOUT:-1800}" "$uml" mem="${UML_MEM:-1G}" root=/dev/root rootfstype=hostfs \
  rootflags=/ ro init="$init" con=null con0=null,fd:1 quiet \
  BERTH_UNIT_TESTS="$tests" ${1:+BERTH_FILTER="$1"} </dev/null 2>&1 | tee "$log" | sed -n '/^noia32:/,$p'
rc=$(sed -n 's/^noia32: status \([0-9]*\).*/\1/p' "$log" | tail -n1)
[ -n "$rc" ] || { echo "noia32: the guest gave no status" >&2; exit 125; }
exit "$rc"
