// The files of the built-in busybox template, embedded so that an installed berth needs no data
// directory. The texts are copies of templates/busybox/<file> (the files to read and review);
// tests/unit/template/busybox_test.cc fails when the two differ.
#pragma once

#include <string_view>

namespace berth::tmpl::busybox_files {

// templates/busybox/inittab
inline constexpr std::string_view kInittab =
    R"berth(# /etc/inittab of Berth's built-in busybox template (read by busybox init, PID 1).
#
# Berth mounts /proc, /sys, /dev, /dev/pts, /dev/shm and /run and writes /etc/hostname, /etc/hosts
# and /etc/resolv.conf before init starts. rcS does the rest and touches /run/berth-ready last.
# No getty: Berth's /dev/console is not a terminal. Nothing respawns; init stays PID 1 and reaps.
# `berth stop` sends SIGUSR2 (= busybox poweroff): init runs ::shutdown, kills what is left and
# calls reboot(2), which ends the CT's PID namespace.
::sysinit:/etc/init.d/rcS
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/init.d/rcK
)berth";

// templates/busybox/rcS
inline constexpr std::string_view kRcS = R"berth(#!/bin/sh
# Boot script of Berth's busybox template, run once by busybox init (::sysinit).
# Contract with Berth's runtime: the API filesystems and /etc/{hostname,hosts,resolv.conf} are
# already in place; /run/berth-ready is touched as the very last action (`start --wait` waits for it).
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

[ -s /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null

# Hooks (network setup and the like), in name order; a failing hook is reported, not fatal.
for hook in /etc/berth/start.d/*.sh; do
	[ -x "$hook" ] || continue
	"$hook" || echo "rcS: $hook failed with status $?" >&2
done

touch /run/berth-ready
)berth";

// templates/busybox/rcK
inline constexpr std::string_view kRcK = R"berth(#!/bin/sh
# Shutdown script of Berth's busybox template, run by busybox init (::shutdown) before it kills
# what is left and calls reboot(2). Asks every process to stop, waits up to 5 s, then syncs.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

kill -TERM -1 2>/dev/null
i=0
while [ "$i" -lt 50 ]; do
	alive=
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = 1 ] || [ "$pid" = "$$" ] && continue
		# Zombies and exiting processes have no exe link.
		[ -e "$p/exe" ] && { alive=1; break; }
	done
	[ -n "$alive" ] || break
	usleep 100000
	i=$((i + 1))
done
sync
)berth";

// templates/busybox/passwd
inline constexpr std::string_view kPasswd = R"berth(root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
)berth";

// templates/busybox/group
inline constexpr std::string_view kGroup = R"berth(root:x:0:
nogroup:x:65534:
)berth";

// templates/busybox/shadow
inline constexpr std::string_view kShadow = R"berth(root:!:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
)berth";

// templates/busybox/hosts
inline constexpr std::string_view kHosts = R"berth(127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
)berth";

// templates/busybox/hostname
inline constexpr std::string_view kHostname = R"berth(localhost
)berth";

// templates/busybox/profile
inline constexpr std::string_view kProfile =
    R"berth(# /etc/profile of Berth's busybox template (login shells).
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH
PS1='\u@\h:\w\$ '
)berth";

// templates/busybox/udhcpc.script (installed as /etc/udhcpc/default.script)
inline constexpr std::string_view kUdhcpcScript = R"berth(#!/bin/sh
# /etc/udhcpc/default.script of Berth's busybox template: busybox udhcpc runs it with the
# lease in its environment ($interface, $ip, $mask as a prefix length, $router, $dns, $domain).
# For a bridged interface (NETIF): `udhcpc -i eth0` configures it from a DHCP server on the bridge.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

case "$1" in
deconfig)
	ip -4 addr flush dev "$interface" 2>/dev/null
	ip link set "$interface" up
	;;
bound | renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
	if [ -n "$router" ]; then
		while ip -4 route del default dev "$interface" 2>/dev/null; do :; done
		for r in $router; do
			ip route add default via "$r" dev "$interface" && break
		done
	fi
	if [ -n "$dns" ]; then
		{
			[ -n "$domain" ] && echo "search $domain"
			for d in $dns; do echo "nameserver $d"; done
		} > /etc/resolv.conf
	fi
	;;
esac
exit 0
)berth";

}  // namespace berth::tmpl::busybox_files
