"""Headless Chromium for the panel's browser tests, cut off from every network but loopback.

The test process moves its main thread into a new network namespace that has only `lo`
(unshare(CLONE_NEWNET) on that thread alone). chromedriver and chromium are started from that
thread, so they live in the namespace too and cannot reach the internet even if some background
service of Debian's chromium tried (the flags below also switch those services off). berthd runs in
the host's namespace (it manages the VPSs' veths there); a bridge thread, switched back into the
host's namespace, accepts on 127.0.0.1:PORT inside the test namespace and forwards every
connection byte for byte (TLS included) to berthd's 127.0.0.1:PORT in the host's. When the test
process exits the namespace goes with it.

Chromium runs as the user `nobody` (setpriv) with its own sandbox on: it refuses to start as root
without --no-sandbox, and running unprivileged keeps the sandbox. Only if that cannot start
(BERTH_PANEL_NO_SANDBOX=1, or no unprivileged user namespaces) is it run as root with --no-sandbox,
which is said in the output.
"""
import ctypes
import os
import shutil
import socket
import subprocess
import tempfile
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f'{what}: {os.strerror(err)}')


class Netns:
    """The calling thread's network namespace is replaced by a new one with only lo (up)."""

    def __init__(self):
        self.host_fd = os.open(f'/proc/self/task/{threading.get_native_id()}/ns/net', os.O_RDONLY | os.O_CLOEXEC)
        _check(_libc.unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)')
        self.test_fd = os.open(f'/proc/self/task/{threading.get_native_id()}/ns/net', os.O_RDONLY | os.O_CLOEXEC)
        subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
        links = subprocess.run(['ip', '-o', 'link'], check=True, capture_output=True, text=True).stdout
        if len(links.strip().splitlines()) != 1:
            raise RuntimeError(f'the test namespace has more than lo: {links}')
        # No route out: a connection to an outside address (TEST-NET-1) fails at once, sending nothing.
        probe = socket.socket()
        try:
            probe.connect(('192.0.2.1', 9))
            raise RuntimeError('the test namespace reaches 192.0.2.1: it is not cut off')
        except OSError as e:
            import errno
            if e.errno != errno.ENETUNREACH:
                raise RuntimeError(f'connecting out of the test namespace: {e} (expected ENETUNREACH)')
        finally:
            probe.close()

    def enter_host(self):
        """Moves the calling thread back to the host's namespace."""
        _check(_libc.setns(self.host_fd, CLONE_NEWNET), 'setns(host)')

    def enter_test(self):
        _check(_libc.setns(self.test_fd, CLONE_NEWNET), 'setns(test)')

    def host_preexec(self):
        """preexec_fn for a subprocess that must run in the host's namespace (berth commands)."""
        fd = self.host_fd
        return lambda: _check(_libc.setns(fd, CLONE_NEWNET), 'setns(host)')


class Bridge:
    """127.0.0.1:port in the test namespace -> target (host, port) in the host's namespace."""

    def __init__(self, netns, port, target):
        self.target = target
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # created in the test ns
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.netns = netns
        self.closed = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.netns.enter_host()  # this thread (and the threads it starts) connect in the host ns
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe_pair, args=(conn,), daemon=True).start()

    def _pipe_pair(self, conn):
        try:
            up = socket.create_connection(self.target, timeout=10)
            up.settimeout(None)
        except OSError:
            conn.close()
            return
        t = threading.Thread(target=self._pipe, args=(up, conn), daemon=True)
        t.start()
        self._pipe(conn, up)
        t.join()
        conn.close()
        up.close()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.closed = True
        self.listener.close()


CHROMIUM_FLAGS = [
    '--headless=new', '--disable-gpu', '--window-size=1280,1000', '--lang=en-US',
    # No background traffic (there is no route anyway): updates, sync, safe browsing, metrics,
    # translation, field trials, domain reliability, default apps, first-run pings.
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-domain-reliability', '--disable-client-side-phishing-detection',
    '--disable-breakpad', '--metrics-recording-only', '--no-first-run', '--no-default-browser-check',
    '--no-pings', '--disable-field-trial-config', '--password-store=basic', '--use-mock-keychain',
    '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,'
    'AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions',
    '--disable-dev-shm-usage', '--ignore-certificate-errors',
]


def unprivileged_userns_ok():
    try:
        return open('/proc/sys/kernel/unprivileged_userns_clone').read().strip() != '0'
    except OSError:
        return True


class Browser:
    """Selenium + chromedriver + chromium in the calling thread's (test) namespace."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        self.tmp = tempfile.mkdtemp(prefix='berth-panel-chromium-')
        os.chmod(self.tmp, 0o755)
        profile = os.path.join(self.tmp, 'profile')
        os.mkdir(profile)
        sandbox = os.environ.get('BERTH_PANEL_NO_SANDBOX') != '1' and unprivileged_userns_ok()
        opts = webdriver.ChromeOptions()
        opts.binary_location = '/usr/bin/chromium'
        for f in CHROMIUM_FLAGS:
            opts.add_argument(f)
        opts.add_argument(f'--user-data-dir={profile}')
        opts.set_capability('acceptInsecureCerts', True)
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        driver_path = shutil.which('chromedriver') or '/usr/bin/chromedriver'
        log = os.path.join(profile, 'chromedriver.log')
        popen_kw = {}
        env = dict(os.environ, HOME=profile)
        if sandbox:
            # chromedriver and chromium as nobody, with chromium's own sandbox.
            os.chown(profile, 65534, 65534)
            popen_kw = {'user': 65534, 'group': 65534, 'extra_groups': []}
            self.mode = 'chromium as nobody with its sandbox'
        else:
            opts.add_argument('--no-sandbox')
            self.mode = 'chromium as root with --no-sandbox (no unprivileged user namespaces, or BERTH_PANEL_NO_SANDBOX=1)'
        self.log = log
        self.service = Service(executable_path=driver_path, log_path=log, env=env, popen_kw=popen_kw)
        self.driver = webdriver.Chrome(service=self.service, options=opts)
        self.driver.set_page_load_timeout(30)

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
