#!/usr/bin/env python3
"""Density benchmark: N containers of Berth, crun and LXC, a routed veth each, memory five ways.

Driven by bench/density. The main process (host mount namespace) runs one phase per tool, one
after another: Berth in the host namespace, as users run it; crun and LXC each in a child
`unshare -m --propagation private` that puts a v1-only cgroupfs over /sys/fs/cgroup (crun 1.8
refuses the hybrid layout; the same trick as bench/lifecycle). A phase: baseline memory, create
and start N containers one after another, settle, measure memory five ways, `berth list -a`
(Berth) and the /proc/meminfo read latency in the first container (also taken right after it
started, with one running), then stop and remove all one after another, settle, and check that
MemAvailable came back. Every host object carries the run tag (`berth-bench-<pid>`; veth names,
limited to 15 characters, `bb<pid>c<i>` / `bb<pid>l<i>`).
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

import lifecycle
from lifecycle_tools import Ctx, OpFailed, now_ns, ms, oci_config, parse_trace, wait_exit

MEMCG = "/sys/fs/cgroup/memory"
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# Memory readings.

def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def slab_caches():
    """KiB per slab cache (/proc/slabinfo: objects x object size; SLUB merges caches of one size
    and flags under one name). Empty when it cannot be read."""
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                p = line.split()
                if len(p) > 3 and not line.startswith(("slabinfo", "#")):
                    out[p[0]] = int(p[2]) * int(p[3]) / 1024
    except OSError:
        pass
    return out


def cg_read(path, name):
    try:
        with open(os.path.join(path, name)) as f:
            return f.read()
    except OSError:
        return None


def cg_usage_kib(path):
    v = cg_read(path, "memory.usage_in_bytes")
    return int(v) // 1024 if v else 0


def cg_stat_kib(path, keys=("total_rss", "total_cache")):
    text = cg_read(path, "memory.stat") or ""
    d = dict(line.split() for line in text.splitlines() if line.count(" ") == 1)
    return {k: int(d.get(k, 0)) // 1024 for k in keys}


def cg_kmem_kib(path):
    v = cg_read(path, "memory.kmem.usage_in_bytes")
    return int(v) // 1024 if v else 0


def cg_pids(path):
    pids = []
    for dp, _, _ in os.walk(path):
        text = cg_read(dp, "cgroup.procs") or ""
        pids += [int(p) for p in text.split()]
    return pids


def own_memcg():
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrl, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrl.split(","):
                return MEMCG + path.rstrip("/") if path != "/" else MEMCG
    return MEMCG


def smaps(pid):
    """(Pss, USS) in KiB of one process, or None when it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            d = {}
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":"):
                    d[parts[0][:-1]] = parts[1]
    except OSError:
        return None
    try:
        return int(d.get("Pss", 0)), int(d.get("Private_Clean", 0)) + int(d.get("Private_Dirty", 0))
    except ValueError:
        return None


def pss_of(pids):
    pss = uss = n = 0
    for p in pids:
        r = smaps(p)
        if r:
            pss += r[0]
            uss += r[1]
            n += 1
    return {"count": n, "pss_kib": pss, "uss_kib": uss}


def others_usage_kib(tag, mine):
    """(usage, anon) in KiB charged to every memory cgroup that is not this run's: the tagged
    groups and the path down to this process's own group are left out (its siblings are counted).
    A change in it during a phase is other people's work on the shared machine, which MemAvailable
    sees too: their anon memory (total_rss) 1:1, their page cache hardly (it counts as
    available)."""
    total = anon = 0
    path_down = set()
    p = mine
    while p.startswith(MEMCG) and p != MEMCG:
        path_down.add(p)
        p = os.path.dirname(p)

    def walk(d):
        nonlocal total, anon
        try:
            names = os.listdir(d)
        except OSError:
            return
        for e in names:
            c = os.path.join(d, e)
            if not os.path.isdir(c) or tag in e:
                continue
            if c in path_down:
                walk(c)
            else:
                total += cg_usage_kib(c)
                anon += cg_stat_kib(c, ("total_rss",))["total_rss"]
    walk(MEMCG)
    return total, anon


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


# ---------------------------------------------------------------------------------------------
# Tools. Each: setup(), create(i), start(i), stop(i), remove(i) return ms; cgroups(): list of the
# containers' memory cgroups; own_pids(): the tool's own host processes; put_helper(i) and
# meminfo_cmd(i, reads, gap_us): the /proc/meminfo helper inside container i; cleanup_all().

def addr(block, tool, i):
    """Routed addresses from 198.18.0.0/15 (benchmark space, never routed off the machine)."""
    if tool == "berth":
        return "198.18.%d.%d" % (block * 4 + i // 250, i % 250 + 1)
    half = 0 if tool == "crun" else 128
    return "198.19.%d.%d" % (half + (block % 32) * 4 + i // 250, i % 250 + 1)


class BerthT:
    name = "berth"

    def __init__(self, ctx, binary, block, helper):
        self.ctx, self.bin, self.block, self.helper = ctx, binary, block, helper
        self.root = os.path.join(ctx.tmp, "berth-root")
        self.env = dict(os.environ, BERTH_ROOT=self.root)
        self.base = 9000000 + (int(ctx.tag.rsplit("-", 1)[1]) % 1000) * 1000
        self.made = set()
        self.running = set()
        self.cgparent = ctx.tag
        self.split = {}   # "<pipeline>:<step>" -> [ms] of each start and stop (BERTH_TRACE)
        self.retries = []  # stops tried again (see stop)

    def id(self, i):
        return str(self.base + i)

    def b(self, *a, env=None, own_file=False):
        return self.ctx.run([self.bin] + list(a), env=env or self.env, timeout=120,
                            own_file=own_file)

    def setup(self):
        os.makedirs(os.path.join(self.root, "etc", "berth"), exist_ok=True)
        for d in (self.ctx.tmp, self.root):
            os.chmod(d, 0o755)
        with open(os.path.join(self.root, "etc", "berth", "berth.conf"), "w") as f:
            f.write('CGROUP_PARENT="%s"\n' % self.cgparent)
        return self.b("template", "create", "busybox")

    def create(self, i):
        self.made.add(i)
        # BERTH_CREATE_ARGS: more options for `berth create` (as bench/lifecycle's).
        return self.b("create", self.id(i), "--ostemplate", "busybox", "--ipadd",
                      addr(self.block, "berth", i),
                      *os.environ.get("BERTH_CREATE_ARGS", "").split())

    def traced(self, *a):
        """A berth command with BERTH_TRACE=1: its step timings are kept in self.split (printing
        them costs a few microseconds)."""
        off = self.ctx.log.tell()
        t = self.b(*a, env=dict(self.env, BERTH_TRACE="1"), own_file=True)
        for pipeline, step, step_ms in parse_trace(self.ctx.output_since(off)):
            self.split.setdefault("%s:%s" % (pipeline, step), []).append(step_ms)
        return t

    def start(self, i):
        self.running.add(i)
        return self.traced("start", self.id(i))

    def stop(self, i):
        """`stop --fast`; a stop that fails because another mount namespace on the host (a
        process elsewhere that copied the host's mounts) still holds the VPS's disk (exit 51
        after Berth's own 10 s wait) is tried again after 2 s, up to 5 times, and counted; the
        sample is the attempt that succeeded."""
        for attempt in range(6):
            try:
                t = self.traced("stop", self.id(i), "--fast")
                break
            except OpFailed as e:
                if "still held by" not in str(e) or attempt == 5:
                    raise
                self.retries.append({"ct": self.id(i), "error": str(e)[:300]})
                log("berth: stop %s: disk still held elsewhere; again in 2 s" % self.id(i))
                time.sleep(2)
        self.running.discard(i)
        return t

    def remove(self, i):
        t = self.b("destroy", self.id(i))
        self.made.discard(i)
        return t

    def cgroups(self):
        p = os.path.join(MEMCG, self.cgparent)
        return [p] if os.path.isdir(p) else []

    def own_pids(self):
        want = ("BERTH_ROOT=" + self.root).encode()
        out = []
        for p in all_pids():
            argv = proc_cmdline(p)
            if not argv or not argv[0].endswith(b"berth"):
                continue
            try:
                with open("/proc/%d/environ" % p, "rb") as f:
                    if want in f.read().split(b"\0"):
                        out.append(p)
            except OSError:
                pass
        return out

    def put_helper(self, i):
        with open(self.helper, "rb") as src:
            p = subprocess.run([self.bin, "exec2", self.id(i),
                                "cat > /tmp/density-meminfo && chmod 755 /tmp/density-meminfo"],
                               stdin=src, env=self.env, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise OpFailed("copying the helper into %s: %s" % (self.id(i), p.stderr[-300:]))

    def meminfo_cmd(self, i, n, gap):
        return [self.bin, "exec2", self.id(i),
                "/tmp/density-meminfo %d /proc/meminfo %d" % (n, gap)]

    def list_ms(self, columns=None):
        return self.b("list", "-a", *(["-o", columns] if columns else []))

    def cleanup_all(self):
        if not os.path.isdir(self.root):
            return
        ids = sorted(self.made) or range(0)
        for i in ids:
            self.ctx.quiet([self.bin, "stop", self.id(i), "--fast"], env=self.env, timeout=60)
            self.ctx.quiet([self.bin, "destroy", self.id(i)], env=self.env, timeout=60)
        self.made.clear()

    def sweep(self, n):
        """From the wrapper's trap: every CTID the run could have made."""
        if not os.path.isdir(os.path.join(self.root, "etc", "berth")):
            return
        conf = os.path.join(self.root, "etc", "berth", "conf")
        ids = set()
        for d in (conf, os.path.join(self.root, "var", "lib", "berth", "private")):
            if os.path.isdir(d):
                for e in os.listdir(d):
                    head = e.split(".")[0]
                    if head.isdigit() and self.base <= int(head) < self.base + 1000 + n:
                        ids.add(int(head) - self.base)
        self.made = ids
        self.cleanup_all()


class CrunT:
    """crun 1.8 with an OCI bundle per container over the shared read-only rootfs; the driver
    makes each container's network namespace (a bind-mounted handle in the temp dir) and veth pair
    with `ip`, routes the address to the host end, and the container joins it (config.json)."""
    name = "crun"

    def __init__(self, ctx, block, short):
        self.ctx, self.block, self.short = ctx, block, short
        self.state = os.path.join(ctx.tmp, "crun-state")
        self.nsdir = os.path.join(ctx.tmp, "netns")
        self.pids = {}
        self.made = set()
        self.split = {}   # start_net, start_crun: the start's two parts

    def id(self, i):
        return "%s-crun-%d" % (self.ctx.tag, i)

    def veth(self, i):
        return "%sc%d" % (self.short, i)

    def base(self):
        return ["crun", "--root", self.state]

    def batch(self, i, which, text):
        f = os.path.join(self.ctx.tmp, "bundles", self.id(i), "ip-%s.batch" % which)
        with open(f, "w") as out:
            out.write(text)
        return f

    def setup(self):
        os.makedirs(self.nsdir, exist_ok=True)
        return 0.0

    def create(self, i):
        """Untimed work outside the start: the bundle."""
        cid = self.id(i)
        d = os.path.join(self.ctx.tmp, "bundles", cid)
        os.makedirs(d, exist_ok=True)
        cfg = oci_config(self.ctx.rootfs, ["/sbin/init"], "/%s-crun/%s" % (self.ctx.tag, cid))
        for ns in cfg["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = os.path.join(self.nsdir, cid)
        t0 = now_ns()
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        self.made.add(i)
        return ms(t0, now_ns())

    def start(self, i):
        """netns + veth + address + route, then `crun create` and `crun start`."""
        cid, v, a = self.id(i), self.veth(i), addr(self.block, "crun", i)
        nsf = os.path.join(self.nsdir, cid)
        t0 = now_ns()
        open(nsf, "w").close()
        self.ctx.run(["unshare", "--net=" + nsf, "true"])
        host = ("link add %s type veth peer name eth0 netns %s\n"
                "link set %s up\n"
                "route add %s/32 dev %s\n" % (v, nsf, v, a, v))
        inside = ("link set lo up\n"
                  "link set eth0 up\n"
                  "addr add %s/32 dev eth0\n"
                  "route add default dev eth0\n" % a)
        self.ctx.run(["ip", "-batch", self.batch(i, "host", host)])
        self.ctx.run(["nsenter", "--net=" + nsf, "ip", "-batch", self.batch(i, "ct", inside)])
        tn = now_ns()
        b = os.path.join(self.ctx.tmp, "bundles", cid)
        self.ctx.run(self.base() + ["create", "--bundle", b, cid])
        self.ctx.run(self.base() + ["start", cid])
        t1 = now_ns()
        self.split.setdefault("start_net", []).append(ms(t0, tn))
        self.split.setdefault("start_crun", []).append(ms(tn, t1))
        out = subprocess.run(self.base() + ["state", cid], capture_output=True, text=True,
                             timeout=10)
        self.pids[i] = json.loads(out.stdout)["pid"] if out.returncode == 0 else 0
        return ms(t0, t1)

    def stop(self, i):
        pid = self.pids.pop(i, 0)
        fd = os.pidfd_open(pid) if pid else None
        t0 = now_ns()
        self.ctx.run(self.base() + ["kill", self.id(i), "KILL"])
        if fd is not None and not wait_exit(fd):
            raise OpFailed("crun: init %d still alive 10 s after kill" % pid)
        return ms(t0, now_ns())

    def remove(self, i):
        """`crun delete` and the network namespace's handle (the veth goes with the namespace)."""
        nsf = os.path.join(self.nsdir, self.id(i))
        t0 = now_ns()
        self.ctx.run(self.base() + ["delete", self.id(i)])
        self.ctx.run(["umount", nsf])
        os.unlink(nsf)
        t1 = now_ns()
        self.made.discard(i)
        return ms(t0, t1)

    def cgroups(self):
        p = os.path.join(MEMCG, self.ctx.tag + "-crun")
        return [p] if os.path.isdir(p) else []

    def own_pids(self):
        return []   # crun leaves no process of its own behind (no conmon, no shim)

    def put_helper(self, i):
        pass        # in the shared rootfs

    def meminfo_cmd(self, i, n, gap):
        return self.base() + ["exec", self.id(i), "/bin/density-meminfo", str(n), "/proc/meminfo",
                              str(gap)]

    def cleanup_all(self):
        if os.path.isdir(self.state) and shutil.which("crun"):
            out = subprocess.run(self.base() + ["list", "-q"], capture_output=True, text=True)
            for cid in out.stdout.split():
                self.ctx.quiet(self.base() + ["delete", "--force", cid])
        if os.path.isdir(self.nsdir):
            for e in os.listdir(self.nsdir):
                f = os.path.join(self.nsdir, e)
                self.ctx.quiet(["umount", "-l", f])
                try:
                    os.unlink(f)
                except OSError:
                    pass
        self.made.clear()


class LxcT:
    """LXC 5, privileged, own lxcpath; veth in router mode (host route to the address, proxy
    ARP), host-side name bb<pid>l<i>; each container has a hard-linked copy of the rootfs (made
    outside the timed create: lxc-destroy deletes it)."""
    name = "lxc"

    def __init__(self, ctx, block, short):
        self.ctx, self.block, self.short = ctx, block, short
        self.path = os.path.join(ctx.tmp, "lxcpath")
        self.made = set()

    def id(self, i):
        return "%s-lxc-%d" % (self.ctx.tag, i)

    def p(self, *a):
        return list(a[:1]) + ["-P", self.path] + list(a[1:])

    def setup(self):
        os.makedirs(self.path, exist_ok=True)
        return 0.0

    def create(self, i):
        n = self.id(i)
        d = os.path.join(self.path, n)
        os.makedirs(d, exist_ok=True)
        subprocess.run(["cp", "-al", self.ctx.rootfs, os.path.join(d, "rootfs")], check=True)
        conf = os.path.join(self.ctx.tmp, n + ".conf")
        a = addr(self.block, "lxc", i)
        with open(conf, "w") as f:
            f.write("\n".join([
                "lxc.net.0.type = veth", "lxc.net.0.veth.mode = router",
                "lxc.net.0.veth.pair = %s%s" % (self.short + "l", i), "lxc.net.0.name = eth0",
                "lxc.net.0.flags = up", "lxc.net.0.ipv4.address = %s/32" % a,
                "lxc.net.0.ipv4.gateway = dev",
                "lxc.apparmor.profile = unconfined", "lxc.mount.auto = proc:mixed sys:ro",
                "lxc.uts.name = berth-bench", "lxc.signal.halt = SIGUSR2",
                "lxc.signal.stop = SIGKILL", "lxc.rootfs.path = dir:%s/rootfs" % d, ""]))
        self.made.add(i)
        return self.ctx.run(self.p("lxc-create", "-n", n, "-t", "none", "-f", conf))

    def start(self, i):
        return self.ctx.run(self.p("lxc-start", "-n", self.id(i), "-d"))

    def stop(self, i):
        return self.ctx.run(self.p("lxc-stop", "-n", self.id(i), "-k"))

    def remove(self, i):
        t = self.ctx.run(self.p("lxc-destroy", "-n", self.id(i)))
        self.made.discard(i)
        return t

    def cgroups(self):
        out = []
        want = "lxc.payload." + self.ctx.tag + "-lxc-"
        for dp, dirs, _ in os.walk(MEMCG):
            if dp[len(MEMCG):].count("/") >= 3:
                dirs[:] = []
                continue
            for d in list(dirs):
                if d.startswith(want):
                    out.append(os.path.join(dp, d))
                    dirs.remove(d)
        return out

    def own_pids(self):
        want = self.path.encode()
        out = []
        for p in all_pids():
            argv = proc_cmdline(p)
            if argv and argv[0].startswith(b"[lxc monitor]") and want in b" ".join(argv):
                out.append(p)
        return out

    def put_helper(self, i):
        pass        # in the rootfs copy

    def meminfo_cmd(self, i, n, gap):
        return self.p("lxc-attach", "-n", self.id(i), "--", "/bin/density-meminfo", str(n),
                      "/proc/meminfo", str(gap))

    def cleanup_all(self):
        if not os.path.isdir(self.path) or not shutil.which("lxc-stop"):
            return
        for n in os.listdir(self.path):
            if n.startswith(self.ctx.tag):
                self.ctx.quiet(self.p("lxc-stop", "-n", n, "-k"))
                self.ctx.quiet(self.p("lxc-destroy", "-n", n, "-f"))
        self.made.clear()


# ---------------------------------------------------------------------------------------------
# One phase: one tool, N containers.

def meminfo_us(tool, i, reads, gap_us=0, repeats=3):
    """The helper inside container i, `repeats` times: {mean, median, p99} µs per /proc/meminfo
    read (open, read to EOF, close), each the median over the repeats. gap_us: sleep between
    reads (0: back to back, which in a Berth VPS meets its /proc server's per-CT request pace)."""
    vals = []
    for _ in range(repeats):
        p = subprocess.run(tool.meminfo_cmd(i, reads, gap_us), capture_output=True, text=True,
                           timeout=300, env=getattr(tool, "env", None))
        try:
            vals.append([float(x) for x in p.stdout.split()[:3]])
        except (IndexError, ValueError):
            raise OpFailed("meminfo helper in %s: rc %d: %s %s" % (
                tool.id(i), p.returncode, p.stdout[-200:], p.stderr[-300:]))
    return {k: statistics.median(v[j] for v in vals)
            for j, k in enumerate(("mean", "median", "p99"))}


def meminfo_all(tool, i, args):
    return {"b2b": meminfo_us(tool, i, args.reads),
            "spaced": meminfo_us(tool, i, args.spaced, args.gap_us)}


def memory_now(ctx, tool, caller_cg):
    mi = meminfo()
    cgs = tool.cgroups()
    ct_pids = [p for c in cgs for p in cg_pids(c)]
    own = tool.own_pids()
    others = others_usage_kib(ctx.tag, caller_cg)
    return {
        "mem_available_kib": mi["MemAvailable"], "mem_free_kib": mi["MemFree"],
        "slab_kib": mi.get("Slab", 0), "percpu_kib": mi.get("Percpu", 0),
        "slab_caches": slab_caches(),
        "ct_cgroups_kib": sum(cg_usage_kib(c) for c in cgs),
        "ct_cgroups_kmem_kib": sum(cg_kmem_kib(c) for c in cgs),
        "ct_cgroups_stat": {k: sum(cg_stat_kib(c)[k] for c in cgs)
                            for k in ("total_rss", "total_cache")},
        "ct_cgroups": len(cgs),
        "caller_cg_kib": cg_usage_kib(caller_cg),
        "caller_cg_kmem_kib": cg_kmem_kib(caller_cg),
        "caller_cg_stat": cg_stat_kib(caller_cg),
        "ct_procs": pss_of(ct_pids),
        "tool_procs": dict(pss_of(own), pids=own,
                           comms=sorted(set(b" ".join(proc_cmdline(p)[:2]).decode(errors="replace")
                                            for p in own))),
        "others_kib": others[0], "others_anon_kib": others[1],
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def links_now():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return set(line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line)


def log(msg):
    print("density: " + msg, file=sys.stderr, flush=True)


def run_phase(ctx, tool, n, args):
    res = {"tool": tool.name, "n": n, "failed": None}
    # The caller's own memory cgroup: a fresh group under the one this process is in, so what the
    # tool charges to whoever runs it (Berth's instance processes, the network namespaces crun's
    # driver makes) is counted apart.
    parent = own_memcg()
    caller_cg = os.path.join(parent, "%s-%s-caller" % (ctx.tag, tool.name))
    os.makedirs(caller_cg, exist_ok=True)
    with open(os.path.join(caller_cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    res["caller_cg"] = caller_cg
    try:
        res["setup_ms"] = tool.setup()
        links0 = links_now()
        # Dirty pages (of whatever ran before: a build, the previous tool's removals) are not
        # counted in MemAvailable until written back, and their writeback during the phase
        # raised it by hundreds of MiB (a Berth phase once "dropped" -2258 KiB per container):
        # written back before the baseline, and again before each later reading.
        os.sync()
        time.sleep(args.settle_before)
        res["base"] = memory_now(ctx, tool, caller_cg)
        log("%s: baseline MemAvailable %d KiB; creating %d" % (
            tool.name, res["base"]["mem_available_kib"], n))
        creates, starts, stops, removes = [], [], [], []
        res["samples"] = {"create": creates, "start": starts, "stop": stops, "remove": removes}
        for i in range(n):
            creates.append(tool.create(i))
        log("%s: %d created; starting" % (tool.name, n))
        t0 = now_ns()
        for i in range(n):
            starts.append(tool.start(i))
            if i == 0:   # with one running; its time is left out of the start's wall time
                th = now_ns()
                tool.put_helper(0)
                res["meminfo_1"] = meminfo_all(tool, 0, args)
                t0 += now_ns() - th
            if (i + 1) % 100 == 0:
                log("%s: %d running (last start %.1f ms)" % (tool.name, i + 1, starts[-1]))
        res["start_wall_ms"] = ms(t0, now_ns())
        log("%s: %d running; settling %d s" % (tool.name, n, args.settle))
        os.sync()
        time.sleep(args.settle)
        res["running"] = memory_now(ctx, tool, caller_cg)
        if tool.name == "berth":
            res["list_ms"] = statistics.median(tool.list_ms() for _ in range(5))
            res["list_ubc_ms"] = statistics.median(
                tool.list_ms("ctid,numproc,status,kmemsize,physpages") for _ in range(5))
        res["meminfo_n"] = meminfo_all(tool, 0, args)
        if args.hold:
            log("%s: all %d running; holding %d s (--hold)" % (tool.name, n, args.hold))
            time.sleep(args.hold)
        log("%s: stopping and removing" % tool.name)
        t0 = now_ns()
        for i in range(n):
            stops.append(tool.stop(i))
            removes.append(tool.remove(i))
            if (i + 1) % 100 == 0:
                log("%s: %d stopped and removed (last %.1f + %.1f ms)" % (
                    tool.name, i + 1, stops[-1], removes[-1]))
        res["stop_wall_ms"] = ms(t0, now_ns())
        res["split"] = getattr(tool, "split", {})
        res["retries"] = getattr(tool, "retries", [])
        os.sync()
        time.sleep(args.settle)
        res["after"] = memory_now(ctx, tool, caller_cg)
        res["links_left"] = sorted(links_now() - links0)
        # The kernel gives memory back for a while after the last removal (memory cgroups
        # taken offline by workers, one walk of every superblock's lists each; frees deferred to
        # RCU): MemAvailable is read again every 2 s until it has not risen by more than 1 MiB
        # in 10 s, or --steady-max s have passed.
        t_steady = time.time()
        seen = [(t_steady, res["after"]["mem_available_kib"])]
        while time.time() - t_steady < args.steady_max:
            time.sleep(2)
            seen.append((time.time(), meminfo()["MemAvailable"]))
            old = [v for t, v in seen if seen[-1][0] - t >= 10]
            if old and seen[-1][1] - old[-1] <= 1024:
                break
        res["after_steady"] = {"mem_available_kib": seen[-1][1],
                               "waited_s": round(seen[-1][0] - t_steady, 1)}
    except (OpFailed, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
        res["failed"] = str(e)
        log("%s: FAILED: %s" % (tool.name, e))
    finally:
        tool.cleanup_all()
        # Back to the parent group, then the caller group goes (its charges move up).
        with open(os.path.join(parent, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        for _ in range(50):
            try:
                os.rmdir(caller_cg)
                break
            except FileNotFoundError:
                break
            except OSError:
                for p in cg_pids(caller_cg):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.1)
    return res


# ---------------------------------------------------------------------------------------------
# Report.

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def per_ct(res, key, sub=None):
    a, b = res["base"], res["running"]
    va, vb = (a[key], b[key]) if sub is None else (a[key][sub], b[key][sub])
    return (vb - va) / res["n"]


def report(results, window):
    ok = [r for r in results if not r.get("failed") and "after" in r]
    for r in results:
        if r.get("failed"):
            print("%s: FAILED: %s" % (r["tool"], r["failed"]))
    if not ok:
        return
    names = [r["tool"] for r in ok]
    if os.environ.get("BERTH_CREATE_ARGS"):
        print("\nberth create ... %s (BERTH_CREATE_ARGS)" % os.environ["BERTH_CREATE_ARGS"])
    col = "%14s"
    print("\n%-44s" % "" + "".join(col % ("%s (%d)" % (r["tool"], r["n"])) for r in ok))

    def row(label, vals, f="%.1f"):
        print("%-44s" % label + "".join(col % (f % v if isinstance(v, (int, float)) else v)
                                        for v in vals))

    for op, label in (("start", "start"), ("stop", "stop"), ("remove", "remove")):
        row("%s: total of all, s" % label, [sum(r["samples"][op]) / 1000 for r in ok], "%.2f")
        row("%s: per container, mean ms" % label,
            [sum(r["samples"][op]) / r["n"] for r in ok])
        row("%s: median ms" % label, [med(r["samples"][op]) for r in ok])
        row("%s: first %d median ms" % (label, window),
            [med(r["samples"][op][:window]) for r in ok])
        row("%s: last %d median ms" % (label, window),
            [med(r["samples"][op][-window:]) for r in ok])
    row("stop+remove: per container, mean ms",
        [(sum(r["samples"]["stop"]) + sum(r["samples"]["remove"])) / r["n"] for r in ok])
    row("create (before the starts): median ms", [med(r["samples"]["create"]) for r in ok])
    for r in ok:
        split = r.get("split", {})
        if split:
            print("%s, per step: median ms of all, of the first %d, of the last %d" % (
                r["tool"], window, window))
        for k, xs in split.items():
            if max(med(xs), med(xs[-window:])) >= 0.5:   # the steps that cost something
                print("  %-36s %8.1f %8.1f %8.1f" % (k, med(xs), med(xs[:window]),
                                                     med(xs[-window:])))
    print()
    row("MemAvailable drop per container, KiB",
        [-per_ct(r, "mem_available_kib") for r in ok], "%.0f")
    row("  others' cgroups' anon grew meanwhile, KiB/ct",
        [per_ct(r, "others_anon_kib") for r in ok], "%.0f")
    row("  drop less the others' anon growth, KiB/ct",
        [-per_ct(r, "mem_available_kib") - per_ct(r, "others_anon_kib") for r in ok], "%.0f")
    row("  Slab + Percpu growth per container, KiB",
        [per_ct(r, "slab_kib") + per_ct(r, "percpu_kib") for r in ok], "%.0f")
    row("containers' memory cgroups per ct, KiB",
        [r["running"]["ct_cgroups_kib"] / r["n"] for r in ok], "%.0f")
    row("  of which kmem, KiB", [r["running"]["ct_cgroups_kmem_kib"] / r["n"] for r in ok], "%.0f")
    row("caller's memory cgroup growth per ct, KiB", [per_ct(r, "caller_cg_kib") for r in ok],
        "%.0f")
    row("  of which kmem, KiB", [per_ct(r, "caller_cg_kmem_kib") for r in ok], "%.0f")
    row("  of which page cache, KiB", [per_ct(r, "caller_cg_stat", "total_cache") for r in ok],
        "%.0f")
    row("  of which anon, KiB", [per_ct(r, "caller_cg_stat", "total_rss") for r in ok], "%.0f")
    row("PSS of container processes per ct, KiB",
        [r["running"]["ct_procs"]["pss_kib"] / r["n"] for r in ok], "%.0f")
    row("  container processes (count)", [r["running"]["ct_procs"]["count"] for r in ok], "%d")
    row("tool's own processes (count)", [r["running"]["tool_procs"]["count"] for r in ok], "%d")
    row("tool's own processes PSS total, KiB",
        [r["running"]["tool_procs"]["pss_kib"] for r in ok], "%.0f")
    row("tool's own processes PSS per ct, KiB",
        [r["running"]["tool_procs"]["pss_kib"] / r["n"] for r in ok], "%.0f")
    row("MemAvailable regained at removal per ct, KiB",
        [(r["after"]["mem_available_kib"] - r["running"]["mem_available_kib"]) / r["n"]
         for r in ok], "%.0f")
    row("  plus the others' anon growth, KiB/ct",
        [(r["after"]["mem_available_kib"] - r["running"]["mem_available_kib"]
          + r["after"]["others_anon_kib"] - r["running"]["others_anon_kib"]) / r["n"]
         for r in ok], "%.0f")
    row("MemAvailable after all removed - base, KiB",
        [r["after"]["mem_available_kib"] - r["base"]["mem_available_kib"] for r in ok], "%.0f")
    row("  once steady (see --steady-max), KiB",
        [r["after_steady"]["mem_available_kib"] - r["base"]["mem_available_kib"]
         if "after_steady" in r else float("nan") for r in ok], "%.0f")
    row("  seconds waited for steady, after the settle",
        [r["after_steady"]["waited_s"] if "after_steady" in r else float("nan") for r in ok],
        "%.0f")
    row("  others' cgroups' anon grew meanwhile, KiB",
        [r["after"]["others_anon_kib"] - r["base"]["others_anon_kib"] for r in ok], "%.0f")
    row("  difference less the others' anon growth, KiB",
        [r["after"]["mem_available_kib"] - r["base"]["mem_available_kib"]
         + r["after"]["others_anon_kib"] - r["base"]["others_anon_kib"] for r in ok], "%.0f")
    for r in ok:
        a, b = r["base"].get("slab_caches", {}), r["running"].get("slab_caches", {})
        grew = sorted(((b.get(k, 0) - a.get(k, 0)) / r["n"], k) for k in set(a) | set(b))
        top = [(v, k) for v, k in reversed(grew) if v >= 1][:12]
        if top:
            print("%s: slab caches that grew most, KiB per container: %s" % (
                r["tool"], ", ".join("%s %.1f" % (k, v) for v, k in top)))
    print()
    for key, label in (("meminfo_1", "1 running"), ("meminfo_n", "all running")):
        row("/proc/meminfo back-to-back, %s, us" % label,
            [r[key]["b2b"]["mean"] if key in r else "-" for r in ok], "%.1f")
        row("/proc/meminfo spaced, %s, median us" % label,
            [r[key]["spaced"]["median"] if key in r else "-" for r in ok], "%.1f")
        row("/proc/meminfo spaced, %s, p99 us" % label,
            [r[key]["spaced"]["p99"] if key in r else "-" for r in ok], "%.1f")
    row("berth list -a, all running, ms (median of 5)", [r.get("list_ms", "-") for r in ok])
    row("  with 2 beancounter columns, ms", [r.get("list_ubc_ms", "-") for r in ok])
    for r in ok:
        if r.get("retries"):
            print("%s: %d stops failed on a disk held by another mount namespace and were tried "
                  "again: %s" % (r["tool"], len(r["retries"]),
                                 " ".join(x["ct"] for x in r["retries"][:10])))
        own = r["running"]["tool_procs"]
        if own["comms"]:
            print("%s's own processes: %s" % (r["tool"], ", ".join(own["comms"][:4])
                                            + (" ..." if len(own["comms"]) > 4 else "")))
        if r.get("links_left"):
            print("%s: links added during the phase and still there: %s" % (
                r["tool"], " ".join(r["links_left"][:10])))
    print("(load average base/running/after: %s)" % "; ".join(
        "%s %s/%s/%s" % (r["tool"], r["base"]["loadavg"][0], r["running"]["loadavg"][0],
                         r["after"]["loadavg"][0]) for r in ok))


def markdown(path, window=20):
    """The README's tables from a results file (bench/density.py --markdown FILE)."""
    with open(path) as f:
        results = json.load(f)["results"]
    ok = [r for r in results if "running" in r and "samples" in r]
    print("| per container | " + " | ".join("%s (%d)" % (r["tool"], r["n"]) for r in ok) + " |")
    print("| --- |" + " ---: |" * len(ok))

    def row(label, vals, f="%.1f"):
        print("| %s | %s |" % (label, " | ".join(
            f % v if isinstance(v, (int, float)) else str(v) for v in vals)))

    def done(r, op):
        return r["samples"][op] if r["samples"][op] else [float("nan")]
    for op, label in (("start", "start"), ("stop", "stop"), ("remove", "remove")):
        xs = [done(r, op) for r in ok]
        row("%s: all, s" % label, [sum(x) / 1000 for x in xs], "%.1f")
        row("%s: mean ms" % label, [sum(x) / len(x) for x in xs])
        row("%s: median ms (first %d / last %d)" % (label, window, window),
            ["%.1f (%.1f / %.1f)" % (med(x), med(x[:window]), med(x[-window:])) for x in xs],
            "%s")
    row("stop + remove: mean ms",
        [sum(done(r, "stop")) / len(done(r, "stop"))
         + sum(done(r, "remove")) / len(done(r, "remove")) for r in ok])
    n = [r["n"] for r in ok]
    row("MemAvailable drop, KiB", [-per_ct(r, "mem_available_kib") for r in ok], "%.0f")
    row("  less other users' anon growth, KiB",
        [-per_ct(r, "mem_available_kib") - per_ct(r, "others_anon_kib") for r in ok], "%.0f")
    row("  Slab + Percpu growth, KiB",
        [per_ct(r, "slab_kib") + per_ct(r, "percpu_kib") for r in ok], "%.0f")
    row("containers' memory cgroups, KiB (kmem)",
        ["%.0f (%.0f)" % (r["running"]["ct_cgroups_kib"] / k,
                          r["running"]["ct_cgroups_kmem_kib"] / k) for r, k in zip(ok, n)], "%s")
    row("caller's memory cgroup growth, KiB (kmem / page cache)",
        ["%.0f (%.0f / %s)" % (per_ct(r, "caller_cg_kib"), per_ct(r, "caller_cg_kmem_kib"),
                               "%.0f" % per_ct(r, "caller_cg_stat", "total_cache")
                               if "caller_cg_stat" in r["base"] else "-") for r in ok], "%s")
    row("PSS of the containers' processes, KiB",
        [r["running"]["ct_procs"]["pss_kib"] / k for r, k in zip(ok, n)], "%.0f")
    row("tool's own processes: count, PSS total KiB, PSS per container",
        ["%d, %d, %.0f" % (r["running"]["tool_procs"]["count"],
                           r["running"]["tool_procs"]["pss_kib"],
                           r["running"]["tool_procs"]["pss_kib"] / k) for r, k in zip(ok, n)], "%s")
    row("MemAvailable after all removed - before, MiB (less others' anon growth)",
        ["%.0f (%.0f)" % ((r["after"]["mem_available_kib"] - r["base"]["mem_available_kib"]) / 1024,
                          (r["after"]["mem_available_kib"] - r["base"]["mem_available_kib"]
                           + r["after"]["others_anon_kib"] - r["base"]["others_anon_kib"]) / 1024)
         if "after" in r else "-" for r in ok], "%s")
    for key, label in (("meminfo_1", "1 running"), ("meminfo_n", "all running")):
        row("/proc/meminfo read, %s: back to back mean / spaced median / p99, us" % label,
            ["%.0f / %.0f / %.0f" % (r[key]["b2b"]["mean"], r[key]["spaced"]["median"],
                                     r[key]["spaced"]["p99"]) if key in r and "b2b" in r[key]
             else "-" for r in ok], "%s")
    row("`berth list -a` (with 2 beancounter columns), ms",
        ["%.0f (%.0f)" % (r["list_ms"], r["list_ubc_ms"]) if "list_ms" in r else "-"
         for r in ok], "%s")


# ---------------------------------------------------------------------------------------------

def pick_block(tag):
    """A block of 1000 addresses in 198.18.0.0/16 (and 2 x 1000 in 198.19) no route covers."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                            text=True).stdout
    used = set()
    for line in routes.split("\n"):
        w = line.split()
        if w and w[0] != "local" and w[0].startswith("198.1"):
            parts = w[0].split("/")[0].split(".")
            if len(parts) == 4:
                used.add((parts[1], int(parts[2]) // 4))
        elif len(w) > 1 and w[0] in ("local", "broadcast") and w[1].startswith("198.1"):
            parts = w[1].split(".")
            used.add((parts[1], int(parts[2]) // 4))
    pid = int(tag.rsplit("-", 1)[1])
    for k in range(64):
        b = (pid + k) % 64
        if ("18", b) not in used and ("19", (b % 32)) not in used and \
                ("19", 32 + b % 32) not in used:
            return b
    raise SystemExit("density: no free address block in 198.18.0.0/15")


def make_tool(ctx, name, args, block):
    short = "bb%d" % (int(ctx.tag.rsplit("-", 1)[1]))
    if name == "berth":
        return BerthT(ctx, args.berth, block, args.helper)
    if name == "crun":
        return CrunT(ctx, block, short)
    if name == "lxc":
        return LxcT(ctx, block, short)
    raise SystemExit("density: unknown tool %s" % name)


def on_signal(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def phase_main(args):
    """One tool's phase; for crun and LXC inside the private mount namespace."""
    ctx = Ctx(args.tag, args.tmp)
    ctx.log_path = os.path.join(args.tmp, "commands-%s.log" % args.phase)
    ctx.open_log()
    tool = make_tool(ctx, args.phase, args, args.block)
    res = {"tool": args.phase, "failed": "interrupted"}
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        if args.phase != "berth":
            lifecycle.private_cgroupfs(args.host_mntns)
            if not os.path.isdir(ctx.rootfs):
                lifecycle.build_rootfs(ctx.rootfs, args.busybox)
                shutil.copy2(args.helper, os.path.join(ctx.rootfs, "bin", "density-meminfo"))
        res = run_phase(ctx, tool, args.n, args)
    except KeyboardInterrupt:
        log("%s: interrupted, cleaning up" % args.phase)
        tool.cleanup_all()
        res = {"tool": args.phase, "failed": "interrupted"}
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if args.phase != "berth":
            for cg in lifecycle.tagged_cgroups(ctx.tag):
                lifecycle.remove_cgroup_tree(cg)
            lifecycle.umount_under(ctx.tmp)
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if not res.get("failed") else 1


def sweep_main(args):
    ctx = Ctx(args.tag, args.tmp)
    problems = []
    for name in ("berth", "crun", "lxc"):
        t = make_tool(ctx, name, args, 0)
        try:
            t.sweep(args.n) if name == "berth" else t.cleanup_all()
        except Exception as e:   # keep sweeping
            problems.append("%s: %s" % (name, e))
    for cg in lifecycle.tagged_cgroups(ctx.tag):
        if not lifecycle.remove_cgroup_tree(cg):
            problems.append("cgroup %s not removed" % cg)
    # The caller groups are nested in the driver's own memory cgroup.
    for dp, dirs, _ in os.walk(MEMCG):
        if dp[len(MEMCG):].count("/") >= 4:
            dirs[:] = []
        for d in list(dirs):
            if ctx.tag in d:
                if not lifecycle.remove_cgroup_tree(os.path.join(dp, d)):
                    problems.append("cgroup %s not removed" % os.path.join(dp, d))
                dirs.remove(d)
    for h in os.listdir(lifecycle.CG):
        d = os.path.join(lifecycle.CG, h, "lxc.pivot")
        if os.path.isdir(d) and d not in args.preexist.split(":"):
            try:
                os.rmdir(d)
            except OSError:
                pass
    lock = "/run/lxc/lock" + ctx.tmp
    if os.path.isdir(lock):
        shutil.rmtree(lock, ignore_errors=True)
    if os.path.isdir("/run/lxc") and "/run/lxc" not in args.preexist.split(":"):
        shutil.rmtree("/run/lxc", ignore_errors=True)
    for p in problems:
        print("sweep: " + p, file=sys.stderr)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--tools", default="berth,crun,lxc")
    ap.add_argument("--berth", default="build/berth")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--helper", default="")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--settle", type=float, default=10.0)
    ap.add_argument("--settle-before", type=float, default=3.0)
    ap.add_argument("--steady-max", type=float, default=90.0,
                    help="after the removals' settle, at most this many seconds waiting for "
                         "MemAvailable to stop rising")
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--spaced", type=int, default=300)
    ap.add_argument("--gap-us", type=int, default=5000)
    ap.add_argument("--block", type=int, default=0)
    ap.add_argument("--hold", type=int, default=0, help="seconds to wait with all running, after "
                    "the measurements (to look at them from another shell)")
    ap.add_argument("--preexist", default="")
    ap.add_argument("--host-mntns", default="")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--phase", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--markdown", metavar="RESULTS", help="print the README's tables of a results "
                    "file and exit")
    if "--markdown" in sys.argv:
        markdown(sys.argv[sys.argv.index("--markdown") + 1])
        return 0
    args = ap.parse_args()
    if args.sweep:
        return sweep_main(args)
    if args.phase:
        return phase_main(args)

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    results = []
    rc = 0
    block = pick_block(args.tag)
    log("run %s: %d per tool, tools %s, addresses block %d, temp %s" % (
        args.tag, args.n, args.tools, block, args.tmp))
    if not args.helper:
        args.helper = os.path.join(args.tmp, "density-meminfo")
        subprocess.run(["cc", "-O2", "-static", "-o", args.helper,
                        os.path.join(HERE, "density-meminfo.c")], check=True)
    t0 = time.monotonic()
    try:
        for name in args.tools.split(","):
            out = os.path.join(args.tmp, "phase-%s.json" % name)
            argv = [sys.executable, "-B", os.path.abspath(__file__), "--phase", name,
                    "--tag", args.tag, "--tmp", args.tmp, "-n", str(args.n), "--berth", args.berth,
                    "--busybox", args.busybox, "--helper", args.helper, "--settle",
                    str(args.settle), "--settle-before", str(args.settle_before),
                    "--steady-max", str(args.steady_max), "--reads",
                    str(args.reads), "--spaced", str(args.spaced), "--gap-us", str(args.gap_us),
                    "--block", str(block), "--hold", str(args.hold), "--out", out]
            if name != "berth":
                argv = ["unshare", "-m", "--propagation", "private", "--"] + argv + [
                    "--host-mntns", os.readlink("/proc/self/ns/mnt")]
            p = subprocess.Popen(argv)
            try:
                p.wait()
            except KeyboardInterrupt:
                p.send_signal(signal.SIGTERM)
                p.wait()
                raise
            try:
                with open(out) as f:
                    results.append(json.load(f))
            except (OSError, ValueError):
                results.append({"tool": name, "failed": "phase exited %d without results"
                                % p.returncode})
            if results[-1].get("failed"):
                rc = 1
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    elapsed = time.monotonic() - t0
    report(results, args.window)
    print("run %s: %.0f s; tools one after another (not interleaved), %d containers each" % (
        args.tag, elapsed, args.n))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump({"meta": {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                                "kernel": os.uname().release, "n": args.n, "tools": args.tools,
                                "berth_create_args": os.environ.get("BERTH_CREATE_ARGS", ""),
                                "settle_s": args.settle, "reads": args.reads,
                                "spaced": args.spaced, "gap_us": args.gap_us,
                                "elapsed_s": round(elapsed, 1)},
                       "results": results}, f, indent=1)
        print("raw results: %s" % args.output)
    return rc


if __name__ == "__main__":
    sys.exit(main())
