// Small DOM helpers: element building (never innerHTML with data), formatting, status messages
// and modal dialogs (<dialog>: the browser traps focus and closes on Escape; focus goes back to
// the control that opened it).

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

// A labelled form field: returns {wrap, input}.
export function field(label, input, hint) {
  if (!input.id) input.id = nextId('f');
  const wrap = h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input);
  if (hint) {
    const hid = nextId('hint');
    input.setAttribute('aria-describedby', hid);
    wrap.append(h('p', { class: 'hint', id: hid, text: hint }));
  }
  return { wrap, input };
}

export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function fmtPct(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return `${Number(n).toFixed(Number(n) >= 10 ? 0 : 1)} %`;
}

export function fmtTime(unix) {
  if (!unix) return '–';
  const d = new Date(Number(unix) * 1000);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

// An ISO 8601 date from the API ("2026-12-05T19:30:00Z") in the reader's locale; a <time>.
export function timeEl(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return h('span', { text: iso || '–' });
  return h('time', { datetime: iso, text: d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) });
}

// A usage meter with its text: "120 MiB of 512 MiB".
export function usage(used, limit, fmt = fmtBytes) {
  const text = limit ? `${fmt(used)} of ${fmt(limit)}` : `${fmt(used)}${limit === null ? ' (no limit)' : ''}`;
  const wrap = h('span', { class: 'usage' });
  if (limit) {
    const m = h('meter', { min: 0, max: limit, value: Math.min(used || 0, limit), low: limit * 0.7,
      high: limit * 0.9, optimum: 0, 'aria-label': text });
    wrap.append(m);
  }
  wrap.append(h('span', { text }));
  return wrap;
}

// The page's message areas: status (polite) and alert (errors).
export function say(message) {
  const box = document.getElementById('status');
  box.textContent = '';
  // A change of text that a screen reader announces even when the same message repeats.
  requestAnimationFrame(() => { box.textContent = message; });
}

export function alertError(err, what) {
  const box = document.getElementById('alert');
  const msg = `${what ? what + ': ' : ''}${err && err.message ? err.message : String(err)}`;
  box.replaceChildren(h('p', { text: msg }),
    h('button', { type: 'button', class: 'link', text: 'Dismiss', onclick: () => { box.replaceChildren(); box.hidden = true; } }));
  box.hidden = false;
}

export function clearAlert() {
  const box = document.getElementById('alert');
  box.replaceChildren();
  box.hidden = true;
}

// A modal dialog. body: nodes; actions: [{label, value, class}] buttons; returns a promise of the
// chosen value (or null on Escape / Cancel). `form` lets the body hold fields: the promise gets
// the value and the dialog's form element. The confirm button may be enabled by `enableWhen`.
export function dialog({ title, body = [], confirm = 'OK', danger = false, enableWhen }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = nextId('dlg');
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', text: confirm });
    const cancel = h('button', { type: 'button', text: 'Cancel' });
    const form = h('form', { method: 'dialog' }, h('h2', { id: titleId, text: title }),
      h('div', { class: 'dialog-body' }, body), h('div', { class: 'actions' }, cancel, ok));
    const dlg = h('dialog', { 'aria-labelledby': titleId }, form);
    let result = null;
    const check = () => { if (enableWhen) ok.disabled = !enableWhen(form); };
    form.addEventListener('input', check);
    form.addEventListener('change', check);
    check();
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      result = form;
      dlg.close();
    });
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected && opener.focus) opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector('input, select, textarea') || (ok.disabled ? cancel : ok);
    first.focus();
  });
}
