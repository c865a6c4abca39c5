#!/usr/bin/python3
"""Browser tests of the web panel against a real berthd with real busybox VPSs (docs/panel.md).

Runs as root: makes a throwaway BERTH_ROOT (/tmp/berth-it-panel-PID, instance berth-test-panel-PID),
builds the busybox template there, creates three VPSs (two for the customer alice, one for bob),
makes tokens, starts berthd in the foreground on 127.0.0.1:PORT (TLS) with the panel from this
checkout, then drives Debian's chromium (tests/panel/browser.py: own network namespace with only
lo, a bridge to berthd) through the panel. Every step prints PASS or FAIL; the last line is
"panel: N passed, N failed". Everything is stopped and removed at the end, whatever happened.

Usage: test_panel.py --berth BUILD/berth --berthd BUILD/berthd [--keep]
"""
import argparse
import warnings
warnings.filterwarnings('ignore', category=DeprecationWarning)
import crypt  # noqa: E402 (Debian 12's Python 3.11 still has it; it checks the VPS's shadow hash)
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import browser  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

PID = os.getpid()
ROOT = f'/tmp/berth-it-panel-{PID}'
INSTANCE = f'berth-test-panel-{PID}'
BASE = 1300 + PID % 500 * 10          # CTIDs of this run
CT_A, CT_A2, CT_B = str(BASE + 1), str(BASE + 2), str(BASE + 3)
IP_A = f'198.18.{13 + PID % 200}.{BASE % 250 + 1}'
A11Y_SRC = open(os.path.join(HERE, 'a11y.js')).read()
A11Y = 'return ' + A11Y_SRC[A11Y_SRC.index('(function'):]

results = []


def log(msg):
    print(msg, flush=True)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_until(fn, timeout, what, interval=0.25):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # a stale element, a page in between
            last = e
        time.sleep(interval)
    raise Fail(f'timed out after {timeout} s waiting for {what}' + (f' (last error: {last})' if last else ''))


class Env:
    """The berth side: root, VPSs, tokens, berthd. Commands run in the host's network namespace."""

    def __init__(self, berth, berthd):
        self.berth_bin = berth
        self.berthd_bin = berthd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith('BERTH_')}
        self.env['BERTH_ROOT'] = ROOT
        self.preexec = None
        self.daemon = None
        self.port = None
        self.tokens = {}
        self.cts = []

    def berth(self, *args, input=None, check=True, timeout=120):
        r = subprocess.run([self.berth_bin, *args], env=self.env, input=input, capture_output=True, text=True,
                           timeout=timeout, preexec_fn=self.preexec)
        if check and r.returncode != 0:
            raise Fail(f'berth {" ".join(args)}: exit {r.returncode}: {r.stderr.strip()}')
        return r

    def setup(self):
        shutil.rmtree(ROOT, ignore_errors=True)
        os.makedirs(f'{ROOT}/etc/berth')
        os.makedirs(f'{ROOT}/var/lib/berth/template/cache')
        for p in (ROOT, f'{ROOT}/var', f'{ROOT}/var/lib', f'{ROOT}/var/lib/berth', f'{ROOT}/var/lib/berth/template',
                  f'{ROOT}/var/lib/berth/template/cache'):
            os.chmod(p, 0o755)
        with open(f'{ROOT}/etc/berth/berth.conf', 'w') as f:
            f.write(f'# panel browser test instance\nCGROUP_PARENT="{INSTANCE}"\n')
        self.berth('template', 'create', 'busybox')
        for ct, extra in ((CT_A, ['--ipadd', IP_A]), (CT_A2, []), (CT_B, [])):
            self.berth('create', ct, '--ostemplate', 'busybox', '--hostname', f'ct{ct}', *extra)
            self.cts.append(ct)
        self.berth('start', CT_A, '--wait')
        self.tokens['alice'] = self.token('alice', '--ct', f'{CT_A},{CT_A2}')
        self.tokens['ops'] = self.token('ops', '--admin')
        self.tokens['bob'] = self.token('bob', '--ct', CT_B)
        self.password = f'Carol-{PID}-pw'
        self.token('carol', '--ct', CT_B, password=self.password)

    def token(self, name, *args, password=None):
        r = self.berth('token', 'create', name, *args, *(['--password'] if password else []),
                       input=(password + '\n') if password else None)
        tok = r.stdout.strip().split()[-1] if r.stdout.strip() else ''
        check(tok, f'berth token create {name} printed no token')
        return tok

    def start_daemon(self):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        self.port = s.getsockname()[1]
        s.close()
        env = dict(self.env, BERTH_PANEL_DIR=os.path.join(REPO, 'panel'))
        self.daemon_log = open(f'/tmp/berth-it-panel-{PID}-berthd.log', 'w')
        self.daemon = subprocess.Popen([self.berthd_bin, '--foreground', '--listen', f'127.0.0.1:{self.port}', '--poll', '2'],
                                       env=env, stdout=self.daemon_log, stderr=subprocess.STDOUT,
                                       preexec_fn=self.preexec, start_new_session=True)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def up():
            if self.daemon.poll() is not None:
                raise Fail(f'berthd exited with {self.daemon.returncode}: {open(self.daemon_log.name).read()[-2000:]}')
            try:
                return urllib.request.urlopen(f'https://127.0.0.1:{self.port}/v1/openapi.json', context=ctx, timeout=2).status == 200
            except OSError:
                return False
        wait_until(up, 30, 'berthd to answer')

    def state(self, ct):
        r = self.berth('status', ct, check=False)
        return 'running' if ' running' in r.stdout else 'down' if ' down' in r.stdout else r.stdout.strip()

    def teardown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
        for ct in self.cts:
            self.berth('stop', ct, '--fast', check=False)
            self.berth('destroy', ct, check=False)
        shutil.rmtree(ROOT, ignore_errors=True)


class Panel:
    def __init__(self, b, port):
        self.b = b
        self.d = b.driver
        self.url = f'https://127.0.0.1:{port}/'
        self.logs = []  # the browser's console log, collected after every step

    def collect_logs(self):
        try:
            self.logs += self.d.get_log('browser')
        except Exception:
            pass

    def go(self, route=''):
        # A new hash re-renders the view in place: empty it first, so that no wait below finds an
        # element of the page before (a reload when the address does not change).
        target = self.url + route
        try:
            self.d.execute_script("const v = document.getElementById('view'); if (v) v.replaceChildren();")
        except Exception:
            pass
        if self.d.current_url == target:
            self.d.refresh()
        else:
            self.d.get(target)

    def css(self, sel):
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def one(self, sel, timeout=15):
        return wait_until(lambda: (self.css(sel) or [None])[0], timeout, sel)

    def h1(self):
        return self.d.execute_script("const h = document.querySelector('main h1'); return h ? h.textContent : ''")

    def a11y(self, page):
        found = self.d.execute_script(A11Y)
        serious = [f for f in found if f['impact'] == 'serious']
        for f in found:
            log(f"    a11y {page}: {f['impact']} {f['rule']} at {f['where']}: {f['detail']}")
        check(not serious, f'{len(serious)} serious accessibility findings on {page}')

    def login_token(self, token):
        self.go()
        wait_until(lambda: self.css('#login-token, #logout'), 10, 'the login page or the panel')
        if self.css('#logout'):
            self.logout()
        inp = self.one('#login-token input')
        inp.clear()
        inp.send_keys(token)
        self.one('#login-token button[type=submit]').click()
        wait_until(lambda: self.css('#logout'), 10, 'the panel after log in')

    def logout(self):
        self.one('#logout').click()
        wait_until(lambda: self.css('#login-token'), 10, 'the login page after log out')

    def row_state(self, ct):
        return self.d.execute_script(
            "const r = document.querySelector(`tr[data-ctid='${arguments[0]}'] .badge`); return r ? r.textContent : null", int(ct))

    def no_sideways_scroll(self, what):
        w = self.d.execute_script('return [document.documentElement.scrollWidth, window.innerWidth]')
        check(w[0] <= w[1], f'{what}: the page is {w[0]} px wide in a {w[1]} px window')


def step(name):
    def deco(fn):
        fn.step_name = name
        return fn
    return deco


# ---------------------------------------------------------------- steps

@step('the accessibility checker finds planted faults (one per rule)')
def t_a11y_selftest(p, env):
    p.go()
    p.one('#login-token')
    found = p.d.execute_script('''
      const box = document.createElement('div');
      box.id = 'a11y-bad';
      box.innerHTML = `<h4>skipped level</h4><input type="text"><button></button><a href="#x"></a>
        <img src="/panel/favicon.svg"><span tabindex="3">t</span><p id="dup">a</p><p id="dup">b</p>
        <svg role="img"></svg>
        <label for="nowhere">x</label><div aria-labelledby="missing"></div>
        <meter value="1" max="2"></meter><h1>a second h1</h1><nav><a href="#a">a</a></nav><nav><a href="#b">b</a></nav>`;
      document.querySelector('main').append(box);
      const main2 = document.createElement('main');
      main2.textContent = 'a second main';
      document.body.append(main2);
      const lang = document.documentElement.getAttribute('lang');
      document.documentElement.removeAttribute('lang');
      const r = ''' + A11Y[len('return '):] + ''';
      document.documentElement.setAttribute('lang', lang);
      box.remove();
      main2.remove();
      const d = document.createElement('dialog');
      d.innerHTML = '<button>in</button>'; document.body.append(d); d.showModal();
      d.querySelector('button').blur();
      const r2 = ''' + A11Y[len('return '):] + ''';
      d.close(); d.remove();
      return [r, r2];
    ''')
    # Low contrast is planted through the DOM: berthd's CSP blocks style attributes in HTML.
    rules = {f['rule'] for f in found[0]}
    contrast = p.d.execute_script('''
      const e = document.createElement('p'); e.textContent = 'low contrast';
      e.style.color = '#aaaaaa'; e.style.background = '#ffffff';
      document.querySelector('main').append(e);
      const r = ''' + A11Y[len('return '):] + ''';
      e.remove(); return r;''')
    rules |= {f['rule'] for f in contrast}
    want = {'heading-order', 'control-name', 'button-name', 'link-name', 'image-alt', 'tabindex-positive',
            'duplicate-id', 'color-contrast', 'svg-img-name', 'label-for', 'aria-reference', 'meter-name', 'html-lang',
            'heading-h1', 'landmark-main', 'landmark-nav-name'}
    missing = want - rules
    check(not missing, f'the checker missed planted faults: {sorted(missing)}')
    focus_rules = {f['rule'] for f in found[1]}
    check({'dialog-focus', 'dialog-name'} <= focus_rules, f'the checker missed an open modal dialog without the focus '
          f'or without a name: {sorted(focus_rules)}')
    p.go()
    p.one('#login-token')
    p.a11y('login page')


@step('log in with user name and password; a wrong one is refused with a message')
def t_login_password(p, env):
    p.go()
    form = p.one('#login-user')
    inputs = form.find_elements(By.CSS_SELECTOR, 'input')
    inputs[0].send_keys('carol')
    inputs[1].send_keys(env.password + 'x')
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    alert = wait_until(lambda: p.css('#alert:not([hidden])'), 10, 'an error after a wrong password')[0]
    check('failed' in alert.text.lower(), f'the error says {alert.text!r}')
    p.a11y('login page with an error')
    inputs[1].clear()
    inputs[1].send_keys(env.password)
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: p.css('#logout'), 10, 'the panel after log in')
    wait_until(lambda: p.css(f'tr[data-ctid="{CT_B}"]'), 10, f'carol\'s VPS {CT_B}')
    check(not p.css(f'tr[data-ctid="{CT_A}"]'), f'carol sees alice\'s VPS {CT_A}')
    p.logout()


@step('log in with a token; the customer sees only their VPSs')
def t_login(p, env):
    p.login_token(env.tokens['alice'])
    wait_until(lambda: p.css(f'tr[data-ctid="{CT_A}"]') and p.css(f'tr[data-ctid="{CT_A2}"]'), 15, 'both of alice\'s VPSs in the list')
    check(not p.css(f'tr[data-ctid="{CT_B}"]'), f'alice sees bob\'s VPS {CT_B}')
    wait_until(lambda: p.row_state(CT_A) == 'running', 10, f'VPS {CT_A} shown running')
    text = p.one(f'tr[data-ctid="{CT_A}"]').text
    check(IP_A in text, f'the address {IP_A} is not in the row: {text!r}')
    p.a11y('VPS list')
    # Bob's VPS from alice's session: its page says no such VPS; the API and its console refuse.
    p.go(f'#/ct/{CT_B}')
    wait_until(lambda: 'does not exist' in p.one('main').text, 10, f'"does not exist" on VPS {CT_B}\'s page')
    st = p.d.execute_script(f"return fetch('/v1/cts/{CT_B}').then(r => r.status)")
    check(st in (403, 404), f'GET /v1/cts/{CT_B} as alice answers {st}')
    ws = p.d.execute_async_script(f"""
      const done = arguments[arguments.length - 1];
      const ws = new WebSocket(`wss://${{location.host}}/v1/cts/{CT_B}/console?kind=shell`);
      ws.onopen = () => {{ ws.close(); done('opened'); }};
      ws.onerror = () => done('refused');
      setTimeout(() => done('timeout'), 5000);""")
    check(ws == 'refused', f'alice\'s websocket to bob\'s console: {ws}')
    p.go('#/')
    p.d.refresh()  # a reload keeps the session (cookie) and its CSRF token (sessionStorage)
    wait_until(lambda: p.css('#logout') and p.css(f'tr[data-ctid="{CT_A}"]'), 10, 'the list again after a reload')


@step('stop, start and restart a VPS with the panel\'s buttons (a request without the CSRF token is refused)')
def t_power(p, env):
    p.go('#/')
    p.one(f'tr[data-ctid="{CT_A}"]')
    st = p.d.execute_script(f"return fetch('/v1/cts/{CT_A}/stop', {{method: 'POST', body: '{{}}', "
                            "headers: {'Content-Type': 'application/json'}}).then(r => r.status)")
    check(st == 403, f'a POST with the session cookie but no X-CSRF-Token answers {st}, not 403')
    check(env.state(CT_A) == 'running', 'the VPS stopped on a request without the CSRF token')
    stop = p.one(f'button[aria-label="Stop VPS {CT_A}"]')
    wait_until(lambda: stop.is_enabled(), 10, 'the Stop button enabled')
    stop.click()
    wait_until(lambda: p.row_state(CT_A) == 'stopped', 60, f'VPS {CT_A} shown stopped')
    check(env.state(CT_A) == 'down', f'berth status says {env.state(CT_A)} after Stop')
    start = p.one(f'button[aria-label="Start VPS {CT_A}"]')
    wait_until(lambda: start.is_enabled(), 10, 'the Start button enabled')
    start.click()
    wait_until(lambda: p.row_state(CT_A) == 'running', 60, f'VPS {CT_A} shown running')
    check(env.state(CT_A) == 'running', f'berth status says {env.state(CT_A)} after Start')
    # Restart: a new boot (init's start time, in clock ticks since the host booted, changes).
    boot = lambda: env.berth('exec', CT_A, 'cut -d" " -f22 /proc/1/stat').stdout.strip()
    wait_until(lambda: env.berth('exec', CT_A, 'true', check=False).returncode == 0, 10, 'exec in the started VPS')
    before = boot()
    restart = p.one(f'button[aria-label="Restart VPS {CT_A}"]')
    wait_until(lambda: restart.is_enabled(), 10, 'the Restart button enabled')
    p.d.execute_script("document.getElementById('status').textContent = ''")
    restart.click()
    wait_until(lambda: 'is running' in p.one('#status').get_attribute('textContent'), 60, 'the restart to finish')
    check(env.state(CT_A) == 'running', f'berth status says {env.state(CT_A)} after Restart')
    after = boot()
    check(after and after != before, f'init\'s start time did not change across Restart ({before} -> {after})')


@step('live: a VPS stopped and started from the command line changes state in the open page (event stream)')
def t_live(p, env):
    p.go('#/')
    wait_until(lambda: p.row_state(CT_A) == 'running', 10, f'VPS {CT_A} shown running')
    wait_until(lambda: p.one('#live-state').text == 'live updates on', 10, 'the event stream connected')
    env.berth('stop', CT_A)
    # The page polls every 10 s; the event stream is what shows a change sooner.
    t = time.time()
    wait_until(lambda: p.row_state(CT_A) == 'stopped', 8, f'VPS {CT_A} shown stopped without a reload')
    log(f'    shown stopped {time.time() - t:.1f} s after berth stop returned')
    env.berth('start', CT_A, '--wait')
    wait_until(lambda: p.row_state(CT_A) == 'running', 8, f'VPS {CT_A} shown running again')


@step('reset root\'s password; the VPS\'s shadow hash verifies with it')
def t_password(p, env):
    p.go(f'#/ct/{CT_A}/settings')
    form = p.one('#password-form')
    p.a11y('password and reinstall')
    pw = f'Pnl-{PID}-{int(time.time()) % 100000}'
    fields = form.find_elements(By.CSS_SELECTOR, 'input[type=password]')
    for f in fields:
        f.send_keys(pw)
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: 'password of root' in p.one('#status').get_attribute('textContent'), 30, 'the password set message')
    shadow = env.berth('exec', CT_A, 'cat /etc/shadow').stdout
    line = next((l for l in shadow.splitlines() if l.startswith('root:')), '')
    h = line.split(':')[1] if line else ''
    check(h.startswith('$'), f'root has no password hash in the VPS\'s /etc/shadow: {line!r}')
    check(crypt.crypt(pw, h) == h, 'the hash in /etc/shadow does not verify with the password set in the panel')
    check(crypt.crypt(pw + 'x', h) != h, 'the hash verifies with a wrong password too')
    env.root_password = pw


@step('a dialog takes the focus and gives it back on Escape (reinstall confirmation)')
def t_dialog(p, env):
    p.go(f'#/ct/{CT_A}/settings')
    btn = p.one('#reinstall-form button[type=submit]')
    btn.click()
    p.one('dialog[open]')
    inside = p.d.execute_script("return document.querySelector('dialog[open]').contains(document.activeElement)")
    check(inside, 'the focus is not in the open dialog')
    ok = p.d.execute_script("return document.querySelector('dialog[open] button[type=submit]').disabled")
    check(ok, 'the reinstall can be confirmed without ticking "I understand"')
    p.a11y('reinstall dialog')
    p.d.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until(lambda: not p.css('dialog[open]'), 5, 'the dialog to close on Escape')
    back = p.d.execute_script("return document.activeElement === document.querySelector('#reinstall-form button[type=submit]')")
    check(back, 'the focus did not return to the Reinstall button')


@step('reinstall (confirmed in its dialog) runs as a job; the VPS\'s files are new')
def t_reinstall(p, env):
    env.berth('start', CT_A2, '--wait')
    env.berth('exec', CT_A2, 'echo before > /root/marker')
    env.berth('stop', CT_A2)
    p.go(f'#/ct/{CT_A2}/settings')
    p.one('#reinstall-form button[type=submit]').click()
    dlg = p.one('dialog[open]')
    dlg.find_element(By.CSS_SELECTOR, 'input[type=checkbox]').click()
    dlg.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: not p.css('dialog[open]'), 5, 'the dialog to close')
    job = wait_until(lambda: p.css('#jobs-live li'), 15, 'the reinstall job in the activity list')[0]
    wait_until(lambda: 'done' in job.text or 'failed' in job.text, 120, 'the reinstall job to end')
    check('done' in job.text, f'the reinstall job: {job.text}')
    p.a11y('after a job')
    env.berth('start', CT_A2, '--wait')
    r = env.berth('exec', CT_A2, 'test -e /root/marker', check=False)
    env.berth('stop', CT_A2, '--fast', check=False)
    check(r.returncode != 0, 'the file written before the reinstall is still there')


@step('the console: a typed command\'s output; root logs in there with the panel\'s new password')
def t_console(p, env):
    p.go(f'#/ct/{CT_A}/console')
    sel = p.one('main select')
    sel.find_element(By.CSS_SELECTOR, 'option[value="shell"]').click()
    p.d.find_element(By.XPATH, '//main//button[text()="Connect"]').click()
    wait_until(lambda: 'Connected' in p.one('.console-status').text, 15, 'the console to connect')
    p.a11y('console')
    ta = p.one('.xterm-helper-textarea')
    time.sleep(0.5)
    ta.send_keys('echo panel-$((6*7))-ok\n')
    out = lambda: p.d.execute_script("const a = document.querySelector('.xterm-accessibility-tree'); return a ? Array.from(a.children, (r) => r.textContent).join(String.fromCharCode(10)) : ''")
    wait_until(lambda: 'panel-42-ok' in out(), 15, 'the command\'s output (panel-42-ok) in the terminal')
    pw = getattr(env, 'root_password', None)
    check(pw, 'no password was set by the password step, so no login to try')
    # A real login with the password set in the panel: busybox login asks for it and checks it
    # against the VPS's /etc/shadow, then starts root's login shell.
    ta.send_keys('clear; login root\n')
    wait_until(lambda: out().count('Password:') == 1, 15, 'login\'s Password: prompt')
    ta.send_keys(pw + 'x\n')  # a wrong one first: refused
    wait_until(lambda: 'Login incorrect' in out(), 15, '"Login incorrect" for a wrong password')
    wait_until(lambda: out().replace('Blank line', '').rstrip().endswith('login:'), 15, 'login asking again')
    ta.send_keys('root\n')
    wait_until(lambda: out().count('Password:') == 2, 15, 'login\'s second Password: prompt')
    ta.send_keys(pw + '\n')
    time.sleep(1)
    ta.send_keys('echo login-ok-$((3*3))\n')
    wait_until(lambda: 'login-ok-9' in out(), 20, 'a command\'s output after logging in with the new password')
    # Ctrl+] leaves the terminal (no keyboard trap): the focus goes to Disconnect.
    ta.send_keys(Keys.CONTROL + ']')
    wait_until(lambda: p.d.execute_script("return document.activeElement.textContent") == 'Disconnect', 5,
               'Ctrl+] to move the focus out of the terminal to Disconnect')
    p.d.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until(lambda: 'Disconnected' in p.one('.console-status').text, 10, 'the console to disconnect')


@step('the console (kind=console): what the VPS writes to /dev/console shows in the terminal')
def t_console_kind(p, env):
    p.go(f'#/ct/{CT_A}/console')
    p.one('main select').find_element(By.CSS_SELECTOR, 'option[value="console"]').click()
    p.d.find_element(By.XPATH, '//main//button[text()="Connect"]').click()
    wait_until(lambda: 'Connected' in p.one('.console-status').text, 15, 'the console to connect')
    time.sleep(0.5)
    env.berth('exec', CT_A, 'echo console-$((5*5))-ok > /dev/console')
    out = lambda: p.d.execute_script("const a = document.querySelector('.xterm-accessibility-tree'); return a ? a.textContent : ''")
    wait_until(lambda: 'console-25-ok' in out(), 15, 'console-25-ok, written to the VPS\'s /dev/console, in the terminal')
    p.d.find_element(By.XPATH, '//main//button[text()="Disconnect"]').click()


@step('a graph moves: its newest point gets newer')
def t_graph(p, env):
    p.go(f'#/ct/{CT_A}/graphs')
    fig = lambda: p.d.execute_script("const f = document.querySelector('#charts figure'); return f ? Number(f.dataset.last) : 0")
    first = wait_until(fig, 40, 'a CPU graph with a point')
    p.a11y('graphs')
    wait_until(lambda: fig() > first, 40, f'a newer point than t={first} on the CPU graph')
    titles = p.d.execute_script("return Array.from(document.querySelectorAll('#charts figcaption'), (f) => f.textContent)")
    for want in ('CPU', 'Memory', 'Disk', 'Network', 'Limit hits'):
        check(any(t.startswith(want) for t in titles), f'no {want} graph among {titles}')
    # The day's range: the axis says hours.
    p.one('input[type=radio][value=day]').click()
    wait_until(lambda: '-12 h' in p.one('#charts svg').text or p.d.execute_script(
        "return Array.from(document.querySelectorAll('#charts svg text'), (t) => t.textContent).includes('-12 h')"), 10, 'the day graphs')


@step('keyboard: Tab reaches the power buttons of the list, with a visible focus outline')
def t_keyboard(p, env):
    p.go('#/')
    p.one(f'button[aria-label="Stop VPS {CT_A}"]')
    p.d.execute_script('document.activeElement.blur(); window.scrollTo(0, 0);')
    body = p.d.find_element(By.TAG_NAME, 'body')
    body.send_keys(Keys.TAB)
    seen = []
    for _ in range(40):
        label = p.d.execute_script("const e = document.activeElement; return e.getAttribute('aria-label') || e.textContent.trim()")
        seen.append(label)
        if label == f'Stop VPS {CT_A}':
            outline = p.d.execute_script("const cs = getComputedStyle(document.activeElement); return [cs.outlineStyle, cs.outlineWidth]")
            check(outline[0] != 'none' and outline[1] != '0px', f'the focused button shows no focus outline: {outline}')
            return
        p.d.switch_to.active_element.send_keys(Keys.TAB)
    raise Fail(f'40 Tabs did not reach Stop VPS {CT_A}: {seen}')


@step('a phone-sized screen: no sideways scrolling')
def t_phone(p, env):
    try:
        p.d.set_window_size(390, 844)
        for route in ('#/', f'#/ct/{CT_A}', f'#/ct/{CT_A}/graphs', f'#/ct/{CT_A}/console', f'#/ct/{CT_A}/settings',
                      f'#/ct/{CT_A}/storage'):
            p.go(route)
            p.one('main h1')
            time.sleep(0.5)
            p.no_sideways_scroll(route or 'list')
            p.a11y(f'{route} on a phone')
    finally:
        p.d.set_window_size(1280, 1000)


SNAP = f'tab-{PID}'  # the snapshot t_new_tab takes and t_snapshots switches to


def snap_row(p, name):
    return (p.css(f'#snapshots tr[data-name="{name}"]') or [None])[0]


def job_line(p, kind, ct):
    """The Activity area's newest line of a job of this kind on this VPS (text), or ''."""
    return p.d.execute_script(
        "const li = Array.from(document.querySelectorAll('#jobs-live li .job-text'))"
        ".find((e) => e.textContent.startsWith(arguments[0] + ' VPS ' + arguments[1] + ':'));"
        "return li ? li.textContent : ''", kind, int(ct))


def take_snapshot(p, name):
    form = p.one('#snapshot-form')
    inp = form.find_element(By.CSS_SELECTOR, 'input[name=name]')
    inp.clear()
    inp.send_keys(name)
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: snap_row(p, name), 30, f'snapshot {name} in the list')
    wait_until(lambda: 'done' in job_line(p, 'snapshot', CT_A), 10, 'the snapshot job shown done in the Activity area')


@step('a new tab (session cookie, no CSRF token in its sessionStorage) makes a change: takes a snapshot')
def t_new_tab(p, env):
    first = p.d.current_window_handle
    p.d.switch_to.new_window('tab')
    try:
        for again in (False, True):
            if again:
                # Whatever the browser carried over: none now, as in a tab opened from a bookmark.
                p.d.execute_script("sessionStorage.clear()")
            p.go(f'#/ct/{CT_A}/storage')
            wait_until(lambda: p.css('#snapshot-form') or p.css('#login-token'), 10, 'the page in the new tab')
            check(not p.css('#login-token'), 'the new tab asks to log in again')
        take_snapshot(p, SNAP)
        check(not p.css('#alert:not([hidden])'), f'an error in the new tab: {p.one("#alert").text}')
        listed = env.berth('snapshot-list', CT_A).stdout
        check(SNAP in listed, f'berth snapshot-list {CT_A} does not list {SNAP}: {listed!r}')
        p.a11y('snapshots and backups')
    finally:
        p.d.close()
        p.d.switch_to.window(first)


@step('snapshots: a file written after one is gone after switching back to it (confirmed); take and delete one; an error shown')
def t_snapshots(p, env):
    p.go(f'#/ct/{CT_A}/storage')
    p.one('#snapshot-form')
    if not wait_until(lambda: p.css('#snapshots table, #snapshots .empty'), 10, 'the snapshot list') or not snap_row(p, SNAP):
        take_snapshot(p, SNAP)  # t_new_tab did not run or failed
    row = snap_row(p, SNAP)
    check('current' in row.text, f'the snapshot just taken is not marked current: {row.text!r}')
    env.berth('exec', CT_A, f'echo after > /root/panel-marker-{PID}')
    # Restarted: /run is a fresh tmpfs at each start. (Init's start time inside, which this read
    # before, counts from the VPS's own boot in its time namespace: two starts could show the
    # same few ticks, and the check failed once in CI with the switch done.)
    env.berth('exec', CT_A, f'touch /run/panel-alive-{PID}')
    # A stale token in this tab (another tab logged in again): the panel renews it from whoami.
    p.d.execute_script("sessionStorage.setItem('berth.csrf', 'stale')")
    row.find_element(By.XPATH, './/button[starts-with(text(), "Switch")]').click()
    dlg = p.one('dialog[open]')
    check('restarts' in dlg.text, f'the switch dialog does not say the VPS restarts: {dlg.text!r}')
    p.a11y('switch dialog')
    dlg.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: 'done' in job_line(p, 'snapshot-switch', CT_A) or 'failed' in job_line(p, 'snapshot-switch', CT_A),
               60, 'the switch job to end')
    check('done' in job_line(p, 'snapshot-switch', CT_A), f'the switch job: {job_line(p, "snapshot-switch", CT_A)}')
    check(not p.css('#alert:not([hidden])'), f'an error after the switch: {(p.css("#alert") or [None])[0].text}')
    wait_until(lambda: env.state(CT_A) == 'running', 20, f'VPS {CT_A} running again after the switch')
    wait_until(lambda: env.berth('exec', CT_A, 'true', check=False).returncode == 0, 15, 'exec in the VPS after the switch')
    r = env.berth('exec', CT_A, f'test -e /root/panel-marker-{PID} && echo still-there || echo gone').stdout.strip()
    check(r == 'gone', f'the file written after the snapshot: {r}')
    alive = env.berth('exec', CT_A, f'test -e /run/panel-alive-{PID} && echo same || echo new').stdout.strip()
    check(alive == 'new', 'the VPS did not restart across the switch')
    # Another one, taken and deleted (confirmed) in the panel: gone from berth snapshot-list.
    other = f'{SNAP}-b'
    wait_until(lambda: p.one('#snapshot-form button[type=submit]').is_enabled(), 10, 'Take a snapshot enabled')
    take_snapshot(p, other)
    snap_row(p, other).find_element(By.XPATH, './/button[starts-with(text(), "Delete")]').click()
    p.one('dialog[open] button[type=submit]').click()
    wait_until(lambda: not snap_row(p, other), 30, f'snapshot {other} gone from the list')
    check(other not in env.berth('snapshot-list', CT_A).stdout, f'berth snapshot-list still lists {other}')
    # One deleted behind the page's back: switching to it is refused, the error area says why and
    # the list is reloaded.
    uuid = snap_row(p, SNAP).get_attribute('data-snapshot')
    env.berth('snapshot-delete', CT_A, '--id', uuid)
    wait_until(lambda: snap_row(p, SNAP).find_element(By.XPATH, './/button[starts-with(text(), "Switch")]').is_enabled(),
               10, 'the Switch button enabled')
    snap_row(p, SNAP).find_element(By.XPATH, './/button[starts-with(text(), "Switch")]').click()
    p.one('dialog[open] button[type=submit]').click()
    alert = wait_until(lambda: p.css('#alert:not([hidden])'), 10, 'an error for a snapshot deleted meanwhile')[0]
    check('snapshot' in alert.text.lower() and 'switch' in alert.text.lower(), f'the error says {alert.text!r}')
    wait_until(lambda: not snap_row(p, SNAP), 10, f'snapshot {SNAP} gone from the list after the refusal')
    p.a11y('snapshots with an error')


@step('backups: take one (a job); it is listed; restore it (confirmed): a file written after is gone; delete it')
def t_backups(p, env):
    p.go(f'#/ct/{CT_A}/storage')
    btn = p.one('#backup-take')
    wait_until(lambda: p.css('#backups table, #backups .empty'), 10, 'the backup list')
    n = len(p.css('#backups tr[data-backup]'))
    wait_until(lambda: btn.is_enabled(), 10, 'Take a backup enabled')
    btn.click()
    wait_until(lambda: 'done' in job_line(p, 'backup', CT_A) or 'failed' in job_line(p, 'backup', CT_A), 60, 'the backup job to end')
    check('done' in job_line(p, 'backup', CT_A), f'the backup job: {job_line(p, "backup", CT_A)}')
    rows = wait_until(lambda: len(p.css('#backups tr[data-backup]')) > n and p.css('#backups tr[data-backup]'), 10, 'the new backup listed')
    bid = rows[0].get_attribute('data-backup')
    check(bid in env.berth('backup-list', CT_A).stdout, f'berth backup-list {CT_A} does not list {bid}')
    p.a11y('snapshots and backups with a backup')
    # Restore (confirmed): a file written after the backup is gone, the VPS runs again.
    env.berth('exec', CT_A, f'echo after > /root/panel-backup-marker-{PID}')
    rows[0].find_element(By.XPATH, './/button[starts-with(text(), "Restore")]').click()
    dlg = p.one('dialog[open]')
    check('restarts' in dlg.text, f'the restore dialog does not say the VPS restarts: {dlg.text!r}')
    p.a11y('restore dialog')
    dlg.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    line = lambda: job_line(p, 'backup-restore', CT_A)
    wait_until(lambda: 'done' in line() or 'failed' in line(), 60, 'the restore job to end')
    check('done' in line(), f'the restore job: {line()}')
    wait_until(lambda: env.berth('exec', CT_A, 'true', check=False).returncode == 0, 20, 'exec in the VPS after the restore')
    r = env.berth('exec', CT_A, f'test -e /root/panel-backup-marker-{PID} && echo still-there || echo gone').stdout.strip()
    check(r == 'gone', f'the file written after the backup: {r}')
    try:  # the list on a phone: one card per backup, no sideways scrolling
        p.d.set_window_size(390, 844)
        time.sleep(0.3)
        p.no_sideways_scroll('snapshots and backups with a backup')
        p.a11y('snapshots and backups on a phone')
    finally:
        p.d.set_window_size(1280, 1000)
    p.css(f'#backups tr[data-backup="{bid}"]')[0].find_element(By.XPATH, './/button[starts-with(text(), "Delete")]').click()
    p.one('dialog[open] button[type=submit]').click()
    wait_until(lambda: not p.css(f'#backups tr[data-backup="{bid}"]'), 30, f'backup {bid} gone from the list')


@step('log out ends the session')
def t_logout(p, env):
    p.go(f'#/ct/{CT_A}')
    p.one('#logout')
    p.logout()
    status = p.d.execute_script("return fetch('/v1/whoami', {credentials: 'same-origin'}).then(r => r.status)")
    check(status == 401, f'whoami after log out answers {status}, not 401')
    p.go(f'#/ct/{CT_A}')
    p.one('#login-token')


@step('operator: every VPS, host, new VPS form, limits, audit log, jobs')
def t_operator(p, env):
    p.login_token(env.tokens['ops'])
    # Alice's and bob's (CT_A2 is left out: a failed reinstall may have removed it).
    wait_until(lambda: all(p.css(f'tr[data-ctid="{c}"]') for c in (CT_A, CT_B)), 15, 'every customer\'s VPSs')
    p.a11y('operator list')
    for route, what in (('#/host', 'Host'), ('#/new', 'Create a VPS'), (f'#/ct/{CT_A}/limits', 'Limits'),
                        (f'#/ct/{CT_A}/danger', 'Destroy'), (f'#/ct/{CT_A}/storage', 'Snapshots and backups'),
                        ('#/audit', 'Audit log'), ('#/jobs', 'Jobs')):
        p.go(route)
        wait_until(lambda: what in p.h1(), 10, f'the {what} page')
        time.sleep(0.7)
        p.a11y(what)
        alert = p.css('#alert:not([hidden])')
        check(not alert, f'{what}: error shown: {alert[0].text if alert else ""}')
    p.go('#/audit')
    wait_until(lambda: 'alice' in p.one('main').text, 10, 'alice\'s changes in the audit log')
    # Change a limit live.
    p.go(f'#/ct/{CT_A}/limits')
    form = p.one('#limits-form')
    form.find_element(By.CSS_SELECTOR, 'input[name=numproc]').send_keys('321')
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: 'applied' in p.one('#status').get_attribute('textContent'), 20, 'the limits applied message')
    conf = open(f'{ROOT}/etc/berth/conf/{CT_A}.conf').read() if os.path.exists(f'{ROOT}/etc/berth/conf/{CT_A}.conf') else ''
    check('321' in conf, 'NUMPROC 321 is not in the VPS\'s config after Apply')
    p.logout()


@step('operator: create a VPS with limits and an address (a job), then destroy it (typed CTID)')
def t_create_destroy(p, env):
    ct = str(int(CT_B) + 1)
    ip = IP_A.rsplit('.', 1)[0] + '.' + str((int(IP_A.rsplit('.', 1)[1]) + 1) % 250 + 1)
    env.cts.append(ct)
    p.login_token(env.tokens['ops'])
    p.go('#/new')
    form = p.one('#create-form')
    wait_until(lambda: form.find_elements(By.CSS_SELECTOR, 'select[name=ostemplate] option[value=busybox]'), 10, 'the template list')
    for name, value in (('ctid', ct), ('hostname', f'new{ct}'), ('ipadd', ip), ('nameserver', '198.18.0.53'),
                        ('ram', '128M'), ('numproc', '77')):
        form.find_element(By.CSS_SELECTOR, f'input[name={name}]').send_keys(value)
    form.find_element(By.CSS_SELECTOR, 'input[name=start]').click()
    p.a11y('new VPS form, filled')
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    wait_until(lambda: f'VPS {ct}' in p.h1(), 60, f'the page of the new VPS {ct} after its create job')
    conf = open(f'{ROOT}/etc/berth/conf/{ct}.conf').read()
    check(ip in conf and '77' in conf and '198.18.0.53' in conf, f'the new VPS\'s config lacks its address, name server or NUMPROC: {conf[-400:]}')
    wait_until(lambda: env.state(ct) == 'running', 30, f'the new VPS {ct} running ("Start it once created")')
    wait_until(lambda: p.css('.ct-summary .badge') and p.one('.ct-summary .badge').text == 'running', 15, 'its page to say running')
    p.go(f'#/ct/{ct}/danger')
    p.one('main button.danger').click()
    dlg = p.one('dialog[open]')
    confirm = dlg.find_element(By.CSS_SELECTOR, 'button[type=submit]')
    check(not confirm.is_enabled(), 'Destroy can be confirmed before the CTID is typed')
    p.a11y('destroy dialog')
    dlg.find_element(By.CSS_SELECTOR, 'input').send_keys(ct)
    confirm.click()
    wait_until(lambda: not os.path.exists(f'{ROOT}/etc/berth/conf/{ct}.conf'), 60, f'VPS {ct}\'s config to be gone')
    p.go('#/')
    p.one(f'tr[data-ctid="{CT_A}"]')
    wait_until(lambda: not p.css(f'tr[data-ctid="{ct}"]'), 15, f'VPS {ct} gone from the list')
    p.logout()


@step('the browser logged no script error and no Content-Security-Policy violation')
def t_browser_log(p, env):
    p.collect_logs()
    is_bad = lambda e: (e.get('source') == 'javascript' or 'Content Security Policy' in e.get('message', '')
                        or 'Content-Security-Policy' in e.get('message', ''))
    bad = [e for e in p.logs if is_bad(e)]
    # The check itself: an inline style planted now must show up as a CSP violation (berthd sends a
    # CSP without 'unsafe-inline'), so a log that says nothing means nothing was wrong.
    p.go()
    p.one('main h1')
    p.d.execute_script("document.querySelector('main').insertAdjacentHTML('beforeend', '<b style=\"color:red\">csp probe</b>')")
    time.sleep(0.5)
    probe = [e for e in p.d.get_log('browser') if is_bad(e)]
    check(probe, 'an inline style planted in the page left no CSP violation in the browser\'s log: the log check cannot see')
    for e in bad:
        log(f"    browser: {e.get('level')} {e.get('source')}: {e.get('message')}")
    check(not bad, f'{len(bad)} script errors or CSP violations in the browser\'s log')


STEPS = [t_a11y_selftest, t_login_password, t_login, t_power, t_live, t_password, t_dialog, t_reinstall, t_console, t_console_kind, t_graph, t_keyboard, t_phone,
         t_new_tab, t_snapshots, t_backups, t_logout, t_operator, t_create_destroy, t_browser_log]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--berth', required=True)
    ap.add_argument('--berthd', required=True)
    ap.add_argument('--only', help='comma-separated step function names')
    args = ap.parse_args()
    t0 = time.time()
    env = Env(os.path.abspath(args.berth), os.path.abspath(args.berthd))
    b = None
    netns = None
    passed = failed = 0
    try:
        env.setup()
        env.start_daemon()
        log(f'panel: berthd on 127.0.0.1:{env.port}, root {ROOT}, VPSs {CT_A} {CT_A2} (alice) {CT_B} (bob), '
            f'setup {time.time() - t0:.1f} s')
        netns = browser.Netns()
        env.preexec = netns.host_preexec()
        bridge = browser.Bridge(netns, env.port, ('127.0.0.1', env.port))
        b = browser.Browser()
        log(f'panel: {b.mode}, in a network namespace with only lo')
        p = Panel(b, env.port)
        only = set(args.only.split(',')) if args.only else None
        for fn in STEPS:
            if only and fn.__name__ not in only:
                continue
            s = time.time()
            try:
                p.collect_logs()
                fn(p, env)
                passed += 1
                log(f'PASS {fn.step_name} ({time.time() - s:.1f} s)')
            except Exception as e:
                failed += 1
                detail = str(e) if isinstance(e, Fail) else traceback.format_exc()
                log(f'FAIL {fn.step_name} ({time.time() - s:.1f} s): {detail}')
                try:
                    shot = f'/tmp/berth-it-panel-{PID}-{fn.__name__}.png'
                    b.driver.save_screenshot(shot)
                    log(f'     screenshot {shot}')
                except Exception:
                    pass
        bridge.close()
    except Exception:
        failed += 1
        log(f'FAIL setup: {traceback.format_exc()}')
    finally:
        if b:
            b.quit()
        if netns:
            netns.enter_host()
        env.preexec = None
        env.teardown()
        if env.daemon:
            env.daemon_log.close()
            if failed:
                tail = open(env.daemon_log.name).read().splitlines()[-30:]
                log('panel: the end of berthd\'s log:\n    ' + '\n    '.join(tail))
            os.unlink(env.daemon_log.name)
    log(f'panel: browser tests took {time.time() - t0:.0f} s')
    log(f'panel: {passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
