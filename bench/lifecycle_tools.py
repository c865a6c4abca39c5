"""Tool drivers for bench/lifecycle: the command runner (Ctx) and one class per runtime (floor,
crun/runc, LXC, systemd-nspawn, Berth). Each op method returns elapsed ms, with the timed region
inside the method, or raises OpFailed. Each class can also undo what it made (abort, cleanup_all).
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time

class OpFailed(Exception):
    pass


def now_ns():
    return time.perf_counter_ns()


def ms(t0, t1):
    return (t1 - t0) / 1e6


# ---------------------------------------------------------------------------------------------
# Context: paths, log, command runner.

class Ctx:
    def __init__(self, tag, tmp, args=None):
        self.tag = tag
        self.tmp = tmp
        self.args = args
        self.rootfs = os.path.join(tmp, "rootfs")
        self.log_path = os.path.join(tmp, "commands.log")
        self.log = None
        self.idle = (args.idle_ms if args else 100) / 1000.0
        self.samples = {}      # tool -> op -> [ms]
        self.failures = []     # {tool, round, op, error}

    def open_log(self):
        os.makedirs(self.tmp, exist_ok=True)
        self.log = open(self.log_path, "ab", buffering=0)

    def idle_gap(self):
        time.sleep(self.idle)

    def add(self, tool, op, value):
        self.samples.setdefault(tool, {}).setdefault(op, []).append(round(value, 3))

    def run(self, argv, env=None, timeout=60, check=True, own_file=False):
        """Runs argv with output appended to the log; returns elapsed ms. Raises OpFailed.
        own_file: the command writes to a file of its own, copied to the log and deleted after
        it. A Berth start's child writes its BERTH_TRACE lines from inside the VPS's memory cgroup:
        a page of the shared log they start is charged to that group, and keeps it (dying) after
        the VPS is gone for as long as the log exists (a quarter of the VPSs of a density run)."""
        log = self.log or subprocess.DEVNULL
        start_off = 0
        if self.log:
            self.log.write(("$ " + " ".join(argv) + "\n").encode())
            start_off = self.log.tell()
        own = None
        if own_file and self.log:
            own = open(os.path.join(self.tmp, "command-output"), "w+b")
            os.unlink(own.name)
            log = own
        # No subprocess timeout here: Popen.wait(timeout) polls with an exponential sleep (0.5, 1,
        # 2, 4 ... ms) and would round every sample up to 7.5/15.5/31.5/63.5 ms. A blocking
        # waitpid plus a watchdog thread that kills a hung command keeps the clock honest.
        box = {}
        dog = threading.Timer(timeout, lambda: box["p"].kill() if "p" in box else None)
        dog.daemon = True
        dog.start()
        t0 = now_ns()
        try:
            box["p"] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        env=env)
            rc = box["p"].wait()
        except OSError as e:
            rc = "oserror " + str(e)
        t1 = now_ns()
        if own:
            own.seek(0)
            self.log.write(own.read())
            own.close()
        if not dog.is_alive() and rc != 0:
            rc = "%s (killed after %d s)" % (rc, timeout)
        dog.cancel()
        if check and rc != 0:
            raise OpFailed("`%s` exited %s: %s" % (" ".join(argv), rc, self.log_since(start_off)))
        return ms(t0, t1)

    def quiet(self, argv, env=None, timeout=30):
        """Best-effort command for cleanup; never raises."""
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env, timeout=timeout).returncode
        except (subprocess.TimeoutExpired, OSError):
            return -1

    def output_since(self, off):
        """Everything the commands wrote to the log from offset off on (full text)."""
        if not self.log:
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    def log_since(self, off):
        if not self.log:
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(off)
            text = f.read().decode(errors="replace").strip().replace("\n", " | ")
        return text[-400:] or "(no output)"


def wait_exit(fd, timeout=10.0):
    """Blocks until the process behind pidfd fd has exited (no polling back-off); closes fd."""
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(int(timeout * 1000)))
    finally:
        os.close(fd)


def find_child(parent_pid, comm, timeout=10.0):
    """Polls /proc until a child of parent_pid has exec'd `comm`; returns its pid or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) <= parent_pid:
                continue
            try:
                with open("/proc/%s/stat" % name) as f:
                    st = f.read()
            except OSError:
                continue
            c = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == parent_pid and c == comm:
                return int(name)
        time.sleep(0.0002)
    return None


# ---------------------------------------------------------------------------------------------
# Tools. Each op method returns elapsed ms (the timed region is inside) or raises OpFailed.

class Tool:
    name = "?"
    ops = []

    def __init__(self, ctx):
        self.ctx = ctx
        self.disabled = None   # reason string when skipped

    def setup(self):
        pass

    def ct(self, r):
        return "%s-%s-r%d" % (self.ctx.tag, self.name, r)

    def abort(self, r):
        pass

    def cleanup_all(self):
        pass


class Floor(Tool):
    """unshare/nsenter: namespaces + chroot, no cgroup, no mounts; the cost floor."""
    name = "floor"
    ops = ["start", "exec", "exec_b2b", "stop", "run", "run_b2b"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.procs = {}   # r -> (Popen, init pid)

    def start(self, r):
        t0 = now_ns()
        p = subprocess.Popen(["unshare", "-fpmuin", "--root=" + self.ctx.rootfs, "/sbin/init"],
                             stdin=subprocess.DEVNULL, stdout=self.ctx.log, stderr=self.ctx.log)
        pid = find_child(p.pid, "init")
        t1 = now_ns()
        self.procs[r] = (p, pid)
        if pid is None:
            raise OpFailed("unshare: init did not start")
        return ms(t0, t1)

    def exec(self, r):
        pid = self.procs[r][1]
        return self.ctx.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
                             "/bin/true"])

    def stop(self, r):
        p, pid = self.procs.pop(r)
        fd = os.pidfd_open(p.pid)
        t0 = now_ns()
        os.kill(pid, signal.SIGKILL)
        ok = wait_exit(fd)
        t1 = now_ns()
        p.wait(5)
        if not ok:
            raise OpFailed("unshare still running 10 s after its init was killed")
        return ms(t0, t1)

    def run(self, r, k):
        return self.ctx.run(["unshare", "-fpmuin", "--root=" + self.ctx.rootfs, "/bin/true"])

    def abort(self, r):
        if r in self.procs:
            p, pid = self.procs.pop(r)
            for x in (pid, p.pid):
                try:
                    os.kill(x, signal.SIGKILL)
                except (ProcessLookupError, TypeError):
                    pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup_all(self):
        for r in list(self.procs):
            self.abort(r)


class Oci(Tool):
    """crun or runc with an OCI bundle per container over the shared read-only rootfs."""
    ops = ["create", "start", "exec", "exec_b2b", "stop", "destroy", "run", "run_b2b"]

    def __init__(self, ctx, name):
        super().__init__(ctx)
        self.name = name
        self.state = os.path.join(ctx.tmp, name + "-state")
        self.pids = {}

    def base(self):
        return [self.name, "--root", self.state]

    def bundle(self, cid, args):
        d = os.path.join(self.ctx.tmp, "bundles", cid)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(oci_config(self.ctx.rootfs, args, "/" + cid), f, indent=1)
        return d

    def create(self, r):
        cid = self.ct(r)
        b = self.bundle(cid, ["/sbin/init"])
        return self.ctx.run(self.base() + ["create", "--bundle", b, cid])

    def start(self, r):
        t = self.ctx.run(self.base() + ["start", self.ct(r)])
        out = subprocess.run(self.base() + ["state", self.ct(r)], capture_output=True, text=True,
                             timeout=10)
        self.pids[r] = json.loads(out.stdout)["pid"] if out.returncode == 0 else 0
        return t

    def exec(self, r):
        return self.ctx.run(self.base() + ["exec", self.ct(r), "/bin/true"])

    def stop(self, r):
        pid = self.pids.pop(r, 0)
        fd = os.pidfd_open(pid) if pid else None
        t0 = now_ns()
        # --halt-init: the graceful stop of an init that halts at once (SIGTERM, crun's default).
        sig = "TERM" if getattr(self.ctx.args, "halt_init", "") else "KILL"
        self.ctx.run(self.base() + ["kill", self.ct(r), sig])
        if fd is not None and not wait_exit(fd):
            raise OpFailed("%s: init %d still alive 10 s after kill" % (self.name, pid))
        return ms(t0, now_ns())

    def destroy(self, r):
        return self.ctx.run(self.base() + ["delete", self.ct(r)])

    def run(self, r, k):
        cid = "%s-run%d" % (self.ct(r), k)
        b = self.bundle(cid, ["/bin/true"])
        return self.ctx.run(self.base() + ["run", "--bundle", b, cid])

    def abort(self, r):
        self.ctx.quiet(self.base() + ["delete", "--force", self.ct(r)])

    def cleanup_all(self):
        if not os.path.isdir(self.state) or not shutil.which(self.name):
            return
        out = subprocess.run(self.base() + ["list", "-q"], capture_output=True, text=True)
        for cid in out.stdout.split():
            self.ctx.quiet(self.base() + ["delete", "--force", cid])


def oci_config(rootfs, args, cgroups_path):
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
            "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
                    "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": rootfs, "readonly": True},
        "hostname": "berth-bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


LXC_CONF = """lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.mount.auto = proc:mixed sys:ro
lxc.uts.name = berth-bench
lxc.signal.halt = SIGUSR2
lxc.signal.stop = SIGKILL
"""


class Lxc(Tool):
    """LXC 5 with its own lxcpath; each container gets a hard-linked copy of the rootfs (made
    untimed, because lxc-destroy deletes the rootfs directory)."""
    name = "lxc"
    ops = ["create", "start", "exec", "exec_b2b", "stop", "destroy", "run", "run_b2b"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.path = os.path.join(ctx.tmp, "lxcpath")

    def p(self, *a):
        return list(a[:1]) + ["-P", self.path] + list(a[1:])

    def create(self, r):
        n = self.ct(r)
        d = os.path.join(self.path, n)
        os.makedirs(d, exist_ok=True)
        subprocess.run(["cp", "-al", self.ctx.rootfs, os.path.join(d, "rootfs")], check=True)
        conf = os.path.join(self.ctx.tmp, n + ".conf")
        with open(conf, "w") as f:
            f.write(LXC_CONF + "lxc.rootfs.path = dir:%s/rootfs\n" % d)
        return self.ctx.run(self.p("lxc-create", "-n", n, "-t", "none", "-f", conf))

    def start(self, r):
        return self.ctx.run(self.p("lxc-start", "-n", self.ct(r), "-d"))

    def exec(self, r):
        return self.ctx.run(self.p("lxc-attach", "-n", self.ct(r), "--", "/bin/true"))

    def stop(self, r):
        return self.ctx.run(self.p("lxc-stop", "-n", self.ct(r), "-k"))

    def destroy(self, r):
        return self.ctx.run(self.p("lxc-destroy", "-n", self.ct(r)))

    def run(self, r, k):
        conf = os.path.join(self.ctx.tmp, "lxc-execute.conf")
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write(LXC_CONF + "lxc.rootfs.path = dir:%s\nlxc.rootfs.options = ro\n"
                        % self.ctx.rootfs)
        n = "%s-run%d" % (self.ct(r), k)
        return self.ctx.run(self.p("lxc-execute", "-n", n, "-f", conf, "--", "/bin/true"))

    def abort(self, r):
        self.ctx.quiet(self.p("lxc-stop", "-n", self.ct(r), "-k"))
        self.ctx.quiet(self.p("lxc-destroy", "-n", self.ct(r), "-f"))

    def cleanup_all(self):
        if not os.path.isdir(self.path) or not shutil.which("lxc-ls"):
            return
        for n in os.listdir(self.path):
            if n.startswith(self.ctx.tag):
                self.ctx.quiet(self.p("lxc-stop", "-n", n, "-k"))
                self.ctx.quiet(self.p("lxc-destroy", "-n", n, "-f"))


class Nspawn(Tool):
    """systemd-nspawn without machined: booted container (busybox init) for start/stop; no exec
    (machinectl shell needs systemd-machined, which does not run here); run = `nspawn /bin/true`."""
    name = "nspawn"
    ops = ["start", "stop", "run", "run_b2b"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.procs = {}

    def argv(self, n):
        return ["systemd-nspawn", "-q", "-D", self.ctx.rootfs, "--read-only", "--register=no",
                "--keep-unit", "--private-network", "--timezone=off", "--resolv-conf=off",
                "--link-journal=no", "-M", n]

    def start(self, r):
        t0 = now_ns()
        p = subprocess.Popen(self.argv(self.ct(r)) + ["-b", "--kill-signal=SIGKILL"],
                             stdin=subprocess.DEVNULL, stdout=self.ctx.log, stderr=self.ctx.log)
        pid = find_child(p.pid, "init")
        t1 = now_ns()
        self.procs[r] = p
        if pid is None:
            raise OpFailed("systemd-nspawn: init did not start")
        return ms(t0, t1)

    def stop(self, r):
        p = self.procs.pop(r)
        fd = os.pidfd_open(p.pid)
        t0 = now_ns()
        p.send_signal(signal.SIGTERM)
        ok = wait_exit(fd)
        t1 = now_ns()
        if not ok:
            p.kill()
            raise OpFailed("systemd-nspawn still running 10 s after SIGTERM")
        p.wait(5)
        return ms(t0, t1)

    def run(self, r, k):
        return self.ctx.run(self.argv("%s-run%d" % (self.ct(r), k)) + ["/bin/true"])

    def abort(self, r):
        p = self.procs.pop(r, None)
        if p and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def cleanup_all(self):
        for r in list(self.procs):
            self.abort(r)


TRACE_LINE = re.compile(r"^berth: trace: (\S+) \d+/\d+ (\w+) ([0-9.]+) ms$")


def parse_trace(text):
    """(pipeline, step, ms) of every `berth: trace:` step line in text, in order."""
    out = []
    for line in text.splitlines():
        m = TRACE_LINE.match(line.strip())
        if m:
            out.append((m.group(1), m.group(2), float(m.group(3))))
    return out


class Berth(Tool):
    """Berth through its vzctl-style CLI, with BERTH_ROOT in the temp dir."""
    name = "berth"
    ops = ["create", "start", "exec", "exec_b2b", "stop", "destroy"]
    RESIDENT = 999  # the round number of the BERTH_RESIDENT VPS's CTID

    def __init__(self, ctx, binary, stop_args):
        super().__init__(ctx)
        self.bin = binary
        self.stop_args = stop_args
        self.root = os.path.join(ctx.tmp, "berth-root")
        self.env = dict(os.environ, BERTH_ROOT=self.root)
        self.base_id = 8000000 + (int(ctx.tag.rsplit("-", 1)[1]) % 1000) * 1000
        self.made = set()

    def ct(self, r):
        return str(self.base_id + r)

    def b(self, *a, check=True):
        return self.ctx.run([self.bin] + list(a), env=self.env, check=check, timeout=30)

    def setup(self):
        if not (os.path.isfile(self.bin) and os.access(self.bin, os.X_OK)):
            self.disabled = "no berth binary at %s (set BERTH=...)" % self.bin
            return
        os.makedirs(os.path.join(self.root, "etc", "berth"), exist_ok=True)
        # The CT's root user is an unprivileged host uid: the path to VE_ROOT must be searchable.
        for d in (self.ctx.tmp, self.root):
            os.chmod(d, 0o755)
        # Host-wide objects (cgroups) carry the run's tag, so the bench never meets another instance.
        with open(os.path.join(self.root, "etc", "berth", "berth.conf"), "w") as f:
            f.write('CGROUP_PARENT="%s-berth"\n' % self.ctx.tag)
        try:
            self.ctx.add(self.name, "template_create", self.b("template", "create", "busybox"))
        except OpFailed as e:
            self.disabled = "`berth template create busybox` failed: %s" % e
            return
        # BERTH_RESIDENT=1: one more VPS runs through all rounds, so each round's start is not the
        # instance's first (its watcher and /proc server are up, as on a host with VPSs running).
        if os.environ.get("BERTH_RESIDENT"):
            try:
                self.create(self.RESIDENT)
                self.b("start", self.ct(self.RESIDENT))
            except OpFailed as e:
                self.disabled = "the resident VPS did not start: %s" % e

    def create(self, r):
        self.made.add(r)
        # BERTH_CREATE_ARGS: more options for `berth create` (e.g. "--diskspace unlimited": no
        # disk image, a root like the peers'); the report names them.
        t = self.b("create", self.ct(r), "--ostemplate", "busybox",
                   *os.environ.get("BERTH_CREATE_ARGS", "").split())
        halt_init = getattr(self.ctx.args, "halt_init", "")
        if halt_init:
            # Untimed: the VPS's /sbin/init becomes the init that halts at once (in its own upper
            # layer, through a mount of its root: the template's files stay as they are).
            self.b("mount", self.ct(r))
            init = os.path.join(self.root, "var", "lib", "berth", "root", self.ct(r), "sbin", "init")
            try:
                if os.path.lexists(init):
                    os.unlink(init)
                shutil.copy2(halt_init, init)
                os.chmod(init, 0o755)
            finally:
                self.b("umount", self.ct(r))
        return t

    def start(self, r):
        # BERTH_TRACE=1: berth prints each start step's duration on stderr (runtime/pipeline.h);
        # they are kept as samples "start:<step>" (host side) and "start-child:<step>" (in the
        # CT's child, overlapping the host's wait_child). Printing costs a few microseconds.
        off = self.ctx.log.tell() if self.ctx.log else None
        t = self.ctx.run([self.bin, "start", self.ct(r)], env=dict(self.env, BERTH_TRACE="1"),
                         timeout=30)
        if off is not None:
            for pipeline, step, step_ms in parse_trace(self.ctx.output_since(off)):
                self.ctx.add(self.name, "%s:%s" % (pipeline, step), step_ms)
        return t

    def exec(self, r):
        return self.b("exec2", self.ct(r), "/bin/true")

    def stop(self, r):
        return self.b("stop", self.ct(r), *self.stop_args)

    def destroy(self, r):
        t = self.b("destroy", self.ct(r))
        self.made.discard(r)
        return t

    def abort(self, r):
        self.ctx.quiet([self.bin, "stop", self.ct(r), "--fast"], env=self.env)
        self.ctx.quiet([self.bin, "destroy", self.ct(r)], env=self.env)
        self.made.discard(r)

    def cleanup_all(self, rounds=None):
        if not os.path.isfile(self.bin) or not os.path.isdir(self.root):
            return
        for r in sorted(self.made if rounds is None else list(range(rounds)) + [self.RESIDENT]):
            self.abort(r)
