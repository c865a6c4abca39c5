#!/usr/bin/env python3
"""A development stand-in for berthd's API (docs/panel.md, "Working on the panel"): serves panel/
and answers the contract's endpoints from memory, so the panel's pages can be worked on in a
browser without root, VPSs or a built daemon. It is NOT used by the tests: scripts/test-panel.sh
runs the browser tests against the real berthd. Usage: tests/panel/mockd.py [PORT] (127.0.0.1).
Tokens: "admin-token" (operator), "alice-token" (customer of 101 and 102)."""
import base64, hashlib, json, mimetypes, os, random, secrets, socket, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

PANEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'panel')
TOKENS = {'admin-token': ('ops', True, None), 'alice-token': ('alice', False, [101, 102])}
SESSIONS = {}
LOCK = threading.Lock()
CTS = {i: {'ctid': i, 'name': f'web{i}', 'hostname': f'ct{i}.example', 'state': 'running' if i != 102 else 'stopped',
           'ip': [f'198.18.0.{i - 100}'], 'ostemplate': 'busybox', 'ubc_failcnt': 0,
           'usage': {'cpu_pct': 1.0, 'mem_bytes': 20 << 20, 'mem_limit_bytes': 512 << 20, 'disk_bytes': 3 << 20,
                     'disk_limit_bytes': 2 << 30, 'procs': 3}} for i in (101, 102, 103)}
STATS = {i: [] for i in CTS}
JOBS = {}
AUDIT = []
SNAPS = {i: [] for i in CTS}
BACKUPS = {i: [] for i in CTS}
SUBSCRIBERS = []


def sample():
    while True:
        now = int(time.time())
        with LOCK:
            for i, ct in CTS.items():
                on = ct['state'] == 'running'
                ct['usage']['cpu_pct'] = round(random.uniform(0.5, 30), 1) if on else 0
                prev = STATS[i][-1] if STATS[i] else {'net_rx_bytes': 0, 'net_tx_bytes': 0}
                STATS[i].append({'t': now, 'cpu_pct': ct['usage']['cpu_pct'], 'mem_bytes': ct['usage']['mem_bytes'] if on else 0,
                                 'disk_bytes': ct['usage']['disk_bytes'], 'net_rx_bytes': prev['net_rx_bytes'] + random.randint(0, 50000),
                                 'net_tx_bytes': prev['net_tx_bytes'] + random.randint(0, 20000), 'ubc_failcnt': ct['ubc_failcnt']})
                del STATS[i][:-8640]
        time.sleep(5)


def publish(kind, data):
    msg = f'event: {kind}\ndata: {json.dumps(data)}\n\n'.encode()
    for q in list(SUBSCRIBERS):
        q.append(msg)


class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def send_json(self, code, obj=None, headers=()):
        body = b'' if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        if obj is not None:
            self.send_header('Content-Type', 'application/json')
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def err(self, code, msg):
        self.send_json(code, {'error': {'code': 1, 'name': 'error', 'message': msg}})

    def who(self):
        auth = self.headers.get('Authorization', '')
        if auth.startswith('Bearer ') and auth[7:] in TOKENS:
            return TOKENS[auth[7:]], None
        for part in self.headers.get('Cookie', '').split(';'):
            k, _, v = part.strip().partition('=')
            if k == 'berth_session' and v in SESSIONS:
                return SESSIONS[v]['who'], SESSIONS[v]['csrf']
        return None, None

    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return json.loads(self.rfile.read(n) or b'{}') if n else {}

    def do_GET(self):
        self.route('GET')

    def do_POST(self):
        self.route('POST')

    def do_PATCH(self):
        self.route('PATCH')

    def do_DELETE(self):
        self.route('DELETE')

    def static(self, path):
        rel = 'index.html' if path == '/' else path[len('/panel/'):]
        full = os.path.realpath(os.path.join(PANEL, rel))
        if not full.startswith(os.path.realpath(PANEL)) or not os.path.isfile(full):
            return self.err(404, 'no such file')
        data = open(full, 'rb').read()
        ctype = mimetypes.guess_type(full)[0] or 'application/octet-stream'
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method):
        u = urlparse(self.path)
        p = u.path
        if method == 'GET' and (p == '/' or p.startswith('/panel/')):
            return self.static(p)
        body = self.body() if method != 'GET' else {}
        if p == '/v1/login' and method == 'POST':
            tok = body.get('token') or ('alice-token' if body.get('user') == 'alice' and body.get('password') == 'alice' else None)
            if tok not in TOKENS:
                return self.err(401, 'bad credentials')
            sid, csrf = secrets.token_hex(16), secrets.token_hex(16)
            SESSIONS[sid] = {'who': TOKENS[tok], 'csrf': csrf}
            u_, adm, cts = TOKENS[tok]
            return self.send_json(200, {'csrf': csrf, 'user': u_, 'admin': adm, 'cts': cts},
                                  [('Set-Cookie', f'berth_session={sid}; HttpOnly; SameSite=Strict; Path=/')])
        who, csrf = self.who()
        if not who:
            return self.err(401, 'not logged in')
        if method != 'GET' and csrf and self.headers.get('X-CSRF-Token') != csrf:
            return self.err(403, 'bad CSRF token')
        user, admin, allowed = who
        visible = lambda i: admin or i in allowed
        AUDIT.insert(0, {'t': int(time.time()), 'who': user, 'from': self.client_address[0], 'action': f'{method} {p}',
                         'ctid': None, 'result': 'ok'}) if method != 'GET' else None
        parts = p.strip('/').split('/')
        if p == '/v1/logout':
            return self.send_json(204)
        if p == '/v1/whoami':
            return self.send_json(200, {'user': user, 'admin': admin, 'cts': allowed, 'csrf': csrf})
        if p == '/v1/events':
            return self.events(visible)
        if p == '/v1/cts' and method == 'GET':
            return self.send_json(200, [c for i, c in sorted(CTS.items()) if visible(i)])
        if p == '/v1/cts' and method == 'POST':
            if not admin:
                return self.err(403, 'operators only')
            i = int(body['ctid'])
            CTS[i] = {'ctid': i, 'name': body.get('name', ''), 'hostname': body.get('hostname', ''), 'state': 'stopped', 'ip': body.get('ipadd', []),
                      'ostemplate': body['ostemplate'], 'ubc_failcnt': 0, 'usage': {'disk_bytes': 1 << 20, 'disk_limit_bytes': None}}
            STATS[i], SNAPS[i], BACKUPS[i] = [], [], []
            return self.send_json(202, self.job('create', i))
        if p == '/v1/host':
            return self.send_json(200, {'hostname': socket.gethostname(), 'kernel': os.uname().release, 'cgroup': 'v2', 'cpus': os.cpu_count(),
                                        'mem_total': 8 << 30, 'mem_available': 5 << 30, 'disk_total': 100 << 30, 'disk_free': 60 << 30,
                                        'cts_total': len(CTS), 'cts_running': sum(c['state'] == 'running' for c in CTS.values())})
        if p == '/v1/templates':
            return self.send_json(200, [{'name': 'busybox', 'size': 1 << 20}, {'name': 'debian-12-x86_64-minimal', 'size': 90 << 20}])
        if p == '/v1/audit':
            return self.send_json(200, AUDIT[:int(parse_qs(u.query).get('limit', ['50'])[0])])
        if p == '/v1/jobs':
            return self.send_json(200, list(JOBS.values()))
        if parts[:2] == ['v1', 'jobs'] and len(parts) == 3:
            return self.send_json(200, JOBS[parts[2]]) if parts[2] in JOBS else self.err(404, 'no such job')
        if parts[:2] == ['v1', 'cts'] and len(parts) >= 3:
            i = int(parts[2])
            if i not in CTS or not visible(i):
                return self.err(404, f'CT {i} does not exist')
            ct = CTS[i]
            rest = parts[3:]
            if not rest and method == 'GET':
                return self.send_json(200, dict(ct, config={'CPUS': '1', 'PHYSPAGES': '0:131072'}) if admin else ct)
            if not rest and method == 'PATCH':
                if body.get('hostname'):
                    ct['hostname'] = body['hostname']
                return self.send_json(200, ct)
            if not rest and method == 'DELETE':
                del CTS[i]
                return self.send_json(202, self.job('destroy', i))
            if rest[0] in ('start', 'stop', 'restart'):
                ct['state'] = 'stopped' if rest[0] == 'stop' else 'running'
                publish('ct', ct)
                return self.send_json(200, ct)
            if rest[0] == 'reinstall':
                return self.send_json(202, self.job('reinstall', i))
            if rest[0] == 'password':
                return self.send_json(204)
            if rest[0] == 'stats':
                rng = parse_qs(u.query).get('range', ['hour'])[0]
                cut = time.time() - (3600 if rng == 'hour' else 86400)
                return self.send_json(200, {'range': rng, 'step_s': 5, 'points': [x for x in STATS[i] if x['t'] >= cut]})
            if rest[0] == 'snapshots':
                # The contract's shape (docs/api.md): jobs for take, switch and delete.
                snaps = SNAPS[i]
                if len(rest) == 1 and method == 'GET':
                    cur = next((s['id'] for s in snaps if s['current']), None)
                    return self.send_json(200, {'current': cur, 'snapshots': snaps})
                if len(rest) == 1 and method == 'POST':
                    sid = secrets.token_hex(16)

                    def take():
                        for s in snaps:
                            s['current'] = False
                        snaps.append({'id': sid, 'name': body.get('name', ''), 'description': body.get('description', ''),
                                      'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'parent': None,
                                      'size': random.randint(1, 50) << 20, 'current': True})
                        return {'id': sid, 'pause_ms': 12}
                    return self.send_json(202, self.job('snapshot', i, take))

                def switch(snap):
                    for s in snaps:
                        s['current'] = s is snap
                return self.item('snapshot', i, snaps, rest, method, body, 'switch', switch)
            if rest[0] == 'backups':
                backs = BACKUPS[i]
                if len(rest) == 1 and method == 'GET':
                    return self.send_json(200, backs)
                if len(rest) == 1 and method == 'POST':
                    bid = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime()) + '-' + secrets.token_hex(2)

                    def take():
                        backs.insert(0, {'id': bid, 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'files': 420,
                                         'logical_bytes': 3 << 20, 'new_bytes': random.randint(1, 3) << 19, 'consistent': True})
                        return {'id': bid, 'new_bytes': backs[0]['new_bytes']}
                    return self.send_json(202, self.job('backup', i, take))
                return self.item('backup', i, backs, rest, method, body, 'restore')
            if rest[0] == 'console':
                return self.console()
        return self.err(404, 'no such endpoint')

    def item(self, kind, i, items, rest, method, body, action, act=None):
        """DELETE /.../{id} and POST /.../{id}/<action> {"confirm": true} of a snapshot or a backup: jobs."""
        it = next((x for x in items if x['id'] == rest[1]), None)
        if not it:
            return self.err(404, f'no such {kind}')
        if method == 'DELETE':
            return self.send_json(202, self.job(f'{kind}-delete', i, lambda: items.remove(it)))
        if rest[2:] != [action] or method != 'POST':
            return self.err(404, 'no such endpoint')
        if body.get('confirm') is not True:
            return self.err(400, 'confirm: true is required')
        return self.send_json(202, self.job(f'{kind}-{action}', i, act and (lambda: act(it))))

    def job(self, kind, ctid, finish=None):
        j = {'id': 'j-' + secrets.token_hex(4), 'kind': kind, 'ctid': ctid, 'state': 'running', 'progress': 0, 'message': 'working',
             'error': None, 'started': int(time.time()), 'ended': None, 'result': None}
        JOBS[j['id']] = j

        def run():
            for pct in (30, 60, 100):
                time.sleep(1)
                j['progress'] = pct
                if pct == 100:
                    j.update(state='done', message='done', ended=int(time.time()), result=finish() if finish else None)
                publish('job', j)
        threading.Thread(target=run, daemon=True).start()
        return j

    def events(self, visible):
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream')
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        q = []
        SUBSCRIBERS.append(q)
        try:
            while True:
                while q:
                    self.wfile.write(q.pop(0))
                self.wfile.write(b': keepalive\n\n')
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass
        finally:
            SUBSCRIBERS.remove(q)
            self.close_connection = True

    def console(self):
        key = self.headers.get('Sec-WebSocket-Key', '')
        acc = base64.b64encode(hashlib.sha1((key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
        self.send_response(101)
        self.send_header('Upgrade', 'websocket')
        self.send_header('Connection', 'Upgrade')
        self.send_header('Sec-WebSocket-Accept', acc)
        self.end_headers()
        self.close_connection = True
        line = b''

        def send(data):
            hdr = bytes([0x82]) + (bytes([len(data)]) if len(data) < 126 else bytes([126]) + struct.pack('>H', len(data)))
            self.wfile.write(hdr + data)
            self.wfile.flush()
        send(b'mock console (tests/panel/mockd.py): echoes lines\r\n$ ')
        try:
            while True:
                b0, b1 = self.rfile.read(2)
                n = b1 & 0x7f
                if n == 126:
                    n = struct.unpack('>H', self.rfile.read(2))[0]
                elif n == 127:
                    n = struct.unpack('>Q', self.rfile.read(8))[0]
                mask = self.rfile.read(4)
                data = bytes(c ^ mask[k % 4] for k, c in enumerate(self.rfile.read(n)))
                op = b0 & 0x0f
                if op == 8:
                    return
                if op != 2:
                    continue
                for ch in data:
                    if ch == 13:
                        send(b'\r\nyou typed: ' + line + b'\r\n$ ')
                        line = b''
                    else:
                        line += bytes([ch])
                        send(bytes([ch]))
        except (OSError, ValueError):
            return


if __name__ == '__main__':
    threading.Thread(target=sample, daemon=True).start()
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8089
    ThreadingHTTPServer.daemon_threads = True
    print(f'mockd: http://127.0.0.1:{port}/', flush=True)
    ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()
