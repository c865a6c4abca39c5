// The berthd REST API as the panel uses it (docs/panel.md; the daemon's /v1/openapi.json).
// Same-origin only: the session cookie (HttpOnly, set by POST /v1/login) goes with every request,
// and every request that changes something carries the CSRF token in X-CSRF-Token.

const CSRF_KEY = 'berth.csrf';

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code;
    this.name_ = err.name;
  }
}

export function csrf() { return sessionStorage.getItem(CSRF_KEY) || ''; }
export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

// Listeners told when a request answers 401 (the session ended): the app shows the login page.
const unauthorized = new Set();
export function onUnauthorized(fn) { unauthorized.add(fn); }

// berthd refuses a change whose X-CSRF-Token is not the session's (403, nothing done).
const csrfRefused = (status, data) => status === 403 && /X-CSRF-Token/i.test((data && data.error && data.error.message) || '');

export async function request(method, path, body, { quiet401 = false, retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  const change = method !== 'GET' && method !== 'HEAD';
  if (change) {
    headers['X-CSRF-Token'] = csrf();
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: { message: text.slice(0, 200) } }; }
  }
  if (!res.ok) {
    // This tab's token is not the session's (another tab logged in again since): berthd did
    // nothing; take the session's token from whoami and try once more.
    if (change && !retried && csrfRefused(res.status, data) && path !== '/v1/whoami') {
      const me = await whoami().catch(() => null);
      if (me && me.csrf) return request(method, path, body, { quiet401, retried: true });
    }
    if (res.status === 401 && !quiet401) unauthorized.forEach((fn) => fn());
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

export const ctPath = (ctid, rest = '') => `/v1/cts/${encodeURIComponent(ctid)}${rest}`;

export async function login(credentials) {
  const r = await request('POST', '/v1/login', credentials, { quiet401: true });
  setCsrf(r && r.csrf);
  return r;
}

export async function logout() {
  try { await request('POST', '/v1/logout', {}, { quiet401: true }); } finally { setCsrf(''); }
}

// Who is logged in. With the session cookie berthd also answers the session's CSRF token
// ("csrf"): a panel opened in a new tab (the cookie is there, sessionStorage is not) or a tab
// whose token is stale takes it from here instead of asking to log in again.
export async function whoami() {
  const me = await get('/v1/whoami', { quiet401: true });
  if (me && me.csrf) setCsrf(me.csrf);
  return me;
}

// The event stream: calls handlers[type](data) for `ct`, `job` and `ubc` events; reconnects by
// itself (EventSource), reports the connection state to onState(true|false).
export function events(handlers, onState) {
  const es = new EventSource('/v1/events', { withCredentials: true });
  for (const type of ['ct', 'job', 'ubc']) {
    es.addEventListener(type, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      if (handlers[type]) handlers[type](data);
    });
  }
  es.onopen = () => onState && onState(true);
  es.onerror = () => onState && onState(false);
  return es;
}

export function consoleUrl(ctid, kind) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${ctPath(ctid, '/console')}?kind=${encodeURIComponent(kind)}`;
}
