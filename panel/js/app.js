// The Berth panel: a single page (hash routes) over berthd's REST API. docs/panel.md says what a
// customer and an operator see. Live data: the event stream /v1/events (state changes, jobs,
// beancounter failures) plus polling every POLL_MS (usage, graphs), paused while the tab is hidden.
import * as api from './api.js';
import { h, replace, field, fmtBytes, fmtPct, fmtTime, timeEl, usage, say, alertError, clearAlert, dialog, nextId } from './ui.js';
import { chart, series } from './charts.js';
import { ConsoleView } from './console.js';

const POLL_MS = 10000;
const state = {
  me: null,
  cts: new Map(),      // ctid -> CT
  jobs: new Map(),     // id -> Job (the ones this page started or saw)
  es: null,
  view: null,          // {name, cleanup()}
  range: 'hour',
};
// The current view goes into #view; <main> also holds the error area (#alert) above it.
const main = document.getElementById('view');

// ---------- helpers

const isAdmin = () => !!(state.me && state.me.admin);
const ctLabel = (ct) => `VPS ${ct.ctid}${ct.name ? ` (${ct.name})` : ''}`;
const STATES = { running: 'running', stopped: 'stopped', mounted: 'mounted', suspended: 'suspended' };

function stateBadge(st) {
  return h('span', { class: `badge st-${STATES[st] ? st : 'other'}`, text: st || 'unknown' });
}

function setTitle(text) {
  document.title = `${text} · Berth panel`;
}

// Counts the views begun: a view that waits for data before it draws (viewCt) draws nothing when
// another began meanwhile (a click elsewhere, log out), so it never replaces a newer page.
let navSeq = 0;

// Puts a new view in <main>: its h1 gets focus (screen readers hear the new page), the old view's
// timers and connections are stopped.
function showView(name, title, ...children) {
  navSeq++;
  if (state.view && state.view.cleanup) state.view.cleanup();
  state.view = { name, cleanup: null };
  clearAlert();
  const h1 = h('h1', { tabindex: '-1', text: title });
  replace(main, h1, ...children);
  setTitle(title);
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  h1.focus();
  return state.view;
}

async function guarded(what, fn) {
  try {
    return await fn();
  } catch (err) {
    alertError(err, what);
    return undefined;
  }
}

function every(ms, fn) {
  let timer = null;
  const tick = async () => {
    if (!document.hidden) await fn();
    timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => clearTimeout(timer);
}

// ---------- jobs (long operations: create, reinstall, backup, destroy)

const JOB_DONE = new Set(['done', 'failed', 'cancelled']);

function renderJob(job) {
  const box = document.getElementById('activity');
  const list = document.getElementById('jobs-live');
  box.hidden = false;
  let li = list.querySelector(`[data-job="${CSS.escape(job.id)}"]`);
  const text = `${job.kind} ${job.ctid ? `VPS ${job.ctid}` : ''}: ${job.state}` +
    `${job.message ? ` — ${job.message}` : ''}${job.error && job.error.message ? ` (${job.error.message})` : ''}`;
  if (!li) {
    li = h('li', { dataset: { job: job.id } }, h('span', { class: 'job-text' }),
      h('progress', { max: 100, 'aria-label': `Progress of ${job.kind} ${job.ctid || ''}` }));
    list.prepend(li);
    while (list.children.length > 6) list.lastElementChild.remove();
  }
  li.className = `job job-${job.state}`;
  li.querySelector('.job-text').textContent = text;
  const prog = li.querySelector('progress');
  prog.value = job.state === 'done' ? 100 : Number(job.progress || 0);
}

// Waiters for the end of a job (trackJob), woken as soon as the event stream says it ended.
const jobEnd = new Map();  // id -> Set of functions

function jobSeen(job) {
  if (!job || !job.id) return;
  const old = state.jobs.get(job.id);
  state.jobs.set(job.id, job);
  renderJob(job);
  if (state.view && state.view.onJob) state.view.onJob(job);
  if (JOB_DONE.has(job.state) && !(old && JOB_DONE.has(old.state))) {
    say(`${job.kind} of VPS ${job.ctid || ''} ${job.state === 'done' ? 'finished' : job.state}.`);
    if (job.state === 'failed' && old) {
      // A job this page saw running failed: say why where errors are shown.
      alertError(new Error((job.error && job.error.message) || job.message || 'failed'), `${job.kind} of VPS ${job.ctid || ''}`);
    }
    refreshCts().catch(() => {});
    if (state.view && state.view.onJobDone) state.view.onJobDone(job);
    for (const wake of jobEnd.get(job.id) || []) wake();
    jobEnd.delete(job.id);
  }
}

// Follows a job this page started: the event stream tells its progress; polling is the fallback.
async function trackJob(job) {
  jobSeen(job);
  while (!JOB_DONE.has((state.jobs.get(job.id) || job).state)) {
    await new Promise((r) => {
      const wake = () => { clearTimeout(timer); r(); };
      const timer = setTimeout(() => { const w = jobEnd.get(job.id); if (w) w.delete(wake); r(); }, 2000);
      if (!jobEnd.has(job.id)) jobEnd.set(job.id, new Set());
      jobEnd.get(job.id).add(wake);
    });
    if (JOB_DONE.has((state.jobs.get(job.id) || job).state)) break;
    const j = await api.get(`/v1/jobs/${encodeURIComponent(job.id)}`).catch(() => null);
    if (j) jobSeen(j);
  }
  return state.jobs.get(job.id);
}

// An action answered by a CT (200) or a Job (202).
async function actionResult(r) {
  if (r && r.id && r.kind) return trackJob(r);
  if (r && r.ctid !== undefined) ctSeen(r);
  return r;
}

// ---------- CTs

const ctListeners = new Set();

function ctSeen(ct) {
  if (!ct || ct.ctid === undefined) return;
  const old = state.cts.get(ct.ctid) || {};
  const merged = { ...old, ...ct };
  state.cts.set(ct.ctid, merged);
  ctListeners.forEach((fn) => fn(merged));
}

async function refreshCts() {
  const list = await api.get('/v1/cts');
  const seen = new Set();
  for (const ct of list || []) { seen.add(ct.ctid); ctSeen(ct); }
  for (const id of [...state.cts.keys()]) {
    if (seen.has(id)) continue;
    state.cts.delete(id);
    ctListeners.forEach((fn) => fn({ ctid: id, removed: true }));
  }
  return list;
}

async function power(ct, action, button) {
  const label = { start: 'Starting', stop: 'Stopping', restart: 'Restarting' }[action];
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  say(`${label} VPS ${ct.ctid}…`);
  try {
    await actionResult(await api.post(api.ctPath(ct.ctid, `/${action}`), {}));
    const now = await api.get(api.ctPath(ct.ctid));
    ctSeen(now);
    say(`VPS ${ct.ctid} is ${now.state}.`);
  } catch (err) {
    alertError(err, `${action} VPS ${ct.ctid}`);
  } finally {
    if (button) button.removeAttribute('aria-busy');
    const cur = state.cts.get(ct.ctid);
    if (cur) ctListeners.forEach((fn) => fn(cur));
  }
}

function powerButtons(ct, cls = '') {
  const mk = (action, text) => {
    const b = h('button', { type: 'button', class: `power ${cls}`, dataset: { action }, text,
      'aria-label': `${text} VPS ${ct.ctid}` });
    b.addEventListener('click', () => power(state.cts.get(ct.ctid) || ct, action, b));
    return b;
  };
  return [mk('start', 'Start'), mk('stop', 'Stop'), mk('restart', 'Restart')];
}

function syncPowerButtons(root, ct) {
  for (const b of root.querySelectorAll('button.power')) {
    if (b.getAttribute('aria-busy') === 'true') continue;
    const a = b.dataset.action;
    const running = ct.state === 'running';
    b.disabled = a === 'start' ? running : !running;
  }
}

// ---------- login

function viewLogin(message) {
  document.getElementById('nav').hidden = true;
  replace(document.getElementById('who'));
  const tokenInput = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const userInput = h('input', { type: 'text', name: 'user', autocomplete: 'username', required: true, autocapitalize: 'none' });
  const passInput = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const tokenForm = h('form', { class: 'card', 'aria-labelledby': 'login-token-h', id: 'login-token' },
    h('h2', { id: 'login-token-h', text: 'With an API token' }),
    field('Token', tokenInput, 'The token your provider gave you (berth token create).').wrap,
    h('button', { type: 'submit', class: 'primary', text: 'Log in with token' }));
  const userForm = h('form', { class: 'card', 'aria-labelledby': 'login-user-h', id: 'login-user' },
    h('h2', { id: 'login-user-h', text: 'With user name and password' }),
    field('User name', userInput).wrap, field('Password', passInput).wrap,
    h('button', { type: 'submit', class: 'primary', text: 'Log in' }));
  const submit = (creds, form) => async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      await api.login(creds());
      await start();
    } catch (err) {
      alertError(err, err.status === 429 ? 'Too many failed logins, wait a minute' : 'Log in failed');
      btn.disabled = false;
    }
  };
  tokenForm.addEventListener('submit', submit(() => ({ token: tokenInput.value.trim() }), tokenForm));
  userForm.addEventListener('submit', submit(() => ({ user: userInput.value.trim(), password: passInput.value }), userForm));
  showView('login', 'Log in to Berth', message ? h('p', { text: message }) : null,
    h('div', { class: 'grid2' }, tokenForm, userForm));
}

// ---------- VPS list

function viewList() {
  const v = showView('list', isAdmin() ? 'All VPSs on this host' : 'Your VPSs');
  const filter = h('input', { type: 'search', placeholder: 'CTID, name, address', autocomplete: 'off' });
  const tbody = h('tbody');
  const table = h('table', { class: 'cts' },
    h('caption', { class: 'visually-hidden', text: 'VPSs with state, addresses and usage' }),
    h('thead', {}, h('tr', {}, ['VPS', 'State', 'Addresses', 'CPU', 'Memory', 'Disk', 'Processes', 'Power']
      .map((t) => h('th', { scope: 'col', text: t })))), tbody);
  const empty = h('p', { hidden: true, text: 'No VPS yet.' });
  const tools = h('div', { class: 'toolbar' }, field('Filter', filter).wrap,
    isAdmin() ? h('a', { href: '#/new', class: 'button primary', text: 'Create a VPS' }) : null);
  main.append(tools, h('div', { class: 'table-wrap' }, table), empty);

  const rows = new Map();
  const cell = (label, ...kids) => h('td', { 'data-label': label }, ...kids);
  const fill = (tr, ct) => {
    const u = ct.usage || {};
    const cells = tr.children;
    replace(cells[1], stateBadge(ct.state));
    replace(cells[2], (ct.ip || []).join(', ') || '–');
    replace(cells[3], ct.state === 'running' ? fmtPct(u.cpu_pct) : '–');
    replace(cells[4], ct.state === 'running' ? usage(u.mem_bytes, u.mem_limit_bytes) : '–');
    replace(cells[5], usage(u.disk_bytes, u.disk_limit_bytes));
    replace(cells[6], ct.state === 'running' && u.procs !== undefined ? String(u.procs) : '–');
    if (ct.ubc_failcnt) cells[1].append(h('span', { class: 'warn', text: ` ${ct.ubc_failcnt} limit hits` }));
    syncPowerButtons(tr, ct);
    tr.dataset.search = `${ct.ctid} ${ct.name || ''} ${ct.hostname || ''} ${(ct.ip || []).join(' ')}`.toLowerCase();
  };
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const ids = [...state.cts.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const ct = state.cts.get(id);
      let tr = rows.get(id);
      if (!tr) {
        tr = h('tr', { dataset: { ctid: String(id) } },
          h('th', { scope: 'row', 'data-label': 'VPS' }, h('a', { href: `#/ct/${id}`, text: `${id}` }),
            h('span', { class: 'sub', text: ` ${ct.name || ct.hostname || ''}` })),
          cell('State'), cell('Addresses'), cell('CPU'), cell('Memory'), cell('Disk'), cell('Processes'),
          cell('Power', h('div', { class: 'btns' }, powerButtons(ct, 'small'))));
        rows.set(id, tr);
      }
      fill(tr, ct);
      tr.hidden = q !== '' && !tr.dataset.search.includes(q);
      tbody.append(tr);
    }
    for (const [id, tr] of rows) if (!state.cts.has(id)) { tr.remove(); rows.delete(id); }
    empty.hidden = ids.length > 0;
  };
  filter.addEventListener('input', render);
  const listener = () => render();
  ctListeners.add(listener);
  guarded('Loading the VPS list', refreshCts).then(render);
  const stop = every(POLL_MS, () => refreshCts().then(render).catch(() => {}));
  v.cleanup = () => { stop(); ctListeners.delete(listener); };
}

// ---------- one VPS

const TABS = [
  ['', 'Overview'], ['graphs', 'Graphs'], ['console', 'Console'], ['storage', 'Snapshots and backups'],
  ['settings', 'Password and reinstall'], ['limits', 'Limits', true], ['danger', 'Destroy', true],
];

async function viewCt(ctid, tab) {
  const seq = ++navSeq;
  const ct = await guarded(`VPS ${ctid}`, () => api.get(api.ctPath(ctid)));
  if (seq !== navSeq) return;
  if (!ct) { showView('ct', `VPS ${ctid}`, h('p', { text: 'This VPS does not exist or you may not see it.' }), h('a', { href: '#/', text: 'Back to the list' })); return; }
  ctSeen(ct);
  const known = TABS.find((t) => t[0] === tab && (!t[2] || isAdmin()));
  if (!known) tab = '';
  const title = `${ctLabel(ct)}${tab ? ` — ${known[1]}` : ''}`;
  const subnav = h('nav', { 'aria-label': `VPS ${ctid}`, class: 'subnav' }, h('ul', {},
    TABS.filter((t) => !t[2] || isAdmin()).map(([id, label]) =>
      h('li', {}, h('a', { href: `#/ct/${ctid}${id ? '/' + id : ''}`, text: label, 'aria-current': id === tab ? 'page' : null })))));
  const summary = h('section', { class: 'ct-summary', 'aria-label': 'Status' });
  const body = h('div', { class: 'ct-body' });
  const v = showView('ct', title, subnav, summary, body);
  const cleanups = [];
  v.cleanup = () => cleanups.forEach((fn) => fn());

  const stateEl = h('span');
  const ipEl = h('span');
  const tplEl = h('span');
  const usageEls = { cpu: h('span'), mem: h('span'), disk: h('span'), procs: h('span'), ubc: h('span') };
  const btns = h('div', { class: 'btns' }, powerButtons(ct));
  const dl = (pairs) => h('dl', { class: 'facts' }, pairs.flatMap(([k, val]) => [h('dt', { text: k }), h('dd', {}, val)]));
  summary.append(dl([['State', stateEl], ['Addresses', ipEl], ['Hostname', h('span', { text: ct.hostname || '–' })],
    ['Template', tplEl], ['CPU', usageEls.cpu], ['Memory', usageEls.mem], ['Disk', usageEls.disk],
    ['Processes', usageEls.procs], ['Limit hits (beancounter failures)', usageEls.ubc]]), btns);
  const update = (c) => {
    if (c.ctid !== ct.ctid || c.removed) return;
    replace(stateEl, stateBadge(c.state));
    replace(ipEl, (c.ip || []).join(', ') || 'none');
    replace(tplEl, c.ostemplate || '–');
    const u = c.usage || {};
    const on = c.state === 'running';
    replace(usageEls.cpu, on ? fmtPct(u.cpu_pct) : '–');
    replace(usageEls.mem, on ? usage(u.mem_bytes, u.mem_limit_bytes) : '–');
    replace(usageEls.disk, usage(u.disk_bytes, u.disk_limit_bytes));
    replace(usageEls.procs, on && u.procs !== undefined ? String(u.procs) : '–');
    replace(usageEls.ubc, String(c.ubc_failcnt || 0));
    syncPowerButtons(btns, c);
  };
  update(ct);
  ctListeners.add(update);
  cleanups.push(() => ctListeners.delete(update));
  cleanups.push(every(POLL_MS, () => api.get(api.ctPath(ctid)).then(ctSeen).catch(() => {})));

  const render = { '': ctOverview, graphs: ctGraphs, console: ctConsole, storage: ctStorage, settings: ctSettings,
    limits: ctLimits, danger: ctDanger }[tab];
  await render(ct, body, cleanups, v);
}

function ctOverview(ct, body, cleanups) {
  body.append(h('h2', { text: 'Last hour' }));
  const charts = h('div', { class: 'charts' });
  body.append(charts, h('p', {}, h('a', { href: `#/ct/${ct.ctid}/graphs`, text: 'All graphs, last hour and day' })));
  const load = () => drawCharts(ct.ctid, 'hour', charts, ['cpu', 'mem']);
  load();
  cleanups.push(every(POLL_MS, load));
}

async function drawCharts(ctid, range, box, only) {
  let stats;
  try {
    stats = await api.get(api.ctPath(ctid, `/stats?range=${range}`));
  } catch (err) {
    replace(box, h('p', { text: `No graphs: ${err.message}` }));
    return;
  }
  const pts = (stats && stats.points) || [];
  const secs = range === 'day' ? 86400 : 3600;
  const all = {
    cpu: () => chart({ title: 'CPU', range: secs, fmt: fmtPct, lines: [{ label: 'CPU use', data: series(pts, 'cpu_pct') }] }),
    mem: () => chart({ title: 'Memory', range: secs, fmt: fmtBytes, lines: [{ label: 'Memory used', data: series(pts, 'mem_bytes') }] }),
    disk: () => chart({ title: 'Disk', range: secs, fmt: fmtBytes, lines: [{ label: 'Disk used', data: series(pts, 'disk_bytes') }] }),
    net: () => chart({ title: 'Network', range: secs, fmt: (v) => `${fmtBytes(v)}/s`, lines: [
      { label: 'Received', data: series(pts, 'net_rx_bytes', 'rate') },
      { label: 'Sent', data: series(pts, 'net_tx_bytes', 'rate') }] }),
    ubc: () => chart({ title: 'Limit hits (beancounter failures per interval)', range: secs, fmt: (v) => String(Math.round(v)),
      lines: [{ label: 'Failures', data: series(pts, 'ubc_failcnt', 'delta') }] }),
  };
  const keys = only || Object.keys(all);
  replace(box, keys.map((k) => all[k]()));
  box.dataset.points = String(pts.length);
}

function ctGraphs(ct, body, cleanups) {
  const name = nextId('range');
  const radios = ['hour', 'day'].map((r) => {
    const input = h('input', { type: 'radio', name, value: r, id: `${name}-${r}`, checked: state.range === r });
    return h('span', { class: 'radio' }, input, h('label', { for: input.id, text: r === 'hour' ? 'Last hour' : 'Last day' }));
  });
  const fs = h('fieldset', { class: 'range' }, h('legend', { text: 'Time range' }), radios);
  const charts = h('div', { class: 'charts', id: 'charts' });
  body.append(fs, charts);
  const load = () => drawCharts(ct.ctid, state.range, charts);
  fs.addEventListener('change', (ev) => { state.range = ev.target.value; load(); });
  load();
  cleanups.push(every(POLL_MS, load));
}

function ctConsole(ct, body, cleanups) {
  const kind = h('select', {}, h('option', { value: 'console', text: 'The VPS\'s console (/dev/console)' }),
    h('option', { value: 'shell', text: 'Root shell' }));
  const connect = h('button', { type: 'button', class: 'primary', text: 'Connect' });
  const disconnect = h('button', { type: 'button', text: 'Disconnect', disabled: true });
  const status = h('p', { class: 'console-status', role: 'status', text: 'Not connected.' });
  const view = new ConsoleView(ct.ctid, (msg, up) => {
    status.textContent = msg;
    disconnect.disabled = !up;
  });
  view.onEscape = () => (disconnect.disabled ? connect : disconnect).focus();
  view.box.setAttribute('aria-describedby', 'console-keys');
  connect.addEventListener('click', () => {
    status.textContent = 'Connecting…';
    view.connect(kind.value).catch((err) => { status.textContent = `Cannot open the console: ${err.message}`; });
  });
  disconnect.addEventListener('click', () => { view.disconnect(); status.textContent = 'Disconnected.'; disconnect.disabled = true; connect.focus(); });
  body.append(h('div', { class: 'toolbar' }, field('Connect to', kind).wrap, connect, disconnect), status,
    h('p', { class: 'hint', id: 'console-keys', text: 'While the terminal has the focus every key goes to the VPS, Tab too. Press Ctrl+] to leave the terminal.' }),
    view.box);
  cleanups.push(() => view.disconnect());
}

// A table whose rows become cards on a phone (.cards, like the VPS list). A column is
// [key, label, fmt(value, row) -> text or node]; actions(row) -> buttons; rowAttrs(row) -> attributes;
// empty: what to say when there is no row.
function simpleTable(caption, cols, rows, actions, { rowAttrs, empty } = {}) {
  if (!rows.length) return h('p', { class: 'empty', text: empty || `No ${caption.toLowerCase()} yet.` });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'cards' },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, cols.map(([, label]) => h('th', { scope: 'col', text: label })), actions ? h('th', { scope: 'col', text: 'Actions' }) : null)),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, cols.map(([key, label, fmt]) => h('td', { 'data-label': label }, fmt ? fmt(r[key], r) : (r[key] ?? '–'))),
      actions ? h('td', { 'data-label': 'Actions' }, h('div', { class: 'btns' }, actions(r))) : null)))));
}

// ---------- snapshots and backups

// The jobs of this tab, as the page's words. Every one of them is one job per VPS: while one
// runs on the VPS, berthd refuses another (409), so the buttons wait.
const STORAGE_JOBS = {
  snapshot: 'Taking a snapshot', 'snapshot-switch': 'Switching to a snapshot', 'snapshot-delete': 'Deleting a snapshot',
  backup: 'Taking a backup', 'backup-restore': 'Restoring a backup', 'backup-delete': 'Deleting a backup',
};

async function ctStorage(ct, body, cleanups, v) {
  const ctid = ct.ctid;
  const running = () => (state.cts.get(ctid) || ct).state === 'running';
  const snapBox = h('div', { id: 'snapshots' });
  const backBox = h('div', { id: 'backups' });
  // Take a snapshot: the name and the description are optional.
  const snapName = h('input', { type: 'text', name: 'name', maxlength: 64, autocomplete: 'off' });
  const snapDesc = h('input', { type: 'text', name: 'description', maxlength: 1024, autocomplete: 'off' });
  const snapBtn = h('button', { type: 'submit', class: 'primary', text: 'Take a snapshot' });
  const snapForm = h('form', { class: 'toolbar', id: 'snapshot-form', 'aria-label': 'Take a snapshot' },
    field('Name (optional)', snapName).wrap, field('Description (optional)', snapDesc).wrap, snapBtn);
  const backupBtn = h('button', { type: 'button', class: 'primary', id: 'backup-take', text: 'Take a backup' });
  // Where a running job of this VPS shows its progress (the Activity area announces it).
  const progress = (id) => {
    const text = h('span', { class: 'job-text' });
    const bar = h('progress', { max: 100, 'aria-labelledby': `${id}-t` });
    text.id = `${id}-t`;
    return { box: h('p', { class: 'job job-inline', id, hidden: true }, text, bar), text, bar };
  };
  const snapProg = progress('snap-job');
  const backProg = progress('back-job');
  body.append(
    h('section', { 'aria-labelledby': 'snap-h', class: 'card' }, h('h2', { id: 'snap-h', text: 'Snapshots' }),
      h('p', { class: 'hint', text: 'A snapshot keeps the VPS\'s files as they are now, on this host; switching to it later brings them back.' }),
      snapForm, snapProg.box, snapBox),
    h('section', { 'aria-labelledby': 'back-h', class: 'card' }, h('h2', { id: 'back-h', text: 'Backups' }),
      h('p', { class: 'hint', text: 'A backup is a copy of the VPS\'s files in the host\'s backup store; only the data that changed since the last one is stored again.' }),
      h('div', { class: 'toolbar' }, backupBtn), backProg.box, backBox));

  // One job at a time on the VPS: the buttons wait while one runs, and its progress shows.
  let busy = null;
  const sync = () => {
    for (const b of body.querySelectorAll('button')) b.disabled = !!busy;
  };
  const showJob = (job) => {
    if (String(job.ctid) !== String(ctid)) return;
    const ended = JOB_DONE.has(job.state);
    busy = ended ? (busy && busy.id === job.id ? null : busy) : job;
    const what = STORAGE_JOBS[job.kind];
    for (const pr of [snapProg, backProg]) {
      const mine = what && (job.kind.startsWith('backup') ? pr === backProg : pr === snapProg);
      if (mine) {
        pr.box.hidden = ended;
        pr.text.textContent = `${what}: ${job.progress || 0} %${job.message ? ` — ${job.message}` : ''}`;
        pr.bar.value = Number(job.progress || 0);
      } else if (!ended && !pr.box.hidden) {
        pr.box.hidden = true;
      }
    }
    sync();
  };

  // A berthd without the snapshot or backup API answers 404 for the list: say so, offer nothing.
  const unavailable = (box, hide, what) => (err) => {
    if (err.status === 404 || err.status === 405) {
      replace(box, h('p', { text: `${what} are not available on this host.` }));
      hide.hidden = true;
    } else {
      alertError(err, `Loading the ${what.toLowerCase()}`);
    }
    return null;
  };
  // A job on one snapshot or backup (after its dialog): when it ends, onJobDone reloads the list;
  // when berthd refused it (the item gone meanwhile, another job running), the list is reloaded
  // now and the error area says why.
  const itemJob = async (what, request, doneMessage, reload) => {
    const job = await guarded(what, async () => {
      const j = await actionResult(await request());
      if (j && j.state === 'done') say(doneMessage);
      return j;
    });
    if (!job) reload();
  };
  const snapLabel = (s) => s.name || `of ${s.date ? new Date(s.date).toLocaleString() : s.id}`;

  const switchSnap = async (s) => {
    const on = running();
    const ok = await dialog({
      title: `Switch VPS ${ctid} to snapshot ${snapLabel(s)}?`, confirm: 'Switch', danger: true,
      body: [h('p', { text: `The files of VPS ${ctid} become those of the snapshot: every change made since it was taken is lost (take a snapshot first to keep them). Its settings (limits, addresses) stay as they are.` }),
        h('p', { class: 'strong', text: on ? `VPS ${ctid} runs: it restarts (it is stopped, switched and started again).`
          : `VPS ${ctid} is stopped: it stays stopped (a running VPS would restart).` })],
    });
    if (!ok) { say('Switch cancelled.'); return; }
    await itemJob('Switch to a snapshot', () => api.post(api.ctPath(ctid, `/snapshots/${encodeURIComponent(s.id)}/switch`), { confirm: true }), `VPS ${ctid} is switched to snapshot ${snapLabel(s)}.`, loadSnaps);
  };
  const deleteSnap = async (s) => {
    const ok = await dialog({ title: `Delete snapshot ${snapLabel(s)} of VPS ${ctid}?`, confirm: 'Delete', danger: true,
      body: [h('p', { text: 'The snapshot is removed for good; the VPS itself does not change.' })] });
    if (!ok) { say('Delete cancelled.'); return; }
    await itemJob('Delete a snapshot', () => api.del(api.ctPath(ctid, `/snapshots/${encodeURIComponent(s.id)}`)), `Snapshot ${snapLabel(s)} is deleted.`, loadSnaps);
  };
  const loadSnaps = async () => {
    const r = await api.get(api.ctPath(ctid, '/snapshots')).catch(unavailable(snapBox, snapForm, 'Snapshots'));
    if (!r) return;
    const list = Array.isArray(r) ? r : (r.snapshots || []);
    replace(snapBox, simpleTable('Snapshots, oldest first', [
      ['name', 'Name', (n, s) => [n || '(no name)', s.description ? h('span', { class: 'sub', text: ` — ${s.description}` }) : null]],
      ['date', 'Taken', timeEl], ['size', 'Size', fmtBytes],
      ['current', 'Current', (c) => (c ? h('span', { class: 'badge st-running', text: 'current' }) : 'no')]],
    list, (s) => [
      h('button', { type: 'button', class: 'small', text: 'Switch to…', 'aria-label': `Switch VPS ${ctid} to snapshot ${snapLabel(s)}`, onclick: () => switchSnap(s) }),
      h('button', { type: 'button', class: 'small danger', text: 'Delete…', 'aria-label': `Delete snapshot ${snapLabel(s)}`, onclick: () => deleteSnap(s) })],
    { rowAttrs: (s) => ({ dataset: { snapshot: s.id, name: s.name || '' }, class: s.current ? 'current' : null }), empty: 'No snapshot yet.' }));
    sync();
  };

  const backLabel = (b) => (b.date ? new Date(b.date).toLocaleString() : b.id);
  const restoreBackup = async (b) => {
    const on = running();
    const ok = await dialog({
      title: `Restore VPS ${ctid} from the backup of ${backLabel(b)}?`, confirm: 'Restore', danger: true,
      body: [h('p', { text: `Every file of VPS ${ctid} is replaced by the backup's: changes made since it was taken are lost. Its settings (limits, addresses) stay as they are.` }),
        h('p', { class: 'strong', text: on ? `VPS ${ctid} runs: it restarts (it is stopped, restored and started again).`
          : `VPS ${ctid} is stopped: it stays stopped.` })],
    });
    if (!ok) { say('Restore cancelled.'); return; }
    await itemJob('Restore a backup', () => api.post(api.ctPath(ctid, `/backups/${encodeURIComponent(b.id)}/restore`), { confirm: true }), `VPS ${ctid} is restored from the backup of ${backLabel(b)}.`, loadBackups);
  };
  const deleteBackup = async (b) => {
    const ok = await dialog({ title: `Delete the backup of ${backLabel(b)}?`, confirm: 'Delete', danger: true,
      body: [h('p', { text: `The backup of VPS ${ctid} is removed from the store for good; the VPS itself does not change.` })] });
    if (!ok) { say('Delete cancelled.'); return; }
    await itemJob('Delete a backup', () => api.del(api.ctPath(ctid, `/backups/${encodeURIComponent(b.id)}`)), `The backup of ${backLabel(b)} is deleted.`, loadBackups);
  };
  const loadBackups = async () => {
    const list = await api.get(api.ctPath(ctid, '/backups')).catch(unavailable(backBox, backupBtn, 'Backups'));
    if (!list) return;
    replace(backBox, simpleTable('Backups, newest first', [
      ['date', 'Taken', timeEl], ['logical_bytes', 'Size', fmtBytes], ['new_bytes', 'New data stored', fmtBytes],
      ['files', 'Files', (n) => String(n ?? '–')],
      ['consistent', 'Consistent', (c) => (c ? 'yes' : 'no (copied while the VPS ran, without a freeze)')]],
    list, (b) => [
      h('button', { type: 'button', class: 'small', text: 'Restore…', 'aria-label': `Restore VPS ${ctid} from the backup of ${backLabel(b)}`, onclick: () => restoreBackup(b) }),
      h('button', { type: 'button', class: 'small danger', text: 'Delete…', 'aria-label': `Delete the backup of ${backLabel(b)}`, onclick: () => deleteBackup(b) })],
    { rowAttrs: (b) => ({ dataset: { backup: b.id } }), empty: 'No backup yet.' }));
    sync();
  };

  snapForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const req = {};
    if (snapName.value.trim()) req.name = snapName.value.trim();
    if (snapDesc.value.trim()) req.description = snapDesc.value.trim();
    await guarded('Take a snapshot', async () => {
      const job = await actionResult(await api.post(api.ctPath(ctid, '/snapshots'), req));
      if (job && job.state === 'done') {
        const pause = job.result && job.result.pause_ms ? ` (the VPS paused ${Math.round(job.result.pause_ms)} ms)` : '';
        say(`Snapshot ${req.name || ''} of VPS ${ctid} taken${pause}.`.replace('  ', ' '));
        snapForm.reset();
      }
    });
  });
  backupBtn.addEventListener('click', async () => {
    await guarded('Take a backup', async () => {
      const job = await actionResult(await api.post(api.ctPath(ctid, '/backups'), {}));
      if (job && job.state === 'done') {
        const stored = job.result && job.result.new_bytes !== undefined ? ` (${fmtBytes(job.result.new_bytes)} of new data stored)` : '';
        say(`Backup of VPS ${ctid} taken${stored}.`);
      }
    });
  });

  v.onJob = showJob;
  v.onJobDone = (job) => {
    if (String(job.ctid) !== String(ctid)) return;
    if (job.kind.startsWith('snapshot')) loadSnaps();
    else if (job.kind.startsWith('backup')) loadBackups();
    else { loadSnaps(); loadBackups(); }
  };
  // A job already running on the VPS (started elsewhere): show it and follow it to its end (the
  // event stream, else polling), the buttons waiting meanwhile.
  const jobs = await api.get('/v1/jobs').catch(() => []);
  for (const j of jobs || []) if (!JOB_DONE.has(j.state) && String(j.ctid) === String(ctid)) trackJob(j).catch(() => {});
  await Promise.all([loadSnaps(), loadBackups()]);
}

function randomPassword() {
  const chars = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => chars[b % chars.length]).join('');
}

async function ctSettings(ct, body) {
  // Root password.
  const user = h('input', { type: 'text', name: 'user', value: 'root', required: true, autocomplete: 'off', autocapitalize: 'none' });
  const pw = h('input', { type: 'password', name: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const pw2 = h('input', { type: 'password', name: 'password2', required: true, minlength: 8, autocomplete: 'new-password' });
  const shown = h('p', { class: 'generated', 'aria-live': 'polite' });
  const gen = h('button', { type: 'button', text: 'Generate a password' });
  gen.addEventListener('click', () => {
    const p = randomPassword();
    pw.value = p; pw2.value = p;
    shown.textContent = `Generated password: ${p} — copy it now, it is not shown again.`;
  });
  const pwForm = h('form', { class: 'card', id: 'password-form', 'aria-labelledby': 'pw-h' },
    h('h2', { id: 'pw-h', text: 'Reset a password' }),
    field('User inside the VPS', user).wrap, field('New password', pw, 'At least 8 characters.').wrap,
    field('New password again', pw2).wrap, h('div', { class: 'btns' }, gen, h('button', { type: 'submit', class: 'primary', text: 'Set password' })), shown);
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (pw.value !== pw2.value) { pw2.setCustomValidity('The two passwords differ.'); pw2.reportValidity(); return; }
    pw2.setCustomValidity('');
    await guarded('Set password', async () => {
      await api.post(api.ctPath(ct.ctid, '/password'), { user: user.value.trim(), password: pw.value });
      say(`The password of ${user.value.trim()} in VPS ${ct.ctid} is set.`);
      pw.value = ''; pw2.value = '';
    });
  });
  pw2.addEventListener('input', () => pw2.setCustomValidity(''));

  // Reinstall.
  const tpl = h('select', { name: 'ostemplate', required: true });
  const templates = await api.get('/v1/templates').catch(() => null);
  const names = (templates || []).map((t) => t.name);
  if (ct.ostemplate && !names.includes(ct.ostemplate)) names.unshift(ct.ostemplate);
  for (const n of names) tpl.append(h('option', { value: n, text: n, selected: n === ct.ostemplate }));
  const rForm = h('form', { class: 'card', id: 'reinstall-form', 'aria-labelledby': 'ri-h' },
    h('h2', { id: 'ri-h', text: 'Reinstall' }),
    h('p', { text: 'Reinstalling replaces every file of the VPS with a fresh copy of the template. Its addresses, limits and snapshots stay.' }),
    field('Template', tpl).wrap, h('button', { type: 'submit', class: 'danger', text: 'Reinstall…' }));
  rForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const check = h('input', { type: 'checkbox', name: 'sure', required: true });
    const ok = await dialog({
      title: `Reinstall VPS ${ct.ctid} from ${tpl.value}?`, confirm: 'Erase and reinstall', danger: true,
      body: [h('p', { text: `All data on VPS ${ct.ctid} (${ct.hostname || ct.name || ''}) is erased.` }),
        h('div', { class: 'check' }, check, h('label', { for: check.id = nextId('sure'), text: 'I understand that all data on this VPS is lost' }))],
      enableWhen: () => check.checked,
    });
    if (!ok) { say('Reinstall cancelled.'); return; }
    await guarded('Reinstall', async () => actionResult(await api.post(api.ctPath(ct.ctid, '/reinstall'), { ostemplate: tpl.value, confirm: true })));
  });
  body.append(h('div', { class: 'grid2' }, pwForm, rForm));
}

// The limit fields of POST/PATCH /v1/cts (vzctl units: 512M, 2G, barrier:limit).
const LIMITS = [
  ['cpus', 'CPUs', 'number', 'Number of CPUs the VPS sees, e.g. 2'],
  ['cpulimit', 'CPU limit (%)', 'number', '100 = one full CPU'],
  ['ram', 'RAM', 'text', 'e.g. 512M, 2G'],
  ['swap', 'Swap', 'text', 'e.g. 0, 256M'],
  ['diskspace', 'Disk space', 'text', 'e.g. 10G'],
  ['numproc', 'Processes', 'number', 'Most processes at once'],
  ['cpuunits', 'CPU weight', 'number', 'Share against other VPSs, e.g. 1000'],
  ['diskinodes', 'Disk inodes', 'text', 'Most files, e.g. 200000'],
];

const splitList = (text) => text.split(/[\s,]+/).filter(Boolean);

function limitFields(values = {}) {
  const inputs = {};
  const wraps = LIMITS.map(([key, label, type, hint]) => {
    const input = h('input', { type, name: key, value: values[key] ?? '', inputmode: type === 'number' ? 'numeric' : null, min: type === 'number' ? 0 : null, autocomplete: 'off' });
    inputs[key] = input;
    return field(label, input, hint).wrap;
  });
  const read = () => {
    const out = {};
    for (const [key, , type] of LIMITS) {
      const val = inputs[key].value.trim();
      if (val !== '') out[key] = type === 'number' ? Number(val) : val;
    }
    return out;
  };
  return { wraps, read };
}

function ctLimits(ct, body) {
  const cfg = ct.config || {};
  const hostname = h('input', { type: 'text', name: 'hostname', value: ct.hostname || '', autocomplete: 'off' });
  const ipsNow = (ct.ip || []).join(' ');
  const ips = h('input', { type: 'text', name: 'ipadd', value: ipsNow, autocomplete: 'off' });
  const dns = h('input', { type: 'text', name: 'nameserver', autocomplete: 'off' });
  const lf = limitFields();
  const form = h('form', { class: 'card', id: 'limits-form', 'aria-labelledby': 'lim-h' },
    h('h2', { id: 'lim-h', text: 'Change limits (applied live and saved)' }),
    h('p', { class: 'hint', text: 'Empty fields are left as they are.' }),
    h('div', { class: 'grid3' }, field('Hostname', hostname).wrap,
      field('IP addresses', ips, 'The whole list: it replaces the current addresses.').wrap,
      field('Name servers', dns, 'Separated by spaces or commas.').wrap),
    h('div', { class: 'grid3' }, lf.wraps),
    h('button', { type: 'submit', class: 'primary', text: 'Apply' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const req = {};
    const limits = lf.read();
    if (Object.keys(limits).length) req.limits = limits;
    if (hostname.value.trim() && hostname.value.trim() !== ct.hostname) req.hostname = hostname.value.trim();
    if (splitList(ips.value).join(' ') !== splitList(ipsNow).join(' ')) req.ipadd = splitList(ips.value);
    if (splitList(dns.value).length) req.nameserver = splitList(dns.value);
    if (!Object.keys(req).length) { say('Nothing to change.'); return; }
    await guarded('Change limits', async () => {
      const r = await api.patch(api.ctPath(ct.ctid), req);
      ctSeen(r);
      say(`Limits of VPS ${ct.ctid} applied.`);
    });
  });
  const keys = Object.keys(cfg).sort();
  body.append(form, h('details', {}, h('summary', { text: 'Current configuration' }),
    keys.length ? h('dl', { class: 'facts' }, keys.flatMap((k) => [h('dt', { text: k }), h('dd', { text: String(cfg[k]) })])) : h('p', { text: 'Not shown.' })));
}

function ctDanger(ct, body) {
  const btn = h('button', { type: 'button', class: 'danger', text: `Destroy VPS ${ct.ctid}…` });
  btn.addEventListener('click', async () => {
    const typed = h('input', { type: 'text', name: 'ctid', autocomplete: 'off', required: true });
    const ok = await dialog({ title: `Destroy VPS ${ct.ctid}?`, confirm: 'Destroy', danger: true,
      body: [h('p', { text: 'The VPS is stopped and its files, configuration and snapshots are removed.' }), field(`Type ${ct.ctid} to confirm`, typed).wrap],
      enableWhen: () => typed.value.trim() === String(ct.ctid) });
    if (!ok) return;
    await guarded('Destroy', async () => {
      await actionResult(await api.del(api.ctPath(ct.ctid)));
      location.hash = '#/';
    });
  });
  body.append(h('p', { text: 'Destroying removes the VPS for good.' }), btn);
}

// ---------- operator pages

async function viewNew() {
  showView('new', 'Create a VPS');
  const seq = navSeq;
  const templates = await api.get('/v1/templates').catch(() => []);
  if (seq !== navSeq) return;
  const ctid = h('input', { type: 'number', name: 'ctid', min: 1, required: true, inputmode: 'numeric' });
  const hostname = h('input', { type: 'text', name: 'hostname', autocomplete: 'off' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const tpl = h('select', { name: 'ostemplate', required: true }, (templates || []).map((t) => h('option', { value: t.name, text: t.name })));
  const ips = h('input', { type: 'text', name: 'ipadd', autocomplete: 'off' });
  const dns = h('input', { type: 'text', name: 'nameserver', autocomplete: 'off' });
  const startIt = h('input', { type: 'checkbox', name: 'start', id: nextId('start') });
  const lf = limitFields();
  const form = h('form', { class: 'card', id: 'create-form' },
    h('div', { class: 'grid3' }, field('CTID', ctid).wrap, field('Name', name).wrap, field('Hostname', hostname).wrap,
      field('Template', tpl).wrap, field('IP addresses', ips, 'Separated by spaces or commas, IPv4 or IPv6.').wrap,
      field('Name servers', dns, 'Separated by spaces or commas.').wrap),
    h('fieldset', {}, h('legend', { text: 'Limits' }), h('div', { class: 'grid3' }, lf.wraps)),
    h('div', { class: 'check' }, startIt, h('label', { for: startIt.id, text: 'Start it once created' })),
    h('button', { type: 'submit', class: 'primary', text: 'Create' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const req = { ctid: Number(ctid.value), ostemplate: tpl.value, limits: lf.read() };
    if (hostname.value.trim()) req.hostname = hostname.value.trim();
    if (name.value.trim()) req.name = name.value.trim();
    const addrs = splitList(ips.value);
    if (addrs.length) req.ipadd = addrs;
    if (splitList(dns.value).length) req.nameserver = splitList(dns.value);
    if (startIt.checked) req.start = true;
    await guarded('Create', async () => {
      const job = await actionResult(await api.post('/v1/cts', req));
      if (job && job.state === 'done') location.hash = `#/ct/${req.ctid}`;
    });
  });
  main.append(form);
}

async function viewHost() {
  const v = showView('host', 'Host');
  const box = h('div');
  main.append(box);
  const load = async () => {
    const host = await api.get('/v1/host');
    replace(box, h('dl', { class: 'facts' }, [
      ['Host name', host.hostname], ['Kernel', host.kernel], ['cgroup', host.cgroup], ['CPUs', host.cpus],
      ['VPSs', `${host.cts_running} running of ${host.cts_total}`],
    ].flatMap(([k, val]) => [h('dt', { text: k }), h('dd', { text: String(val ?? '–') })]),
    h('dt', { text: 'Memory in use' }), h('dd', {}, usage(host.mem_total - host.mem_available, host.mem_total)),
    h('dt', { text: 'Disk in use' }), h('dd', {}, usage(host.disk_total - host.disk_free, host.disk_total))));
  };
  await guarded('Host', load);
  v.cleanup = every(POLL_MS, () => load().catch(() => {}));
}

async function viewAudit() {
  const v = showView('audit', 'Audit log');
  const limit = h('select', {}, [50, 200, 1000].map((n) => h('option', { value: n, text: String(n) })));
  const refresh = h('button', { type: 'button', text: 'Refresh' });
  const box = h('div');
  main.append(h('div', { class: 'toolbar' }, field('Entries', limit).wrap, refresh), box);
  const load = () => guarded('Audit log', async () => {
    const rows = await api.get(`/v1/audit?limit=${limit.value}`);
    replace(box, simpleTable('Changes, newest first', [['t', 'When', fmtTime], ['who', 'Who'], ['from', 'From'], ['action', 'Action'],
      ['ctid', 'VPS'], ['result', 'Result', (r) => (typeof r === 'object' && r !== null ? JSON.stringify(r) : String(r ?? '–'))]], rows || []));
  });
  limit.addEventListener('change', load);
  refresh.addEventListener('click', load);
  await load();
  v.cleanup = null;
}

async function viewJobs() {
  showView('jobs', 'Jobs');
  const box = h('div');
  main.append(box);
  await guarded('Jobs', async () => {
    const jobs = await api.get('/v1/jobs');
    replace(box, simpleTable('Jobs, newest first', [['kind', 'Kind'], ['ctid', 'VPS'], ['state', 'State'], ['progress', 'Progress', (p) => `${p ?? 0} %`],
      ['message', 'Message'], ['started', 'Started', fmtTime], ['ended', 'Ended', fmtTime]],
      (jobs || []).slice().sort((a, b) => (b.started || 0) - (a.started || 0)),
      (j) => (JOB_DONE.has(j.state) ? [] : [h('button', { type: 'button', text: 'Cancel', 'aria-label': `Cancel ${j.kind} of VPS ${j.ctid}`,
        onclick: () => guarded('Cancel job', async () => { await api.del(`/v1/jobs/${encodeURIComponent(j.id)}`); viewJobs(); }) })])));
  });
}

// ---------- routing and start

async function route() {
  if (!state.me) {
    // Logged out: any address shows the login page.
    if (!document.getElementById('login-token')) viewLogin();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const admin = isAdmin();
  if (parts[0] === 'ct' && parts[1]) await viewCt(parts[1], parts[2] || '');
  else if (parts[0] === 'new' && admin) await viewNew();
  else if (parts[0] === 'host' && admin) await viewHost();
  else if (parts[0] === 'audit' && admin) await viewAudit();
  else if (parts[0] === 'jobs') await viewJobs();
  else viewList();
}

function connectEvents() {
  if (state.es) state.es.close();
  const live = document.getElementById('live-state');
  state.es = api.events({
    ct: (ct) => ctSeen(ct),
    job: (job) => jobSeen(job),
    ubc: (u) => {
      const ct = state.cts.get(u.ctid);
      if (ct) ctSeen({ ...ct, ubc_failcnt: u.failcnt });
      say(`VPS ${u.ctid} hit its ${u.resource} limit.`);
    },
  }, (up) => { live.textContent = up ? 'live updates on' : 'live updates reconnecting'; });
}

async function start() {
  try {
    state.me = await api.whoami();
  } catch (err) {
    state.me = null;
    if (err.status === 401 || err.status === 403) { viewLogin(); return; }
    showView('error', 'Berth panel', h('p', { text: `berthd does not answer: ${err.message}` }));
    return;
  }
  if (!state.me.csrf && !api.csrf()) {
    // A cookie but no CSRF token here and none from whoami (a berthd older than its "csrf"
    // field): no change could be made; log in again.
    state.me = null;
    viewLogin('Log in again in this tab.');
    return;
  }
  document.getElementById('nav').hidden = false;
  for (const li of document.querySelectorAll('.admin-only')) li.hidden = !state.me.admin;
  const logoutBtn = h('button', { type: 'button', id: 'logout', text: 'Log out' });
  logoutBtn.addEventListener('click', async () => {
    await api.logout().catch(() => {});
    if (state.es) { state.es.close(); state.es = null; }
    state.me = null;
    state.cts.clear();
    if (state.view && state.view.cleanup) state.view.cleanup();
    history.replaceState(null, '', '#/');
    viewLogin('You are logged out.');
  });
  replace(document.getElementById('who'),
    h('span', { text: `${state.me.user}${state.me.admin ? ' (operator)' : ''}` }), ' ', logoutBtn);
  connectEvents();
  await route();
}

api.onUnauthorized(() => {
  if (!state.me) return;
  state.me = null;
  if (state.es) { state.es.close(); state.es = null; }
  if (state.view && state.view.cleanup) state.view.cleanup();
  viewLogin('Your session ended; log in again.');
});
window.addEventListener('hashchange', () => { route().catch((err) => alertError(err)); });
document.getElementById('skip').addEventListener('click', (ev) => { ev.preventDefault(); document.getElementById('main').focus(); });
start();
