#!/usr/bin/env python3
"""Container lifecycle benchmark: Berth against crun, runc, LXC, systemd-nspawn and a bare floor.

Driven by bench/lifecycle (which puts this process in a private mount namespace). Owns: the shared
busybox root file system, the private v1-only cgroupfs, the interleaved rounds, the statistics and
the results file, and the cleanup of everything the run made (also reachable as `--sweep` from
the wrapper's trap). The per-tool drivers are in lifecycle_tools.py. Every host object carries the run tag `berth-bench-<pid>` so leftovers can be found.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

from lifecycle_tools import Berth, Ctx, Floor, Lxc, Nspawn, Oci, OpFailed

CG = "/sys/fs/cgroup"
OPS = ["create", "start", "exec", "exec_b2b", "stop", "destroy", "run", "run_b2b"]
RUN_DIRS = ["/run/lxc", "/run/systemd/nspawn"]


# ---------------------------------------------------------------------------------------------
# Rounds.

def lifecycle(ctx, tool, r, b2b):
    """One container's life on one tool. Raises OpFailed (with the op name) on the first failure."""
    op = None
    try:
        for op in ("create", "start", "exec", "exec_b2b", "stop", "destroy"):
            if op not in tool.ops:
                continue
            if op == "exec_b2b":
                for _ in range(b2b):
                    ctx.add(tool.name, op, tool.exec(r))
                continue
            ctx.idle_gap()
            ctx.add(tool.name, op, getattr(tool, op)(r))
        if "run" in tool.ops:
            op = "run"
            ctx.idle_gap()
            ctx.add(tool.name, "run", tool.run(r, 0))
            op = "run_b2b"
            for k in range(1, b2b + 1):
                ctx.add(tool.name, "run_b2b", tool.run(r, k))
    except (OpFailed, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
        tool.abort(r)
        raise OpFailed("%s: %s" % (op, e))


def run_rounds(ctx, tools, n, b2b):
    peer_fail = {}
    for r in range(n):
        k = r % len(tools)
        order = tools[k:] + tools[:k]
        for tool in order:
            if tool.disabled:
                continue
            try:
                lifecycle(ctx, tool, r, b2b)
            except OpFailed as e:
                ctx.failures.append({"tool": tool.name, "round": r, "error": str(e)})
                if tool.name == "berth":
                    tool.disabled = "round %d: %s" % (r, e)
                    print("berth: skipping Berth from now on, a step failed: %s" % tool.disabled,
                          file=sys.stderr)
                else:
                    peer_fail[tool.name] = peer_fail.get(tool.name, 0) + 1
                    print("%s: round %d failed: %s" % (tool.name, r, e), file=sys.stderr)
                    if peer_fail[tool.name] >= 3:
                        tool.disabled = "failed 3 times; last: %s" % e
        print("round %d/%d done" % (r + 1, n), file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Root file system, private cgroupfs, cleanup.

def build_rootfs(path, busybox):
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run",
              "root", "var"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(path, "bin/busybox"))
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        dst = os.path.join(path, a)
        if not os.path.lexists(dst):
            os.symlink("/bin/busybox", dst)
    files = {"etc/inittab": "::sysinit:/bin/true\n",   # init idles: no gettys, no rcS
             "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
             "etc/group": "root:x:0:\n",
             "etc/hostname": "berth-bench\n",
             "etc/os-release": "NAME=busybox\nID=busybox\n"}   # nspawn refuses a root without it
    for rel, text in files.items():
        with open(os.path.join(path, rel), "w") as f:
            f.write(text)


def private_cgroupfs(host_mntns):
    """crun 1.8 refuses the hybrid layout: over /sys/fs/cgroup put a tmpfs with only the v1
    hierarchies mounted again (the same host hierarchies). Only in a private mount namespace."""
    if not host_mntns or os.readlink("/proc/self/ns/mnt") == host_mntns:
        raise SystemExit("lifecycle.py: refusing to remount /sys/fs/cgroup in the host namespace")
    v1, links = [], []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ")
            point = pre.split()[4]
            fstype, _src, sopts = post.split()[:3]
            if fstype == "cgroup" and os.path.dirname(point) == CG:
                opts = [o for o in sopts.split(",") if o not in ("rw", "ro")]
                if not opts:
                    continue
                if any(o.startswith("name=") for o in opts):
                    opts = ["none"] + opts
                v1.append((os.path.basename(point), ",".join(opts)))
    for e in os.listdir(CG):
        if os.path.islink(os.path.join(CG, e)):
            links.append((e, os.readlink(os.path.join(CG, e))))
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "berth-bench-cgroupfs", CG],
                   check=True)
    for name, opts in v1:
        os.mkdir(os.path.join(CG, name))
        subprocess.run(["mount", "-t", "cgroup", "-o", opts, "cgroup", os.path.join(CG, name)],
                       check=True)
    for name, target in links:
        os.symlink(target, os.path.join(CG, name))
    return [n for n, _ in v1]


def tagged_cgroups(tag):
    found = []
    for h in sorted(os.listdir(CG)):
        base = os.path.join(CG, h)
        if os.path.islink(base) or not os.path.isdir(base):
            continue
        for dirpath, dirnames, _ in os.walk(base):
            depth = dirpath[len(base):].count("/")
            if depth >= 4:
                dirnames[:] = []
                continue
            for d in list(dirnames):
                if tag in d:
                    found.append(os.path.join(dirpath, d))
                    dirnames.remove(d)
    return found


def remove_cgroup_tree(top):
    dirs = [dp for dp, _, _ in os.walk(top)]
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                for pid in f.read().split():
                    if int(pid) == os.getpid():
                        move_self_to_root(os.path.dirname(top))
                    else:
                        os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    for attempt in range(50):
        left = False
        for d in sorted(dirs, key=len, reverse=True):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                left = True
        if not left:
            return True
        time.sleep(0.05)
    return False


def move_self_to_root(hier_root):
    while os.path.dirname(hier_root) != CG and hier_root != CG:
        hier_root = os.path.dirname(hier_root)
    with open(os.path.join(hier_root, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def umount_under(path):
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            p = line.split()[4].replace("\\040", " ")
            if p == path or p.startswith(path + "/"):
                points.append(p)
    for p in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)


def cleanup(ctx, tools, preexist, berth_rounds=None):
    """Idempotent; safe to call from the driver's finally and again from the wrapper's trap."""
    problems = []
    for t in tools:
        try:
            if isinstance(t, Berth):
                t.cleanup_all(berth_rounds)
            else:
                t.cleanup_all()
        except Exception as e:  # keep cleaning whatever one tool did
            problems.append("%s cleanup: %s" % (t.name, e))
    for cg in tagged_cgroups(ctx.tag):
        if not remove_cgroup_tree(cg):
            problems.append("cgroup %s not removed" % cg)
    for h in os.listdir(CG):   # LXC's monitor pivot cgroups, only if this run made them
        d = os.path.join(CG, h, "lxc.pivot")
        if os.path.isdir(d) and d not in preexist:
            try:
                os.rmdir(d)
            except OSError as e:
                problems.append("rmdir %s: %s" % (d, e))
    prop = "/run/systemd/nspawn/propagate"
    if os.path.isdir(prop):
        for e in os.listdir(prop):
            if e.startswith(ctx.tag):
                shutil.rmtree(os.path.join(prop, e), ignore_errors=True)
    lock = "/run/lxc/lock" + ctx.tmp
    if os.path.isdir(lock):
        shutil.rmtree(lock, ignore_errors=True)
    for d in RUN_DIRS:
        if os.path.isdir(d) and d not in preexist:
            shutil.rmtree(d, ignore_errors=True)
    if os.path.isdir(ctx.tmp):
        umount_under(ctx.tmp)
        if ctx.log:
            ctx.log.close()
            ctx.log = None
        subprocess.run(["rm", "-rf", "--one-file-system", ctx.tmp])
    return problems


# ---------------------------------------------------------------------------------------------
# Report.

def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x):
    return "-" if x is None else ("%.1f" % x if x < 100 else "%.0f" % x)


def step_medians(ctx):
    """{"start:<step>": (median ms, samples)} of Berth's traced start steps, in step order."""
    samples = ctx.samples.get("berth", {})
    return {op: (median(xs), len(xs)) for prefix in ("start:", "start-child:")
            for op, xs in samples.items() if op.startswith(prefix)}


def report(ctx, tools):
    names = [t.name for t in tools]
    rows = OPS + (["template_create"] if "berth" in ctx.samples else [])
    med = {t: {op: median(ctx.samples.get(t, {}).get(op, [])) for op in rows} for t in names}
    if os.environ.get("BERTH_RESIDENT"):
        print("\none more Berth VPS ran through all rounds (BERTH_RESIDENT): no start was the first")
    if os.environ.get("BERTH_CREATE_ARGS"):
        print("\nberth create ... %s (BERTH_CREATE_ARGS)" % os.environ["BERTH_CREATE_ARGS"])
    print("\nmedian ms (n samples); '-' = not measured or not available for that tool")
    print("%-16s" % "operation" + "".join("%16s" % n for n in names))
    for op in rows:
        cells = []
        for n in names:
            xs = ctx.samples.get(n, {}).get(op, [])
            cells.append("%16s" % ("%s (%d)" % (fmt(med[n][op]), len(xs)) if xs else "-"))
        print("%-16s" % op + "".join(cells))
    steps = step_medians(ctx)
    if steps:
        print("\nBerth start, per step (median ms of BERTH_TRACE; start-child runs in the CT's child"
              " during the host's wait_child)")
        for key, (m, n) in steps.items():
            print("  %-40s %10s (%d)" % (key, fmt(m), n))
        print("  %-40s %10s" % ("start (total, above)", fmt(med.get("berth", {}).get("start"))))
    if "berth" in names:
        peers = [n for n in names if n != "berth"]
        print("\nratio Berth / peer (median over median; < 1 means Berth is faster)")
        print("%-16s" % "operation" + "".join("%16s" % ("berth/" + p) for p in peers))
        for op in OPS:
            b = med["berth"][op]
            cells = ["%16s" % ("%.2f" % (b / med[p][op]) if b and med[p][op] else "-")
                     for p in peers]
            print("%-16s" % op + "".join(cells))
    return med


def versions():
    v = {}
    for tool, argv in (("crun", ["crun", "--version"]), ("runc", ["runc", "--version"]),
                       ("lxc", ["lxc-start", "--version"]),
                       ("nspawn", ["systemd-nspawn", "--version"]),
                       ("floor", ["unshare", "--version"])):
        try:
            v[tool] = subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            v[tool] = None
    return v


# ---------------------------------------------------------------------------------------------

def make_tools(ctx, names, berth_bin, stop_args):
    table = {"floor": lambda: Floor(ctx), "crun": lambda: Oci(ctx, "crun"),
             "runc": lambda: Oci(ctx, "runc"), "lxc": lambda: Lxc(ctx),
             "nspawn": lambda: Nspawn(ctx), "berth": lambda: Berth(ctx, berth_bin, stop_args)}
    return [table[n]() for n in names]


def on_signal(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("-n", "--rounds", type=int, default=20)
    ap.add_argument("--b2b", type=int, default=5, help="back-to-back execs/runs per round")
    ap.add_argument("--idle-ms", type=int, default=100)
    ap.add_argument("--tools", default="floor,crun,runc,lxc,nspawn,berth")
    ap.add_argument("--berth", default="build/berth")
    ap.add_argument("--berth-stop", default="fast", choices=["fast", "plain"])
    ap.add_argument("--halt-init", default="",
                    help="a static init that halts at once (bench/halt-init.c): every container's "
                         "/sbin/init; crun stops with SIGTERM")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--preexist", default="", help="colon-separated paths that existed before")
    ap.add_argument("--host-mntns", default="", help="the wrapper's mount namespace (readlink)")
    ap.add_argument("--sweep", action="store_true", help="only clean up a run (tag, tmp)")
    args = ap.parse_args()

    preexist = set(p for p in args.preexist.split(":") if p)
    ctx = Ctx(args.tag, args.tmp, args)
    stop_args = ["--fast"] if args.berth_stop == "fast" else []
    tools = make_tools(ctx, args.tools.split(","), args.berth, stop_args)

    if args.sweep:
        problems = cleanup(ctx, tools, preexist, berth_rounds=args.rounds)
        for p in problems:
            print("sweep: " + p, file=sys.stderr)
        return 1 if problems else 0

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    status = 0
    berth_cg = os.path.join(CG, "systemd", args.tag + "-driver")
    try:
        ctx.open_log()
        hierarchies = private_cgroupfs(args.host_mntns)
        build_rootfs(ctx.rootfs, args.busybox)
        if args.halt_init:
            init = os.path.join(ctx.rootfs, "sbin", "init")
            os.unlink(init)
            shutil.copy2(args.halt_init, init)
        if os.path.isdir(os.path.join(CG, "systemd")):
            # nspawn --keep-unit puts its payload/supervisor cgroups under the caller's
            # name=systemd cgroup; give it a tagged one (the driver moves once, before timing).
            os.makedirs(berth_cg, exist_ok=True)
            with open(os.path.join(berth_cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        for t in tools:
            missing = {"floor": "unshare", "crun": "crun", "runc": "runc", "lxc": "lxc-start",
                       "nspawn": "systemd-nspawn"}.get(t.name)
            if missing and not shutil.which(missing):
                t.disabled = "%s not installed" % missing
            else:
                t.setup()
            if t.disabled:
                print("%s: skipped: %s" % (t.name, t.disabled), file=sys.stderr)
        load_before = open("/proc/loadavg").read().split()[:3]
        t0 = time.monotonic()
        run_rounds(ctx, [t for t in tools], args.rounds, args.b2b)
        elapsed = time.monotonic() - t0
        med = report(ctx, [t for t in tools if t.name in ctx.samples or t.name == "berth"])
        for t in tools:
            if t.disabled:
                print("%s: %s" % (t.name, t.disabled))
        if ctx.failures:
            print("%d failed lifecycles (details in the results file)" % len(ctx.failures))
        out = args.output
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"meta": {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                                "host": platform.node(), "kernel": platform.release(),
                                "cpus": os.cpu_count(), "rounds": args.rounds, "b2b": args.b2b,
                                "idle_ms": args.idle_ms, "elapsed_s": round(elapsed, 1),
                                "loadavg_before": load_before,
                                "loadavg_after": open("/proc/loadavg").read().split()[:3],
                                "cgroup_v1_hierarchies": hierarchies, "versions": versions(),
                                "berth_binary": args.berth, "berth_stop": args.berth_stop,
                                "skipped": {t.name: t.disabled for t in tools if t.disabled},
                                "unit": "ms"},
                       "medians": med, "berth_start_steps": {k: m for k, (m, _) in step_medians(ctx).items()},
                       "samples": ctx.samples, "failures": ctx.failures},
                      f, indent=1)
        print("%d rounds in %.0f s; load average before %s, after %s" % (
            args.rounds, elapsed, " ".join(load_before),
            " ".join(open("/proc/loadavg").read().split()[:3])))
        print("raw samples: %s" % out)
    except KeyboardInterrupt as e:
        print("lifecycle: interrupted (%s), cleaning up" % (e or "SIGINT"), file=sys.stderr)
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        problems = cleanup(ctx, tools, preexist)
        for p in problems:
            print("cleanup: " + p, file=sys.stderr)
        if problems:
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
