#!/usr/bin/env bash
# scripts/testvm/make-image.sh - builds the guest of Berth's test VM (scripts/testvm/run.sh boots it).
#
# The guest is Debian 12's own kernel (the package linux-image-amd64 depends on today, fetched
# with `apt-get download` and unpacked with `dpkg -x`: nothing is installed for the host to boot)
# and an initramfs holding what tests/vm/*.sh and the integration binary use in the guest:
#   - the programs of a few Debian packages (bash, dash as /bin/sh, coreutils, util-linux, mount,
#     findutils, grep, sed, mawk, procps, psmisc, iproute2, e2fsprogs (mkfs.ext4 for the loop
#     ext4 that BERTH_ROOT needs: idmapped mounts on 6.1 need it), nftables, fuse3, tar, gzip,
#     xz, zstd, strace, criu (checkpoint/restore: it runs on this kernel, not on every host's),
#     iptables) and ldd, copied from the host with every library ldd names, plus
#     libstdc++ and libgcc_s so C++ programs built on the host run as they are;
#   - busybox-static at /bin/busybox (berth's built-in busybox template is made from it) and its
#     applets for every command no package above provides (modprobe, depmod, poweroff...);
#   - the kernel modules a CT needs (9p, overlay, veth, bridge, dummy, ifb, loop, ext4, fuse,
#     nf_tables, tc qdiscs...), loaded on demand by the kernel through busybox modprobe;
#   - scripts/testvm/guest-init as /init.
# Host packages that are missing are apt-get installed (bookworm's own: qemu-system-x86, cpio,
# busybox-static and the packages above).
#
# Usage: scripts/testvm/make-image.sh [DIR]     (as root; DIR default $TESTVM_DIR or /var/tmp/berth-testvm)
# Env:   TESTVM_EXTRA_BINS="/usr/bin/gdb ..."   more host programs (with their libraries)
#        TESTVM_EXTRA_MODULES="vxlan sit"       more kernel modules (with their dependencies)
#        TESTVM_KERNEL_PKG=linux-image-...      another kernel package
#        TESTVM_NO_APT=1                        install nothing on the host
# Output in DIR: vmlinux (the uncompressed kernel: qemu boots it through its PVH entry, which
# saves the ~3.5 s xz decompression under TCG), vmlinuz, initrd.img, image.env (versions, and
# the recipe hash run.sh compares to rebuild an image made by older scripts); kernel/ caches the
# unpacked kernel package. Several callers may race: the build holds DIR/.lock.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-${TESTVM_DIR:-/var/tmp/berth-testvm}}
say() { echo "make-image: [${SECONDS}s] $*" >&2; }
die() { echo "make-image: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, dpkg -x keeps owners)"
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || die "amd64 Debian hosts only"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9

# The recipe: when these files change, run.sh asks for a new image.
recipe() { cat "$HERE/make-image.sh" "$HERE/guest-init" | sha256sum | cut -c1-16; }
RECIPE=$(recipe)

# ------------------------------------------------------------------ host packages
TOOL_PKGS="bash dash coreutils util-linux mount findutils grep sed mawk procps psmisc iproute2
           e2fsprogs nftables fuse3 tar gzip xz-utils zstd strace criu iptables"
NEED_PKGS="qemu-system-x86 cpio busybox-static libc-bin libstdc++6 libgcc-s1 $TOOL_PKGS"
declare -A INSTALLED=()
host_packages() {  # what of NEED_PKGS the host has (one dpkg-query: forks are dear on a busy host)
    local p s
    INSTALLED=()
    while read -r p s; do [ "$s" = installed ] && INSTALLED[${p%%:*}]=1; done \
        < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $NEED_PKGS 2>/dev/null)
    return 0
}
installed() { [ -n "${INSTALLED[$1]:-}" ]; }
host_packages
if [ "${TESTVM_NO_APT:-0}" != 1 ]; then
    missing=""
    for p in $NEED_PKGS; do installed "$p" || missing+=" $p"; done
    if [ -n "$missing" ]; then
        say "apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends $missing >"$OUT/apt.log" 2>&1 ||
            { apt-get update >>"$OUT/apt.log" 2>&1; apt-get install -y --no-install-recommends $missing >>"$OUT/apt.log" 2>&1; } ||
            die "apt-get install$missing failed (see $OUT/apt.log)"
        host_packages
    fi
fi

# ------------------------------------------------------------------ kernel
KPKG=${TESTVM_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')}
[ -n "$KPKG" ] || die "cannot tell which kernel linux-image-amd64 depends on (apt-get update?)"
KDIR=$OUT/kernel/$KPKG
if [ ! -e "$KDIR/.unpacked" ]; then
    say "apt-get download $KPKG; dpkg -x (the host does not install it)"
    rm -rf "$KDIR" "$OUT/download"
    mkdir -p "$KDIR" "$OUT/download"
    fetch() { (cd "$OUT/download" && apt-get download "$KPKG") >>"$OUT/download.log" 2>&1; }
    fetch || { apt-get update >>"$OUT/download.log" 2>&1; fetch; } || die "apt-get download $KPKG failed (see $OUT/download.log)"
    dpkg -x "$OUT"/download/*.deb "$KDIR"
    rm -rf "$OUT/download" "$OUT/download.log"
    touch "$KDIR/.unpacked"
fi
KVER=$(cd "$KDIR/lib/modules" && ls | head -n1)
[ -n "$KVER" ] && [ -f "$KDIR/boot/vmlinuz-$KVER" ] || die "$KDIR does not look like an unpacked kernel package"
MODS=$KDIR/lib/modules/$KVER
[ -s "$MODS/modules.dep" ] || busybox depmod -b "$KDIR" "$KVER"

# vmlinux: the ELF inside the bzImage, after the xz stream's magic (FD 37 7A 58 5A 00).
if [ ! -s "$OUT/vmlinux" ] || ! cmp -s "$KDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz"; then
    cp "$KDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp"
    rm -f "$OUT/vmlinux"
    for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$OUT/vmlinuz.tmp" | cut -d: -f1 | head -n3); do
        tail -c +$((off + 1)) "$OUT/vmlinuz.tmp" | xz -dc --single-stream >"$OUT/vmlinux.tmp" 2>/dev/null || true
        if [ "$(head -c4 "$OUT/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
            mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"; break
        fi
    done
    rm -f "$OUT/vmlinux.tmp"
    mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
    [ -s "$OUT/vmlinux" ] || say "note: no ELF vmlinux found in the bzImage; run.sh boots vmlinuz (slower)"
fi

# ------------------------------------------------------------------ the guest's file tree
T=$OUT/tree.tmp
rm -rf "$T"
mkdir -p "$T"/{usr/bin,usr/sbin,usr/lib,etc,proc,sys,dev,run,tmp,var/tmp,var/lib,var/log,root,mnt,.testvm-root}
chmod 1777 "$T/tmp" "$T/var/tmp"
chmod 700 "$T/root"
# the host's merged-/usr links (bin -> usr/bin ...), so host paths map 1:1
for d in bin sbin lib lib32 lib64 libx32; do
    [ -L "/$d" ] && ln -s "$(readlink "/$d")" "$T/$d"
done

# The copy is batched (one tar at the end): on a loaded machine thousands of small forks
# (readlink, mkdir, cp, ldd per file) cost minutes.
# want PATH...: queue PATH for the tree, at its canonical directory; a symlink stays a symlink
# and its target is queued too.
declare -A DIRS=() QUEUED=()
COPY=() ELFS=()
want() {
    local p d t m
    for p; do
        d=${p%/*}; d=${d:-/}
        [ -n "${DIRS[$d]:-}" ] || DIRS[$d]=$(readlink -f "$d")
        d=${DIRS[$d]}; p=${d%/}/${p##*/}
        [ -n "${QUEUED[$p]:-}" ] && continue
        QUEUED[$p]=1
        if [ -L "$p" ]; then
            COPY+=("$p")
            t=$(readlink "$p")
            case $t in /*) want "$t" ;; *) want "$d/$t" ;; esac
        elif [ -f "$p" ]; then
            COPY+=("$p")
            m=""; IFS= LC_ALL=C read -r -n 4 m <"$p" 2>/dev/null || true
            [ "$m" = $'\x7fELF' ] && ELFS+=("$p")
        else
            say "warning: no $p on the host"
        fi
    done
    return 0
}

say "collecting programs and their libraries"
for pkg in $TOOL_PKGS; do
    installed "$pkg" || { say "warning: package $pkg not installed, left out"; continue; }
    want $(dpkg -L "$pkg" | grep -E '^(/usr)?/s?bin/[^/]+$')
done
want /usr/bin/ldd /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 \
     ${TESTVM_EXTRA_BINS:-}
# iptables' extensions are loaded with dlopen (ldd does not name them): CRIU saves and restores a
# CT's iptables rules with iptables-save/-restore.
want /usr/lib/x86_64-linux-gnu/xtables/*.so
for t in iptables ip6tables; do
    for x in "" -save -restore; do [ -e /usr/sbin/$t$x ] && want /usr/sbin/$t$x; done
done
[ -e /etc/mke2fs.conf ] && want /etc/mke2fs.conf
BUSYBOX=$(readlink -f /bin/busybox)
want "$BUSYBOX"
# The libraries: what the dynamic loader would map for each ELF file (ldd's own method, one
# process per file); libraries of libraries come with it. Statically linked files print nothing.
LOADER=$(readlink -f /lib64/ld-linux-x86-64.so.2)
[ "$BUSYBOX" = "${ELFS[-1]:-}" ] && unset 'ELFS[-1]'   # busybox-static: nothing to load
want $(for f in "${ELFS[@]}"; do LD_TRACE_LOADED_OBJECTS=1 "$LOADER" "$f" 2>/dev/null; done |
       awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
say "copying ${#COPY[@]} files"
printf '%s\0' "${COPY[@]#/}" | tar -C / --null --no-recursion -T - -cf - | tar -C "$T" -xpf -
# alternatives and diversions dpkg -L does not show
ln -sf dash "$T/usr/bin/sh"
ln -sf mawk "$T/usr/bin/awk"
[ "$BUSYBOX" = /usr/bin/busybox ] || ln -sf "$BUSYBOX" "$T/usr/bin/busybox"
# busybox applets for the commands no package above provides (never in place of a real tool:
# busybox's ip, mount, ps... differ), in the directory busybox names (modprobe in /usr/sbin).
mkdir "$T/.applets"
busybox --install -s "$T/.applets"
BIN=() SBIN=()
for a in $(busybox --list-full); do
    n=${a##*/}
    [ -e "$T/usr/bin/$n" ] || [ -L "$T/usr/bin/$n" ] || [ -e "$T/usr/sbin/$n" ] || [ -L "$T/usr/sbin/$n" ] && continue
    case /$a in */sbin/*) SBIN+=("$n") ;; *) BIN+=("$n") ;; esac
done
(cd "$T/.applets" && { [ ${#BIN[@]} = 0 ] || mv -t "$T/usr/bin" -- "${BIN[@]}"; } &&
                     { [ ${#SBIN[@]} = 0 ] || mv -t "$T/usr/sbin" -- "${SBIN[@]}"; })
rm -rf "$T/.applets"
say "$((${#BIN[@]} + ${#SBIN[@]})) busybox applets"

# ------------------------------------------------------------------ kernel modules
WANT_MODS="virtio_pci 9pnet_virtio 9p
  overlay loop ext4 fuse autofs4 binfmt_misc
  veth dummy bridge br_netfilter macvlan ipvlan tun ifb
  sch_htb sch_tbf sch_ingress sch_fq_codel sch_netem cls_u32 cls_fw cls_matchall cls_cgroup act_mirred act_police
  nf_tables nfnetlink nft_ct nft_nat nft_masq nft_chain_nat nft_reject_inet nft_reject_bridge nft_meta_bridge
  nft_fib_inet nft_limit nft_log nft_compat nf_conntrack nf_nat nf_conntrack_netlink
  unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag crc32c_generic
  ${TESTVM_EXTRA_MODULES:-}"
# each wanted module and what modules.dep says it needs; a wanted one that is built in is fine
mapfile -t KO < <(awk -v want="$WANT_MODS" '
    function key(s) { sub(/.*\//, "", s); sub(/\.ko(\.[a-z]+)?$/, "", s); gsub(/-/, "_", s); return s }
    FILENAME ~ /modules\.builtin$/ { builtin[key($1)] = 1; next }
    { m = $1; sub(/:$/, "", m); k = key(m); if (!(k in w)) next
      found[k] = 1; out[m] = 1; for (i = 2; i <= NF; i++) out[$i] = 1 }
    BEGIN { n = split(want, a, /[ \t\n]+/); for (i = 1; i <= n; i++) if (a[i] != "") { gsub(/-/, "_", a[i]); w[a[i]] = 1 } }
    END { for (f in out) print f
          for (k in w) if (!(k in found) && !(k in builtin)) print "note: no module " k > "/dev/stderr" }
    ' "$MODS/modules.builtin" "$MODS/modules.dep")
mkdir -p "$T/usr/lib/modules/$KVER"
(cd "$MODS" && tar --no-recursion -cf - "${KO[@]}" modules.order modules.builtin modules.builtin.modinfo) |
    tar -C "$T/usr/lib/modules/$KVER" -xpf -
busybox depmod -b "$T/usr" "$KVER"
say "${#KO[@]} kernel modules of $KVER"
# ------------------------------------------------------------------ /etc, /init
cat >"$T/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$T/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
tty:x:5:
disk:x:6:
nogroup:x:65534:
EOF
install -m 640 /dev/null "$T/etc/shadow"
echo 'root:*:20000:0:99999:7:::' >"$T/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$T/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n127.0.1.1\ttestvm\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$T/etc/hosts"
echo testvm >"$T/etc/hostname"
ln -s /proc/self/mounts "$T/etc/mtab"
cp /etc/os-release "$T/etc/os-release"
mkdir -p "$T/etc/modprobe.d"
echo 'PS1="testvm:\w# "' >"$T/root/.bashrc"
echo '. ~/.bashrc' >"$T/root/.profile"
install -m 755 "$HERE/guest-init" "$T/init"
cat >"$T/etc/testvm-release" <<EOF
TESTVM_KERNEL=$KVER
TESTVM_KERNEL_PKG=$KPKG
TESTVM_RECIPE=$RECIPE
EOF

# ------------------------------------------------------------------ pack
say "packing the initramfs"
(cd "$T" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$OUT/initrd.img.tmp"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
{
    cat "$T/etc/testvm-release"
    echo "TESTVM_INITRD_BYTES=$(stat -c %s "$OUT/initrd.img")"
    echo "TESTVM_TREE_KB=$(du -sk "$T" | cut -f1)"
    echo "TESTVM_BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$OUT/image.env.tmp"
mv "$OUT/image.env.tmp" "$OUT/image.env"
rm -rf "$T"
say "done: $OUT (kernel $KVER, initramfs $(du -h "$OUT/initrd.img" | cut -f1))"
