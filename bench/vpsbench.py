"""Shared by bench/overhead and bench/containment: a throwaway Berth instance (its own BERTH_ROOT
under /tmp and cgroup parent named after the run tag), busybox VPSs in it with the workload program
copied in, timing helpers, and cleanup that also works after a failure (stop --fast + destroy of
every VPS made, then the temp dir).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_binary(env_name, default):
    """$ENV or build/<default>, relative to the cwd if it exists there, else to the repo."""
    path = os.environ.get(env_name, os.path.join("build", default))
    if not os.path.isabs(path):
        path = os.path.abspath(path) if os.path.exists(path) else os.path.join(REPO, path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit("%s: no %s (build it: BUILD_DIR=build scripts/build.sh, or set %s=...)" % (
            os.path.basename(sys.argv[0]), path, env_name))
    return path


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def cgroup_v2():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


class Instance:
    """A Berth instance for one bench run. Use as a context manager."""

    def __init__(self, name, berth, workload):
        self.tag = "berth-bench-%s-%d" % (name, os.getpid())
        self.berth = berth
        self.workload = workload
        self.tmp = tempfile.mkdtemp(prefix=self.tag + ".")
        self.root = os.path.join(self.tmp, "root")
        self.env = dict(os.environ, BERTH_ROOT=self.root)
        self.made = []
        self.base_id = 9000000 + (os.getpid() % 1000) * 100

    def __enter__(self):
        os.makedirs(os.path.join(self.root, "etc", "berth"))
        for d in (self.tmp, self.root):  # the VPS's root uid must be able to search VE_ROOT's path
            os.chmod(d, 0o755)
        with open(os.path.join(self.root, "etc", "berth", "berth.conf"), "w") as f:
            f.write('CGROUP_PARENT="%s"\n' % self.tag)
        self.b("template", "create", "busybox")
        return self

    def __exit__(self, *exc):
        for ct in reversed(self.made):
            self.b("stop", ct, "--fast", check=False)
            self.b("destroy", ct, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def b(self, *args, check=True, timeout=120):
        r = subprocess.run([self.berth] + [str(a) for a in args], env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("berth %s: rc %d: %s" % (" ".join(map(str, args)), r.returncode,
                                                        (r.stderr or r.stdout).strip()[-300:]))
        return r

    def vps(self, index, *set_args, conf_lines=()):
        """Create, configure (set ... --save, then conf_lines appended to its config) and start VPS
        number `index`; copy the workload in."""
        ct = str(self.base_id + index)
        self.made.append(ct)
        self.b("create", ct, "--ostemplate", "busybox")
        if set_args:
            self.b("set", ct, *set_args, "--save")
        if conf_lines:
            with open(os.path.join(self.root, "etc", "berth", "conf", ct + ".conf"), "a") as f:
                f.write("".join(line + "\n" for line in conf_lines))
        self.b("start", ct)
        dst = os.path.join(self.root, "var", "lib", "berth", "root", ct, "berth_workload")
        shutil.copy2(self.workload, dst)
        os.chmod(dst, 0o755)
        return ct

    def run_in(self, ct, *args, timeout=300):
        """Run the workload in the VPS; its one JSON line."""
        r = self.b("exec2", ct, " ".join(["/berth_workload"] + [str(a) for a in args]), timeout=timeout)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def background(self, ct, shell_line):
        """Start a detached shell line in the VPS (a hog); it lives until the VPS stops."""
        self.b("exec", ct, "(%s) </dev/null >/dev/null 2>&1 &" % shell_line)

    def restart(self, ct):
        self.b("stop", ct, "--fast")
        self.b("start", ct)

    def cgroup_file(self, ct, v1_controller, v1_name, v2_name):
        if cgroup_v2():
            return "/sys/fs/cgroup/%s/%s/%s" % (self.tag, ct, v2_name)
        for d in os.listdir("/sys/fs/cgroup"):
            if v1_controller in d.split(","):
                return "/sys/fs/cgroup/%s/%s/%s/%s" % (d, self.tag, ct, v1_name)
        return None

    def cgroup_read(self, ct, v1_controller, v1_name, v2_name):
        path = self.cgroup_file(ct, v1_controller, v1_name, v2_name)
        try:
            with open(path) as f:
                return f.read()
        except (OSError, TypeError):
            return ""


def run_host(workload, *args):
    r = subprocess.run([workload] + [str(a) for a in args], capture_output=True, text=True, check=True,
                       timeout=300)
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_results(name, out, data):
    if not out:
        d = os.path.join(REPO, "bench", "results")
        os.makedirs(d, exist_ok=True)
        out = os.path.join(d, "%s-%s.json" % (name, time.strftime("%Y%m%d-%H%M%S")))
    with open(out, "w") as f:
        json.dump(data, f, indent=2)
    print("results: %s" % out)


def leakcheck():
    lc = os.path.join(REPO, "tests", "tools", "leakcheck")
    if os.access(lc, os.X_OK):
        r = subprocess.run([lc], capture_output=True, text=True)
        mine = [l for l in (r.stdout + r.stderr).splitlines() if l.startswith("leftover") and "berth-bench-" in l]
        print("leakcheck: %s" % ("nothing of this run left" if not mine else "\n".join(mine)))
        return not mine
    return True


def host_info():
    return {"kernel": os.uname().release, "cpus": os.cpu_count(), "cgroup": "v2" if cgroup_v2() else "v1",
            "loadavg_start": os.getloadavg()}


class LxcPeer:
    """The same workload under `lxc-execute` (LXC 5), in a rootfs holding only the static workload,
    with the same limits as the VPS written as LXC cgroup keys (v1 or v2 names). No network
    (lxc.net.0.type = empty). Temp dir /tmp/<tag>-lxc.*; removed on exit."""

    def __init__(self, tag, workload, mem_bytes, quota_us, shares, pids):
        self.name = tag + "-lxc"
        self.workload = workload
        self.tmp = tempfile.mkdtemp(prefix=self.name + ".")
        self.path = os.path.join(self.tmp, "lxcpath")
        if cgroup_v2():
            limits = {"memory.max": mem_bytes, "cpu.max": "%d 100000" % quota_us,
                      "cpu.weight": max(1, shares * 100 // 1024), "pids.max": pids}
            prefix = "lxc.cgroup2."
        else:
            limits = {"memory.limit_in_bytes": mem_bytes, "cpu.cfs_period_us": 100000, "cpu.cfs_quota_us": quota_us,
                      "cpu.shares": shares, "pids.max": pids}
            prefix = "lxc.cgroup."
        self.limits = limits
        rootfs = os.path.join(self.tmp, "rootfs")
        for d in ("proc", "sys", "dev", "tmp"):
            os.makedirs(os.path.join(rootfs, d))
        os.makedirs(self.path)
        shutil.copy2(workload, os.path.join(rootfs, "berth_workload"))
        self.conf = os.path.join(self.tmp, "lxc.conf")
        with open(self.conf, "w") as f:
            f.write("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\nlxc.mount.auto = proc:mixed sys:ro\n"
                    "lxc.uts.name = berth-bench\nlxc.rootfs.path = dir:%s\n" % rootfs)
            for k, v in limits.items():
                f.write("%s%s = %s\n" % (prefix, k, v))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def run(self, *args):
        r = subprocess.run(["lxc-execute", "-P", self.path, "-n", self.name, "-f", self.conf, "--",
                            "/berth_workload"] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise RuntimeError("lxc-execute: rc %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        return json.loads(r.stdout.strip().splitlines()[-1])
