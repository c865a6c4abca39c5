#!/usr/bin/env python3
"""bench/network driver: TCP throughput and request/response latency, CT to CT and CT to host,
for Berth's routed and bridged modes, the floor (plain network namespaces joined by a veth) and LXC's default
bridged setup (veth in a bridge), in one run, interleaved rounds. Run by bench/network inside a
private network namespace (unshare -n): every link, bridge and address here dies with it.
Addresses: 198.18.200.0/21 only. The traffic tool is the static probe (tests/probe): tcpsend /
tcprecv (bulk, measured by the receiver after its first 300 ms) and tcpecho / tcprr (1-byte
round trips)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lifecycle import build_rootfs  # noqa: E402

HOST_ADDR = "198.18.200.254"
PORT = [6000]
# LXC looks for its bridge in /sys/class/net, which shows the network namespace of whoever mounted
# sysfs. lxc-start runs in a private mount namespace where a sysfs mounted from this network
# namespace is bound over /sys/class/net and /sys/devices/virtual/net (the rest of /sys stays).
SYSFS_HERE = ('s=$(mktemp -d /tmp/berth-netbench-sys.XXXXXX) && mount -t sysfs sysfs "$s" && '
              'mount --bind "$s/class/net" /sys/class/net && '
              'mount --bind "$s/devices/virtual/net" /sys/devices/virtual/net && '
              'umount -l "$s" && rmdir "$s" || exit 1; ')


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


def next_port():
    PORT[0] += 1
    return str(PORT[0])


class Setup:
    """One way of connecting containers: run(side, args) runs the probe in 'a', 'b' or 'host'."""
    name = ""
    addr = {}   # side -> address the others reach it at

    def prefix(self, side):
        raise NotImplementedError

    def cleanup(self):
        pass


class Host:
    def __init__(self, probe):
        self.probe = probe

    def prefix(self):
        return [self.probe]


class Floor(Setup):
    """Two holder processes in new network namespaces; a veth a<->b, and a veth from a third
    namespace c to the host (for CT to host)."""
    name = "floor"

    def __init__(self, probe):
        self.probe, self.procs = probe, {}
        for side in ("a", "b", "c"):
            self.procs[side] = subprocess.Popen(["unshare", "-n", "sleep", "100000"])
        time.sleep(0.2)
        pid = {s: str(p.pid) for s, p in self.procs.items()}
        sh("ip", "link", "add", "fla", "type", "veth", "peer", "name", "flb")
        sh("ip", "link", "set", "fla", "netns", pid["a"])
        sh("ip", "link", "set", "flb", "netns", pid["b"])
        sh("ip", "link", "add", "flh", "type", "veth", "peer", "name", "flc")
        sh("ip", "link", "set", "flc", "netns", pid["c"])
        sh("ip", "addr", "add", "198.18.202.1/24", "dev", "flh")
        sh("ip", "link", "set", "flh", "up")
        for side, dev, ip in (("a", "fla", "198.18.201.1/24"), ("b", "flb", "198.18.201.2/24"),
                              ("c", "flc", "198.18.202.2/24")):
            ns = ["nsenter", "-t", pid[side], "-n"]
            sh(*ns, "ip", "link", "set", "lo", "up")
            sh(*ns, "ip", "addr", "add", ip, "dev", dev)
            sh(*ns, "ip", "link", "set", dev, "up")
        self.pid = pid
        self.addr = {"a": "198.18.201.1", "b": "198.18.201.2", "host": "198.18.202.1"}

    def prefix(self, side):
        # CT to host uses namespace c (its own veth to the host), as a CT has one link.
        return ["nsenter", "-t", self.pid[side], "-n", self.probe]

    def host_client(self):
        return "c"

    def cleanup(self):
        for p in self.procs.values():
            p.kill()
            p.wait()


class BerthRouted(Setup):
    """Two Berth CTs with one routed address each (venet model): the host forwards between their
    veths. Its own BERTH_ROOT under the run's temp dir."""
    name = "berth-routed"
    root_name, first_id = "berth-root", 1

    def __init__(self, berth, probe, tmp, tag, extra=0):
        self.berth, self.root = berth, os.path.join(tmp, self.root_name)
        self.env = dict(os.environ, BERTH_ROOT=self.root)
        os.makedirs(os.path.join(self.root, "etc", "berth"), exist_ok=True)
        for d in (tmp, self.root):
            os.chmod(d, 0o755)
        # Each setup is an instance of its own (cgroups, filter tables, id ranges): two roots
        # under one CGROUP_PARENT would see each other's VPSs (the first one's watcher and /proc
        # server stayed up while the second's VPSs ran, past this run's cleanup).
        with open(os.path.join(self.root, "etc", "berth", "berth.conf"), "w") as f:
            f.write('CGROUP_PARENT="%s-%s"\n' % (tag, self.root_name))
        base = 9000000 + os.getpid() % 1000 * 10 + self.first_id
        self.ids = {"a": str(base), "b": str(base + 1)}
        # Idle routed CTs next to a and b (--extra): what the host's per-packet filtering costs
        # as the number of CTs grows.
        self.extra = [str(9500000 + os.getpid() % 1000 * 300 + i) for i in range(extra)]
        self.addresses()
        try:
            self.make(probe)
        except BaseException:
            self.cleanup()
            raise

    def addresses(self):
        self.addr = {"a": "198.18.203.1", "b": "198.18.203.2", "host": HOST_ADDR}

    def create_args(self, side):
        return ["--ipadd", self.addr[side]]

    def configure(self, side):
        pass

    def make(self, probe):
        self.b("template", "create", "busybox")
        for side, ctid in self.ids.items():
            self.b("create", ctid, "--ostemplate", "busybox", *self.create_args(side))
            self.b("start", ctid, "--wait")
            self.configure(side)
            dst = os.path.join(self.root, "var/lib/berth/root", ctid, "sbin/berth_probe")
            shutil.copy2(probe, dst)
            os.chmod(dst, 0o755)
        for i, ctid in enumerate(self.extra):
            self.b("create", ctid, "--ostemplate", "busybox", "--ipadd", "198.18.208.%d" % (i + 1))
            self.b("start", ctid)

    def b(self, *a):
        return sh(self.berth, *a, env=self.env, timeout=60)

    def prefix(self, side):
        return ["env", "BERTH_ROOT=" + self.root, self.berth, "exec3", self.ids[side], "/sbin/berth_probe"]

    def host_client(self):
        return "a"

    def cleanup(self):
        for ctid in list(self.ids.values()) + self.extra:
            subprocess.run([self.berth, "stop", ctid, "--fast"], env=self.env, capture_output=True)
            subprocess.run([self.berth, "destroy", ctid], env=self.env, capture_output=True)


class BerthBridged(BerthRouted):
    """Two Berth CTs with one bridged veth each (`--netif_add eth0,,,,bbr0`, NETIF as vzctl writes
    it) in the bridge bbr0 made here, which holds the gateway address: the same shape as LXC's
    default network. The CTs configure eth0 themselves, as an OpenVZ veth CT does."""
    name = "berth-bridged"
    root_name, first_id = "berth-root-bridged", 3

    def __init__(self, berth, probe, tmp, tag):
        sh("ip", "link", "add", "bbr0", "type", "bridge")
        sh("ip", "addr", "add", "198.18.205.1/24", "dev", "bbr0")
        sh("ip", "link", "set", "bbr0", "up")
        super().__init__(berth, probe, tmp, tag)

    def addresses(self):
        self.addr = {"a": "198.18.205.2", "b": "198.18.205.3", "host": "198.18.205.1"}

    def create_args(self, side):
        return ["--netif_add", "eth0,,,,bbr0"]

    def configure(self, side):
        self.b("exec", self.ids[side], "ip addr add %s/24 dev eth0 && ip route add default via 198.18.205.1" %
               self.addr[side])

    def cleanup(self):
        super().cleanup()
        subprocess.run(["ip", "link", "del", "bbr0"], capture_output=True)


class LxcBridged(Setup):
    """LXC 5's default network: a veth per container in the bridge lxcbr0 (here a bridge made in
    this private namespace, as lxc-net would make it), the bridge holding the gateway address."""
    name = "lxc-bridged"

    def __init__(self, probe, tmp, tag):
        self.path = os.path.join(tmp, "lxcpath")
        self.names = {"a": tag + "-a", "b": tag + "-b"}
        self.addr = {"a": "198.18.204.2", "b": "198.18.204.3", "host": "198.18.204.1"}
        try:
            self.make(probe, tmp)
        except BaseException:
            self.cleanup()
            raise

    def make(self, probe, tmp):
        sh("ip", "link", "add", "lxcbr0", "type", "bridge")
        sh("ip", "addr", "add", "198.18.204.1/24", "dev", "lxcbr0")
        sh("ip", "link", "set", "lxcbr0", "up")
        rootfs = os.path.join(tmp, "lxc-rootfs")
        build_rootfs(rootfs, "/bin/busybox")
        shutil.copy2(probe, os.path.join(rootfs, "sbin/berth_probe"))
        os.chmod(os.path.join(rootfs, "sbin/berth_probe"), 0o755)
        for side, n in self.names.items():
            d = os.path.join(self.path, n)
            os.makedirs(d, exist_ok=True)
            subprocess.run(["cp", "-al", rootfs, os.path.join(d, "rootfs")], check=True)
            conf = os.path.join(tmp, n + ".conf")
            with open(conf, "w") as f:
                f.write("lxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.flags = up\n"
                        "lxc.net.0.ipv4.address = %s/24\nlxc.net.0.ipv4.gateway = 198.18.204.1\n"
                        "lxc.apparmor.profile = unconfined\nlxc.mount.auto = proc:mixed sys:ro\n"
                        "lxc.uts.name = %s\nlxc.signal.halt = SIGUSR2\nlxc.signal.stop = SIGKILL\n"
                        "lxc.rootfs.path = dir:%s/rootfs\n" % (self.addr[side], n, d))
            sh("lxc-create", "-P", self.path, "-n", n, "-t", "none", "-f", conf)
            sh("unshare", "-m", "--propagation", "private", "sh", "-c", SYSFS_HERE + 'exec lxc-start "$@"', "sh",
               "-P", self.path, "-n", n, "-d", "-l", "ERROR", "-o", os.path.join(tmp, n + ".log"))

    def prefix(self, side):
        return ["lxc-attach", "-P", self.path, "-n", self.names[side], "--", "/sbin/berth_probe"]

    def host_client(self):
        return "a"

    def cleanup(self):
        for n in self.names.values():
            subprocess.run(["lxc-stop", "-P", self.path, "-n", n, "-k"], capture_output=True)
            subprocess.run(["lxc-destroy", "-P", self.path, "-n", n, "-f"], capture_output=True)
        subprocess.run(["ip", "link", "del", "lxcbr0"], capture_output=True)


def pair(setup, host, path):
    """(server prefix, server address, client prefix) for 'ct-ct' or 'ct-host'."""
    if path == "ct-ct":
        return setup.prefix("b"), setup.addr["b"], setup.prefix("a")
    return host.prefix(), setup.addr["host"], setup.prefix(setup.host_client())


def run_pair(server_cmd, client_cmd):
    srv = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.15)
    cli = subprocess.run(client_cmd, capture_output=True, text=True, timeout=120)
    out, err = srv.communicate(timeout=60)
    if srv.returncode != 0 or cli.returncode != 0:
        raise RuntimeError("probe failed: %s %s %s" % (err.strip(), cli.stderr.strip(), cli.stdout.strip()))
    return json.loads(out), json.loads(cli.stdout)


def throughput(setup, host, path, secs):
    s, addr, c = pair(setup, host, path)
    port = next_port()
    got, _ = run_pair(s + ["tcprecv", port, "300"], c + ["tcpsend", addr, port, str(secs)])
    return got["bits_per_second"] / 1e9


def latency(setup, host, path, count):
    s, addr, c = pair(setup, host, path)
    port = next_port()
    _, rr = run_pair(s + ["tcpecho", port], c + ["tcprr", addr, port, str(count)])
    return rr["median_us"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--berth", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("-n", "--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rr", type=int, default=2000)
    ap.add_argument("--tools", default="floor,berth-routed,berth-bridged,lxc-bridged")
    ap.add_argument("--extra", type=int, default=0, choices=range(0, 251), metavar="N",
                    help="N more running routed CTs (idle) next to berth-routed's two")
    ap.add_argument("-o", "--output", default="")
    args = ap.parse_args()
    if os.readlink("/proc/self/ns/net") == os.environ.get("BENCH_HOST_NETNS", "unset"):
        raise SystemExit("network.py: run through bench/network (a private network namespace)")
    if "BENCH_HOST_NETNS" not in os.environ:
        raise SystemExit("network.py: run through bench/network (BENCH_HOST_NETNS unset)")
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "addr", "add", HOST_ADDR + "/32", "dev", "lo")
    for f in ("/proc/sys/net/ipv4/ip_forward",):   # this namespace only
        with open(f, "w") as fh:
            fh.write("1\n")
    tmp = tempfile.mkdtemp(prefix="berth-netbench-")
    tag = "bnet%d" % (os.getpid() % 100000)
    host = Host(args.probe)
    setups, skipped = [], {}
    wanted = args.tools.split(",")
    try:
        for name in wanted:
            try:
                if name == "floor":
                    setups.append(Floor(args.probe))
                elif name == "berth-routed":
                    setups.append(BerthRouted(args.berth, args.probe, tmp, tag, args.extra))
                elif name == "berth-bridged":
                    setups.append(BerthBridged(args.berth, args.probe, tmp, tag))
                elif name == "lxc-bridged":
                    if not shutil.which("lxc-start"):
                        raise RuntimeError("lxc not installed (bench/setup-peers.sh)")
                    setups.append(LxcBridged(args.probe, tmp, tag))
            except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
                detail = getattr(e, "stderr", "") or str(e)
                for log in sorted(f for f in os.listdir(tmp) if f.endswith(".log")):
                    with open(os.path.join(tmp, log)) as fh:
                        detail += " | " + " ".join(fh.read().split("\n")[-4:])
                skipped[name] = detail.strip()[:300]
        results = {s.name: {} for s in setups}
        metrics = [("ct-ct", "Gbit/s"), ("ct-host", "Gbit/s"), ("ct-ct", "rr us"), ("ct-host", "rr us")]
        for r in range(args.rounds):
            order = setups[r % len(setups):] + setups[:r % len(setups)] if setups else []
            for s in order:
                for path, kind in metrics:
                    key = "%s %s" % (path, kind)
                    try:
                        v = throughput(s, host, path, args.seconds) if kind == "Gbit/s" else latency(s, host, path, args.rr)
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                        print("network: %s %s: %s" % (s.name, key, e), file=sys.stderr)
                        continue
                    results[s.name].setdefault(key, []).append(v)
        print("\nmedians of %d rounds (%.1f s bulk transfers, %d round trips%s)" %
              (args.rounds, args.seconds, args.rr, ", %d extra routed CTs" % args.extra if args.extra else ""))
        names = [s.name for s in setups]
        print("%-18s" % "metric" + "".join("%16s" % n for n in names) +
              "".join("%20s" % ("%s/floor" % n) for n in names if n != "floor"))
        summary = {}
        for path, kind in metrics:
            key = "%s %s" % (path, kind)
            med = {n: statistics.median(results[n][key]) if results[n].get(key) else None for n in names}
            summary[key] = med
            row = "%-18s" % key + "".join("%16s" % ("%.3f" % med[n] if med[n] is not None else "-") for n in names)
            for n in names:
                if n == "floor":
                    continue
                f, v = med.get("floor"), med[n]
                row += "%20s" % ("%.3f" % (v / f) if f and v else "-")
            print(row)
        for n, why in skipped.items():
            print("skipped %s: %s" % (n, why))
        if args.output:
            with open(args.output, "w") as f:
                json.dump({"rounds": results, "medians": summary, "skipped": skipped}, f, indent=1)
    finally:
        for s in setups:
            s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
